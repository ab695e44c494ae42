"""Rollups of a small hand-made history (``story``) equal the figures recomputed from the
raw rows, by straightforward ORM queries (``oracle``) and by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics.models import (
    PracticeDay,
    PracticeDayDeparture,
    PracticeDayPerson,
    PracticeDayTouchpoint,
    PracticeDayVendor,
    PracticeMonth,
    PracticeSnapshot,
)
from analytics.rollups import DayRange, data_span, rollups_rebuild, rollups_refresh
from analytics.tests import factories as f
from analytics.tests.oracle import (
    expected_days,
    expected_departures,
    expected_people,
    expected_touchpoints,
    expected_vendors,
    month_rows,
    months_summed_from_days,
    rollup_days,
    rollup_departures,
    rollup_people,
    rollup_touchpoints,
    rollup_vendors,
)
from analytics.tests.story import MARCH, NOW, NY, SYD, d
from loyalty.models import PatientScore
from patients.tests.factories import PatientFactory
from vendors.models import Vendor

pytestmark = pytest.mark.django_db


LATER = NOW + dt.timedelta(minutes=15)


def row(practice, day: int) -> PracticeDay:
    return PracticeDay.objects.get(practice=practice, day=d(day))


def content(model) -> list[tuple]:
    """Every row's values but its id and refresh moment, in a stable order."""
    names = [f.name for f in model._meta.concrete_fields if f.name not in {"id", "changed_at"}]
    return sorted(tuple(values) for values in model.objects.values_list(*names))


def test_rollups_equal_the_figures_recomputed_from_raw_rows(history, maple, harbor):
    rollups_refresh(days=MARCH, now=NOW)

    practices = [maple, harbor]
    assert rollup_days() == expected_days(practices, first=MARCH.first, last=MARCH.last, now=NOW)
    assert rollup_touchpoints() == expected_touchpoints(
        practices, first=MARCH.first, last=MARCH.last
    )
    assert rollup_departures() == expected_departures(practices, first=MARCH.first, last=MARCH.last)
    assert rollup_people() == expected_people(practices, first=MARCH.first, last=MARCH.last)
    assert rollup_vendors() == expected_vendors(practices, first=MARCH.first, last=MARCH.last)


def test_month_rows_are_the_sums_of_their_days(history, maple, harbor):
    rollups_refresh(days=MARCH, now=NOW)
    assert month_rows() == months_summed_from_days()
    assert PracticeMonth.objects.get(practice=maple).responses == 2

    # One more answer on the 11th: its month follows, and a refresh of one day is enough.
    nora = maple.patients.get(first_name="Nora")
    at = f.at("2026-03-11 18:00", NY)
    f.respond(f.invitation(nora, created_at=at), submitted_at=at, nps=9)
    rollups_refresh(practices=[maple], days=(d(11), d(11)), now=LATER)
    assert month_rows() == months_summed_from_days()
    assert PracticeMonth.objects.get(practice=maple).responses == 3


def test_a_response_near_local_midnight_counts_on_the_practice_local_day(history, maple, harbor):
    rollups_refresh(days=MARCH, now=NOW)

    # Dana's 23:50 answer is 03:50 UTC on the 11th, and counts on the 10th in New York.
    tenth = row(maple, 10)
    assert (tenth.responses, tenth.nps_promoters, tenth.csat_answers, tenth.csat_satisfied) == (
        1,
        1,
        2,
        1,
    )
    assert (tenth.ces_answers, tenth.ces_easy) == (1, 1)
    eleventh = row(maple, 11)
    assert (eleventh.responses, eleventh.nps_detractors, eleventh.csat_answers) == (1, 1, 1)
    # Sam's 00:05 answer is 13:05 UTC on the 10th, and counts on the 11th in Sydney; his
    # invitation a minute before midnight on the 10th.
    assert (row(harbor, 11).responses, row(harbor, 11).nps_passives) == (1, 1)
    assert (row(harbor, 10).invitations, row(harbor, 10).responses) == (1, 0)


def test_hand_counted_figures_of_maple(history, maple):
    rollups_refresh(days=MARCH, now=NOW)

    tenth, eleventh, twelfth = row(maple, 10), row(maple, 11), row(maple, 12)
    assert (tenth.invitations, tenth.invitations_answered) == (3, 2)
    assert (tenth.visits, tenth.patients_seen, tenth.new_patients_seen) == (3, 3, 2)
    assert (eleventh.visits, eleventh.patients_seen, eleventh.new_patients_seen) == (1, 1, 0)
    assert (tenth.feedback_items, tenth.feedback_negative, tenth.feedback_positive) == (2, 1, 1)
    assert (tenth.cases_opened, tenth.cases_ack_on_time, tenth.cases_ack_late) == (1, 0, 1)
    assert (eleventh.cases_opened, eleventh.cases_ack_on_time) == (1, 1)
    assert (eleventh.gestures, eleventh.gestures_cost_cents) == (1, 3550)
    assert (twelfth.cases_closed, twelfth.cases_recovered, twelfth.cases_judged) == (1, 1, 1)
    assert (twelfth.satisfaction_pairs, twelfth.satisfaction_before_sum) == (1, 5)
    assert twelfth.satisfaction_after_sum == 9
    assert (tenth.calls_inbound, tenth.calls_answered, tenth.calls_missed) == (2, 1, 1)
    assert (tenth.callbacks_done, tenth.callbacks_on_time, tenth.callbacks_overdue) == (1, 1, 0)
    assert (tenth.new_callers, tenth.new_callers_booked) == (1, 1)
    assert (eleventh.calls_missed, eleventh.callbacks_overdue, eleventh.new_callers) == (1, 1, 0)
    assert (tenth.records_fulfilled, tenth.records_fulfilled_on_time) == (1, 1)
    assert row(maple, 9).records_received == 1
    assert (tenth.departures, tenth.value_lost_cents) == (1, 123456)
    assert (row(maple, 9).departures, row(maple, 9).value_lost_cents) == (1, 0)
    assert (eleventh.redeemed, eleventh.vendor_defects) == (1, 1)


def test_touchpoint_rows_and_departure_reasons(history, maple, harbor):
    rollups_refresh(days=MARCH, now=NOW)

    def touchpoint(day, slug):
        found = PracticeDayTouchpoint.objects.get(practice=maple, day=d(day), touchpoint=slug)
        return (found.answers, found.score_sum, found.satisfied, found.low_scores, found.defects)

    assert touchpoint(10, "waiting") == (1, 2, 0, 1, 1)
    assert touchpoint(10, "hygiene") == (1, 5, 1, 0, 0)  # praise is no defect
    assert touchpoint(11, "waiting") == (1, 1, 0, 1, 1)
    assert touchpoint(11, "arrival_reception") == (0, 0, 0, 0, 1)
    reasons = PracticeDayDeparture.objects.values_list("practice", "day", "reason", "departures")
    assert sorted(reasons) == [
        (maple.pk, d(9), "cost", 1),
        (maple.pk, d(10), "moved", 1),
        (harbor.pk, d(10), "", 1),
    ]


def test_praise_and_complaints_per_person_count_each_item_once(history, maple):
    rollups_refresh(days=MARCH, now=NOW)

    rows = PracticeDayPerson.objects.values_list("day", "person", "praise", "complaints")
    # The neutral remark about Hana counts neither way; Jo named twice in one item, once.
    assert sorted(rows) == [
        (d(10), "Hana", 1, 0),
        (d(10), "Jo", 0, 1),
        (d(11), "Hana", 0, 1),
        (d(11), "Jo", 0, 1),
    ]


def test_vendor_rows_carry_its_ratings_defects_complaints_and_cases(history, maple):
    rollups_refresh(days=MARCH, now=NOW)

    lab = Vendor.objects.get(practice=maple)
    columns = ("day", "answers", "score_sum", "satisfied", "defects", "complaints", "cases_opened")
    rows = PracticeDayVendor.objects.filter(vendor=lab).values_list(*columns)
    # Dana's hygiene 5 at 23:50 on the 10th; the case opened on the 10th; on the 11th the
    # complaint and the reported defect.
    assert sorted(rows) == [(d(10), 1, 5, 1, 0, 0, 1), (d(11), 0, 0, 0, 1, 1, 0)]


def test_refreshing_twice_gives_the_same_rows(history):
    rollups_refresh(days=MARCH, now=NOW)
    first = [content(m) for m in (PracticeDay, PracticeDayTouchpoint, PracticeDayDeparture)]

    rollups_refresh(days=MARCH, now=NOW)

    assert [content(m) for m in (PracticeDay, PracticeDayTouchpoint, PracticeDayDeparture)] == (
        first
    )
    assert PracticeDay.objects.count() == len(first[0])


def test_refreshing_one_day_leaves_the_others_untouched(history, maple, harbor):
    rollups_refresh(days=MARCH, now=NOW)
    before = {(r.practice_id, r.day): (r.pk, r.responses) for r in PracticeDay.objects.all()}
    # A new answer on the 10th and on the 11th; only the 11th is refreshed.
    nora = maple.patients.get(first_name="Nora")
    for day in ("2026-03-10 18:00", "2026-03-11 18:00"):
        f.respond(
            f.invitation(nora, created_at=f.at(day, NY) - dt.timedelta(minutes=1)),
            submitted_at=f.at(day, NY),
            nps=9,
        )
        nora = PatientFactory(practice=maple)

    rollups_refresh(practices=[maple], days=(d(11), d(11)), now=LATER)

    after = {(r.practice_id, r.day): (r.pk, r.responses) for r in PracticeDay.objects.all()}
    assert after.pop((maple.pk, d(11)))[1] == before.pop((maple.pk, d(11)))[1] + 1
    assert after == before  # the 10th still as it was, Harbor's days untouched
    assert PracticeDay.objects.filter(changed_at=LATER).count() == 1


def test_the_snapshot_counts_valuable_patients_at_risk_on_the_day_it_is_taken(history, maple):
    rollups_refresh(days=MARCH, now=NOW)

    # 11:00 on the 12th in New York; already the 13th in Sydney.
    snapshot = PracticeSnapshot.objects.get(practice=maple)
    assert (snapshot.day, snapshot.patients_scored, snapshot.patients_at_risk) == (d(12), 2, 1)
    assert snapshot.value_at_risk_cents == 100000
    assert PracticeSnapshot.objects.get(practice__slug="harbor").day == d(13)


def test_a_refresh_of_past_days_and_a_rebuild_keep_the_snapshots(history, maple):
    rollups_refresh(days=MARCH, now=NOW)
    PatientScore.objects.update(risk=90)

    rollups_refresh(days=(d(1), d(11)), now=NOW)
    rollups_rebuild(now=NOW - dt.timedelta(days=1))  # a day earlier: the 11th is "today"

    snapshots = PracticeSnapshot.objects.filter(practice=maple).order_by("day")
    assert [(s.day, s.patients_at_risk) for s in snapshots] == [(d(11), 2), (d(12), 1)]


def test_rebuild_covers_every_raw_row_and_drops_rows_outside(history, maple, harbor):
    stray = PracticeDay.objects.create(practice=maple, day=dt.date(2020, 1, 1), changed_at=NOW)

    result = rollups_rebuild(now=NOW)

    assert not PracticeDay.objects.filter(pk=stray.pk).exists()
    span = data_span([(maple.pk, NY), (harbor.pk, SYD)], now=NOW)
    # From the records request of the 9th (New York) to Sydney's today.
    assert (span.first, span.last) == (d(9), d(13))
    assert result.rows == PracticeDay.objects.count()
    practices = [maple, harbor]
    assert rollup_days() == expected_days(practices, first=span.first, last=span.last, now=NOW)
    assert rollup_people() == expected_people(practices, first=span.first, last=span.last)
    assert rollup_vendors() == expected_vendors(practices, first=span.first, last=span.last)
    assert month_rows() == months_summed_from_days()


def test_rebuild_without_raw_rows_empties_the_practice(maple):
    PracticeDay.objects.create(practice=maple, day=d(1), changed_at=NOW)

    result = rollups_rebuild(practices=[maple], now=NOW)

    assert (result.rows, PracticeDay.objects.count()) == (0, 0)


def test_day_range_must_not_end_before_it_starts():
    with pytest.raises(ValueError, match="before the first"):
        DayRange(d(2), d(1))


# --- The edges of the definitions ------------------------------------------------------


def test_a_new_caller_books_from_the_call_itself_up_to_just_before_seven_days(maple):
    start = f.at("2026-03-10 10:00", NY)
    week = dt.timedelta(days=7)
    # (appointment created, visit starts) after the call: booked, booked, not, not.
    for n, (created, starts) in enumerate(
        (
            (dt.timedelta(0), dt.timedelta(days=2)),  # at the call itself
            (week - dt.timedelta(seconds=1), week),  # a second short of 7 days
            (week, week + dt.timedelta(days=1)),  # 7 days on
            (dt.timedelta(hours=1), -dt.timedelta(hours=1)),  # for a visit before the call
        )
    ):
        number = f"+1202555{n:04d}"
        caller = PatientFactory(practice=maple, phone=number)
        when = start + dt.timedelta(minutes=n)
        f.call(maple, started_at=when, number=number, new_caller=True)
        f.visit(caller, starts_at=when + starts, status="scheduled", created_at=when + created)

    rollups_refresh(days=MARCH, now=NOW)

    assert (row(maple, 10).new_callers, row(maple, 10).new_callers_booked) == (4, 2)


def test_deadlines_met_to_the_second_count_as_on_time(maple):
    due = f.at("2026-03-10 12:00", NY)
    f.case(maple, opened_at=due - dt.timedelta(hours=2), ack_due=due, acked_at=due)
    missed = f.call(maple, started_at=due - dt.timedelta(minutes=15), disposition="missed")
    f.callback(missed, due_at=due, done_at=due, outcome="reached")
    patient = PatientFactory(practice=maple)
    # Fulfilled at 23:30 on its due day in New York: already the next day in UTC.
    f.records_request(
        patient,
        received_at=due - dt.timedelta(days=5),
        due_on=d(10),
        status="fulfilled",
        fulfilled_at=f.at("2026-03-10 23:30", NY),
    )

    rollups_refresh(days=MARCH, now=NOW)

    tenth = row(maple, 10)
    assert (tenth.cases_ack_on_time, tenth.cases_ack_late) == (1, 0)
    assert (tenth.callbacks_done, tenth.callbacks_on_time) == (1, 1)
    assert (tenth.records_fulfilled, tenth.records_fulfilled_on_time) == (1, 1)


def test_a_paused_case_past_its_deadline_is_not_counted_late(maple):
    opened = f.at("2026-03-10 09:00", NY)
    f.case(maple, opened_at=opened, ack_due=opened + dt.timedelta(hours=2), status="open")
    f.case(
        maple,
        opened_at=opened,
        ack_due=opened + dt.timedelta(hours=2),
        status="waiting_patient",
        topic="billing",
    )

    rollups_refresh(days=MARCH, now=NOW)

    assert (row(maple, 10).cases_opened, row(maple, 10).cases_ack_late) == (2, 1)


def test_effort_questions_are_found_by_their_wording(organisation):
    from analytics.sources import effort_question_ids
    from feedback.models import Question

    survey = f.post_visit_survey(organisation)
    asked = {
        text: survey.questions.create(kind=kind, text=text).pk
        for kind, text in (
            ("yes_no", "Was booking easy?"),
            ("rating", "How much effort did it take to reach us?"),
            ("yes_no", "Did you feel uneasy in the chair?"),
            ("text", "Was anything not easy?"),
        )
    }
    found = set(effort_question_ids())

    assert asked["Was booking easy?"] in found
    assert asked["How much effort did it take to reach us?"] in found
    assert asked["Did you feel uneasy in the chair?"] not in found
    assert asked["Was anything not easy?"] not in found  # free text has no score
    effort = survey.questions.get(text=f.EFFORT_QUESTION)
    assert effort.pk in found and effort.kind == Question.Kind.YES_NO
