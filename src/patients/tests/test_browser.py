"""The main pages in a real headless Chromium: sign in, day sheet, patient page, edit in place."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from conftest import shot as _shot
from core.models import AuditEvent, Membership
from core.tests.factories import PASSWORD, PracticeFactory, member
from patients.models import Patient
from patients.tests.factories import AppointmentFactory, PatientFactory

pytestmark = pytest.mark.browser


def _sign_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def front_desk_world(transactional_db):
    practice = PracticeFactory(name="Maple Street Dental", slug="maple")
    user = member(practice, Membership.Role.FRONT_DESK, username="frank")
    sam = PatientFactory(
        practice=practice,
        first_name="Sam",
        last_name="Ortega",
        goals="Keep my own teeth, look natural",
        greatest_concern="Cost surprises",
        anxieties="Strong gag reflex",
    )
    today_noon = timezone.now().astimezone(practice.zone).replace(hour=12, minute=0, second=0)
    AppointmentFactory(
        patient=sam,
        status="scheduled",
        kind="Crown",
        starts_at=today_noon,
        provider__name="Dr. Chen",
    )
    AppointmentFactory(patient=sam, kind="Exam", starts_at=today_noon - dt.timedelta(days=200))
    return practice, user, sam


def test_front_desk_day_sheet_to_profile_edit(browser_page, live_server, front_desk_world):
    page = browser_page
    practice, user, sam = front_desk_world
    _sign_in(page, live_server.url, "frank")

    page.get_by_role("heading", name="Day sheet").wait_for()
    sheet = page.locator(".providers")
    assert "Dr. Chen" in sheet.inner_text()
    page.get_by_text("What matters to Sam").click()
    assert page.get_by_text("Strong gag reflex").is_visible()
    _shot(page, "day-sheet")

    page.get_by_role("link", name="Sam Ortega").click()
    page.get_by_role("heading", name="Sam Ortega").wait_for()
    assert page.get_by_text("Cost surprises").is_visible()

    page.get_by_role("button", name="Edit profile").click()
    page.get_by_label("Trust notes").fill("Prefers the first slot of the day")
    page.get_by_role("button", name="Save").click()
    page.locator("#profile").get_by_text("Prefers the first slot of the day").wait_for()
    _shot(page, "patient-page")

    assert Patient.objects.get(pk=sam.pk).trust_notes == "Prefers the first slot of the day"
    assert AuditEvent.objects.filter(action="update", patient_id=sam.pk, actor=user).count() == 1
    assert AuditEvent.objects.filter(action="view", patient_id=sam.pk).count() == 1


def test_patient_search_narrows_as_you_type(browser_page, live_server, front_desk_world):
    page = browser_page
    practice, _, _ = front_desk_world
    PatientFactory(practice=practice, first_name="Priya", last_name="Nair")
    _sign_in(page, live_server.url, "frank")
    page.get_by_role("link", name="Patients").click()
    page.get_by_text("2 patients").wait_for()

    page.get_by_label("Search by name or phone").fill("nai")
    page.get_by_text("1 patient matching").wait_for()
    rows = page.locator("#results tbody tr")
    assert rows.count() == 1
    assert "Nair, Priya" in rows.first.inner_text()
    # Search terms never land in the address bar (no patient data in URLs).
    assert "nai" not in page.url
