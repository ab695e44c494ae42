"""Demo loyalty: a year of monthly scores (the trends) and Dana's check-in months ago."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model

from core.models import Practice
from loyalty.models import CheckIn
from loyalty.rules import reasons_for
from loyalty.scoring import scores_compute
from patients.models import Patient

MONTHS = 12


def _month_ends(now: dt.datetime) -> list[dt.datetime]:
    """The last moment of each of the past twelve months, oldest first."""
    ends = []
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for _ in range(MONTHS):
        ends.append(first - dt.timedelta(microseconds=1))
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return list(reversed(ends))


def loyalty_seed(*, practices: list[Practice], now: dt.datetime) -> int:
    """Score as the nightly job would have at each month's end, then today; returns scored."""
    for moment in _month_ends(now):
        scores_compute(practices=practices, now=moment)
    scored = scores_compute(practices=practices, now=now)
    _dana_check_in(practices[0], now)
    return scored


def _dana_check_in(practice: Practice, now: dt.datetime) -> None:
    dana = Patient.objects.filter(
        practice=practice, first_name="Dana", last_name="Whitfield"
    ).first()
    dentist = get_user_model().objects.filter(username="dentist").first()
    if dana is None or dentist is None:
        return
    manager = get_user_model().objects.filter(username="manager").first()
    planned = now - dt.timedelta(days=120)
    # Written directly: the service plans check-ins from today on, and this one is history.
    CheckIn.objects.create(
        practice=practice,
        patient=dana,
        kind=CheckIn.Kind.DENTIST_CALL,
        owner=dentist,
        due_on=(planned + dt.timedelta(days=7)).date(),
        reasons=reasons_for(dana.loyalty, {}) if hasattr(dana, "loyalty") else [],
        created_at=planned,
        created_by=manager,
        done_at=planned + dt.timedelta(days=5),
        outcome=CheckIn.Outcome.REASSURED,
        notes="Called Dana. She is driving further since her move and asked whether we still "
        "do crowns the old way; told her about the new scanner. She will think about it.",
    )
