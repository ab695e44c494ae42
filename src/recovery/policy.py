"""An organisation's recovery rules, with the defaults every organisation starts from."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from core.business_hours import BusinessCalendar
from core.models import Organisation
from recovery.models import DeadlineRule, DeadlineUnit, GestureKind, RecoveryPolicy, Severity

BH, BD, DAYS = DeadlineUnit.BUSINESS_HOURS, DeadlineUnit.BUSINESS_DAYS, DeadlineUnit.DAYS

# (step, unit) → amount per severity. Acknowledge: an urgent case within one business hour,
# any other within a business day; the plan within three business days; the follow-up a
# week after the plan was carried out.
DEFAULT_DEADLINES: dict[str, tuple[str, dict[str, int]]] = {
    "acknowledge": (BH, {"urgent": 1, "high": 8, "normal": 8, "low": 8}),
    "listen": (BD, {"urgent": 1, "high": 2, "normal": 2, "low": 3}),
    "thank": (BD, {"urgent": 1, "high": 2, "normal": 2, "low": 3}),
    "plan": (BD, {"urgent": 2, "high": 3, "normal": 3, "low": 3}),
    "implement": (BD, {"urgent": 3, "high": 5, "normal": 10, "low": 10}),
    "follow_up": (DAYS, {"urgent": 7, "high": 7, "normal": 7, "low": 7}),
}

DEFAULT_GESTURES: list[tuple[str, Decimal]] = [
    ("Personal apology call", Decimal("0")),
    ("Handwritten letter", Decimal("0")),
    ("Flowers", Decimal("35")),
    ("Gift card", Decimal("50")),
    ("Complimentary service", Decimal("120")),
    ("Fee waived", Decimal("150")),
]


@transaction.atomic
def recovery_policy_for(organisation: Organisation) -> RecoveryPolicy:
    """The organisation's policy, created with the default deadlines and gestures if missing."""
    policy, created = RecoveryPolicy.objects.get_or_create(organisation=organisation)
    if created:
        DeadlineRule.objects.bulk_create(
            DeadlineRule(policy=policy, severity=severity, step=step, amount=amount, unit=unit)
            for step, (unit, amounts) in DEFAULT_DEADLINES.items()
            for severity, amount in amounts.items()
        )
        GestureKind.objects.bulk_create(
            GestureKind(organisation=organisation, name=name, usual_cost=cost)
            for name, cost in DEFAULT_GESTURES
        )
    return policy


def _rule(policy: RecoveryPolicy, severity: str, step: str) -> tuple[int, str]:
    for rule in policy.deadlines.all():
        if rule.severity == severity and rule.step == step:
            return rule.amount, rule.unit
    # A rule deleted in the admin falls back to the default rather than to "no deadline".
    unit, amounts = DEFAULT_DEADLINES[step]
    return amounts.get(severity, amounts[Severity.NORMAL]), unit


def deadline(
    *,
    policy: RecoveryPolicy,
    calendar: BusinessCalendar,
    severity: str,
    step: str,
    start: dt.datetime,
    is_priority: bool = False,
) -> dt.datetime:
    """When a step is due, counted from ``start`` in the practice's opening hours."""
    amount, unit = _rule(policy, severity, step)
    if unit == DeadlineUnit.DAYS:
        length = dt.timedelta(days=amount)
        if is_priority:
            length = length * policy.priority_deadline_percent / 100
        # Calendar days are wall-clock days: "a week after 10:00" is 10:00 again, even
        # across a daylight-saving change (adding in UTC would land an hour off).
        local = start.astimezone(calendar.zone) + length
        return local.astimezone(dt.UTC).astimezone(calendar.zone)
    if unit == DeadlineUnit.BUSINESS_HOURS:
        due = calendar.add_minutes(start, amount * 60)
    else:
        due = calendar.add_days(start, amount)
    if not is_priority:
        return due
    opened = calendar.next_open(start)
    minutes = calendar.minutes_between(opened, due) * policy.priority_deadline_percent // 100
    return calendar.add_minutes(opened, minutes)
