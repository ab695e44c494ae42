"""A detractor's answer becomes a case, worked through six steps, remembered at the next visit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from conftest import shot as _shot
from core.models import Membership
from core.tests.factories import PASSWORD, PracticeFactory, member
from feedback.services import invitation_path
from feedback.tests.factories import InvitationFactory
from patients.tests.factories import AppointmentFactory, PatientFactory
from recovery.models import RecoveryCase

pytestmark = pytest.mark.browser

COMPLAINT = "We waited forty minutes past our time and nobody explained why."
STEPS = [
    ("Acknowledge", "call", "Called her back: sorry, looking into it, will call tomorrow."),
    ("Encourage them to talk", "call", "She felt ignored: 'nobody even looked up at us'."),
    ("Thank and validate", "call", "Thanked her for telling us; she was right to expect better."),
    ("Agree next steps", "call", "Agreed: first slot of the day at the next cleaning."),
    ("Implement the plan", "internal", "Booked the 8:00 slot and briefed the front desk."),
    ("Follow up", "call", "Called a week later: 'that is how it should be'."),
]
ALERT = "Greet Mrs Lee, apologise again for the wait; she has the first slot."


@pytest.fixture
def recovery_world(transactional_db):
    practice = PracticeFactory(name="Maple Street Dental", slug="maple")
    member(practice, Membership.Role.MANAGER, username="olivia", first_name="Olivia")
    grace = PatientFactory(practice=practice, first_name="Grace", last_name="Lee")
    tomorrow = timezone.now().astimezone(practice.zone).date() + dt.timedelta(days=1)
    AppointmentFactory(
        patient=grace,
        starts_at=dt.datetime.combine(tomorrow, dt.time(8, 0), tzinfo=practice.zone),
        status="scheduled",
        kind="Cleaning",
    )
    return practice, grace, InvitationFactory(patient=grace), tomorrow


def _answer_as_detractor(page, live_server, invitation) -> None:
    page.goto(live_server.url + invitation_path(invitation))
    nps = page.get_by_role("group", name="How likely are you to recommend Maple Street Dental")
    nps.get_by_text("3", exact=True).click()
    page.get_by_label("One thing we could do better").fill(COMPLAINT)
    page.get_by_role("button", name="Send").click()
    page.get_by_role("heading", name="Thank you").wait_for()


def _sign_in(page, live_server) -> None:
    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill("olivia")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_detractor_answer_to_recovered_case_and_next_visit_alert(
    browser_page, live_server, recovery_world
):
    page = browser_page
    practice, grace, invitation, tomorrow = recovery_world
    _answer_as_detractor(page, live_server, invitation)
    _sign_in(page, live_server)

    page.get_by_role("link", name="Recovery", exact=True).click()
    page.get_by_role("link", name=f"{COMPLAINT[:30]}").click()
    page.get_by_role("heading", name="The six steps").wait_for()
    assert "due" in page.locator("#step-acknowledge").inner_text()

    for label, method, notes in STEPS:
        form = page.locator("form.step-form")
        form.get_by_label("How", exact=True).select_option(method)
        form.locator("textarea").fill(notes)
        if label == "Follow up":
            form.get_by_label("How they feel about us now").fill("10")
        form.get_by_role("button", name=f"Record “{label}”").click()
        # The step is recorded in place: its notes appear, and no reload happened.
        page.locator("blockquote.step-notes", has_text=notes[:20]).wait_for()
    _shot(page, "case-six-steps")
    assert page.locator("form.step-form").count() == 0
    assert page.locator(".satisfaction-after").inner_text() == "10/10"

    page.get_by_label("Note for the front desk").fill(ALERT)
    page.get_by_role("button", name="Leave the alert").click()
    page.get_by_text("waiting for the next visit").wait_for()
    page.get_by_label("Close as").select_option("recovered")
    page.get_by_role("button", name="Close the case").click()
    page.locator(".case-status", has_text="Closed: Recovered").wait_for()

    page.goto(f"{live_server.url}/patients/day/?day={tomorrow.isoformat()}")
    alert = page.locator(".next-visit-alert", has_text=ALERT)
    alert.wait_for()
    _shot(page, "day-sheet-alert")
    assert "Grace Lee" in page.locator(".visit", has=alert).inner_text()
    alert.get_by_role("button", name="Done").click()
    page.get_by_text("Done, thank you.").wait_for()

    case = RecoveryCase.objects.get(patient=grace)
    assert (case.status, case.outcome, case.satisfaction_before, case.satisfaction_after) == (
        "closed",
        "recovered",
        3,
        10,
    )
    assert case.steps.filter(completed_at__isnull=True).count() == 0
    assert case.alerts.get().done_at is not None
