"""Every rollup figure recomputed from the raw rows the plain way: ORM queries, a loop in
Python and ``zoneinfo`` for the local day. The rollup SQL is checked against this.

Written from the definitions in docs/analytics.md, not from the SQL.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal

from analytics.models import (
    PracticeDay,
    PracticeDayDeparture,
    PracticeDayPerson,
    PracticeDayTouchpoint,
    PracticeDayVendor,
)
from analytics.sources import EFFORT_WORDS
from calls.models import Call, CallbackTask
from feedback.models import Answer, FeedbackItem, Question, SurveyInvitation, SurveyResponse
from patients.models import Appointment, Patient
from records.models import RecordsRequest
from recovery.models import Gesture, RecoveryCase
from vendors.models import VendorDefect

Key = tuple  # (practice_id, day) or (practice_id, day, touchpoint / reason)


def _cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


class _Tally:
    def __init__(self, practices, first: dt.date, last: dt.date):
        self.zones = {p.pk: p.zone for p in practices}
        self.first, self.last = first, last
        self.rows: dict[Key, Counter] = defaultdict(Counter)

    def day(self, practice_id: int, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.zones[practice_id]).date()

    def add(self, practice_id: int, moment: dt.datetime, *extra, **counts: int) -> None:
        day = self.day(practice_id, moment)
        if self.first <= day <= self.last:
            self.rows[(practice_id, day, *extra)].update(counts)

    def result(self) -> dict[Key, Counter]:
        return {key: +counter for key, counter in self.rows.items() if +counter}


def expected_days(practices, *, first: dt.date, last: dt.date, now: dt.datetime) -> dict:
    """(practice id, local day) → the non-zero ``PracticeDay`` counts."""
    tally = _Tally(practices, first, last)
    ids = list(tally.zones)

    answered = set(SurveyResponse.objects.values_list("invitation_id", flat=True))
    for invitation in SurveyInvitation.objects.filter(practice_id__in=ids):
        tally.add(
            invitation.practice_id,
            invitation.created_at,
            invitations=1,
            invitations_answered=int(invitation.pk in answered),
        )
    for response in SurveyResponse.objects.filter(practice_id__in=ids):
        nps = response.nps
        tally.add(
            response.practice_id,
            response.submitted_at,
            responses=1,
            nps_promoters=int(nps is not None and nps >= 9),
            nps_passives=int(nps in (7, 8)),
            nps_detractors=int(nps is not None and nps <= 6),
        )
    effort = {
        q.pk
        for q in Question.objects.filter(kind__in=["yes_no", "rating"])
        if EFFORT_WORDS.search(q.text)
    }
    answers = Answer.objects.filter(response__practice_id__in=ids, number__isnull=False)
    for answer in answers.select_related("response", "question"):
        question, number = answer.question, answer.number
        counts = Counter()
        if question.kind == "rating":
            counts.update(csat_answers=1, csat_satisfied=int(number >= 4))
        if question.pk in effort:
            easy = number == 1 if question.kind == "yes_no" else number >= 4
            counts.update(ces_answers=1, ces_easy=int(easy))
        tally.add(answer.response.practice_id, answer.response.submitted_at, **counts)
    for item in FeedbackItem.objects.filter(practice_id__in=ids):
        tally.add(
            item.practice_id,
            item.received_at,
            feedback_items=1,
            feedback_negative=int(item.label == "negative"),
            feedback_positive=int(item.label == "positive"),
        )
    for case in RecoveryCase.objects.filter(practice_id__in=ids).prefetch_related("steps"):
        ack = next((s for s in case.steps.all() if s.kind == "acknowledge"), None)
        on_time = late = 0
        if ack is not None and ack.due_at is not None:
            if ack.completed_at is not None:
                on_time = int(ack.completed_at <= ack.due_at)
                late = 1 - on_time
            else:
                late = int(ack.due_at < now and case.status == "open")
        tally.add(
            case.practice_id,
            case.opened_at,
            cases_opened=1,
            cases_ack_on_time=on_time,
            cases_ack_late=late,
        )
        if case.closed_at is not None:
            paired = case.satisfaction_before is not None and case.satisfaction_after is not None
            tally.add(
                case.practice_id,
                case.closed_at,
                cases_closed=1,
                cases_recovered=int(case.outcome == "recovered"),
                cases_judged=int(case.outcome in ("recovered", "partly", "not_recovered")),
                satisfaction_pairs=int(paired),
                satisfaction_before_sum=case.satisfaction_before if paired else 0,
                satisfaction_after_sum=case.satisfaction_after if paired else 0,
            )
    gestures = Gesture.objects.filter(
        case__practice_id__in=ids, status__in=["approved", "given"]
    ).select_related("case")
    for gesture in gestures:
        tally.add(
            gesture.case.practice_id,
            gesture.proposed_at,
            gestures=1,
            gestures_cost_cents=_cents(gesture.cost),
        )
    for request in RecordsRequest.objects.filter(practice_id__in=ids):
        if request.status != "withdrawn":
            tally.add(request.practice_id, request.received_at, records_received=1)
        if request.status == "fulfilled" and request.fulfilled_at is not None:
            done_on = tally.day(request.practice_id, request.fulfilled_at)
            tally.add(
                request.practice_id,
                request.fulfilled_at,
                records_fulfilled=1,
                records_fulfilled_on_time=int(done_on <= request.deadline),
            )
    for patient in Patient.objects.filter(practice_id__in=ids):
        if patient.departed_at is not None:
            gone = patient.status == "departed"
            tally.add(
                patient.practice_id,
                patient.departed_at,
                departures=1,
                value_lost_cents=_cents(patient.lifetime_value) if gone else 0,
            )
        if patient.returned_at is not None:
            tally.add(patient.practice_id, patient.returned_at, redeemed=1)
    for call in Call.objects.filter(practice_id__in=ids, direction="inbound"):
        answered_call = call.disposition == "answered"
        tally.add(
            call.practice_id,
            call.started_at,
            calls_inbound=1,
            calls_answered=int(answered_call),
            calls_missed=int(not answered_call),
        )
    for task in CallbackTask.objects.filter(call__practice_id__in=ids).select_related("call"):
        by_person = task.done_at is not None and task.outcome != "got_through"
        tally.add(
            task.call.practice_id,
            task.call.started_at,
            callbacks_done=int(by_person),
            callbacks_on_time=int(by_person and task.done_at <= task.due_at),
            callbacks_overdue=int(task.done_at is None and task.due_at <= now),
        )
    _new_callers(tally, ids)
    for defect in VendorDefect.objects.filter(practice_id__in=ids):
        tally.add(defect.practice_id, defect.detected_at, vendor_defects=1)
    _visits(tally, ids)
    return tally.result()


def _new_callers(tally: _Tally, ids) -> None:
    first_calls: dict[tuple[int, str], Call] = {}
    calls = Call.objects.filter(practice_id__in=ids, direction="inbound", new_caller=True).exclude(
        number=""
    )
    for call in calls.order_by("started_at", "pk"):
        first_calls.setdefault((call.practice_id, call.number), call)
    for (practice_id, number), call in first_calls.items():
        patients = set(
            Patient.objects.filter(practice_id=practice_id, phone=number).values_list(
                "pk", flat=True
            )
        )
        if call.patient_id:
            patients.add(call.patient_id)
        booked = Appointment.objects.filter(
            patient_id__in=patients,
            created_at__gte=call.started_at,
            created_at__lt=call.started_at + dt.timedelta(days=7),
            starts_at__gte=call.started_at,
        ).exists()
        tally.add(practice_id, call.started_at, new_callers=1, new_callers_booked=int(booked))


def _visits(tally: _Tally, ids) -> None:
    completed = Appointment.objects.filter(practice_id__in=ids, status="completed")
    earliest: dict[int, dt.datetime] = {}
    for patient_id, starts_at in completed.values_list("patient_id", "starts_at"):
        earliest[patient_id] = min(starts_at, earliest.get(patient_id, starts_at))
    seen: dict[Key, set] = defaultdict(set)
    new: dict[Key, set] = defaultdict(set)
    for appointment in completed.select_related("patient"):
        practice_id = appointment.practice_id
        day = tally.day(practice_id, appointment.starts_at)
        first_visit = appointment.patient.first_visit_on
        is_new = (
            first_visit == day
            if first_visit is not None
            else earliest[appointment.patient_id] == appointment.starts_at
        )
        tally.add(practice_id, appointment.starts_at, visits=1)
        seen[(practice_id, day)].add(appointment.patient_id)
        if is_new:
            new[(practice_id, day)].add(appointment.patient_id)
    for (practice_id, day), patients in seen.items():
        if tally.first <= day <= tally.last:
            tally.rows[(practice_id, day)].update(
                patients_seen=len(patients), new_patients_seen=len(new[(practice_id, day)])
            )


def expected_touchpoints(practices, *, first: dt.date, last: dt.date) -> dict:
    """(practice id, local day, touchpoint) → the non-zero ``PracticeDayTouchpoint`` counts."""
    tally = _Tally(practices, first, last)
    ids = list(tally.zones)
    answers = Answer.objects.filter(
        response__practice_id__in=ids, question__kind="rating", number__isnull=False
    ).select_related("response", "question")
    for answer in answers:
        number = answer.number
        tally.add(
            answer.response.practice_id,
            answer.response.submitted_at,
            answer.question.touchpoint,
            answers=1,
            score_sum=number,
            satisfied=int(number >= 4),
            low_scores=int(number <= 2),
        )
    for item in FeedbackItem.objects.filter(practice_id__in=ids, label="negative"):
        for touchpoint in set(item.touchpoints):
            tally.add(item.practice_id, item.received_at, touchpoint, defects=1)
    return tally.result()


def expected_departures(practices, *, first: dt.date, last: dt.date) -> dict:
    """(practice id, local day, reason) → the non-zero ``PracticeDayDeparture`` counts."""
    tally = _Tally(practices, first, last)
    for patient in Patient.objects.filter(
        practice_id__in=list(tally.zones), departed_at__isnull=False
    ):
        gone = patient.status == "departed"
        tally.add(
            patient.practice_id,
            patient.departed_at,
            patient.departure_reason,
            departures=1,
            value_lost_cents=_cents(patient.lifetime_value) if gone else 0,
        )
    return tally.result()


def expected_people(practices, *, first: dt.date, last: dt.date) -> dict:
    """(practice id, local day, person) → the non-zero ``PracticeDayPerson`` counts."""
    tally = _Tally(practices, first, last)
    items = FeedbackItem.objects.filter(
        practice_id__in=list(tally.zones), label__in=["positive", "negative"]
    )
    for item in items:
        counted = "praise" if item.label == "positive" else "complaints"
        for person in set(item.people):
            tally.add(item.practice_id, item.received_at, person, **{counted: 1})
    return tally.result()


def expected_vendors(practices, *, first: dt.date, last: dt.date) -> dict:
    """(practice id, local day, vendor id) → the non-zero ``PracticeDayVendor`` counts."""
    tally = _Tally(practices, first, last)
    ids = list(tally.zones)
    ratings = Answer.objects.filter(
        response__practice_id__in=ids,
        question__kind="rating",
        number__isnull=False,
        vendor__isnull=False,
    ).select_related("response")
    for answer in ratings:
        tally.add(
            answer.response.practice_id,
            answer.response.submitted_at,
            answer.vendor_id,
            answers=1,
            score_sum=answer.number,
            satisfied=int(answer.number >= 4),
        )
    for defect in VendorDefect.objects.filter(practice_id__in=ids):
        tally.add(defect.practice_id, defect.detected_at, defect.vendor_id, defects=1)
    complaints = FeedbackItem.objects.filter(
        practice_id__in=ids, label="negative", vendor__isnull=False
    )
    for item in complaints:
        tally.add(item.practice_id, item.received_at, item.vendor_id, complaints=1)
    for opened in RecoveryCase.objects.filter(practice_id__in=ids, vendor__isnull=False):
        tally.add(opened.practice_id, opened.opened_at, opened.vendor_id, cases_opened=1)
    return tally.result()


# --- The rollup tables in the same shape ---------------------------------------------


def _read(model, keys: list[str], columns: list[str]) -> dict:
    rows = {}
    for row in model.objects.values(*keys, *columns):
        counts = +Counter({name: row[name] for name in columns})
        if counts:
            rows[tuple(row[k] for k in keys)] = counts
    return rows


def rollup_days() -> dict:
    columns = [
        f.name
        for f in PracticeDay._meta.concrete_fields
        if f.name not in {"id", "practice", "day", "changed_at"}
    ]
    return _read(PracticeDay, ["practice_id", "day"], columns)


def rollup_touchpoints() -> dict:
    columns = ["answers", "score_sum", "satisfied", "low_scores", "defects"]
    return _read(PracticeDayTouchpoint, ["practice_id", "day", "touchpoint"], columns)


def rollup_departures() -> dict:
    return _read(
        PracticeDayDeparture, ["practice_id", "day", "reason"], ["departures", "value_lost_cents"]
    )


def rollup_people() -> dict:
    return _read(PracticeDayPerson, ["practice_id", "day", "person"], ["praise", "complaints"])


def rollup_vendors() -> dict:
    columns = ["answers", "score_sum", "satisfied", "defects", "complaints", "cases_opened"]
    return _read(PracticeDayVendor, ["practice_id", "day", "vendor_id"], columns)


def months_summed_from_days() -> dict:
    """Each month table's rows as they should be: its day table's rows summed per month."""
    from analytics.rollups import MONTHS

    expected = {}
    for day_model, month_model in MONTHS.items():
        keys = [f.attname for f in day_model._meta.concrete_fields if not _counted(f)]
        columns = [f.name for f in day_model._meta.concrete_fields if _counted(f)]
        keys = [k for k in keys if k not in {"id", "changed_at"}]
        sums: dict[tuple, Counter] = defaultdict(Counter)
        for row in day_model.objects.values(*keys, *columns):
            month = row["day"].replace(day=1)
            key = tuple(month if k == "day" else row[k] for k in keys)
            sums[key].update({c: row[c] for c in columns})
        expected[month_model.__name__] = {k: +v for k, v in sums.items() if +v}
    return expected


def month_rows() -> dict:
    from analytics.rollups import MONTHS

    found = {}
    for day_model, month_model in MONTHS.items():
        keys = [f.attname for f in day_model._meta.concrete_fields if not _counted(f)]
        keys = ["month" if k == "day" else k for k in keys if k not in {"id", "changed_at"}]
        columns = [f.name for f in month_model._meta.concrete_fields if _counted(f)]
        found[month_model.__name__] = _read(month_model, keys, columns)
    return found


def _counted(field) -> bool:
    from django.db.models import IntegerField

    return isinstance(field, IntegerField) and not field.primary_key and not field.is_relation
