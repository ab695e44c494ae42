"""Dana asks for her records on the practice's public page, the manager sends them, and she
downloads the readable summary and the FHIR file from the link in her email."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pytest
from django.urls import reverse

from conftest import shot as _shot
from core.models import Membership
from core.tests.factories import PASSWORD, PracticeFactory, member
from messaging.delivery import deliver_due
from patients.tests.factories import AppointmentFactory, PatientFactory
from records.models import RecordsRequest

pytestmark = pytest.mark.browser


@pytest.fixture
def records_world(transactional_db, smtp_sink):
    practice = PracticeFactory(name="Maple Street Dental", slug="maple")
    member(practice, Membership.Role.MANAGER, username="olivia", first_name="Olivia")
    dana = PatientFactory(
        practice=practice,
        first_name="Dana",
        last_name="Whitfield",
        date_of_birth=dt.date(1979, 4, 2),
        email="dana@example.com",
    )
    AppointmentFactory(
        patient=dana, starts_at=dt.datetime(2025, 10, 7, 14, 0, tzinfo=dt.UTC), kind="Crown"
    )
    return practice, dana


def _mail_body(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no text part")


def _last_mail_to(smtp_sink, address: str, subject_part: str) -> str:
    deliver_due()
    for message in reversed(smtp_sink.received):
        if address in message["To"] and subject_part in message["Subject"]:
            return _mail_body(message)
    raise AssertionError(f"no '{subject_part}' email to {address}")


def _request_online(page, live_server, practice, smtp_sink) -> None:
    url = reverse(
        "records:public-request",
        kwargs={"org": practice.organisation.slug, "practice": practice.slug},
    )
    page.goto(live_server.url + url)
    page.get_by_label("First name").fill("Dana")
    page.get_by_label("Last name").fill("Whitfield")
    page.get_by_label("Date of birth").fill("1979-04-02")
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_role("heading", name="Enter your code").wait_for()
    _shot(page, "records-public-code")
    body = _last_mail_to(smtp_sink, "dana@example.com", "Your code")
    page.get_by_label("Your code").fill(re.search(r"\b(\d{6})\b", body).group(1))
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Where should your records go?").wait_for()
    assert "d***@example.com" in page.content()
    page.get_by_label("Also send them to your new practice").fill("records@newdentist.example")
    page.get_by_role("button", name="Send my request").click()
    page.get_by_role("heading", name="Thank you — we have your request").wait_for()
    _shot(page, "records-public-done")


def _fulfil_as_manager(page, live_server) -> None:
    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill("olivia")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Records", exact=True).click()
    page.get_by_role("link", name="Dana Whitfield").click()
    _shot(page, "records-staff-request")
    page.get_by_role("button", name="Send the records").click()
    page.locator("#status", has_text="Fulfilled").wait_for()
    page.get_by_role("button", name="Sign out").click()


def _download(page, button: str) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("button", name=button).click()
    return open(info.value.path(), "rb").read()


def test_public_request_to_fulfilment_to_both_downloads(
    browser_page, live_server, records_world, smtp_sink
):
    from pypdf import PdfReader

    page = browser_page
    practice, dana = records_world
    _request_online(page, live_server, practice, smtp_sink)
    logged = RecordsRequest.objects.get()
    assert (logged.channel, logged.patient, logged.acknowledged_at is not None) == (
        "online",
        dana,
        True,
    )

    _fulfil_as_manager(page, live_server)
    body = _last_mail_to(smtp_sink, "dana@example.com", "Your records")
    assert _last_mail_to(smtp_sink, "records@newdentist.example", "Your records") == body
    link = re.search(r"(/r/[^\s]+/)", body).group(1)

    page.goto(live_server.url + link)
    page.get_by_role("heading", name="Your records from Maple Street Dental").wait_for()
    _shot(page, "records-download")
    pdf = _download(page, re.compile("readable summary"))
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert pdf.startswith(b"%PDF") and "Dana Whitfield" in text and "Crown" in text

    bundle = json.loads(_download(page, re.compile("complete record")))
    assert bundle["resourceType"] == "Bundle"
    names = [
        e["resource"]["name"][0]["family"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Patient"
    ]
    assert names == ["Whitfield"]
    logged.refresh_from_db()
    assert logged.downloads == 2
