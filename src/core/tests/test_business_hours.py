"""Business-time arithmetic: lunch closures, weekends, holidays, time zones and DST."""

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest
import time_machine

from core.business_hours import BusinessCalendar
from core.models import ClosedDay, Practice
from core.services import practice_create
from core.tests.factories import OrganisationFactory

UTC = dt.UTC
NEW_YORK = ZoneInfo("America/New_York")
PHOENIX = ZoneInfo("America/Phoenix")
T = dt.time
LUNCH_CLOSURE = [(T(8), T(12)), (T(13), T(17))]
WEEKDAYS_WITH_LUNCH = dict.fromkeys(range(5), LUNCH_CLOSURE)
# January 2026: Monday the 12th to Friday the 16th, then the weekend and Monday the 19th.
MLK_DAY = dt.date(2026, 1, 19)


def at(day: str, hour: int = 0, minute: int = 0, zone: ZoneInfo = NEW_YORK) -> dt.datetime:
    """A local wall-clock moment, e.g. at("2026-01-16", 16, 30)."""
    return dt.datetime.combine(dt.date.fromisoformat(day), T(hour, minute), tzinfo=zone)


def utc(day: str, hour: int = 0, minute: int = 0) -> dt.datetime:
    return at(day, hour, minute, zone=UTC)


def lunch_calendar(zone: ZoneInfo = NEW_YORK, closed_days=()) -> BusinessCalendar:
    return BusinessCalendar(zone=zone, periods=WEEKDAYS_WITH_LUNCH, closed_days=closed_days)


# --- Opening hours with a lunch closure ----------------------------------------------


def test_one_business_hour_from_late_morning_skips_lunch():
    assert lunch_calendar().add_minutes(at("2026-01-14", 11, 30), 60) == at("2026-01-14", 13, 30)


def test_friday_afternoon_hour_ends_on_monday_morning():
    assert lunch_calendar().add_minutes(at("2026-01-16", 16, 30), 60) == at("2026-01-19", 8, 30)


def test_clock_started_on_saturday_runs_from_monday_opening():
    calendar = lunch_calendar()
    saturday = at("2026-01-17", 10)
    assert calendar.next_open(saturday) == at("2026-01-19", 8)
    assert calendar.add_minutes(saturday, 0) == at("2026-01-19", 8)
    assert calendar.add_minutes(saturday, 30) == at("2026-01-19", 8, 30)


def test_next_open_is_the_moment_itself_when_open():
    moment = at("2026-01-14", 9, 15)
    assert lunch_calendar().next_open(moment) == moment


def test_deadline_landing_at_a_period_end_stays_there():
    calendar = lunch_calendar()
    assert calendar.add_minutes(at("2026-01-14", 11), 60) == at("2026-01-14", 12)
    assert calendar.add_minutes(at("2026-01-16", 16), 60) == at("2026-01-16", 17)


def test_is_open_treats_periods_as_half_open():
    calendar = lunch_calendar()
    assert calendar.is_open(at("2026-01-14", 8))
    assert calendar.is_open(at("2026-01-14", 11, 59))
    assert not calendar.is_open(at("2026-01-14", 12))
    assert not calendar.is_open(at("2026-01-14", 7, 59))
    assert not calendar.is_open(at("2026-01-17", 10))


def test_results_are_in_the_calendar_zone():
    result = lunch_calendar().add_minutes(utc("2026-01-14", 15), 30)
    assert result.tzinfo is NEW_YORK
    assert result == at("2026-01-14", 10, 30)


def test_closed_day_is_skipped():
    calendar = lunch_calendar(closed_days={MLK_DAY})
    assert not calendar.is_open(at("2026-01-19", 10))
    assert calendar.add_minutes(at("2026-01-16", 16, 30), 60) == at("2026-01-20", 8, 30)
    assert calendar.add_days(at("2026-01-16", 10), 1) == at("2026-01-20", 10)


def test_minutes_between_counts_only_open_time():
    calendar = lunch_calendar()
    friday, monday = at("2026-01-16", 11), at("2026-01-19", 9)
    assert calendar.minutes_between(friday, monday) == 60 + 240 + 60
    assert calendar.minutes_between(monday, friday) == -360
    assert calendar.minutes_between(friday, friday) == 0


def test_a_year_of_business_minutes_is_counted_period_by_period():
    calendar = lunch_calendar()
    start = at("2026-01-14", 9)
    year_of_minutes = 52 * 5 * 8 * 60
    due = calendar.add_minutes(start, year_of_minutes)
    assert dt.date(2027, 1, 1) <= due.date() <= dt.date(2027, 1, 31)
    assert calendar.minutes_between(start, due) == year_of_minutes


# --- Business days -------------------------------------------------------------------


def test_one_business_day_from_friday_is_monday_same_time():
    calendar = lunch_calendar()
    assert calendar.add_days(at("2026-01-16", 10), 1) == at("2026-01-19", 10)
    assert calendar.add_days(at("2026-01-16", 10), 5) == at("2026-01-23", 10)


def test_business_days_from_friday_evening_count_from_monday_opening():
    calendar = lunch_calendar()
    friday_evening = at("2026-01-16", 18)
    assert calendar.add_days(friday_evening, 0) == at("2026-01-19", 8)
    assert calendar.add_days(friday_evening, 1) == at("2026-01-20", 8)


def test_business_day_deadline_is_clamped_into_shorter_hours():
    calendar = BusinessCalendar(
        zone=NEW_YORK,
        periods={
            0: [(T(8), T(17))],
            1: LUNCH_CLOSURE,
            2: [(T(8), T(17))],
            3: [(T(10), T(14))],
        },
    )
    # Monday 12:30 falls in Tuesday's lunch closure: back to the end of the morning.
    assert calendar.add_days(at("2026-01-12", 12, 30), 1) == at("2026-01-13", 12)
    # Tuesday 16:00 is fine on Wednesday, but Thursday opens late and closes early.
    assert calendar.add_days(at("2026-01-13", 16), 1) == at("2026-01-14", 16)
    assert calendar.add_days(at("2026-01-14", 16), 1) == at("2026-01-15", 14)
    assert calendar.add_days(at("2026-01-14", 8, 30), 1) == at("2026-01-15", 10)


# --- Time zones and daylight-saving time ---------------------------------------------


def test_same_local_rules_give_different_instants_in_new_york_and_phoenix():
    hours = dict.fromkeys(range(5), [(T(8), T(17))])
    new_york = BusinessCalendar(zone=NEW_YORK, periods=hours)
    phoenix = BusinessCalendar(zone=PHOENIX, periods=hours)
    friday = utc("2026-07-10", 20)  # 16:00 in New York (EDT), 13:00 in Phoenix (MST)
    assert new_york.add_minutes(friday, 120) == utc("2026-07-13", 13)  # Monday 09:00 EDT
    assert phoenix.add_minutes(friday, 120) == utc("2026-07-10", 22)  # Friday 15:00 MST
    # Phoenix keeps standard time all year, so its Monday opening is 15:00 UTC in any season.
    assert phoenix.next_open(utc("2026-03-07", 12)) == utc("2026-03-09", 15)
    assert new_york.next_open(utc("2026-03-07", 12)) == utc("2026-03-09", 12)


def night_calendar() -> BusinessCalendar:
    return BusinessCalendar(zone=NEW_YORK, periods={6: [(T(0), T(6))]})


def test_period_spanning_spring_forward_counts_its_real_five_hours():
    calendar = night_calendar()
    opening, closing = at("2026-03-08", 0), at("2026-03-08", 6)
    assert calendar.minutes_between(opening, closing) == 5 * 60
    assert calendar.add_minutes(opening, 5 * 60) == closing
    assert calendar.add_minutes(opening, 3 * 60) == utc("2026-03-08", 8)  # 04:00 EDT
    assert calendar.add_minutes(opening, 3 * 60).hour == 4


def test_period_spanning_fall_back_counts_its_real_seven_hours():
    calendar = night_calendar()
    opening, closing = at("2026-11-01", 0), at("2026-11-01", 6)
    assert calendar.minutes_between(opening, closing) == 7 * 60
    assert calendar.add_minutes(opening, 7 * 60) == closing
    second_one_am = calendar.add_minutes(opening, 2 * 60)
    # Compare in UTC: Python never calls a fold=1 moment equal to a datetime in another zone.
    assert second_one_am.astimezone(UTC) == utc("2026-11-01", 6)
    assert (second_one_am.hour, second_one_am.utcoffset()) == (1, dt.timedelta(hours=-5))


@pytest.mark.parametrize(
    ("friday", "monday"),
    [("2026-03-06", "2026-03-09"), ("2026-10-30", "2026-11-02")],
    ids=["spring-forward", "fall-back"],
)
def test_deadline_across_a_dst_weekend_keeps_the_wall_clock_time(friday, monday):
    calendar = lunch_calendar()
    assert calendar.add_minutes(at(friday, 16, 30), 60) == at(monday, 8, 30)
    assert calendar.add_days(at(friday, 10), 1) == at(monday, 10)
    assert calendar.minutes_between(at(friday, 16, 30), at(monday, 8, 30)) == 60


# --- Degenerate calendars and bad input ----------------------------------------------


@pytest.mark.parametrize("periods", [{}, {0: [], 4: []}], ids=["no-days", "empty-days"])
def test_calendar_without_periods_is_open_round_the_clock(periods):
    calendar = BusinessCalendar(zone=NEW_YORK, periods=periods)
    assert calendar.is_open(at("2026-01-17", 3))
    assert calendar.add_minutes(at("2026-01-17", 23, 30), 60) == at("2026-01-18", 0, 30)
    assert calendar.add_days(at("2026-01-17", 10), 1) == at("2026-01-18", 10)
    assert calendar.minutes_between(at("2026-01-17"), at("2026-01-18")) == 24 * 60


def test_closed_days_still_close_a_round_the_clock_calendar():
    calendar = BusinessCalendar(zone=NEW_YORK, periods={}, closed_days={dt.date(2026, 1, 18)})
    assert not calendar.is_open(at("2026-01-18", 12))
    assert calendar.add_minutes(at("2026-01-17", 23, 30), 60) == at("2026-01-19", 0, 30)
    assert calendar.add_days(at("2026-01-17", 10), 1) == at("2026-01-19", 10)


def three_closed_years(first: dt.date) -> set[dt.date]:
    return {first + dt.timedelta(days=n) for n in range(3 * 366 + 2)}


@pytest.mark.parametrize("periods", [WEEKDAYS_WITH_LUNCH, {}], ids=["weekdays", "round-clock"])
def test_calendar_closed_for_three_years_raises_instead_of_looping(periods):
    calendar = BusinessCalendar(
        zone=NEW_YORK, periods=periods, closed_days=three_closed_years(dt.date(2026, 1, 14))
    )
    start = at("2026-01-14", 9)
    with pytest.raises(ValueError, match="no opening hours in the next three years"):
        calendar.next_open(start)
    with pytest.raises(ValueError, match="no opening hours in the next three years"):
        calendar.add_minutes(start, 60)
    assert not calendar.is_open(start)


def test_running_out_of_open_days_after_the_start_raises():
    calendar = lunch_calendar(closed_days=three_closed_years(dt.date(2026, 1, 15)))
    start = at("2026-01-14", 9)
    with pytest.raises(ValueError, match="no opening hours in the next three years"):
        calendar.add_days(start, 1)
    with pytest.raises(ValueError, match="no opening hours in the next three years"):
        calendar.add_minutes(start, 8 * 60)


@pytest.mark.parametrize(
    "call",
    [
        lambda calendar, naive: calendar.is_open(naive),
        lambda calendar, naive: calendar.next_open(naive),
        lambda calendar, naive: calendar.add_minutes(naive, 60),
        lambda calendar, naive: calendar.add_days(naive, 1),
        lambda calendar, naive: calendar.minutes_between(naive, at("2026-01-16")),
        lambda calendar, naive: calendar.minutes_between(at("2026-01-16"), naive),
    ],
    ids=["is_open", "next_open", "add_minutes", "add_days", "between-start", "between-end"],
)
def test_naive_datetimes_are_refused(call):
    with pytest.raises(ValueError, match="naive"):
        call(lunch_calendar(), dt.datetime(2026, 1, 14, 9))  # naive on purpose


def test_negative_amounts_are_refused():
    calendar = lunch_calendar()
    with pytest.raises(ValueError, match="minutes"):
        calendar.add_minutes(at("2026-01-14", 9), -1)
    with pytest.raises(ValueError, match="days"):
        calendar.add_days(at("2026-01-14", 9), -1)


@pytest.mark.parametrize(
    "periods",
    [{0: [(T(12), T(8))]}, {0: [(T(8), T(8))]}, {7: [(T(8), T(12))]}],
    ids=["inverted", "empty", "weekday-7"],
)
def test_malformed_periods_are_refused(periods):
    with pytest.raises(ValueError):
        BusinessCalendar(zone=NEW_YORK, periods=periods)


# --- Randomised inverse check --------------------------------------------------------

CALENDARS = {
    "lunch-closure": (
        lunch_calendar(closed_days={MLK_DAY, dt.date(2026, 7, 3), dt.date(2026, 11, 26)}),
        {T(12), T(17)},
    ),
    "nights-and-saturdays": (
        BusinessCalendar(
            zone=NEW_YORK,
            periods={
                6: [(T(0), T(6))],
                5: [(T(9), T(12))],
                2: [(T(22), T(23, 59))],
            },
        ),
        {T(6), T(12), T(23, 59)},
    ),
    "round-the-clock": (
        BusinessCalendar(zone=NEW_YORK, periods={}, closed_days={dt.date(2026, 3, 9)}),
        {T(0)},
    ),
}


@pytest.mark.parametrize("name", CALENDARS)
def test_minutes_between_inverts_add_minutes_at_random(name):
    calendar, closing_times = CALENDARS[name]
    rng = random.Random(20260308)
    year_start = utc("2026-01-01")
    for _ in range(300):
        start = year_start + dt.timedelta(minutes=rng.randrange(365 * 24 * 60))
        minutes = rng.choice([0, rng.randrange(1, 600), rng.randrange(600, 20_000)])
        due = calendar.add_minutes(start, minutes)
        assert calendar.minutes_between(start, due) == minutes, (start, minutes, due)
        just_before = due.astimezone(UTC) - dt.timedelta(minutes=1)
        at_period_end = due.time() in closing_times and calendar.is_open(just_before)
        assert calendar.is_open(due) or (minutes and at_period_end), (start, minutes, due)


# --- Loading from the database -------------------------------------------------------


@pytest.mark.django_db
def test_for_practice_loads_hours_and_closed_days_in_two_queries(
    django_assert_max_num_queries, django_assert_num_queries
):
    created = practice_create(
        organisation=OrganisationFactory(),
        name="Desert Dental",
        slug="desert",
        timezone="America/Phoenix",
    )
    ClosedDay.objects.create(practice=created, date=dt.date(2026, 7, 3), reason="July 4th")
    practice = Practice.objects.get(pk=created.pk)
    with (
        time_machine.travel(utc("2026-07-01", 12), tick=False),
        django_assert_max_num_queries(2),
    ):
        calendar = BusinessCalendar.for_practice(practice)
    with django_assert_num_queries(0):
        assert calendar.zone == PHOENIX
        assert calendar.add_minutes(at("2026-07-02", 11, 30, PHOENIX), 60) == at(
            "2026-07-02", 13, 30, PHOENIX
        )
        assert calendar.add_minutes(at("2026-07-02", 16, 30, PHOENIX), 60) == at(
            "2026-07-06", 8, 30, PHOENIX
        )
        assert not calendar.is_open(at("2026-07-03", 10, zone=PHOENIX))
