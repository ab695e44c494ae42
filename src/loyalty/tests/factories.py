"""Patient histories for the loyalty tests, written at chosen moments before ``NOW``.

Every scoring run in these tests is made at ``NOW`` (a Wednesday noon in New York) unless
a test says otherwise, so "30 days ago" is exact and the facts are exact numbers.
Visits are factory rows; answers, comments and cases go through the feedback and
recovery services (or plain ``SurveyResponse`` rows when only the score matters).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import time_machine

from feedback.models import SurveyResponse
from feedback.tests.factories import InvitationFactory
from loyalty.models import PatientScore
from loyalty.rules import RULES
from loyalty.scoring import scores_compute
from patients.models import Appointment
from patients.tests.factories import AppointmentFactory
from recovery import services as recovery
from recovery.policy import recovery_policy_for
from recovery.tests.factories import feedback, local

# In UTC, so "100 days ago" is 100 × 24 hours even across a change of clocks.
NOW = local("2026-04-15 12:00").astimezone(dt.UTC)

COMPLETED = Appointment.Status.COMPLETED
SCHEDULED = Appointment.Status.SCHEDULED
CANCELLED = Appointment.Status.CANCELLED
NO_SHOW = Appointment.Status.NO_SHOW


def days_ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


def appointment(patient, days: float, status: str = COMPLETED, fee: str = "120.00"):
    """An appointment ``days`` before NOW; a negative number books one after NOW."""
    return AppointmentFactory(
        patient=patient, provider=None, starts_at=days_ago(days), status=status, fee=Decimal(fee)
    )


def visits(patient, *days: float) -> None:
    for day in days:
        appointment(patient, day)


def nps_answer(patient, nps: int, *, days: float) -> SurveyResponse:
    """A survey answer with only a 0–10 score: no comment, no case, just the score."""
    at = days_ago(days)
    with time_machine.travel(at, tick=False):
        invitation = InvitationFactory(patient=patient, created_at=at)
        return SurveyResponse.objects.create(
            invitation=invitation,
            practice=patient.practice,
            patient=patient,
            survey=invitation.survey,
            nps=nps,
        )


def comment(patient, text: str, *, days: float):
    """A talk-to-us message from the patient, through ``feedback_item_create``."""
    return feedback(patient.practice, text, at=days_ago(days), patient=patient)


def case(patient, *, days: float, user=None, closed_days: float | None = None, outcome=""):
    """A recovery case opened ``days`` ago, closed ``closed_days`` ago with ``outcome``."""
    opened = recovery.case_open(
        practice=patient.practice,
        patient=patient,
        summary="Waited 40 minutes past the appointment time",
        touchpoints=["waiting"],
        user=user,
        now=days_ago(days),
    )
    if closed_days is not None:
        recovery.case_close(case=opened, outcome=outcome, user=user, now=days_ago(closed_days))
        opened.refresh_from_db()
    return opened


def no_auto_cases(organisation) -> None:
    """Comments and low scores open no case by themselves, so one rule is seen at a time."""
    policy = recovery_policy_for(organisation)
    policy.open_on_detractor = policy.open_on_negative_text = policy.open_on_urgent_text = False
    policy.low_rating_max = 0
    policy.save()


def score(patient, *, now: dt.datetime = NOW, **kwargs) -> PatientScore | None:
    """Score the patient's practice at ``now``; the patient's row, or None when there is none."""
    scores_compute(practices=[patient.practice], now=now, **kwargs)
    return PatientScore.objects.filter(patient=patient).first()


def fired(row) -> set[str]:
    """The names of the rules that fire for a stored score (any points, even 0)."""
    return {name for name, rule in RULES.items() if rule.applies(row)}
