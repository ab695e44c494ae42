"""Raw rows at exact moments, written directly: the rollups read rows, however they came.

Services stamp ``now`` on what they write (and some columns are ``auto_now_add``); these
helpers write the moments a test names, so a row can sit a minute before local midnight.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

from calls.models import Call, CallbackTask
from feedback.models import Answer, FeedbackItem, Question, SurveyInvitation, SurveyResponse
from feedback.services import surveys_ensure_defaults
from patients.models import Appointment, Patient
from patients.tests.factories import PatientFactory
from records.models import RecordsRequest
from recovery.models import CaseStep, Gesture, GestureKind, RecoveryCase

EFFORT_QUESTION = "Was it easy to book your visit?"


def at(text: str, zone: str) -> dt.datetime:
    """An aware moment from a local wall-clock time such as ``"2026-03-10 23:50"``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=zoneinfo.ZoneInfo(zone))


def post_visit_survey(organisation):
    """The organisation's post-visit survey, with an effort question added for CES."""
    survey = surveys_ensure_defaults(organisation=organisation)["post_visit"]
    survey.questions.get_or_create(
        kind=Question.Kind.YES_NO, text=EFFORT_QUESTION, defaults={"position": 99}
    )
    return survey


def invitation(patient, *, created_at: dt.datetime) -> SurveyInvitation:
    return SurveyInvitation.objects.create(
        practice=patient.practice,
        patient=patient,
        survey=post_visit_survey(patient.practice.organisation),
        created_at=created_at,
        expires_at=created_at + dt.timedelta(days=14),
    )


def respond(
    invited: SurveyInvitation,
    *,
    submitted_at: dt.datetime,
    nps: int | None = None,
    ratings: dict[str, int] | None = None,
    easy: int | None = None,
    vendor=None,
) -> SurveyResponse:
    """A response with its NPS, touchpoint ratings and effort (yes = 1) answers; the
    ratings are about ``vendor`` when one is given."""
    survey = invited.survey
    response = SurveyResponse.objects.create(
        invitation=invited,
        practice=invited.practice,
        patient=invited.patient,
        survey=survey,
        nps=nps,
    )
    SurveyResponse.objects.filter(pk=response.pk).update(submitted_at=submitted_at)
    response.refresh_from_db()
    questions = {q.touchpoint or q.kind: q for q in survey.questions.all()}
    numbers = dict(ratings or {})
    if nps is not None:
        numbers["nps"] = nps
    if easy is not None:
        numbers["yes_no"] = easy
    Answer.objects.bulk_create(
        Answer(
            response=response,
            question=questions[key],
            number=number,
            vendor=vendor if key in (ratings or {}) else None,
        )
        for key, number in numbers.items()
    )
    return response


def feedback_item(
    practice,
    *,
    received_at: dt.datetime,
    label: str,
    touchpoints=(),
    patient=None,
    people=(),
    vendor=None,
) -> FeedbackItem:
    return FeedbackItem.objects.create(
        practice=practice,
        patient=patient,
        source=FeedbackItem.Source.WEB,
        text="…",
        received_at=received_at,
        label=label,
        touchpoints=list(touchpoints),
        people=list(people),
        vendor=vendor,
    )


def visit(patient, *, starts_at: dt.datetime, status="completed", created_at=None) -> Appointment:
    appointment = Appointment.objects.create(
        practice=patient.practice,
        patient=patient,
        starts_at=starts_at,
        status=status,
        fee=Decimal("100"),
    )
    Appointment.objects.filter(pk=appointment.pk).update(
        created_at=created_at or starts_at - dt.timedelta(days=10)
    )
    return appointment


def call(
    practice,
    *,
    started_at: dt.datetime,
    disposition="answered",
    number="+12025550111",
    new_caller=False,
    direction="inbound",
    patient=None,
) -> Call:
    return Call.objects.create(
        practice=practice,
        source=Call.Source.GENERIC,
        external_id=f"{practice.pk}-{started_at.isoformat()}-{number}-{Call.objects.count()}",
        direction=direction,
        caller=number,
        number=number,
        started_at=started_at,
        disposition=disposition,
        new_caller=new_caller,
        patient=patient,
    )


def callback(missed: Call, *, due_at: dt.datetime, done_at=None, outcome="") -> CallbackTask:
    return CallbackTask.objects.create(
        practice=missed.practice,
        call=missed,
        number=missed.number,
        due_at=due_at,
        done_at=done_at,
        outcome=outcome,
    )


def case(
    practice,
    *,
    opened_at: dt.datetime,
    ack_due: dt.datetime | None,
    acked_at: dt.datetime | None = None,
    status="open",
    closed_at=None,
    outcome="",
    before=None,
    after=None,
    patient=None,
    topic="waiting",
    vendor=None,
) -> RecoveryCase:
    opened = RecoveryCase.objects.create(
        practice=practice,
        patient=patient,
        vendor=vendor,
        summary="Waited too long",
        topic=topic,
        status=status,
        opened_at=opened_at,
        closed_at=closed_at,
        outcome=outcome,
        satisfaction_before=before,
        satisfaction_after=after,
    )
    CaseStep.objects.create(
        case=opened, kind="acknowledge", position=0, due_at=ack_due, completed_at=acked_at
    )
    return opened


def gesture(recovery_case, *, proposed_at: dt.datetime, cost: str, status="approved") -> Gesture:
    kind, _ = GestureKind.objects.get_or_create(
        organisation=recovery_case.practice.organisation, name="Flowers"
    )
    return Gesture.objects.create(
        case=recovery_case, kind=kind, cost=Decimal(cost), status=status, proposed_at=proposed_at
    )


def records_request(
    patient,
    *,
    received_at: dt.datetime,
    due_on: dt.date,
    status="received",
    fulfilled_at=None,
    extended_to=None,
) -> RecordsRequest:
    return RecordsRequest.objects.create(
        practice=patient.practice,
        patient=patient,
        channel=RecordsRequest.Channel.EMAIL,
        received_at=received_at,
        send_to_email="patient@example.com",
        rule_region="US",
        rule_version="test",
        due_on=due_on,
        extended_to=extended_to,
        status=status,
        fulfilled_at=fulfilled_at,
    )


def departed(
    practice, *, departed_at: dt.datetime, reason="", value="0", returned_at=None, **fields
) -> Patient:
    return PatientFactory(
        practice=practice,
        status=Patient.Status.ACTIVE if returned_at else Patient.Status.DEPARTED,
        departed_at=departed_at,
        departure_reason=reason,
        returned_at=returned_at,
        lifetime_value=Decimal(value),
        **fields,
    )
