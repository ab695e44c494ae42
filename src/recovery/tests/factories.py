"""Helpers to open and work recovery cases, on top of the root conftest personas.

Cases are opened through ``recovery.services`` (never ``objects.create``) so every test
exercises the real deadline, owner and priority rules. Moments are local wall-clock times
of the practice, written as ``local("2026-03-06 16:30")``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import factory
import time_machine
from django.utils import timezone

from feedback.tests.factories import InvitationFactory, answers_for
from patients.tests.factories import PatientFactory
from recovery import services
from recovery.models import STEP_ORDER, CaseStep, RecoveryCase, Severity

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
PHOENIX = zoneinfo.ZoneInfo("America/Phoenix")


def local(text: str, zone: zoneinfo.ZoneInfo = NEW_YORK) -> dt.datetime:
    """An aware moment from a local wall-clock time such as ``"2026-03-06 16:30"``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone)


class RecentPatientFactory(PatientFactory):
    """A patient with no priority reason: a year with the practice, no value, no referrals.

    ``PatientFactory`` starts every patient in 2015, which makes them long-standing (and so
    priority) patients; recovery tests choose priority explicitly.
    """

    first_visit_on = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=400))


def open_case(
    practice,
    *,
    at: dt.datetime,
    patient=None,
    severity: str = Severity.NORMAL,
    touchpoints=("waiting",),
    summary: str = "Waited 40 minutes past the appointment time",
    **kwargs,
) -> RecoveryCase:
    """Open a case by hand at ``at``, with the clock of the whole process moved there."""
    with time_machine.travel(at, tick=False):
        return services.case_open(
            practice=practice,
            patient=patient,
            summary=summary,
            severity=severity,
            touchpoints=list(touchpoints),
            now=at,
            **kwargs,
        )


def complete(
    case: RecoveryCase,
    kind: str,
    *,
    user,
    at: dt.datetime,
    method: str = CaseStep.Method.CALL,
    notes: str = "Called her; she told us the whole story.",
    score: int | None = None,
) -> CaseStep:
    with time_machine.travel(at, tick=False):
        return services.case_step_complete(
            case=case, kind=kind, method=method, notes=notes, user=user, score=score, now=at
        )


def work_through(case: RecoveryCase, last: str, *, user, at: dt.datetime) -> None:
    """Record every step up to and including ``last``, all at ``at``."""
    for kind in STEP_ORDER[: STEP_ORDER.index(last) + 1]:
        complete(case, kind, user=user, at=at)


def step(case: RecoveryCase, kind: str) -> CaseStep:
    return case.steps.get(kind=kind)


def due(case: RecoveryCase, kind: str) -> dt.datetime | None:
    """A step's deadline in the practice's wall-clock time, fresh from the database."""
    value = step(case, kind).due_at
    return value.astimezone(case.practice.zone) if value else None


def survey_answer(patient, *, at: dt.datetime, invitation=None, ratings=None, **by_kind):
    """Answer a survey invitation (a post-visit one unless given) at ``at``.

    ``by_kind`` answers every question of a kind (``nps=4``, ``text="..."``); ``ratings``
    answers single touchpoint ratings (``{"waiting": 1}``).
    """
    from feedback.services import response_submit

    with time_machine.travel(at, tick=False):
        invitation = invitation or InvitationFactory(patient=patient)
        answers = answers_for(invitation.survey, **by_kind)
        for question in invitation.survey.questions.filter(touchpoint__in=list(ratings or ())):
            answers[f"q{question.pk}"] = str(ratings[question.touchpoint])
        return response_submit(invitation=invitation, answers=answers, now=at)


def feedback(practice, text: str, *, at: dt.datetime, patient=None, source="web", **kwargs):
    """A talk-to-us message (or other channel) stored at ``at``."""
    from feedback.services import feedback_item_create

    with time_machine.travel(at, tick=False):
        return feedback_item_create(
            practice=practice, patient=patient, source=source, text=text, **kwargs
        )
