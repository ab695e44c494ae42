"""A patient answers on a phone; the answer reaches the inbox and the patient's page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from conftest import shot as _shot
from core.models import Membership
from core.tests.factories import PASSWORD, PracticeFactory, member
from feedback.models import SurveyResponse
from feedback.services import invitation_path
from feedback.tests.factories import InvitationFactory
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def survey_world(transactional_db):
    practice = PracticeFactory(name="Maple Street Dental", slug="maple")
    member(practice, Membership.Role.MANAGER, username="olivia")
    sam = PatientFactory(practice=practice, first_name="Sam", last_name="Ortega")
    return practice, sam, InvitationFactory(patient=sam)


def test_patient_answers_on_a_phone_and_staff_see_it(browser_page, live_server, survey_world):
    page = browser_page
    practice, sam, invitation = survey_world
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + invitation_path(invitation))

    page.get_by_role("heading", name="How was your visit?").wait_for()
    nps = page.get_by_role("group", name="How likely are you to recommend Maple Street Dental")
    nps.get_by_text("9", exact=True).click()
    page.get_by_label("One thing we could do better").fill(
        "Explain the cost before the crown, please."
    )
    _shot(page, "survey-phone")
    # Nothing may be wider than the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_role("button", name="Send").click()
    page.get_by_role("heading", name="Thank you").wait_for()

    page.get_by_role("link", name="Change my answers").click()
    page.get_by_text("You have answered already").wait_for()
    page.get_by_role("button", name="Send").click()
    page.get_by_role("heading", name="Thank you").wait_for()
    assert SurveyResponse.objects.filter(invitation=invitation).count() == 1

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill("olivia")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Feedback").click()
    item = page.locator("li.feedback").first
    assert "Explain the cost before the crown, please." in item.inner_text()
    assert "9/10" in item.inner_text()
    item.get_by_role("link", name="Sam Ortega").click()
    page.get_by_role("heading", name="What they told us").wait_for()
    assert page.get_by_text("Explain the cost before the crown, please.").is_visible()


def test_expired_link_shows_a_friendly_page(browser_page, live_server, survey_world):
    page = browser_page
    _, _, invitation = survey_world
    type(invitation).objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + invitation_path(invitation))
    page.get_by_role("heading", name="We couldn't open this survey").wait_for()
    assert "This survey has closed" in page.content()
