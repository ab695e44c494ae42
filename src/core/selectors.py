"""Reads that decide what a person may see: every patient-data query starts here."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet
from django.http import Http404

from core.models import Membership, Practice

MANAGING_ROLES = frozenset({Membership.Role.MANAGER, Membership.Role.GROUP_ADMIN})
# Front desk staff log complaints and see next-visit alerts; the complaint itself (the
# patient's account, the plan, the gestures) is for those who work recovery cases.
CASE_ROLES = frozenset({Membership.Role.CLINICIAN, *MANAGING_ROLES})


def practices_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Practice]:
    """Practices a person may see: their own, or all of an organisation for group admins."""
    if not user.is_authenticated or not user.is_active:
        return Practice.objects.none()
    memberships = Membership.objects.filter(user=user)
    org_wide = memberships.filter(role=Membership.Role.GROUP_ADMIN).values("organisation_id")
    direct = memberships.filter(practice__isnull=False).values("practice_id")
    return Practice.objects.filter(
        Q(id__in=direct) | Q(organisation_id__in=org_wide)
    ).select_related("organisation")


def get_practice_for_user(user: AbstractBaseUser, pk: int) -> Practice:
    try:
        return practices_for_user(user).get(pk=pk)
    except (Practice.DoesNotExist, ValueError, TypeError):
        raise Http404("No such practice") from None


def roles_at(user: AbstractBaseUser, practice: Practice) -> set[str]:
    """The roles a person holds at one practice (group admin counts at every practice)."""
    if not user.is_authenticated:
        return set()
    memberships = Membership.objects.filter(user=user).filter(
        Q(practice=practice)
        | Q(role=Membership.Role.GROUP_ADMIN, organisation_id=practice.organisation_id)
    )
    return set(memberships.values_list("role", flat=True))


def can_manage(user: AbstractBaseUser, practice: Practice) -> bool:
    return bool(roles_at(user, practice) & MANAGING_ROLES)


def practices_where_role(user: AbstractBaseUser, roles) -> QuerySet[Practice]:
    """Practices where the person holds one of ``roles`` (group admin: the whole organisation)."""
    if not user.is_authenticated or not user.is_active:
        return Practice.objects.none()
    memberships = Membership.objects.filter(user=user)
    direct = memberships.filter(role__in=list(roles), practice__isnull=False).values("practice_id")
    where = Q(id__in=direct)
    if Membership.Role.GROUP_ADMIN in roles:
        org_wide = memberships.filter(role=Membership.Role.GROUP_ADMIN).values("organisation_id")
        where |= Q(organisation_id__in=org_wide)
    return Practice.objects.filter(where)


def managed_practices_for_user(user: AbstractBaseUser) -> QuerySet[Practice]:
    """Practices where the person is a manager or group admin."""
    return practices_where_role(user, MANAGING_ROLES)


def practice_staff_users(practice: Practice) -> QuerySet:
    """Active dentists, hygienists and managers of a practice: who can own a case or a
    check-in."""
    from django.contrib.auth import get_user_model

    roles = [Membership.Role.CLINICIAN, Membership.Role.MANAGER]
    return (
        get_user_model()
        .objects.filter(memberships__practice=practice, memberships__role__in=roles, is_active=True)
        .distinct()
        .order_by("first_name", "username")
    )
