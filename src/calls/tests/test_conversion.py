"""Call figures on a small hand-made week, checked against numbers worked out by hand.

The practice is in New York with the default hours (8–12 and 13–17, Monday to Friday). The
period is Monday 2 to Sunday 8 March 2026; the clocks go forward at 02:00 on Sunday the 8th,
so the Sunday call below is on Eastern Daylight Time and the others on Eastern Standard
Time. Calls, call-backs and appointments are written directly (factories), so each fact is
exactly what the test says.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from calls.conversion import Period, PeriodError, call_figures
from calls.models import Call, CallbackTask
from calls.tests.factories import CallbackTaskFactory, CallFactory
from core.models import Membership
from core.tests.factories import PracticeFactory, StaffMemberFactory, member
from patients.models import Appointment
from patients.tests.factories import AppointmentFactory, PatientFactory

pytestmark = pytest.mark.django_db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
PERIOD = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 8))
A, B, C, D, E = (f"+1202555090{n}" for n in range(1, 6))


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A local moment of March 2026 in New York, as UTC."""
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=NEW_YORK).astimezone(dt.UTC)


NOW = at(20, 12)


class Week:
    """The hand-made week: who called, what was missed, who called back, who booked."""

    def __init__(self):
        self.practice = practice = PracticeFactory(timezone="America/New_York")
        self.desk_user = member(practice, Membership.Role.FRONT_DESK, first_name="Sally")
        self.manager_user = member(
            practice, Membership.Role.MANAGER, first_name="Olivia", last_name="Manager"
        )
        self.sally = StaffMemberFactory(
            practice=practice, name="Sally Desk", user=self.desk_user, extension="101"
        )
        self.sam = StaffMemberFactory(practice=practice, name="Sam Desk", extension="102")
        StaffMemberFactory(practice=practice, name="Idle Dentist", extension="103")

        def patient(phone: str, **fields):
            return PatientFactory(practice=practice, phone=phone, **fields)

        def inbound(when, disposition, number, **fields):
            return CallFactory(
                practice=practice,
                started_at=when,
                disposition=disposition,
                caller=number or "anonymous",
                number=number,
                **fields,
            )

        def book(who, created_at, starts_at):
            appointment = AppointmentFactory(
                patient=who, starts_at=starts_at, status=Appointment.Status.SCHEDULED
            )
            Appointment.objects.filter(pk=appointment.pk).update(created_at=created_at)

        answered, missed = Call.Disposition.ANSWERED, Call.Disposition.MISSED
        # Patients the calls will belong to. Existing ones: P1, P2, P3, P4.
        p1, p2, p3, p4 = (patient(f"+1202555080{n}") for n in range(1, 5))
        # New callers who became patients later (matched by phone now): A, B, C, E.
        pa, pb, pc, pe = (patient(n, first_visit_on=None) for n in (A, B, C, E))

        # --- New callers (5 numbers) ---
        inbound(at(2, 9, 10), answered, A, new_caller=True, staff=self.sally)  # 1
        n2a = inbound(at(3, 11, 0), missed, B, new_caller=True)  # 2
        inbound(at(3, 11, 30), answered, B, new_caller=True, staff=self.sam)  # 3
        n3 = inbound(at(4, 14, 0), missed, C, new_caller=True)  # 4
        n4 = inbound(at(8, 10, 30), Call.Disposition.VOICEMAIL, D, new_caller=True)  # 5 (EDT)
        inbound(at(6, 16, 0), answered, E, new_caller=True, staff=self.sally)  # 6
        book(pa, at(4, 10), at(10, 9))  # 2 days after A's call: booked
        book(pb, at(11, 9), at(20, 9))  # 7 days 22 h after B's last call: too late
        book(pc, at(4, 14, 12), at(9, 10))  # 12 minutes after C's call-back: booked
        book(pe, at(5, 9), at(12, 9))  # the day before E called: not after the call
        book(pe, at(7, 10), at(1, 9))  # after the call, for a visit before it: history
        # --- Existing patients (3 patients) ---
        inbound(at(2, 10, 30), answered, p1.phone, patient=p1, staff=self.sally)  # 7
        p2_call = inbound(at(5, 9, 0), missed, p2.phone, patient=p2)  # 8
        p3a = inbound(at(6, 13, 30), answered, p3.phone, patient=p3, staff=self.sam)  # 9
        p3b = inbound(at(2, 8, 30), missed, p3.phone, patient=p3)  # 10
        book(p1, at(2, 10, 40), at(16, 9))  # 10 minutes after the call: booked
        # Exactly 7 × 24 hours after P3's call (across the clock change: 14:30 local): too late.
        book(p3, p3a.started_at + dt.timedelta(days=7), at(20, 9))
        # --- Anything else ---
        inbound(at(2, 10, 45), Call.Disposition.ABANDONED, "")  # 11: withheld number
        early = inbound(at(1, 23, 30), missed, p4.phone, patient=p4)  # the day before
        inbound(at(9, 0, 10), answered, p4.phone, patient=p4, staff=self.sally)  # the day after
        CallFactory(practice=practice, started_at=at(3, 10), direction="outbound", number=A)
        CallFactory(practice=practice, started_at=at(3, 10), direction="internal", number="")

        # --- Call-backs ---
        def task(call, due_at, done_at=None, outcome="", by=None):
            return CallbackTaskFactory(
                call=call,
                patient=call.patient,
                due_at=due_at,
                done_at=done_at,
                outcome=outcome,
                done_by=by,
            )

        got = CallbackTask.Outcome
        task(n2a, at(3, 11, 15), at(3, 11, 30), got.GOT_THROUGH)  # no call-back at all
        task(n3, at(4, 14, 15), at(4, 14, 10), got.BOOKED, self.desk_user)  # 10 min, on time
        task(n4, at(9, 8), at(9, 8, 20), got.VOICEMAIL, self.manager_user)  # 1310 min, late
        self.open_task = task(p2_call, at(5, 9, 15))  # still open, due long ago
        task(p3b, at(2, 8, 45), at(2, 8, 42), got.REACHED, self.desk_user)  # 12 min, on time
        task(early, at(2, 8), at(2, 7, 55), got.REACHED, self.desk_user)  # outside the period


@pytest.fixture
def week():
    return Week()


def test_conversion_figures_match_the_hand_count(week):
    figures = call_figures(practice=week.practice, period=PERIOD, now=NOW)

    # Inbound calls 1–11 (not the calls the day before or after, nor outbound or internal);
    # answered: 1, 3, 6, 7, 9.
    assert (figures.inbound, figures.answered) == (11, 5)
    # New callers A, B, C, D, E = 5; booked: A (2 days after) and C (after the call-back) = 2.
    assert (figures.new_callers.count, figures.new_callers.total) == (2, 5)
    assert figures.new_callers.percent == 40.0  # 2 / 5
    # Existing patients P1, P2, P3 = 3; booked: P1 only (P3's is 7 days to the second) = 1.
    assert (figures.existing_patients.count, figures.existing_patients.total) == (1, 3)


def test_answer_rate_heatmap_is_in_local_time_across_the_clock_change(week):
    heatmap = call_figures(practice=week.practice, period=PERIOD, now=NOW).heatmap

    # Calls at 08:30 (Mon) to 16:00 (Fri), local: hours 8 to 16.
    assert heatmap.hours == list(range(8, 17))
    cells = {
        (cell.weekday, cell.hour): (cell.answered, cell.calls)
        for _day, row in heatmap.rows
        for cell in row
        if cell.calls
    }
    assert cells == {
        (0, 8): (0, 1),  # Mon 08:30 missed (P3)
        (0, 9): (1, 1),  # Mon 09:10 answered (A)
        (0, 10): (1, 2),  # Mon 10:30 answered (P1), 10:45 abandoned (withheld)
        (1, 11): (1, 2),  # Tue 11:00 missed, 11:30 answered (B)
        (2, 14): (0, 1),  # Wed 14:00 missed (C)
        (3, 9): (0, 1),  # Thu 09:00 missed (P2)
        (4, 13): (1, 1),  # Fri 13:30 answered (P3)
        (4, 16): (1, 1),  # Fri 16:00 answered (E)
        (6, 10): (0, 1),  # Sun 10:30 EDT = 14:30 UTC; on EST it would read 09:30
    }
    monday_ten = heatmap.cell(0, 10)
    assert (monday_ten.rate, monday_ten.band) == (50.0, "poor")  # 1 of 2
    assert heatmap.cell(6, 10).rate == 0.0
    assert heatmap.cell(5, 10).rate is None and heatmap.cell(5, 10).band == "none"
    assert [name for name, _row in heatmap.rows] == [
        "Mon",
        "Tue",
        "Wed",
        "Thu",
        "Fri",
        "Sat",
        "Sun",
    ]


def test_call_back_median_and_share_within_the_deadline(week):
    figures = call_figures(practice=week.practice, period=PERIOD, now=NOW)

    # Done by a person: C 10 min, P3 12 min, D 1310 min (Sun 10:30 EDT → Mon 08:20):
    # sorted 10, 12, 1310 → median 12. B's closed as "got through"; P4's is before the period.
    assert figures.callback_time.median_minutes == 12
    assert figures.callback_time.completed == 3
    # On time: C and P3 = 2, out of 3 done + P2's still open past its deadline = 4.
    assert figures.callback_time.within_deadline.count == 2
    assert figures.callback_time.within_deadline.total == 4

    # Before P2's deadline (09:15 on the 5th) its task is undecided: 2 of 3.
    earlier = call_figures(practice=week.practice, period=PERIOD, now=at(5, 9, 5))
    within = earlier.callback_time.within_deadline
    assert (within.count, within.total) == (2, 3)


def test_per_staff_counts(week):
    staff = call_figures(practice=week.practice, period=PERIOD, now=NOW).staff

    assert [(r.name, r.answered, r.callbacks_done, r.bookings) for r in staff] == [
        # The manager has no staff record: named from the login. D's call-back: no patient.
        ("Olivia Manager", 0, 1, 0),
        # Sally (extension 101, her login did the call-backs): answered 1, 6 and 7 = 3
        # (not the day after's); call-backs C and P3 = 2 (not P4's, before the period);
        # booked after them: C (12 minutes after) = 1; P3 booked 11 days later = 0.
        ("Sally Desk", 3, 2, 1),
        # Sam (102): answered 3 and 9 = 2.
        ("Sam Desk", 2, 0, 0),
    ]


def test_weekly_bars_cover_the_period(week):
    weekly = call_figures(practice=week.practice, period=PERIOD, now=NOW).weekly

    # One week, Monday 2 March: 11 calls, 6 not answered (2, 4, 5, 8, 10, 11).
    assert [(w.week_of, w.calls, w.missed) for w in weekly] == [(dt.date(2026, 3, 2), 11, 6)]
    # A period from a Wednesday to the next Tuesday spans two weeks, the second empty here.
    longer = call_figures(
        practice=week.practice, period=Period(dt.date(2026, 3, 4), dt.date(2026, 3, 10)), now=NOW
    )
    assert [w.week_of for w in longer.weekly] == [dt.date(2026, 3, 2), dt.date(2026, 3, 9)]
    assert longer.weekly[1].calls == 1  # the call at 00:10 on Monday the 9th


def test_an_empty_period_has_no_figures(week):
    figures = call_figures(
        practice=week.practice, period=Period(dt.date(2025, 1, 6), dt.date(2025, 1, 12)), now=NOW
    )

    assert (figures.inbound, figures.answered) == (0, 0)
    assert figures.answer_rate.percent is None and figures.new_callers.percent is None
    assert figures.heatmap.hours == [] and figures.staff == []
    assert figures.callback_time.median_minutes is None


def test_another_practices_calls_do_not_count(week):
    other = PracticeFactory(timezone="America/New_York")
    CallFactory(practice=other, started_at=at(2, 9), number=A, new_caller=True)

    figures = call_figures(practice=week.practice, period=PERIOD, now=NOW)

    assert figures.inbound == 11 and figures.new_callers.total == 5


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("", "", (dt.date(2026, 1, 1), dt.date(2026, 3, 31))),  # 90 days to today
        ("2026-03-02", "2026-03-08", (dt.date(2026, 3, 2), dt.date(2026, 3, 8))),
        ("2026-03-02", "", (dt.date(2026, 3, 2), dt.date(2026, 3, 31))),
    ],
)
def test_period_parsing(first, last, expected):
    period = Period.parse(first, last, today=dt.date(2026, 3, 31))
    assert (period.first, period.last) == expected


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2026-13-01", "", "YYYY-MM-DD"),
        ("yesterday", "", "YYYY-MM-DD"),
        ("2026-03-08", "2026-03-02", "on or after"),
        ("2024-01-01", "2026-03-02", "at most 400 days"),
    ],
)
def test_bad_periods_are_refused_with_a_reason(first, last, message):
    with pytest.raises(PeriodError, match=message):
        Period.parse(first, last, today=dt.date(2026, 3, 31))


def test_period_bounds_are_local_midnights():
    start, end = PERIOD.bounds(NEW_YORK)
    assert start == dt.datetime(2026, 3, 2, 5, tzinfo=dt.UTC)  # EST
    assert end == dt.datetime(2026, 3, 9, 4, tzinfo=dt.UTC)  # EDT: a 23-hour Sunday
