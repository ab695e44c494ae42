"""Missed calls nobody returned in time feed the patient's loyalty risk (``unreturned_call``)."""

from __future__ import annotations

import datetime as dt

import pytest

from calls.models import CallbackTask
from calls.tests.factories import CallbackTaskFactory
from loyalty.rules import RULES, reasons_for
from loyalty.tests.factories import NOW, days_ago, fired, no_auto_cases, score
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

MINUTES = dt.timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _one_rule_at_a_time(organisation):
    no_auto_cases(organisation)


@pytest.fixture
def caller(practice):
    """A patient with no other history, so only the calls can raise their risk."""
    return PatientFactory(practice=practice, first_name="Sam", first_visit_on=None)


def missed_call(patient, *, days: float, done_after: dt.timedelta | None = None, outcome=""):
    """A missed call ``days`` before NOW, due 15 minutes later, done ``done_after`` the call."""
    called = days_ago(days)
    return CallbackTaskFactory(
        call__practice=patient.practice,
        call__patient=patient,
        call__started_at=called,
        patient=patient,
        due_at=called + 15 * MINUTES,
        done_at=called + done_after if done_after is not None else None,
        outcome=outcome or ("reached" if done_after is not None else ""),
    )


def test_fires_for_a_missed_call_nobody_returned(caller):
    missed_call(caller, days=3)

    row = score(caller)

    assert row.unreturned_calls == 1
    assert fired(row) == {"unreturned_call"}
    assert row.risk == RULES["unreturned_call"].points == 15
    assert reasons_for(row, {}) == ["1 missed call(s) not returned in time in the last 90 days"]


def test_quiet_for_a_missed_call_returned_by_its_deadline(caller):
    missed_call(caller, days=3, done_after=10 * MINUTES)

    row = score(caller)

    assert row.unreturned_calls == 0
    assert fired(row) == set() and row.risk == 0


def test_fires_for_a_call_back_made_after_the_deadline(caller):
    missed_call(caller, days=3, done_after=40 * MINUTES)
    # Getting through on their own after the deadline still meant chasing us.
    missed_call(
        caller, days=2, done_after=3 * 60 * MINUTES, outcome=CallbackTask.Outcome.GOT_THROUGH
    )

    assert score(caller).unreturned_calls == 2


def test_quiet_for_a_caller_who_got_through_before_the_deadline(caller):
    missed_call(caller, days=3, done_after=5 * MINUTES, outcome=CallbackTask.Outcome.GOT_THROUGH)

    assert score(caller).unreturned_calls == 0


def test_only_the_last_ninety_days_count(caller, practice):
    missed_call(caller, days=91)
    recent = PatientFactory(practice=practice, first_visit_on=None)
    missed_call(recent, days=89)

    assert score(caller).unreturned_calls == 0
    assert score(recent).unreturned_calls == 1


def test_a_call_back_not_yet_due_does_not_count(caller):
    # Rang five minutes before NOW: ten minutes left to call back.
    missed_call(caller, days=5 / (24 * 60))

    assert score(caller).unreturned_calls == 0
    # As of an hour later, with nobody having called, it counts.
    assert score(caller, now=NOW + dt.timedelta(hours=1)).unreturned_calls == 1


def test_scored_as_of_a_past_moment_a_later_call_back_was_still_owed(caller):
    missed_call(caller, days=10, done_after=dt.timedelta(days=2))

    assert score(caller, now=days_ago(9)).unreturned_calls == 1  # overdue then, done later
    assert score(caller).unreturned_calls == 1  # done late


def test_weights_tune_the_rule(caller, organisation):
    from loyalty.models import LoyaltyPolicy

    missed_call(caller, days=3)
    LoyaltyPolicy.objects.create(organisation=organisation, weights={"unreturned_call": 40})

    assert score(caller).risk == 40
