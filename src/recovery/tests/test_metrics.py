"""How well Maple recovers, figured from a handful of cases worked at known moments.

The story, measured on Monday April 20, 2026 at noon, for cases opened since January 1:

- A (Jan 5): a detractor (3/10) acknowledged in 1 h, every step on time, followed up at
  9/10 and recovered; flowers ($35) approved.
- B (Feb 2): a detractor (5/10) acknowledged a day late (26 h), the rest on time, followed
  up at 6/10, partly recovered; a gift card ($50) given, a $120 service still pending.
- C (Mar 2): a talk-to-us complaint acknowledged in 3 h, then unreachable.
- G (Mar 16): A's patient again, a second failure, acknowledged in 1.5 h, not recovered.
- D (Apr 13): nothing done: four opening steps overdue.
- E (today, 11:00): nothing due yet.

Retention looks at cases closed 6 and 12 months ago or more, whatever ``since`` says.
"""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from patients.models import Appointment
from patients.tests.factories import AppointmentFactory
from recovery import services
from recovery.actions import gesture_mark_given, gesture_propose
from recovery.metrics import Share, recovery_metrics
from recovery.models import GestureKind, RecoveryCase
from recovery.tests.factories import (
    RecentPatientFactory,
    complete,
    feedback,
    local,
    open_case,
    survey_answer,
    work_through,
)

pytestmark = pytest.mark.django_db

NOW = local("2026-04-20 12:00")
SINCE = local("2026-01-01 00:00")


def close(case, outcome, *, user, at):
    return services.case_close(case=case, outcome=outcome, user=user, now=at)


def gesture(case, name, *, user, at):
    kind = GestureKind.objects.get(organisation=case.practice.organisation, name=name)
    with time_machine.travel(at, tick=False):
        return gesture_propose(case=case, kind=kind, user=user, now=at)


def detractor_case(patient, *, nps, at):
    survey_answer(patient, at=at, nps=nps)
    return RecoveryCase.objects.get(patient=patient, status="open")


@pytest.fixture
def story(practice, manager, clinician):
    patients = {name: RecentPatientFactory(practice=practice) for name in "ABCDE"}

    a = detractor_case(patients["A"], nps=3, at=local("2026-01-05 09:00"))
    work_through(a, "implement", user=manager, at=local("2026-01-05 10:00"))
    complete(a, "follow_up", user=manager, at=local("2026-01-09 10:00"), score=9)
    close(a, "recovered", user=manager, at=local("2026-01-09 11:00"))
    gesture(a, "Flowers", user=manager, at=local("2026-01-05 10:30"))

    b = detractor_case(patients["B"], nps=5, at=local("2026-02-02 09:00"))
    work_through(b, "implement", user=manager, at=local("2026-02-03 11:00"))
    complete(b, "follow_up", user=manager, at=local("2026-02-06 11:00"), score=6)
    close(b, "partly", user=manager, at=local("2026-02-06 12:00"))
    gesture_mark_given(
        gesture=gesture(b, "Gift card", user=manager, at=local("2026-02-03 12:00")), user=manager
    )
    gesture(b, "Complimentary service", user=clinician, at=local("2026-02-03 12:00"))

    feedback(
        practice, "The waiting room was dirty.", at=local("2026-03-02 09:00"), patient=patients["C"]
    )
    c = RecoveryCase.objects.get(patient=patients["C"])
    complete(c, "acknowledge", user=manager, at=local("2026-03-02 12:00"))
    close(c, "unreachable", user=manager, at=local("2026-03-02 12:30"))

    g = open_case(practice, patient=patients["A"], at=local("2026-03-16 09:00"))
    complete(g, "acknowledge", user=manager, at=local("2026-03-16 10:30"))
    close(g, "not_recovered", user=manager, at=local("2026-03-16 11:00"))

    open_case(practice, patient=patients["D"], at=local("2026-04-13 09:00"))
    open_case(practice, patient=patients["E"], at=local("2026-04-20 11:00"))
    return {"A": a, "B": b, "C": c, "G": g}


def measure(practice, since=SINCE):
    with time_machine.travel(NOW, tick=False):
        return recovery_metrics(practice, since=since)


def test_case_figures(practice, story):
    metrics = measure(practice)

    assert metrics.opened == 6
    # Acknowledged after 1, 26, 3 and 1.5 hours: the median of four is (1.5 + 3) / 2.
    assert metrics.hours_to_acknowledge == pytest.approx(2.25)
    # A, C and G on time; B late; D overdue and still open. E is not due yet.
    assert metrics.acknowledged_on_time == Share(3, 5)
    # A 6 of 6, B 5 of 6, C 1 of 1, G 1 of 1, D 0 of 4 (steps left when a case closed
    # do not count).
    assert metrics.deadlines_met == Share(13, 18)
    assert metrics.deadlines_met.percent == pytest.approx(72.22, abs=0.01)


def test_outcome_and_satisfaction_figures(practice, story):
    metrics = measure(practice)

    assert dict(metrics.outcomes) == {
        "recovered": 1,
        "partly": 1,
        "unreachable": 1,
        "not_recovered": 1,
    }
    # The unreachable patient is not a failed recovery: 1 recovered of 3 judged.
    assert metrics.recovered == Share(1, 3)
    # Only A (3 → 9) and B (5 → 6) have both answers; G has a "before" (A's 3) only.
    assert metrics.satisfaction_pairs == 2
    assert metrics.satisfaction_before == pytest.approx(4.0)
    assert metrics.satisfaction_after == pytest.approx(7.5)
    assert story["G"].follows_case == story["A"]
    assert metrics.second_failures == 1
    # Flowers approved and a gift card given; the pending service costs nothing yet.
    assert metrics.gesture_cost == Decimal("85.00")


def test_monthly_opened_and_recovered(practice, story):
    assert measure(practice).monthly == [
        (dt.date(2026, 1, 1), 1, 1),
        (dt.date(2026, 2, 1), 1, 0),
        (dt.date(2026, 3, 1), 2, 0),
        (dt.date(2026, 4, 1), 2, 0),
    ]


def test_since_limits_the_cases_counted(practice, story):
    metrics = measure(practice, since=local("2026-03-10 00:00"))

    assert metrics.opened == 3
    assert metrics.hours_to_acknowledge == pytest.approx(1.5)
    assert metrics.second_failures == 1
    assert metrics.gesture_cost == Decimal("0")


def test_retention_counts_completed_visits_after_the_case_closed(practice, manager):
    def closed_case(closed_on, outcome="not_recovered"):
        patient = RecentPatientFactory(practice=practice)
        case = open_case(practice, patient=patient, at=closed_on - dt.timedelta(days=7))
        close(case, outcome, user=manager, at=closed_on)
        return patient

    kept_both = closed_case(local("2025-03-10 12:00"))
    AppointmentFactory(patient=kept_both, starts_at=local("2025-06-02 10:00"))
    kept_a_year = closed_case(local("2025-03-10 12:00"))
    AppointmentFactory(
        patient=kept_a_year,
        starts_at=local("2025-08-04 10:00"),
        status=Appointment.Status.CANCELLED,
    )
    AppointmentFactory(patient=kept_a_year, starts_at=local("2025-12-01 10:00"))
    unreachable = closed_case(local("2025-09-01 12:00"), outcome="unreachable")
    AppointmentFactory(patient=unreachable, starts_at=local("2025-10-01 10:00"))
    # Closed six months ago: counted at six months, too early for twelve.
    closed_case(local("2025-10-01 12:00"))
    # Closed too recently to count at all.
    recent = closed_case(local("2026-03-02 12:00"))
    AppointmentFactory(patient=recent, starts_at=local("2026-04-01 10:00"))

    metrics = measure(practice)

    assert metrics.retained_6_months == Share(1, 3)
    assert metrics.retained_12_months == Share(2, 2)


def test_another_practice_counts_nothing_of_maples(practice, sister_practice, story):
    metrics = measure(sister_practice)

    assert metrics.opened == 0
    assert metrics.hours_to_acknowledge is None
    assert metrics.deadlines_met == Share(0, 0)
    assert metrics.deadlines_met.percent is None
    assert metrics.gesture_cost == Decimal("0")
