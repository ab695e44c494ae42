"""A missed call on the list, taken and returned by the front desk; the call figures render."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from calls.merging import CallIn
from calls.models import CallbackTask
from calls.services import calls_record
from conftest import shot as _shot
from core.models import Membership
from core.tests.factories import PASSWORD, PracticeFactory, member
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.browser

NOTES = "Booked her a cleaning for Thursday at 9; apologised for the wait."


@pytest.fixture
def calls_world(transactional_db):
    practice = PracticeFactory(name="Maple Street Dental", slug="maple")
    member(practice, Membership.Role.FRONT_DESK, username="frank", first_name="Frank")
    grace = PatientFactory(
        practice=practice, first_name="Grace", last_name="Lee", phone="+12025550143"
    )
    now = timezone.now()

    def call(external_id, minutes_ago, disposition, caller):
        return CallIn(
            source="webhook",
            external_id=external_id,
            direction="inbound",
            caller=caller,
            called="+12025550100",
            started_at=now - dt.timedelta(minutes=minutes_ago),
            ring_seconds=25,
            talk_seconds=90 if disposition == "answered" else 0,
            disposition=disposition,
        )

    # Grace's call went unanswered five minutes ago; someone else got through earlier.
    calls_record(
        practice=practice,
        calls=[
            call("c-1", 5, "missed", grace.phone),
            call("c-2", 60 * 24, "answered", "+12025550177"),
        ],
    )
    return practice, grace, CallbackTask.objects.get(call__external_id="c-1")


def _sign_in(page, live_server) -> None:
    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill("frank")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_front_desk_returns_a_missed_call_and_sees_the_figures(
    browser_page, live_server, calls_world
):
    page = browser_page
    practice, grace, task = calls_world
    _sign_in(page, live_server)

    page.get_by_role("link", name="Calls", exact=True).click()
    row = page.locator(f"#task-{task.pk}")
    row.wait_for()
    assert "Grace Lee" in row.inner_text()
    assert "nobody yet" in row.inner_text()

    row.get_by_role("button", name="Take it").click()
    page.get_by_text("It's yours").wait_for()
    row = page.locator(f"#task-{task.pk}")
    assert "Frank" in row.inner_text()
    assert row.get_by_role("button", name="Take it").count() == 0

    row.get_by_label("Outcome").select_option("booked")
    row.get_by_label("Notes").fill(NOTES)
    _shot(page, "calls-callback-list")
    row.get_by_role("button", name="Log it").click()
    page.get_by_text("Every missed call has been returned.").wait_for()
    done = page.locator(f"#done-{task.pk}")
    assert "Reached — booked a visit" in done.inner_text()
    assert NOTES in done.inner_text()
    task.refresh_from_db()
    assert (task.outcome, task.done_by.username, task.notes) == ("booked", "frank", NOTES)

    page.get_by_role("link", name="Call figures: conversion and answer rate").click()
    heatmap = page.locator("#heatmap")
    heatmap.wait_for()
    assert heatmap.locator("caption").text_content().startswith("Share of inbound calls answered")
    assert heatmap.locator("td strong").count() >= 1  # a cell with its percentage written in
    canvas = page.locator("#calls-chart")
    canvas.wait_for()
    # Chart.js drew on the canvas (it sizes it to its box when it does).
    page.wait_for_function(
        "() => { const c = document.getElementById('calls-chart');"
        " return window.Chart && window.Chart.getChart(c) !== undefined; }"
    )
    _shot(page, "calls-dashboard")
    assert page.locator("#figure-answered").inner_text() == "50%"
