"""Step deadlines in business hours: lunch, weekends, closed days, time zones, DST, pauses.

Maple Street Dental opens Monday to Friday 08:00–12:00 and 13:00–17:00, New York time.
The default rules: acknowledge within 8 business hours (1 when urgent), listen and thank
within 2 business days, the plan within 3, the implementation 10 business days after the
plan, the follow-up 7 calendar days after the implementation.
"""

import datetime as dt

import pytest
import time_machine

from core.business_hours import BusinessCalendar
from core.models import ClosedDay
from core.tests.factories import PracticeFactory
from recovery import services
from recovery.errors import RecoveryError
from recovery.models import RecoveryCase, Severity
from recovery.tests.factories import (
    PHOENIX,
    RecentPatientFactory,
    complete,
    due,
    local,
    open_case,
    step,
    work_through,
)

pytestmark = pytest.mark.django_db

MONDAY = local("2026-04-06 09:00")
WEDNESDAY = local("2026-04-08 10:00")


def pause(case, *, user, at, waiting_on="patient"):
    with time_machine.travel(at, tick=False):
        services.case_pause(case=case, waiting_on=waiting_on, user=user, now=at)


def resume(case, *, user, at):
    with time_machine.travel(at, tick=False):
        services.case_resume(case=case, user=user, now=at)


# --- Counting business time ---------------------------------------------------------


def test_normal_case_opened_friday_afternoon_is_acknowledged_by_monday_afternoon(practice):
    # 30 minutes on Friday, 4 hours Monday morning, 3.5 after lunch: 8 business hours.
    case = open_case(practice, at=local("2026-04-10 16:30"))

    assert due(case, "acknowledge") == local("2026-04-13 16:30")


def test_urgent_case_opened_before_lunch_skips_the_lunch_closure(practice):
    case = open_case(practice, at=local("2026-04-06 11:30"), severity=Severity.URGENT)

    assert due(case, "acknowledge") == local("2026-04-06 13:30")


def test_a_closed_monday_pushes_the_deadline_to_tuesday(practice):
    ClosedDay.objects.create(practice=practice, date=dt.date(2026, 4, 13), reason="Staff training")

    case = open_case(practice, at=local("2026-04-10 16:30"))

    assert due(case, "acknowledge") == local("2026-04-14 16:30")


def test_each_practice_counts_in_its_own_time_zone(organisation, practice):
    desert = PracticeFactory(organisation=organisation, slug="desert", timezone="America/Phoenix")
    moment = dt.datetime(2026, 7, 10, 15, 0, tzinfo=dt.UTC)  # 11:00 in New York, 08:00 in Phoenix

    east = open_case(practice, at=moment)
    west = open_case(desert, at=moment)

    # New York: 1 h before lunch, 4 h after, 3 h on Monday morning.
    assert due(east, "acknowledge") == local("2026-07-13 11:00")
    # Phoenix (no daylight saving): a whole Friday, ending exactly at closing time.
    assert due(west, "acknowledge") == local("2026-07-10 17:00", PHOENIX)
    assert step(west, "acknowledge").due_at == dt.datetime(2026, 7, 11, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("opened", "acknowledge", "plan"),
    [
        # Clocks go forward on Sunday March 8: EST on Friday, EDT on Monday.
        ("2026-03-06 16:30", "2026-03-09 16:30", "2026-03-11 16:30"),
        # Clocks go back on Sunday November 1: EDT on Friday, EST on Monday.
        ("2026-10-30 16:30", "2026-11-02 16:30", "2026-11-04 16:30"),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_a_case_spanning_a_dst_change_keeps_the_wall_clock_time(
    practice, opened, acknowledge, plan
):
    case = open_case(practice, at=local(opened))

    assert due(case, "acknowledge") == local(acknowledge)
    assert due(case, "acknowledge").strftime("%H:%M") == "16:30"
    assert due(case, "plan") == local(plan)


def test_plan_is_due_three_business_days_after_opening(practice):
    case = open_case(practice, at=MONDAY)

    assert due(case, "listen") == local("2026-04-08 09:00")
    assert due(case, "thank") == local("2026-04-08 09:00")
    assert due(case, "plan") == local("2026-04-09 09:00")


def test_a_case_opened_at_the_weekend_starts_its_clock_on_monday_morning(practice):
    case = open_case(practice, at=local("2026-04-11 10:00"))

    assert due(case, "acknowledge") == local("2026-04-13 17:00")
    assert due(case, "plan") == local("2026-04-16 08:00")


# --- Clocks that wait for the step before them --------------------------------------


def test_implement_clock_starts_only_when_the_plan_is_agreed(practice, manager):
    case = open_case(practice, at=MONDAY)
    assert due(case, "implement") is None
    assert due(case, "follow_up") is None

    work_through(case, "thank", user=manager, at=local("2026-04-06 10:00"))
    assert due(case, "implement") is None

    complete(case, "plan", user=manager, at=WEDNESDAY)

    assert due(case, "implement") == local("2026-04-22 10:00")
    assert due(case, "follow_up") is None


def test_follow_up_is_due_seven_calendar_days_after_the_implementation(practice, manager):
    case = open_case(practice, at=MONDAY)
    work_through(case, "plan", user=manager, at=local("2026-04-06 10:00"))

    complete(case, "implement", user=manager, at=local("2026-04-10 16:30"))

    # Calendar days, not business days: Friday to Friday.
    assert due(case, "follow_up") == local("2026-04-17 16:30")


def test_follow_up_across_the_spring_dst_change_keeps_the_wall_clock_time(practice, manager):
    case = open_case(practice, at=local("2026-03-02 09:00"))
    work_through(case, "plan", user=manager, at=local("2026-03-02 10:00"))

    complete(case, "implement", user=manager, at=local("2026-03-06 10:00"))

    # 7 days after 10:00 EST is 10:00 EDT, only 167 real hours later.
    assert due(case, "follow_up") == local("2026-03-13 10:00")
    assert due(case, "follow_up").strftime("%H:%M") == "10:00"


# --- Waiting on the patient ---------------------------------------------------------


def test_pause_and_resume_give_each_step_back_exactly_the_time_it_had_left(practice, manager):
    case = open_case(practice, at=MONDAY)
    calendar = BusinessCalendar.for_practice(practice)
    paused_at, resumed_at = local("2026-04-06 10:00"), local("2026-04-08 10:00")
    before = {s.kind: s.due_at for s in case.steps.exclude(due_at=None)}

    pause(case, user=manager, at=paused_at)
    resume(case, user=manager, at=resumed_at)

    # Acknowledge had 7 business hours left (2 + 4 on Monday, 1 on Tuesday).
    assert due(case, "acknowledge") == local("2026-04-09 09:00")
    # Listen had 15: 6 on Monday, 8 on Tuesday, 1 on Wednesday.
    assert due(case, "listen") == local("2026-04-10 09:00")
    for s in case.steps.exclude(due_at=None):
        left = calendar.minutes_between(paused_at, before[s.kind])
        assert calendar.minutes_between(resumed_at, s.due_at) == left, s.kind
    case.refresh_from_db()
    assert case.status == RecoveryCase.Status.OPEN
    assert case.paused_at is None


def test_an_overdue_step_stays_overdue_through_a_pause(practice, manager):
    case = open_case(practice, at=MONDAY)

    pause(case, user=manager, at=local("2026-04-07 10:00"), waiting_on="third_party")
    resume(case, user=manager, at=local("2026-04-09 10:00"))

    assert due(case, "acknowledge") == local("2026-04-07 09:00")
    # Listen was not overdue yet: 7 business hours left, given back from Thursday 10:00.
    assert due(case, "listen") == local("2026-04-10 09:00")


def test_recording_a_step_while_waiting_restarts_the_clocks_first(practice, manager):
    case = open_case(practice, at=MONDAY)
    pause(case, user=manager, at=local("2026-04-06 10:00"))

    recorded = complete(case, "acknowledge", user=manager, at=WEDNESDAY)

    # The clock stood still from Monday 10:00: the 7 hours left run from Wednesday 10:00.
    assert recorded.due_at.astimezone(practice.zone) == local("2026-04-09 09:00")
    assert recorded.was_on_time
    assert due(case, "listen") == local("2026-04-10 09:00")
    case.refresh_from_db()
    assert case.status == RecoveryCase.Status.OPEN
    assert not case.events.filter(text__contains="(late)").exists()


def test_a_clock_started_while_waiting_gets_its_full_length(practice, manager):
    case = open_case(practice, at=MONDAY)
    work_through(case, "thank", user=manager, at=local("2026-04-06 09:30"))
    pause(case, user=manager, at=local("2026-04-06 10:00"))

    complete(case, "plan", user=manager, at=WEDNESDAY)

    # Ten business days from the moment the plan was agreed, not a day more.
    assert due(case, "implement") == local("2026-04-22 10:00")


def test_severity_raised_later_recounts_open_deadlines_from_the_opening(practice, manager):
    case = open_case(practice, at=MONDAY)

    services.case_set_severity(case=case, severity=Severity.URGENT, user=manager)

    assert due(case, "acknowledge") == local("2026-04-06 10:00")
    assert due(case, "plan") == local("2026-04-08 09:00")


@pytest.mark.parametrize("waiting_on", ["", "the moon", "PATIENT"])
def test_pause_needs_someone_to_wait_on(practice, manager, waiting_on):
    case = open_case(practice, at=MONDAY)

    with pytest.raises(RecoveryError):
        pause(case, user=manager, at=local("2026-04-06 10:00"), waiting_on=waiting_on)


def test_only_an_open_case_can_wait_and_only_a_waiting_one_resume(practice, manager):
    case = open_case(practice, at=MONDAY, patient=RecentPatientFactory(practice=practice))
    with pytest.raises(RecoveryError, match="not waiting"):
        resume(case, user=manager, at=local("2026-04-06 10:00"))

    pause(case, user=manager, at=local("2026-04-06 10:00"))
    with pytest.raises(RecoveryError, match="Only an open case"):
        pause(case, user=manager, at=local("2026-04-06 11:00"))
