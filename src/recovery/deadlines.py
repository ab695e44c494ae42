"""Overdue steps climb a ladder, owner → managers → group admins, each told exactly once.

Notices carry the case number, practice, severity and step, never the patient's name or
words: staff open the case to read them.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from core.business_hours import BusinessCalendar
from core.links import absolute_url
from core.models import Membership
from messaging.errors import MessagingError
from recovery.models import CaseEscalation, CaseEvent, CaseStep, RecoveryCase, Severity
from recovery.policy import recovery_policy_for

logger = logging.getLogger(__name__)
LEVELS = list(CaseEscalation.Level)


def _name(user: AbstractBaseUser) -> str:
    return user.get_full_name() or user.get_username()


def _group_admins(case: RecoveryCase) -> list[AbstractBaseUser]:
    memberships = Membership.objects.filter(
        organisation_id=case.practice.organisation_id,
        role=Membership.Role.GROUP_ADMIN,
        user__is_active=True,
    ).select_related("user")
    return [m.user for m in memberships.order_by("id")]


def recipients(case: RecoveryCase, level: int) -> list[AbstractBaseUser]:
    from recovery.services import practice_managers

    if level == CaseEscalation.Level.OWNER:
        if case.owner is not None and case.owner.is_active:
            return [case.owner]
        return practice_managers(case.practice)
    if level == CaseEscalation.Level.MANAGER:
        return practice_managers(case.practice)
    return _group_admins(case)


def _notify(
    case: RecoveryCase, users: list[AbstractBaseUser], *, subject: str, lines: list[str], key: str
) -> list[str]:
    """Queue one email per person; returns who was told (those without an address too)."""
    from messaging.services import message_enqueue

    link = absolute_url(reverse("recovery:case-detail", args=[case.pk]))
    told = []
    for user in dict.fromkeys(users):
        told.append(_name(user))
        if not user.email:
            continue  # the case inbox still shows it as overdue
        try:
            message_enqueue(
                practice=case.practice,
                channel="email",
                to_address=user.email,
                subject=subject,
                body="\n\n".join([f"Hello {user.first_name or _name(user)},", *lines, link]) + "\n",
                kind="staff_case_notice",
                idempotency_key=f"{key}-{user.pk}",
            )
        except MessagingError as problem:
            logger.warning("case %s: notice to user %s not queued: %s", case.pk, user.pk, problem)
    return told


def _describe(case: RecoveryCase) -> str:
    return (
        f"Recovery case #{case.pk} at {case.practice.name} "
        f"({case.get_severity_display().lower()} severity"
        f"{', priority patient' if case.is_priority else ''})"
    )


def _local(moment: dt.datetime, case: RecoveryCase) -> str:
    return moment.astimezone(case.practice.zone).strftime("%a %b %-d, %-I:%M %p")


def notify_urgent_case(case: RecoveryCase) -> None:
    """Page the owner and the managers as soon as an urgent case opens."""
    acknowledge = case.steps.get(kind="acknowledge")
    users = recipients(case, CaseEscalation.Level.OWNER) + recipients(
        case, CaseEscalation.Level.MANAGER
    )
    told = _notify(
        case,
        users,
        subject=f"Urgent recovery case #{case.pk} at {case.practice.name}",
        lines=[
            f"{_describe(case)} has just opened.",
            f"Please acknowledge it by {_local(acknowledge.due_at, case)}.",
        ],
        key=f"case-urgent-{case.pk}",
    )
    CaseEvent.objects.create(
        case=case, at=timezone.now(), text=f"Urgent: paged {', '.join(told) or 'nobody'}"[:300]
    )


def _interval_minutes(case: RecoveryCase, policy) -> int:
    minutes = policy.escalation_interval_hours * 60
    return min(minutes, 60) if case.severity == Severity.URGENT else minutes


def escalation_moments(
    step: CaseStep, *, policy, calendar: BusinessCalendar
) -> list[tuple[int, dt.datetime]]:
    """When each level is told: at the deadline, then one interval of business time apart."""
    interval = _interval_minutes(step.case, policy)
    moments = [(LEVELS[0].value, step.due_at)]
    for index, level in enumerate(LEVELS[1:], start=1):
        moments.append((level.value, calendar.add_minutes(step.due_at, interval * index)))
    return moments


def cases_escalate_overdue(*, now: dt.datetime | None = None) -> int:
    """Tell the next level about every overdue step; returns notices sent.

    Safe to run twice, on two schedulers or after a restart: each (step, level) row is
    unique, and only the run that inserts it sends the notice.
    """
    now = now or timezone.now()
    overdue = (
        CaseStep.objects.filter(
            completed_at__isnull=True, due_at__lte=now, case__status=RecoveryCase.Status.OPEN
        )
        .select_related("case__practice__organisation", "case__owner")
        .order_by("due_at")
    )
    calendars: dict[int, BusinessCalendar] = {}
    sent = 0
    for step in overdue.iterator(chunk_size=200):
        practice = step.case.practice
        if practice.pk not in calendars:
            calendars[practice.pk] = BusinessCalendar.for_practice(practice)
        policy = recovery_policy_for(practice.organisation)
        for level, moment in escalation_moments(
            step, policy=policy, calendar=calendars[practice.pk]
        ):
            if moment > now:
                break
            sent += _escalate_once(step, level, now)
    return sent


@transaction.atomic
def _escalate_once(step: CaseStep, level: int, now: dt.datetime) -> int:
    try:
        with transaction.atomic():
            escalation = CaseEscalation.objects.create(step=step, level=level, at=now)
    except IntegrityError:
        return 0
    case = step.case
    # Whoever an earlier level already told (a manager who owns the case) is not told again.
    earlier = {user.pk for lower in LEVELS if lower < level for user in recipients(case, lower)}
    new = [user for user in recipients(case, level) if user.pk not in earlier]
    told = _notify(
        case,
        new,
        subject=f"Overdue: recovery case #{case.pk} at {case.practice.name}",
        lines=[
            f"{_describe(case)}: the step “{step.get_kind_display()}” was due "
            f"{_local(step.due_at, case)} and is not recorded yet.",
            "Please record it, or hand the case to someone who can.",
        ],
        key=f"case-escalation-{step.pk}-{level}",
    )
    escalation.notified = told
    escalation.save(update_fields=["notified"])
    label = CaseEscalation.Level(level).label.lower()
    CaseEvent.objects.create(
        case=case,
        at=now,
        text=f"Overdue “{step.get_kind_display()}”: told the {label} "
        f"({', '.join(told) or ('already told' if earlier else 'nobody to tell')})"[:300],
    )
    return 1
