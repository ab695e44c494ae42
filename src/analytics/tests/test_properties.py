"""Property: for any small history, the rollups equal the figures recomputed from raw rows.

Hypothesis draws two practices in two time zones (daylight-saving changes, half- and
three-quarter-hour offsets among them), survey answers with scores, ratings, effort
answers and feedback (naming staff and the lab), calls with dispositions and call-backs,
visits, and cases with their acknowledgement, all at whole-second moments over five days
around New York's clock change; then a window of days and a moment to refresh at. Each
example runs in a transaction that is rolled back.

CI runs 50 examples; ``RAPPORT_HYPOTHESIS_EXAMPLES=1000`` explores more.
"""

from __future__ import annotations

import datetime as dt
import os
import zoneinfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.models import PracticeDay
from analytics.rollups import DayRange, rollups_refresh
from analytics.tests import factories as f
from analytics.tests.oracle import (
    expected_days,
    expected_people,
    expected_touchpoints,
    expected_vendors,
    month_rows,
    months_summed_from_days,
    rollup_days,
    rollup_people,
    rollup_touchpoints,
    rollup_vendors,
)
from core.tests.factories import OrganisationFactory, PracticeFactory
from patients.tests.factories import PatientFactory
from vendors.tests.factories import crestline

pytestmark = pytest.mark.django_db

CI_PROFILE = settings(
    max_examples=int(os.environ.get("RAPPORT_HYPOTHESIS_EXAMPLES", "50")),
    deadline=None,
    database=None,  # no example files written into the work tree
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # each example rolls its own transaction back
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

ZONES = [
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/Phoenix",
    "UTC",
]
BASE = dt.datetime(2026, 3, 6, 12, 0, tzinfo=dt.UTC)  # New York springs forward on the 8th
SPAN = 5 * 86400
NUMBERS = ["+12025550101", "+12025550102", "+12025550103", ""]
TOUCHPOINTS = ["waiting", "hygiene", "dentist_care"]
STAFF = ["Hana", "Jo", "Zoë Ng"]


def _near_midnight(day: int, zone: str, seconds: int) -> dt.datetime:
    midnight = dt.datetime.combine(
        BASE.date() + dt.timedelta(days=day), dt.time(), tzinfo=zoneinfo.ZoneInfo(zone)
    )
    return (midnight + dt.timedelta(seconds=seconds)).astimezone(dt.UTC)


# Anywhere in the five days, or within a second of some zone's local midnight.
moment = st.integers(0, SPAN).map(lambda s: BASE + dt.timedelta(seconds=s)) | st.builds(
    _near_midnight, st.integers(0, 4), st.sampled_from(ZONES), st.integers(-1, 1)
)


def _seconds(low: int, high: int, *edges: int):
    """A span of seconds as a timedelta, often exactly at one of ``edges``."""
    return (st.sampled_from(edges) | st.integers(low, high)).map(lambda s: dt.timedelta(seconds=s))


WEEK = 7 * 86400
later = st.integers(0, 2 * 86400).map(lambda s: dt.timedelta(seconds=s))
practice = st.integers(0, 1)
patient = st.integers(0, 3)

responses = st.fixed_dictionaries(
    {
        "practice": practice,
        "patient": patient,
        "invited": moment,
        "answered_after": st.none() | later,
        "nps": st.none() | st.integers(0, 10),
        "ratings": st.dictionaries(st.sampled_from(TOUCHPOINTS), st.integers(1, 5), max_size=3),
        "easy": st.none() | st.integers(0, 1),
        "about_lab": st.booleans(),  # the ratings are about the practice's lab
        "item": st.none()
        | st.tuples(
            st.sampled_from(["negative", "neutral", "positive"]),
            st.lists(st.sampled_from([*TOUCHPOINTS, "records"]), max_size=3, unique=True),
            st.lists(st.sampled_from(STAFF), max_size=3),  # names, repeats and all
            st.booleans(),  # about the lab
        ),
    }
)
calls = st.fixed_dictionaries(
    {
        "practice": practice,
        "started": moment,
        "direction": st.sampled_from(["inbound", "inbound", "outbound"]),
        "disposition": st.sampled_from(["answered", "missed", "voicemail", "abandoned"]),
        "number": st.sampled_from(NUMBERS),
        "new_caller": st.sampled_from([True, True, False]),
        "patient": st.none() | patient,
        "callback": st.none()
        | st.tuples(
            st.integers(1, 180),  # due, minutes after the call
            st.none() | _seconds(-3 * 3600, 8 * 3600, -1, 0, 1),  # done, after the deadline
            st.sampled_from(["", "booked", "got_through", "no_answer"]),
        ),
        # An appointment appearing around the call (the 7-day booking test's edges).
        "booking": st.none()
        | st.tuples(
            st.none() | patient,  # None: the patient who has the call's number
            _seconds(-3600, 8 * 86400, -1, 0, WEEK - 1, WEEK),  # created after the call
            _seconds(-86400, 30 * 86400, -1, 0, 1),  # starts after the call
        ),
    }
)
visits = st.fixed_dictionaries(
    {
        "practice": practice,
        "patient": patient,
        "starts": moment,
        "status": st.sampled_from(["completed", "completed", "cancelled", "scheduled"]),
        "created_before": st.integers(-86400, 9 * 86400).map(lambda s: dt.timedelta(seconds=s)),
    }
)
cases = st.fixed_dictionaries(
    {
        "practice": practice,
        "opened": moment,
        "ack_due": st.none() | st.integers(1, 48),  # hours after opening
        "acked": st.none() | _seconds(-86400, 86400, -1, 0, 1),  # after the deadline
        "status": st.sampled_from(["open", "waiting_patient", "closed"]),
        "outcome": st.sampled_from(["recovered", "partly", "not_recovered", "unreachable"]),
        "about_lab": st.booleans(),
    }
)
histories = st.fixed_dictionaries(
    {
        "zones": st.tuples(st.sampled_from(ZONES), st.sampled_from(ZONES)),
        "first_visits": st.lists(
            st.none() | st.integers(-1, 6).map(lambda n: BASE.date() + dt.timedelta(days=n)),
            min_size=8,
            max_size=8,
        ),
        "responses": st.lists(responses, max_size=8),
        "calls": st.lists(calls, max_size=8),
        "visits": st.lists(visits, max_size=8),
        "cases": st.lists(cases, max_size=3),
        # The first day refreshed (from a day before the history) and how many days.
        "window": st.tuples(st.integers(-1, 5), st.integers(1, 8)),
        "now": moment,
    }
)


def _hours_after(start: dt.datetime, hours: int | None) -> dt.datetime | None:
    return None if hours is None else start + dt.timedelta(hours=hours)


def _acked(case: dict) -> dt.datetime | None:
    due = _hours_after(case["opened"], case["ack_due"])
    if case["acked"] is None:
        return None
    return max(case["opened"], (due or case["opened"]) + case["acked"])


def _build(history: dict):
    organisation = OrganisationFactory()
    practices = [PracticeFactory(organisation=organisation, timezone=z) for z in history["zones"]]
    people = [
        [
            PatientFactory(
                practice=p,
                phone=NUMBERS[n % 3],
                first_visit_on=history["first_visits"][4 * index + n],
            )
            for n in range(4)
        ]
        for index, p in enumerate(practices)
    ]
    labs = [crestline(p) for p in practices]
    for r in history["responses"]:
        someone = people[r["practice"]][r["patient"]]
        invited = f.invitation(someone, created_at=r["invited"])
        if r["answered_after"] is not None:
            answered = r["invited"] + r["answered_after"]
            f.respond(
                invited,
                submitted_at=answered,
                nps=r["nps"],
                ratings=r["ratings"],
                easy=r["easy"],
                vendor=labs[r["practice"]] if r["about_lab"] else None,
            )
            if r["item"] is not None:
                label, touchpoints, staff, about_lab = r["item"]
                f.feedback_item(
                    someone.practice,
                    received_at=answered,
                    label=label,
                    touchpoints=touchpoints,
                    people=staff,
                    vendor=labs[r["practice"]] if about_lab else None,
                )
    for c in history["calls"]:
        who = None if c["patient"] is None else people[c["practice"]][c["patient"]]
        made = f.call(
            practices[c["practice"]],
            started_at=c["started"],
            direction=c["direction"],
            disposition=c["disposition"],
            number=c["number"],
            new_caller=c["new_caller"],
            patient=who,
        )
        if c["callback"] is not None and c["disposition"] != "answered":
            due, done, outcome = c["callback"]
            due_at = c["started"] + dt.timedelta(minutes=due)
            f.callback(
                made,
                due_at=due_at,
                done_at=None if done is None else max(c["started"], due_at + done),
                outcome="" if done is None else outcome,
            )
        if c["booking"] is not None:
            index, created, starts = c["booking"]
            if index is None:
                index = NUMBERS.index(c["number"]) % 3
            f.visit(
                people[c["practice"]][index],
                starts_at=c["started"] + starts,
                status="scheduled",
                created_at=c["started"] + created,
            )
    for v in history["visits"]:
        f.visit(
            people[v["practice"]][v["patient"]],
            starts_at=v["starts"],
            status=v["status"],
            created_at=v["starts"] - v["created_before"],
        )
    for c in history["cases"]:
        closed = c["status"] == "closed"
        f.case(
            practices[c["practice"]],
            opened_at=c["opened"],
            ack_due=_hours_after(c["opened"], c["ack_due"]),
            acked_at=_acked(c),
            status=c["status"],
            closed_at=c["opened"] + dt.timedelta(days=1) if closed else None,
            outcome=c["outcome"] if closed else "",
            before=4 if closed else None,
            after=8 if closed else None,
            vendor=labs[c["practice"]] if c["about_lab"] else None,
        )
    return practices


@CI_PROFILE
@given(history=histories)
def test_rollups_equal_raw_recomputation_for_any_small_history(history):
    with transaction.atomic():
        practices = _build(history)
        start, length = history["window"]
        first = BASE.date() + dt.timedelta(days=start)
        days = DayRange(first, first + dt.timedelta(days=length - 1))
        now = history["now"]

        rollups_refresh(days=days, now=now)

        expected = expected_days(practices, first=days.first, last=days.last, now=now)
        assert rollup_days() == expected
        assert rollup_touchpoints() == expected_touchpoints(
            practices, first=days.first, last=days.last
        )
        assert rollup_people() == expected_people(practices, first=days.first, last=days.last)
        assert rollup_vendors() == expected_vendors(practices, first=days.first, last=days.last)
        assert month_rows() == months_summed_from_days()
        # Again, and one day of one practice again: nothing changes.
        rollups_refresh(days=days, now=now)
        rollups_refresh(practices=practices[:1], days=(days.last, days.last), now=now)
        assert rollup_days() == expected
        transaction.set_rollback(True)
    assert not PracticeDay.objects.exists()
