"""The public request page's identity check: codes only to what is on file, bounded guessing,
and the same answer whether or not the details matched anyone."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.utils import timezone

from core.models import AuditEvent
from messaging.models import OutboundMessage
from patients.tests.factories import PatientFactory
from records.identity import (
    CODES_PER_HOUR,
    MAX_ATTEMPTS,
    IdentityError,
    identity_check_request,
    identity_check_start,
    identity_check_verify,
    identity_checks_purge,
    mask_email,
    verified_check,
)
from records.models import IdentityCheck, RecordsRequest

pytestmark = pytest.mark.django_db
DANA = {"first_name": "Dana", "last_name": "Whitfield", "date_of_birth": "1980-05-17"}


def _start(practice, channel="email", **details):
    return identity_check_start(practice=practice, channel=channel, **{**DANA, **details})


def _code(check) -> str:
    message = OutboundMessage.objects.get(idempotency_key=f"records-identity-{check.pk}")
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def test_matching_details_send_a_code_to_the_email_on_file(practice, patient):
    check = _start(practice, first_name="  dana ", last_name="WHITFIELD")
    assert check.patient == patient
    message = OutboundMessage.objects.get(kind="records_identity_code")
    assert (message.channel, message.to_address) == ("email", patient.email)
    assert "15 minutes" in message.body and check.code_digest
    assert _code(check) not in check.code_digest  # only a keyed digest is stored


def test_accents_and_preferred_names_match(practice):
    jose = PatientFactory(
        practice=practice, first_name="José", preferred_name="Pepe", last_name="Núñez"
    )
    assert _start(practice, first_name="jose", last_name="NUNEZ").patient == jose
    assert _start(practice, first_name="Pepe", last_name="Nunez").patient == jose


def test_a_text_message_code_goes_to_the_phone_on_file(practice, patient):
    _start(practice, channel="sms")
    message = OutboundMessage.objects.get(kind="records_identity_code")
    assert (message.channel, message.to_address) == ("sms", patient.phone)


def test_with_no_phone_on_file_the_code_goes_to_the_email_instead(practice):
    patient = PatientFactory(practice=practice, first_name="Ada", last_name="Byron", phone="")
    _start(practice, channel="sms", first_name="Ada", last_name="Byron")
    message = OutboundMessage.objects.get(kind="records_identity_code")
    assert (message.channel, message.to_address) == ("email", patient.email)


def test_a_minors_code_goes_to_the_guardian(practice):
    parent = PatientFactory(practice=practice, email="parent@example.com")
    PatientFactory(
        practice=practice,
        first_name="Timmy",
        last_name="Lee",
        date_of_birth=timezone.localdate() - dt.timedelta(days=365 * 9),
        email="",
        guardian=parent,
    )
    born = (timezone.localdate() - dt.timedelta(days=365 * 9)).isoformat()
    _start(practice, first_name="Timmy", last_name="Lee", date_of_birth=born)
    assert OutboundMessage.objects.get(kind="records_identity_code").to_address == parent.email


@pytest.mark.parametrize(
    "details",
    [
        {"last_name": "Whitman"},
        {"date_of_birth": "1980-05-18"},
        {"first_name": "Dan"},
    ],
)
def test_details_that_match_nobody_send_nothing_and_look_the_same(practice, patient, details):
    check = _start(practice, **details)
    assert check.pk and check.patient is None and not check.code_digest
    assert not OutboundMessage.objects.filter(kind="records_identity_code").exists()
    with pytest.raises(IdentityError, match="not right"):
        identity_check_verify(check=check, code="000000")


def test_another_practices_patient_is_not_found(practice, other_practice, patient):
    assert _start(other_practice).patient is None


def test_two_people_with_the_same_name_and_birthday_get_no_code(practice, patient):
    PatientFactory(practice=practice, first_name="Dana", last_name="Whitfield")
    assert _start(practice).patient is None


@pytest.mark.parametrize(
    ("details", "message"),
    [
        ({"first_name": ""}, "First name"),
        ({"last_name": "x" * 101}, "Last name"),
        ({"first_name": "Da\x00na"}, "First name"),
        ({"date_of_birth": "17/05/1980"}, "year-month-day"),
        ({"date_of_birth": "1880-01-01"}, "check the year"),
        ({"channel": "pigeon"}, "where we should send"),
    ],
)
def test_bad_details_get_a_clear_error_and_store_nothing(practice, patient, details, message):
    with pytest.raises(IdentityError, match=message):
        _start(practice, **details)
    assert not IdentityCheck.objects.exists()


def test_the_right_code_verifies_and_only_for_its_practice(practice, sister_practice, patient):
    check = _start(practice)
    verified = identity_check_verify(check=check, code=f" {_code(check)} ")
    assert verified.verified_at is not None
    assert verified_check(check.pk, practice) == check
    assert verified_check(check.pk, sister_practice) is None
    assert verified_check(str(check.pk), practice) is None  # only what the session stored


def test_wrong_codes_count_and_lock_after_the_limit(practice, patient):
    check = _start(practice)
    right = _code(check)
    for attempt in range(1, MAX_ATTEMPTS):
        with pytest.raises(IdentityError, match=f"{MAX_ATTEMPTS - attempt} more tr"):
            identity_check_verify(check=check, code="000000" if right != "000000" else "111111")
    with pytest.raises(IdentityError, match="paused after too many tries"):
        identity_check_verify(check=check, code="999999" if right != "999999" else "111111")
    check.refresh_from_db()
    assert check.attempts == MAX_ATTEMPTS and check.locked_at is not None
    # Locked means locked: even the right code is refused now.
    with pytest.raises(IdentityError, match="paused"):
        identity_check_verify(check=check, code=right)
    assert verified_check(check.pk, practice) is None
    event = AuditEvent.objects.get(object_type="identity_check")
    assert event.detail == {"locked": True, "attempts": MAX_ATTEMPTS}
    assert event.patient_id == patient.pk


def test_after_a_lock_no_new_code_is_sent_for_a_day(practice, patient):
    check = _start(practice)
    IdentityCheck.objects.filter(pk=check.pk).update(locked_at=timezone.now())
    again = _start(practice)
    assert again.patient == patient and not again.code_digest
    assert OutboundMessage.objects.filter(kind="records_identity_code").count() == 1
    with time_machine.travel(timezone.now() + dt.timedelta(hours=25)):
        assert _start(practice).code_digest


def test_codes_per_hour_are_limited(practice, patient):
    checks = [_start(practice) for _ in range(CODES_PER_HOUR + 2)]
    assert [bool(c.code_digest) for c in checks] == [True] * CODES_PER_HOUR + [False] * 2
    assert OutboundMessage.objects.filter(kind="records_identity_code").count() == CODES_PER_HOUR


def test_an_expired_code_is_refused(practice, patient):
    check = _start(practice)
    code = _code(check)
    later = timezone.now() + dt.timedelta(minutes=16)
    with time_machine.travel(later), pytest.raises(IdentityError, match="expired"):
        identity_check_verify(check=check, code=code)


def test_a_verified_visitor_logs_one_request_to_the_email_on_file(practice, patient):
    check = _start(practice)
    identity_check_verify(check=check, code=_code(check))
    logged = identity_check_request(
        check=check,
        send_to_email="attacker@example.com",  # ignored: the link goes to what is on file
        send_copy_to="records@newdentist.example",
        representative_name="Sam Whitfield",
        representative_relation="Spouse",
    )
    assert (logged.channel, logged.send_to_email) == ("online", patient.email)
    assert logged.send_copy_to == "records@newdentist.example"
    assert logged.representative_relation == "Spouse"
    created = AuditEvent.objects.get(object_type="records_request", action="create")
    assert created.actor is None and created.actor_label == "patient (records request page)"
    with pytest.raises(IdentityError, match="already sent"):
        identity_check_request(check=check)
    assert RecordsRequest.objects.count() == 1


def test_a_patient_without_email_on_file_types_one(practice):
    PatientFactory(practice=practice, first_name="Ada", last_name="Byron", email="")
    check = _start(practice, channel="sms", first_name="Ada", last_name="Byron")
    identity_check_verify(check=check, code=_code(check))
    logged = identity_check_request(check=check, send_to_email="ada@example.org")
    assert logged.send_to_email == "ada@example.org"


def test_an_unverified_check_cannot_log_a_request(practice, patient):
    with pytest.raises(IdentityError):
        identity_check_request(check=_start(practice))
    assert not RecordsRequest.objects.exists()


def test_mask_email():
    assert mask_email("dana@example.com") == "d***@example.com"
    assert mask_email("") == ""


def test_old_identity_checks_are_purged_and_recent_ones_kept(practice, patient):
    old = _start(practice)
    IdentityCheck.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(days=31)
    )
    recent = _start(practice)
    assert identity_checks_purge() == 1
    assert list(IdentityCheck.objects.values_list("pk", flat=True)) == [recent.pk]
