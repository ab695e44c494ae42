"""The at-risk list and a patient's loyalty trend in a real browser: charts draw, no errors."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from conftest import shot as _shot
from core.models import Membership
from core.tests.factories import PASSWORD, PracticeFactory, member
from loyalty.scoring import scores_compute
from patients.tests.factories import AppointmentFactory, PatientFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def drifting(transactional_db):
    practice = PracticeFactory(name="Maple Street Dental", slug="maple")
    member(practice, Membership.Role.MANAGER, username="olivia", first_name="Olivia")
    dana = PatientFactory(practice=practice, first_name="Dana", last_name="Whitfield")
    now = timezone.now()
    for days in (900, 720, 540, 400):
        AppointmentFactory(
            patient=dana, starts_at=now - dt.timedelta(days=days), status="completed"
        )
    # Scored a few months ago, when she was fine, and now: a trend to draw.
    scores_compute(practices=[practice], now=now - dt.timedelta(days=200))
    scores_compute(practices=[practice], now=now)
    return practice, dana


def test_manager_finds_dana_at_risk_and_sees_her_trend(browser_page, live_server, drifting):
    page = browser_page
    _, dana = drifting
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill("olivia")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="At risk").click()
    row = page.locator("table.at-risk tbody tr").first
    assert "Dana Whitfield" in row.inner_text()
    assert "months since the last visit" in row.inner_text()
    _shot(page, "at-risk")
    row.get_by_role("link", name="Dana Whitfield").click()
    page.get_by_role("heading", name="Loyalty").wait_for()
    page.wait_for_function("window.Chart && Chart.getChart('loyalty-chart') !== undefined")
    _shot(page, "patient-loyalty")
    assert errors == []
