"""Writes for organisations, practices, memberships and the audit log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest

from core.models import AuditEvent, Membership, OpeningPeriod, Organisation, Practice


class CoreError(Exception):
    """A problem with organisations, practices or people that a person can act on."""


def _client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def audit_record(
    *,
    action: str,
    object_type: str,
    object_id: object = "",
    practice: Practice | None = None,
    patient_id: int | None = None,
    user: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
    actor_label: str = "",
    detail: dict | None = None,
) -> AuditEvent:
    """Write one audit row, linked to the end of the audit chain (``core.audit``).

    Call inside the transaction of the change it describes. On PostgreSQL the link takes
    a lock that other audit writers wait for until that transaction ends: keep it short.
    """
    if user is None and request is not None and request.user.is_authenticated:
        user = request.user
    return AuditEvent.objects.create(
        actor=user if user is not None and user.is_authenticated else None,
        actor_label=actor_label or (user.get_username() if user is not None else "system"),
        practice=practice,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        patient_id=patient_id,
        ip_address=_client_ip(request),
        detail=detail or {},
    )


DEFAULT_HOURS = [
    # Dental offices close for lunch: two periods a day, Monday to Friday.
    *((day, dt.time(8, 0), dt.time(12, 0)) for day in range(5)),
    *((day, dt.time(13, 0), dt.time(17, 0)) for day in range(5)),
]


@transaction.atomic
def practice_create(
    *,
    organisation: Organisation,
    name: str,
    slug: str,
    timezone: str = "America/New_York",
    region: str = Practice.Region.US,
    hours: Iterable[tuple[int, dt.time, dt.time]] = DEFAULT_HOURS,
) -> Practice:
    practice = Practice(
        organisation=organisation, name=name, slug=slug, timezone=timezone, region=region
    )
    practice.full_clean(validate_unique=False)
    practice.save()
    OpeningPeriod.objects.bulk_create(
        OpeningPeriod(practice=practice, weekday=day, opens_at=opens, closes_at=closes)
        for day, opens, closes in hours
    )
    return practice


@transaction.atomic
def membership_grant(
    *,
    user: AbstractBaseUser,
    role: str,
    practice: Practice | None = None,
    organisation: Organisation | None = None,
) -> Membership:
    if role == Membership.Role.GROUP_ADMIN:
        if organisation is None:
            raise CoreError("A group admin belongs to an organisation.")
        return Membership.objects.create(user=user, organisation=organisation, role=role)
    if practice is None:
        raise CoreError("This role belongs to one practice.")
    return Membership.objects.create(
        user=user, organisation=practice.organisation, practice=practice, role=role
    )


def user_create(
    *,
    username: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    is_staff: bool = False,
) -> AbstractBaseUser:
    """A staff account. ``is_staff`` opens the admin, where access is still scoped by role."""
    return get_user_model().objects.create_user(
        username=username,
        password=password,
        first_name=first_name,
        last_name=last_name,
        email=email,
        is_staff=is_staff,
    )
