"""The demo's recovery cases: every state in the inbox, the stories, dates that add up.

The demo is seeded once for the module (it takes a few seconds), on the same Tuesday as
``patients/tests/test_seeding.py``; each test reads it inside its own rolled-back
transaction, with the clock still on that Tuesday.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count

from core.business_hours import BusinessCalendar
from core.models import AuditEvent, Practice
from patients.models import Appointment, Patient
from patients.seeding import seed_demo
from recovery.metrics import recovery_metrics
from recovery.models import CaseEscalation, CaseEvent, Gesture, NextVisitAlert, RecoveryCase

# A Tuesday, 10:00 in New York.
TUESDAY = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)
Status, Outcome = RecoveryCase.Status, RecoveryCase.Outcome


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with (
        django_db_blocker.unblock(),
        time_machine.travel(TUESDAY, tick=False),
        transaction.atomic(),
    ):
        seed_demo()
        yield Practice.objects.get(organisation__slug="bright-smiles", slug="maple")
        transaction.set_rollback(True)


@pytest.fixture
def maple(demo, db):
    return demo


def _patient(maple, first, last) -> Patient:
    return Patient.objects.get(practice=maple, first_name=first, last_name=last)


def _case_of(maple, first, last) -> RecoveryCase:
    return RecoveryCase.objects.get(practice=maple, patient=_patient(maple, first, last))


def _steps(case) -> dict:
    return {step.kind: step for step in case.steps.all()}


def _open_with_clock(maple):
    """Open cases (not waiting) with the deadline of their earliest unfinished step."""
    cases = RecoveryCase.objects.filter(practice=maple, status=Status.OPEN)
    return [
        (
            case,
            min((s.due_at for s in case.steps.all() if not s.is_done and s.due_at), default=None),
        )
        for case in cases.prefetch_related("steps")
    ]


def test_the_inbox_has_cases_in_every_status_and_outcome(maple):
    cases = RecoveryCase.objects.filter(practice=maple)
    statuses = dict(cases.values_list("status").annotate(n=Count("id")))
    outcomes = dict(cases.exclude(outcome="").values_list("outcome").annotate(n=Count("id")))

    assert set(statuses) == set(Status.values)
    assert set(outcomes) == set(Outcome.values)
    assert outcomes[Outcome.RECOVERED] > outcomes[Outcome.PARTLY] > outcomes[Outcome.NOT_RECOVERED]
    assert statuses[Status.OPEN] >= 6
    # Every complaint of the year opened its case, at the moment it was received.
    assert 100 < cases.count() < 250
    for case in cases.filter(feedback_items__isnull=False).prefetch_related("feedback_items"):
        assert case.opened_at == min(item.received_at for item in case.feedback_items.all())
    seed = AuditEvent.objects.get(practice=maple, object_type="seed")
    counts = seed.detail["recovery_cases"]
    assert counts["cases"] == cases.count()
    assert counts["closed"] == statuses[Status.CLOSED]
    assert counts["recovered"] == outcomes[Outcome.RECOVERED]


def test_cases_belong_to_the_manager_and_priority_cases_to_the_dentist(maple):
    dentist = get_user_model().objects.get(username="dentist")
    assert maple.owner_dentist == dentist
    cases = RecoveryCase.objects.filter(practice=maple)
    assert set(cases.values_list("owner__username", flat=True)) == {"manager", "dentist"}
    assert set(cases.filter(is_priority=True).values_list("owner__username", flat=True)) == {
        "dentist"
    }
    assert cases.filter(is_priority=True, status=Status.OPEN).exists()


def test_a_fresh_case_waits_within_its_deadline_and_two_are_overdue(maple):
    clocks = _open_with_clock(maple)
    fresh = [
        case
        for case, due in clocks
        if not any(step.is_done for step in case.steps.all()) and due > TUESDAY
    ]
    assert fresh
    overdue = [case for case, due in clocks if due is not None and due < TUESDAY]
    assert len(overdue) >= 2
    # The escalation job ran once: each overdue step told its owner, once per level.
    escalations = CaseEscalation.objects.filter(step__case__practice=maple)
    assert {e.step.case_id for e in escalations} == {case.pk for case in overdue}
    assert all(e.step.due_at <= e.at == TUESDAY for e in escalations)
    owners = escalations.filter(level=CaseEscalation.Level.OWNER)
    assert owners.count() >= 2 and all(e.notified for e in owners)


def test_open_cases_wait_work_and_follow_up(maple):
    open_cases = RecoveryCase.objects.filter(practice=maple).exclude(status=Status.CLOSED)
    waiting = open_cases.get(status=Status.WAITING_PATIENT)
    assert _steps(waiting)["acknowledge"].is_done and waiting.paused_at
    implementing = [
        case
        for case in open_cases.filter(status=Status.OPEN)
        if _steps(case)["plan"].is_done and not _steps(case)["implement"].is_done
    ]
    assert any(_steps(case)["implement"].due_at > TUESDAY for case in implementing)
    surveyed = open_cases.get(follow_up_invitation__isnull=False)
    follow_up = _steps(surveyed)["follow_up"]
    assert not follow_up.is_done and follow_up.due_at > TUESDAY
    assert surveyed.follow_up_invitation.survey.kind == "follow_up"
    assert surveyed.follow_up_invitation.created_at < TUESDAY
    assert open_cases.filter(severity="urgent").exists()


def test_a_gesture_above_the_limit_waits_for_the_manager(maple):
    (pending,) = Gesture.objects.filter(case__practice=maple, status=Gesture.Status.PENDING)
    assert pending.cost > Decimal("50")
    assert pending.proposed_by.username == "dentist"
    assert pending.case.status == Status.OPEN
    given = Gesture.objects.filter(case__practice=maple, status=Gesture.Status.GIVEN)
    assert given.count() > 10
    assert not given.filter(decided_by__isnull=True).exists()


def test_the_lees_case_is_recovered_and_remembered_at_their_next_visit(maple, client):
    case = _case_of(maple, "Grace", "Lee")
    steps = _steps(case)
    assert (case.topic, case.severity, case.status) == ("waiting", "normal", Status.CLOSED)
    assert case.outcome == Outcome.RECOVERED
    assert case.opened_at.astimezone(maple.zone).month == 3
    assert all(step.is_done and step.notes for step in steps.values())
    assert all(step.completed_at <= step.due_at for step in steps.values())
    acknowledged = steps["acknowledge"].completed_at.astimezone(maple.zone)
    assert acknowledged.date() == case.opened_at.astimezone(maple.zone).date()
    assert "first slot" in steps["plan"].notes
    assert (case.satisfaction_before, case.satisfaction_after) == (6, 10)
    assert case.feedback_items.count() == 2  # logged at the desk, then her survey's 6
    (flowers,) = case.gestures.all()
    assert (flowers.kind.name, flowers.cost, flowers.status) == ("Flowers", Decimal("35"), "given")
    (alert,) = NextVisitAlert.objects.filter(patient=case.patient, done_at__isnull=True)
    assert alert.text == "Greet Mrs Lee, apologise again for March's wait; she has the first slot."

    calendar = BusinessCalendar.for_practice(maple)
    tomorrow = dt.datetime.combine(
        TUESDAY.astimezone(maple.zone).date() + dt.timedelta(days=1), dt.time(), maple.zone
    )
    next_open_day = calendar.next_open(tomorrow).date()
    visit = Appointment.objects.get(patient=case.patient, status="scheduled")
    assert visit.starts_at.astimezone(maple.zone).date() == next_open_day
    client.force_login(get_user_model().objects.get(username="frontdesk"))
    sheet = client.get("/patients/day/", {"day": next_open_day.isoformat()})
    assert sheet.context["alerts"][case.patient_id] == [alert]
    assert "Greet Mrs Lee, apologise again" in sheet.content.decode()


def test_leos_case_is_urgent_worked_the_same_evening_and_followed_up_next_week(maple):
    """His mother wrote two working days ago: the follow-up is still to come."""
    case = _case_of(maple, "Leo", "Brandt")
    steps = _steps(case)
    assert case.severity == "urgent" and case.contact_name == "Anna Brandt"
    assert steps["acknowledge"].completed_at - case.opened_at < dt.timedelta(hours=1)
    assert steps["acknowledge"].method == "call"
    assert "Leo came to the phone" in steps["listen"].notes
    assert "apologise to Leo himself" in steps["plan"].notes
    scolded_by = Appointment.objects.filter(patient=case.patient, kind="Cleaning").latest(
        "starts_at"
    )
    assert scolded_by.provider.name not in steps["plan"].notes
    assert all(steps[kind].is_done for kind in ("listen", "thank", "plan", "implement"))
    assert all(step.completed_at <= step.due_at for step in steps.values() if step.is_done)
    (gift,) = case.gestures.all()
    assert (gift.kind.name, gift.cost, gift.status) == ("Gift card", Decimal("25"), "given")
    assert gift.decided_by.username == "manager"
    follow_up = steps["follow_up"]
    assert not follow_up.is_done and case.status == Status.OPEN
    week = follow_up.due_at - steps["implement"].completed_at
    assert dt.timedelta(days=6, hours=23) < week < dt.timedelta(days=7, hours=1)
    assert case.events.filter(text__startswith="Urgent: paged").exists()


def test_priyas_case_waits_on_the_lab(maple):
    case = _case_of(maple, "Priya", "Nair")
    steps = _steps(case)
    assert case.topic == "third_party" and case.severity in {"normal", "high"}
    assert case.status == Status.WAITING_THIRD_PARTY
    assert steps["acknowledge"].is_done and steps["listen"].is_done
    assert "Crestline" in steps["listen"].notes
    assert not steps["thank"].is_done


def test_recovery_beats_the_score_before_the_failure(maple):
    metrics = recovery_metrics(maple, since=TUESDAY - dt.timedelta(days=365))
    assert metrics.satisfaction_pairs > 50
    assert metrics.satisfaction_after > metrics.satisfaction_before + 2
    assert 0.6 < metrics.recovered.percent / 100 < 0.9
    assert 0.7 < metrics.deadlines_met.percent / 100 < 0.97
    assert metrics.hours_to_acknowledge < 24
    assert len(metrics.monthly) >= 12


def test_timelines_are_dated_by_what_happened_not_by_the_seeding(maple):
    events = CaseEvent.objects.filter(case__practice=maple)
    assert not events.filter(at__gt=TUESDAY).exists()
    for case in RecoveryCase.objects.filter(practice=maple).prefetch_related("steps", "events"):
        moments = {event.at for event in case.events.all()}
        assert case.opened_at == min(moments)
        assert all(step.completed_at in moments for step in case.steps.all() if step.is_done)
        if case.closed_at:
            assert case.closed_at == max(moments)


def test_the_manager_sees_the_inbox_and_the_figures(maple, client):
    client.force_login(get_user_model().objects.get(username="manager"))
    inbox = client.get("/recovery/")
    assert inbox.status_code == 200
    counts = inbox.context["counts"]
    assert counts["open"] >= 7 and counts["overdue"] >= 2 and counts["mine"] >= 1
    dashboard = client.get("/feedback/dashboard/")
    assert dashboard.context["recovery"].opened > 100


def test_seeding_again_adds_no_cases(maple):
    cases = RecoveryCase.objects.count()
    seed_demo()
    assert RecoveryCase.objects.count() == cases
