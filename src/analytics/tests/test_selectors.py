"""Summed rollups as the dashboards will read them, scoped to what each person may see."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest

from analytics import selectors
from analytics.rollups import rollups_refresh
from analytics.stats import CaseMix, Nps, Proportion
from analytics.tests import factories as f
from analytics.tests.oracle import expected_days
from analytics.tests.story import MARCH, NOW, d

pytestmark = pytest.mark.django_db


@pytest.fixture
def rolled_up(history, maple, harbor):
    rollups_refresh(days=MARCH, now=NOW)


def test_a_director_sees_the_whole_group_summed(rolled_up, director, maple, harbor):
    figures = selectors.figures(user=director, first=MARCH.first, last=MARCH.last)

    # Every column equals the raw recomputation summed over the month.
    expected = sum(
        expected_days([maple, harbor], first=MARCH.first, last=MARCH.last, now=NOW).values(),
        Counter(),
    )
    assert {name: getattr(figures, name) for name in selectors.COUNTS} == {
        name: expected[name] for name in selectors.COUNTS
    }
    assert figures.practices == 2
    assert figures.nps == Nps(promoters=1, passives=1, detractors=1)
    assert figures.nps.is_greyed
    # Ratings: Dana 2 and 5, Finn 1, Sam 4.
    assert figures.csat == Proportion(2, 4)
    assert figures.ces == Proportion(1, 1)
    assert figures.response_rate == Proportion(3, 4)
    assert figures.acknowledged_on_time == Proportion(1, 2)
    assert figures.recovery_rate == Proportion(1, 1)
    assert (figures.satisfaction_before, figures.satisfaction_after) == (5.0, 9.0)
    assert figures.gestures_cost == Decimal("35.50")
    assert figures.value_lost == Decimal("2034.56")  # Walt's 1,234.56 and Sue's 800
    assert figures.answer_rate == Proportion(1, 4)
    assert figures.callbacks_within_deadline == Proportion(1, 2)
    assert figures.new_caller_conversion == Proportion(1, 1)
    assert figures.records_on_time == Proportion(1, 1)
    assert figures.case_mix == CaseMix(new_patients=2, patients_seen=4)
    assert figures.snapshot.patients_at_risk == 1
    assert figures.snapshot.value_at_risk == Decimal("1000.00")


def test_staff_and_vendor_figures_sum_over_the_range(rolled_up, director, maple):
    figures = selectors.figures(user=director, first=MARCH.first, last=MARCH.last)

    assert [(p.person, p.praise, p.complaints) for p in figures.people] == [
        ("Hana", 1, 1),
        ("Jo", 0, 2),
    ]
    assert figures.people[0].praise_share == Proportion(1, 2)
    (lab,) = figures.vendors
    assert (lab.name, lab.answers, lab.average, lab.defects, lab.complaints, lab.cases_opened) == (
        "Crestline Dental Lab",
        1,
        5.0,
        1,
        1,
        1,
    )
    only_the_10th = selectors.figures(user=director, first=d(10), last=d(10))
    assert [(p.person, p.mentions) for p in only_the_10th.people] == [("Hana", 1), ("Jo", 1)]


def test_touchpoints_lead_with_the_most_defects(rolled_up, director):
    figures = selectors.figures(user=director, first=MARCH.first, last=MARCH.last)

    waiting = figures.touchpoints[0]
    assert (waiting.touchpoint, waiting.label, waiting.defects) == ("waiting", "Waiting", 2)
    assert (waiting.answers, waiting.average, waiting.low_scores) == (2, 1.5, 2)
    assert waiting.csat == Proportion(0, 2)
    by_slug = {t.touchpoint: t for t in figures.touchpoints}
    assert by_slug["dentist_care"].average == 4.0
    assert [(r.label, r.departures, r.value_lost) for r in figures.departures_by_reason] == [
        ("Cost", 1, Decimal("0.00")),
        ("Moved", 1, Decimal("1234.56")),
        ("Not recorded", 1, Decimal("800.00")),
    ]


def test_a_manager_sees_only_their_practice(rolled_up, manager, harbor):
    figures = selectors.figures(user=manager, first=MARCH.first, last=MARCH.last)
    asked_for_harbor = selectors.practice_figures(
        user=manager, practice=harbor, first=MARCH.first, last=MARCH.last
    )

    assert (figures.practices, figures.responses) == (1, 2)
    assert (asked_for_harbor.practices, asked_for_harbor.responses) == (0, 0)
    assert asked_for_harbor.snapshot.practices == 0


def test_someone_from_another_practice_sees_nothing(rolled_up, outsider):
    figures = selectors.figures(user=outsider, first=MARCH.first, last=MARCH.last)

    # Their own practice, which has no rollups.
    assert (figures.practices, figures.responses, figures.touchpoints) == (1, 0, [])


def test_figures_by_practice_give_the_benchmark_rows(rolled_up, director, maple, harbor):
    rows = selectors.figures_by_practice(user=director, first=MARCH.first, last=MARCH.last)

    assert set(rows) == {maple.pk, harbor.pk}
    assert (rows[maple.pk].responses, rows[harbor.pk].responses) == (2, 1)
    assert rows[harbor.pk].nps == Nps(0, 1, 0)
    assert rows[maple.pk].snapshot.patients_at_risk == 1
    assert rows[harbor.pk].snapshot.patients_scored == 0


def test_a_range_sums_only_its_days(rolled_up, director):
    tenth = selectors.figures(user=director, first=d(10), last=d(10))

    # New York's 10th (Dana's answer at 23:50) and nothing from Sydney's 11th.
    assert (tenth.responses, tenth.invitations) == (1, 4)
    assert tenth.snapshot.practices == 0  # no snapshot was taken on the 10th


def test_figures_by_month(rolled_up, director):
    months = selectors.figures_by_month(
        user=director, first=dt.date(2026, 2, 15), last=dt.date(2026, 3, 31)
    )

    assert [(month, figures.first, figures.last) for month, figures in months] == [
        (dt.date(2026, 3, 1), dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    ]
    assert months[0][1].responses == 3


def test_reading_the_figures_takes_a_fixed_number_of_queries(
    rolled_up, director, django_assert_num_queries
):
    # The visible practices are a subquery of each: days, touchpoints, departures, staff,
    # vendors (March whole: from the month tables), the practice count and the snapshots
    # (the range's last week, how many practices, earlier days for those without, the rows).
    with django_assert_num_queries(10):
        selectors.figures(user=director, first=MARCH.first, last=MARCH.last)


def test_ranges_read_whole_months_and_the_days_around_them(rolled_up, director, maple):
    # Nothing after the 12th yet: a range ending on the 12th reads March's month rows;
    # ending on the 10th, it must read days (the 11th has figures).
    for last in (d(12), d(10), d(11)):
        expected = sum(
            (
                Counter(counts)
                for (practice, day), counts in expected_days(
                    [maple], first=d(9), last=last, now=NOW
                ).items()
            ),
            Counter(),
        )
        found = selectors.figures(user=director, practices=[maple], first=d(9), last=last)
        assert {n: getattr(found, n) for n in selectors.COUNTS} == {
            n: expected[n] for n in selectors.COUNTS
        }, last
    # From February 20 to the 12th: February's days and March's month.
    found = selectors.figures(
        user=director, practices=[maple], first=dt.date(2026, 2, 20), last=d(12)
    )
    assert found.responses == 2 and [t.label for t in found.touchpoints][:1] == ["Waiting"]
    assert selectors._spans(
        selectors.visible_practices(director, [maple]), dt.date(2026, 2, 20), d(12)
    ) == [
        selectors._Span(True, d(1), d(31)),
        selectors._Span(False, dt.date(2026, 2, 20), dt.date(2026, 2, 28)),
    ]


def test_group_figures_are_cached_until_the_next_refresh(
    rolled_up, director, maple, django_assert_num_queries
):
    first = selectors.group_figures(user=director, first=MARCH.first, last=MARCH.last)
    with django_assert_num_queries(1):  # the visible practices, for the key; the rest cached
        again = selectors.group_figures(user=director, first=MARCH.first, last=MARCH.last)
    assert again == first
    assert [month for month, _ in first.months] == [MARCH.first]

    nora = maple.patients.get(first_name="Nora")
    at = NOW - dt.timedelta(hours=1)
    f.respond(f.invitation(nora, created_at=at), submitted_at=at, nps=9)
    rollups_refresh(days=MARCH, now=NOW)

    after = selectors.group_figures(user=director, first=MARCH.first, last=MARCH.last)
    assert after.total.responses == first.total.responses + 1
    assert after.by_practice[maple.pk].responses == first.by_practice[maple.pk].responses + 1
    assert after.months[0][1].responses == first.months[0][1].responses + 1
