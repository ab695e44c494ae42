"""Story 3 in a real browser: Priya rates the lab on her phone; the manager reads the
lab's scorecard, its chart drawn, and sees the lab on her case."""

from __future__ import annotations

import pytest

from conftest import shot as _shot
from core.models import Membership
from core.tests.factories import PASSWORD, PracticeFactory, member
from feedback.models import Answer
from feedback.services import invitation_path
from feedback.tests.factories import InvitationFactory
from patients.tests.factories import PatientFactory
from recovery.models import RecoveryCase
from vendors.tests.factories import crestline, lab_contact, shade_visit

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def lab_world(transactional_db):
    practice = PracticeFactory(name="Maple Street Dental", slug="maple")
    member(practice, Membership.Role.MANAGER, username="olivia", first_name="Olivia")
    priya = PatientFactory(practice=practice, first_name="Priya", last_name="Nair")
    lab = crestline(practice)
    lab_contact(lab)
    invitation = InvitationFactory(patient=priya, appointment=shade_visit(lab, priya))
    return lab, priya, invitation


def test_priya_rates_the_lab_and_the_manager_sees_it_on_the_scorecard(
    browser_page, live_server, lab_world
):
    page = browser_page
    lab, priya, invitation = lab_world
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + invitation_path(invitation))
    page.get_by_role("group", name="How likely are you to recommend").get_by_text(
        "3", exact=True
    ).click()
    page.get_by_role("group", name="How was your visit to Crestline Dental Lab?").get_by_text(
        "1", exact=True
    ).click()
    page.get_by_label("One thing we could do better").fill(
        "Crestline Dental Lab ignored me: no greeting, no seat, and two phone calls."
    )
    _shot(page, "survey-lab-question")
    page.get_by_role("button", name="Send").click()
    page.get_by_role("heading", name="Thank you").wait_for()
    assert Answer.objects.get(vendor=lab).number == 1

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill("olivia")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Vendors").click()
    page.get_by_role("link", name="Crestline Dental Lab").click()
    page.get_by_role("button", name="Send the standards").click()
    page.get_by_text("not acknowledged yet").wait_for()
    page.get_by_role("link", name="Scorecard").click()
    page.wait_for_function("window.Chart && Chart.getChart('vendor-chart') !== undefined")
    assert page.get_by_text("no greeting, no seat").is_visible()
    assert "Nair" not in page.content()
    _shot(page, "vendor-scorecard")

    case = RecoveryCase.objects.get(patient=priya)
    page.goto(f"{live_server.url}/recovery/{case.pk}/")
    third_party = page.locator("#case-third-party")
    assert "Crestline Dental Lab" in third_party.inner_text()
    assert errors == []
