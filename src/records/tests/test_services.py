"""Records requests: deadlines by jurisdiction, one extension, lawful fees, signed downloads."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.utils import timezone

from core.models import AuditEvent
from messaging.models import OutboundMessage
from patients.tests.factories import AppointmentFactory, PatientFactory
from records.models import RecordsRequest
from records.services import (
    RecordsError,
    download_token,
    records_download,
    records_request_extend,
    records_request_from_token,
    records_request_fulfil,
    records_request_log,
    records_request_set_fee,
)

pytestmark = pytest.mark.django_db
RECEIVED = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)  # 10:00 in New York


@pytest.fixture
def logged(patient, front_desk):
    with time_machine.travel(RECEIVED, tick=False):
        return records_request_log(patient=patient, channel="phone", user=front_desk)


def test_a_request_is_acknowledged_the_same_day_with_its_legal_deadline(logged, patient):
    assert (logged.rule_region, logged.due_on, logged.fee) == ("US", dt.date(2026, 4, 1), 0)
    assert logged.acknowledged_at == RECEIVED
    message = OutboundMessage.objects.get(kind="records_acknowledgement")
    assert message.to_address == patient.email
    assert "by April 1, 2026" in message.body and "no charge" in message.body
    assert AuditEvent.objects.filter(object_type="records_request", action="create").exists()


def test_a_uk_practice_gets_one_calendar_month(patient, front_desk):
    practice = patient.practice
    practice.region, practice.timezone = "UK", "Europe/London"
    practice.save()
    received = dt.datetime(2026, 1, 31, 12, 0, tzinfo=dt.UTC)
    with time_machine.travel(received, tick=False):
        request = records_request_log(patient=patient, channel="email", user=front_desk)
        assert request.due_on == dt.date(2026, 2, 28)
        with pytest.raises(RecordsError, match="copies are free"):
            records_request_set_fee(records_request=request, fee="1.00", user=front_desk)
        extended = records_request_extend(
            records_request=request, notice="Your file spans 30 years.", user=front_desk
        )
    assert extended.extended_to == dt.date(2026, 4, 28)


def test_one_extension_with_notice_before_the_deadline(logged, front_desk):
    with time_machine.travel(RECEIVED + dt.timedelta(days=20), tick=False):
        with pytest.raises(RecordsError, match="Notice"):
            records_request_extend(records_request=logged, notice="  ", user=front_desk)
        extended = records_request_extend(
            records_request=logged, notice="Archived films must be scanned.", user=front_desk
        )
        assert (extended.extended_to, extended.deadline) == (dt.date(2026, 5, 1),) * 2
        with pytest.raises(RecordsError, match="already been extended once"):
            records_request_extend(records_request=logged, notice="Again", user=front_desk)


def test_no_extension_after_the_deadline(logged, front_desk):
    later = time_machine.travel(RECEIVED + dt.timedelta(days=45), tick=False)
    with later, pytest.raises(RecordsError, match="had to be given before it"):
        records_request_extend(records_request=logged, notice="Late", user=front_desk)


@pytest.mark.parametrize(
    ("fee", "electronic", "message"),
    [("7.00", True, "at most $6.50"), ("20", False, "itemised cost"), ("lots", True, "amount")],
)
def test_unlawful_fees_are_refused_with_the_reason(logged, front_desk, fee, electronic, message):
    with pytest.raises(RecordsError, match=message.replace("$", r"\$")):
        records_request_set_fee(
            records_request=logged, fee=fee, electronic=electronic, user=front_desk
        )
    logged.refresh_from_db()
    assert logged.fee == 0


def test_fulfilment_sends_a_signed_link_that_downloads_the_bundle(logged, manager, patient):
    AppointmentFactory(patient=patient, status="completed")
    with time_machine.travel(RECEIVED + dt.timedelta(days=1), tick=False):
        records_request_fulfil(records_request=logged, user=manager)
    sent = OutboundMessage.objects.get(kind="records_ready")
    token = re.search(r"/r/([^/\s]+)/", sent.body).group(1)
    assert token.startswith(logged.download_id) and "Whitfield" not in sent.subject
    with time_machine.travel(RECEIVED + dt.timedelta(days=2), tick=False):
        found = records_request_from_token(token)
        bundle = records_download(records_request=found)
        records_download(records_request=found)
    assert bundle["entry"][0]["resource"]["name"][0]["family"] == "Whitfield"
    assert AuditEvent.objects.filter(object_type="records_download").count() == 2
    logged.refresh_from_db()
    assert logged.downloads == 2


def test_forged_and_expired_links_are_refused(logged, manager):
    with time_machine.travel(RECEIVED, tick=False):
        records_request_fulfil(records_request=logged, user=manager)
    token = download_token(logged)
    for bad in (token[:-2] + "xx", token.split(":")[0], "", "a" * 5000):
        with pytest.raises(RecordsError, match="not valid"):
            records_request_from_token(bad)
    with pytest.raises(RecordsError, match="expired"):
        records_request_from_token(token, now=RECEIVED + dt.timedelta(days=15))


def test_an_open_request_has_no_working_link(logged):
    with pytest.raises(RecordsError, match="not valid"):
        records_request_from_token(download_token(logged))


def test_a_guardian_asks_for_a_childs_records(practice, front_desk):
    parent = PatientFactory(practice=practice, first_name="Anna", email="anna@example.com")
    child = PatientFactory(
        practice=practice, first_name="Leo", email="", guardian=parent,
        date_of_birth=timezone.now().date() - dt.timedelta(days=8 * 365),
    )  # fmt: skip
    request = records_request_log(
        patient=child,
        channel="in_person",
        user=front_desk,
        representative_name="Anna Brandt",
        representative_relation="mother",
    )
    assert request.send_to_email == "anna@example.com"
    message = OutboundMessage.objects.get(kind="records_acknowledgement")
    assert message.to_address == "anna@example.com" and "Leo's records" in message.body


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"channel": "carrier-pigeon"}, "How did the request arrive"),
        ({"send_to_email": "not an email"}, "not a valid email"),
        ({"representative_name": "x\x00y"}, "plain text"),
        ({"received_at": RECEIVED + dt.timedelta(days=400)}, "future"),
    ],
)
def test_bad_input_is_refused_and_nothing_stored(patient, front_desk, changes, message):
    arguments = {"patient": patient, "channel": "phone", "user": front_desk, **changes}
    with time_machine.travel(RECEIVED, tick=False), pytest.raises(RecordsError, match=message):
        records_request_log(**arguments)
    assert not RecordsRequest.objects.exists()


def test_requests_are_scoped_to_the_practice(logged, outsider, manager, sister_practice):
    from core.tests.factories import member

    sister_manager = member(sister_practice, "manager")
    assert list(RecordsRequest.objects.for_user(manager)) == [logged]
    assert not RecordsRequest.objects.for_user(outsider).exists()
    assert not RecordsRequest.objects.for_user(sister_manager).exists()
