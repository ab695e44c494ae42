"""Each risk rule fires exactly when it should, through the real scoring SQL.

Every test builds a history with the services and factories, scores the practice at
``NOW`` and reads the stored row: its facts, the risk the SQL summed, and the reasons
``reasons_for`` shows people. Comments and low scores open no case by themselves here
(``no_auto_cases``), so each test sees one rule at a time.
"""

import datetime as dt
import itertools
import random

import pytest
import time_machine
from django.db import connection

from loyalty.models import PatientScore, ScoreSnapshot
from loyalty.rules import RULES, reasons_for, risk_of, suggested_action
from loyalty.scoring import _risk_sql
from loyalty.tests.factories import (
    CANCELLED,
    NO_SHOW,
    NOW,
    SCHEDULED,
    appointment,
    case,
    comment,
    days_ago,
    fired,
    no_auto_cases,
    nps_answer,
    score,
    visits,
)
from patients.models import Patient
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

DIRTY = "The waiting room was dirty."
DATED = "The equipment feels dated."
LONG_DRIVE = "It's a long drive and parking is awful."


@pytest.fixture(autouse=True)
def _one_rule_at_a_time(organisation):
    no_auto_cases(organisation)


@pytest.fixture
def someone(practice):
    """A patient with no history yet (and no tenure, so no value)."""
    return PatientFactory(practice=practice, first_name="Sam", first_visit_on=None)


def assert_only(row: PatientScore, name: str, reason: str) -> None:
    assert fired(row) == {name}
    assert row.risk == RULES[name].points
    # Read on the day it was scored: day counts in reasons move on with the calendar.
    with time_machine.travel(row.scored_at, tick=False):
        assert reasons_for(row, {}) == [reason]
    assert suggested_action(row, {}) == RULES[name].action


def assert_quiet(row: PatientScore) -> None:
    assert fired(row) == set()
    assert row.risk == 0
    assert reasons_for(row, {}) == []
    assert suggested_action(row, {}) == ""


# --- Survey scores ----------------------------------------------------------------------------


def test_detractor_fires_on_a_last_score_of_six(someone):
    nps_answer(someone, 9, days=200)
    nps_answer(someone, 6, days=10)

    row = score(someone)

    assert (row.last_nps, row.last_nps_at) == (6, days_ago(10))
    assert fired(row) == {"detractor", "falling_score"}
    assert row.risk == 25 + 15
    assert reasons_for(row, {}) == [
        "last survey score 6/10 (April)",
        "score fell from 9 to 6 in April",
    ]


def test_detractor_alone_when_there_is_no_earlier_score(someone):
    nps_answer(someone, 6, days=10)

    row = score(someone)

    assert (row.last_nps, row.previous_nps) == (6, None)
    assert_only(row, "detractor", "last survey score 6/10 (April)")


def test_a_seven_is_passive_not_a_detractor(someone):
    nps_answer(someone, 7, days=10)

    row = score(someone)

    assert row.last_nps == 7
    assert_only(row, "passive", "lukewarm last survey score 7/10")


def test_passive_fires_on_eight_not_on_nine(someone, practice):
    nps_answer(someone, 8, days=10)
    promoter = PatientFactory(practice=practice, first_visit_on=None)
    nps_answer(promoter, 9, days=10)

    assert_only(score(someone), "passive", "lukewarm last survey score 8/10")
    row = PatientScore.objects.get(patient=promoter)
    assert row.last_nps == 9
    assert_quiet(row)


def test_only_the_latest_answer_counts_as_the_last_score(someone):
    nps_answer(someone, 3, days=300)
    nps_answer(someone, 10, days=20)

    row = score(someone)

    assert (row.last_nps, row.previous_nps) == (10, 3)
    assert_quiet(row)


def test_falling_score_compares_with_the_better_of_the_two_answers_before(someone):
    # 9 → 7 → 8 reads as a fall from 9 to 8: only 1, and a promoter's 9 is no longer last.
    for nps, days in [(9, 300), (7, 200), (8, 10)]:
        nps_answer(someone, nps, days=days)
    row = score(someone)
    assert (row.previous_nps, row.last_nps) == (9, 8)
    assert fired(row) == {"passive"}

    # A fourth answer pushes the 9 out: 7 → 8 → 6 is a fall from 8.
    nps_answer(someone, 6, days=5)
    row = score(someone)
    assert (row.previous_nps, row.last_nps) == (8, 6)
    assert fired(row) == {"detractor", "falling_score"}
    assert reasons_for(row, {})[1] == "score fell from 8 to 6 in April"


def test_falling_score_fires_on_a_fall_of_two_not_one(someone, practice):
    nps_answer(someone, 10, days=90)
    nps_answer(someone, 8, days=10)
    steady = PatientFactory(practice=practice, first_visit_on=None)
    nps_answer(steady, 9, days=90)
    nps_answer(steady, 8, days=10)

    row = score(someone)
    assert (row.previous_nps, row.last_nps) == (10, 8)
    assert fired(row) == {"falling_score", "passive"}
    assert row.risk == RULES["falling_score"].points + RULES["passive"].points
    assert reasons_for(row, {}) == [
        "score fell from 10 to 8 in April",
        "lukewarm last survey score 8/10",
    ]
    row = PatientScore.objects.get(patient=steady)
    assert (row.previous_nps, row.last_nps) == (9, 8)
    assert fired(row) == {"passive"}


# --- Recovery cases and negative feedback -----------------------------------------------------


def test_open_case_fires_while_a_case_is_worked(someone, manager):
    case(someone, days=5, user=manager)

    row = score(someone)

    assert (row.open_cases, row.unrecovered_cases) == (1, 0)
    assert_only(row, "open_case", "a complaint is still being worked")


def test_a_case_closed_unreachable_is_neither_open_nor_unrecovered(someone, manager):
    case(someone, days=60, closed_days=30, outcome="unreachable", user=manager)

    row = score(someone)

    assert (row.open_cases, row.unrecovered_cases) == (0, 0)
    assert_quiet(row)


def test_unrecovered_fires_for_a_case_not_put_right_this_year(someone, manager):
    case(someone, days=60, closed_days=30, outcome="not_recovered", user=manager)

    row = score(someone)

    assert (row.open_cases, row.unrecovered_cases) == (0, 1)
    assert_only(row, "unrecovered", "a complaint in the last year was not put right")


def test_unrecovered_forgets_a_case_closed_over_a_year_ago(someone, manager):
    case(someone, days=420, closed_days=366, outcome="not_recovered", user=manager)

    row = score(someone)

    assert row.unrecovered_cases == 0
    assert_quiet(row)


def test_recent_defect_counts_negative_feedback_of_six_months(someone, practice):
    comment(someone, DIRTY, days=30)
    comment(someone, "Lovely team, thank you!", days=20)
    long_ago = PatientFactory(practice=practice, first_visit_on=None)
    comment(long_ago, DIRTY, days=200)

    row = score(someone)

    assert row.recent_defects == 1
    assert_only(row, "recent_defect", "negative feedback 1 time(s) in six months")
    row = PatientScore.objects.get(patient=long_ago)
    assert row.recent_defects == 0
    assert_quiet(row)


def test_equipment_fires_on_a_negative_comment_of_two_years(someone, practice):
    comment(someone, DATED, days=300)
    older = PatientFactory(practice=practice, first_visit_on=None)
    comment(older, DATED, days=731)

    row = score(someone)

    assert (row.equipment_mentions, row.distance_mentions, row.recent_defects) == (1, 0, 0)
    assert_only(row, "equipment", "mentioned equipment or technology that feels dated")
    row = PatientScore.objects.get(patient=older)
    assert row.equipment_mentions == 0
    assert_quiet(row)


def test_equipment_ignores_a_comment_that_is_not_negative(someone):
    item = comment(someone, "Lovely staff, but the equipment feels dated.", days=30)
    assert item.label == "neutral"

    row = score(someone)

    assert row.equipment_mentions == 0
    assert_quiet(row)


def test_distance_fires_on_a_negative_comment_about_the_drive(someone, practice):
    comment(someone, LONG_DRIVE, days=300)
    neutral = PatientFactory(practice=practice, first_visit_on=None)
    assert comment(neutral, "It is a long drive for us now.", days=300).label == "neutral"

    row = score(someone)

    assert (row.distance_mentions, row.equipment_mentions) == (1, 0)
    assert_only(row, "distance", "mentioned the drive, distance or parking")
    row = PatientScore.objects.get(patient=neutral)
    assert row.distance_mentions == 0
    assert_quiet(row)


# --- Appointments -----------------------------------------------------------------------------


def test_missing_visits_fires_when_missing_more_than_before(someone):
    appointment(someone, 100)
    appointment(someone, 60, NO_SHOW)
    appointment(someone, 30, CANCELLED)
    appointment(someone, -20, SCHEDULED)

    row = score(someone)

    assert (row.missed_recent, row.booked_recent) == (2, 3)
    assert (row.missed_before, row.booked_before) == (0, 0)
    assert (row.visits, row.has_future_visit, row.days_since_visit) == (1, True, 100)
    assert_only(
        row,
        "missing_visits",
        "missed or cancelled 2 of 3 appointments this year, more than before",
    )


def test_missing_visits_quiet_for_a_patient_who_always_missed_as_much(someone):
    for day in (500, 100):
        appointment(someone, day)
    for day in (450, 400):
        appointment(someone, day, NO_SHOW)
    appointment(someone, 60, NO_SHOW)
    appointment(someone, 30, CANCELLED)
    appointment(someone, -20, SCHEDULED)

    row = score(someone)

    assert (row.missed_recent, row.booked_recent) == (2, 3)
    assert (row.missed_before, row.booked_before) == (2, 3)
    assert_quiet(row)


def test_missing_visits_needs_two_misses(someone):
    appointment(someone, 100)
    appointment(someone, 30, NO_SHOW)
    appointment(someone, -20, SCHEDULED)

    row = score(someone)

    assert (row.missed_recent, row.booked_recent) == (1, 2)
    assert_quiet(row)


def test_nothing_booked_fires_without_a_future_appointment(someone):
    appointment(someone, 30)
    # Left "scheduled" in the past by the practice system: not a future visit.
    appointment(someone, 5, SCHEDULED)

    row = score(someone)

    assert (row.visits, row.has_future_visit, row.booked_recent) == (1, False, 1)
    assert_only(row, "nothing_booked", "no appointment booked")


def test_nothing_booked_quiet_with_a_visit_booked(someone):
    appointment(someone, 30)
    appointment(someone, -30, SCHEDULED)

    row = score(someone)

    assert row.has_future_visit is True
    assert_quiet(row)


def test_overdue_fires_past_one_and_a_half_times_their_rhythm(someone):
    visits(someone, 351, 251, 151)
    appointment(someone, -10, SCHEDULED)

    row = score(someone)

    assert (row.visits, row.rhythm_days, row.days_since_visit) == (3, 100, 151)
    assert_only(row, "overdue", "5 months since the last visit; usually every 3")


def test_overdue_quiet_at_exactly_one_and_a_half_times(someone):
    visits(someone, 350, 250, 150)
    appointment(someone, -10, SCHEDULED)

    row = score(someone)

    assert (row.rhythm_days, row.days_since_visit) == (100, 150)
    assert_quiet(row)


def test_one_visit_only_falls_back_to_a_six_monthly_rhythm(someone, practice):
    visits(someone, 274)
    appointment(someone, -10, SCHEDULED)
    recent = PatientFactory(practice=practice, first_visit_on=None)
    visits(recent, 273)
    appointment(recent, -10, SCHEDULED)

    row = score(someone)

    assert (row.visits, row.rhythm_days, row.days_since_visit) == (1, None, 274)
    assert_only(row, "overdue", "9 months since the last visit; usually every 6")
    row = PatientScore.objects.get(patient=recent)
    assert (row.rhythm_days, row.days_since_visit) == (None, 273)
    assert_quiet(row)


def test_two_visits_on_one_day_give_no_rhythm_of_their_own(someone):
    # A check-up and a filling the same morning: a rhythm of 0 days must not make every
    # day since "overdue" in SQL while the reasons fall back to six-monthly.
    appointment(someone, 200)
    appointment(someone, 200 - 1 / 24)
    appointment(someone, -10, SCHEDULED)

    row = score(someone)

    assert (row.visits, row.rhythm_days, row.days_since_visit) == (2, 0, 199)
    assert_quiet(row)


# --- Edge cases -------------------------------------------------------------------------------


def test_a_patient_with_no_history_is_scored_without_risk(someone):
    row = score(someone)

    assert row.risk == row.value == row.priority == 0
    assert reasons_for(row, {}) == []
    assert (row.visits, row.days_since_visit, row.rhythm_days) == (0, None, None)
    assert (row.last_nps, row.previous_nps, row.last_nps_at) == (None, None, None)
    assert row.tenure_days is None
    assert row.has_future_visit is False


def test_a_new_patient_booked_but_not_yet_seen_is_not_at_risk(someone):
    appointment(someone, -14, SCHEDULED)

    row = score(someone)

    assert (row.visits, row.has_future_visit, row.days_since_visit) == (0, True, None)
    assert (row.booked_recent, row.missed_recent) == (0, 0)
    assert_quiet(row)


def test_a_departed_patient_has_no_row(practice):
    gone = PatientFactory(practice=practice, status=Patient.Status.DEPARTED)
    visits(gone, 400)
    nps_answer(gone, 2, days=300)

    assert score(gone) is None
    assert not ScoreSnapshot.objects.filter(patient=gone).exists()


def test_a_row_disappears_when_the_patient_departs(someone, practice):
    visits(someone, 400)
    assert score(someone).risk == RULES["nothing_booked"].points + RULES["overdue"].points

    Patient.objects.filter(pk=someone.pk).update(
        status=Patient.Status.DEPARTED, departed_at=days_ago(1)
    )
    scored = PatientScore.objects.get(patient=someone)
    assert score(someone, patient_ids=[someone.pk]) is None
    assert not PatientScore.objects.filter(pk=scored.pk).exists()


# --- The SQL and the Python say the same ------------------------------------------------------

GRID = {
    "last_nps": [None, 0, 6, 7, 8, 9, 10],
    "previous_nps": [None, 5, 8, 10],
    "open_cases": [0, 1],
    "unrecovered_cases": [0, 2],
    "recent_defects": [0, 1],
    "visits": [0, 1, 3],
    "missed_recent": [0, 1, 2, 3],
    "booked_recent": [0, 2, 3, 5],
    "missed_before": [0, 1, 3],
    "booked_before": [0, 3, 10],
    "has_future_visit": [False, True],
    "days_since_visit": [None, 0, 150, 151, 273, 274, 900],
    "rhythm_days": [None, 0, 1, 100, 182, 365],
    "equipment_mentions": [0, 1],
    "distance_mentions": [0, 3],
    "unreturned_calls": [0, 1, 2],
}


def test_each_rule_condition_agrees_in_sql_and_python(practice):
    """Stored rows with chosen facts, the risk SQL run over them, compared with risk_of."""
    rnd = random.Random(20260415)
    rows = []
    for _ in range(400):
        facts = {name: rnd.choice(values) for name, values in GRID.items()}
        rows.append(facts)
    # Every combination of the appointment facts, so the ratio rule meets its edges.
    for combo in itertools.product(
        GRID["missed_recent"], GRID["booked_recent"], GRID["missed_before"], GRID["booked_before"]
    ):
        facts = {name: values[0] for name, values in GRID.items()}
        facts.update(
            zip(
                ["missed_recent", "booked_recent", "missed_before", "booked_before"],
                combo,
                strict=True,
            )
        )
        rows.append(facts)
    patients = Patient.objects.bulk_create(
        Patient(practice=practice, first_name="Grid", last_name=str(n)) for n in range(len(rows))
    )
    PatientScore.objects.bulk_create(
        PatientScore(patient=p, practice=practice, scored_at=days_ago(0), **facts)
        for p, facts in zip(patients, rows, strict=True)
    )
    weights = {name: (3 * n + 7) % 40 for n, name in enumerate(RULES)}
    for points in ({}, weights, dict.fromkeys(RULES, 30)):
        full = {name: points.get(name, rule.points) for name, rule in RULES.items()}
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT f.id, {_risk_sql(full)} FROM {PatientScore._meta.db_table} f"  # noqa: S608
            )
            in_sql = dict(cursor.fetchall())
        by_id = {row.pk: row for row in PatientScore.objects.all()}
        mismatches = [
            (pk, in_sql[pk], risk_of(row, points))
            for pk, row in by_id.items()
            if in_sql[pk] != risk_of(row, points)
        ]
        assert mismatches == []


def test_an_unchanged_row_reads_its_gap_as_of_today(someone):
    visits(someone, 700, 600, 500)
    row = score(someone)
    # A month on nothing has changed but the calendar: the row is not rewritten, and its
    # reason reads the gap as of today.
    later = NOW + dt.timedelta(days=31)
    score(someone, now=later)
    row = PatientScore.objects.get(pk=row.pk)
    assert (row.scored_at, row.days_since_visit) == (NOW, 500)
    with time_machine.travel(later, tick=False):
        assert "17 months since the last visit; usually every 3" in reasons_for(row, {})
