"""Queuing messages about patients: channel, recipient, wording, opt-out, audit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from core.models import AuditEvent
from messaging.models import ContactPreference, OutboundMessage
from messaging.selectors import is_opted_out
from messaging.services import (
    MessagingError,
    message_enqueue_for_patient,
    message_template_save,
    opt_out,
)
from patients.tests.factories import PatientFactory

LINKS = {"link": "https://rapport.test/s/tok", "unsubscribe_link": "https://rapport.test/u/tok"}


def invite(patient, key="invite-1", **context):
    with transaction.atomic():
        return message_enqueue_for_patient(
            patient=patient,
            kind="survey_invitation",
            context={**LINKS, **context},
            idempotency_key=key,
        )


def test_email_invitation_uses_the_default_wording(patient):
    message = invite(patient)

    assert message.channel == "email" and message.to_address == patient.email
    assert message.subject == "How was your visit to Maple Street Dental?"
    assert message.body.startswith("Hello Dana,")
    assert "https://rapport.test/s/tok" in message.body
    assert "To stop receiving these emails: https://rapport.test/u/tok" in message.body
    assert '<a href="https://rapport.test/s/tok">' in message.html_body
    assert message.unsubscribe_url == "https://rapport.test/u/tok"
    assert message.patient == patient and message.status == "queued"


@pytest.mark.parametrize(
    ("preferred", "email", "phone", "channel"),
    [
        ("email", "dana@example.com", "+12025550100", "email"),
        ("sms", "dana@example.com", "+12025550100", "sms"),
        ("phone", "dana@example.com", "+12025550100", "email"),
        ("letter", "", "+12025550100", "sms"),
        # The preferred channel has no address: the other one still reaches them.
        ("email", "", "+12025550100", "sms"),
        ("sms", "dana@example.com", "", "email"),
    ],
)
def test_channel_follows_preference_and_available_address(
    practice, preferred, email, phone, channel
):
    patient = PatientFactory(
        practice=practice, preferred_channel=preferred, email=email, phone=phone
    )
    message = invite(patient)
    assert message.channel == channel
    assert message.to_address == (email if channel == "email" else phone)


def test_sms_invitation_is_one_short_line(practice):
    patient = PatientFactory(practice=practice, first_name="Dana", preferred_channel="sms")
    message = invite(patient)
    assert message.to_address == patient.phone
    assert message.subject == "" and message.html_body == ""
    assert "\n" not in message.body and len(message.body) < 200
    assert message.body.startswith("Maple Street Dental: thank you for your visit.")


def test_nobody_to_reach_writes_nothing(practice):
    patient = PatientFactory(practice=practice, email="", phone="")
    assert invite(patient) is None
    assert OutboundMessage.objects.count() == 0


def test_minors_messages_go_to_the_guardian(practice):
    mum = PatientFactory(practice=practice, first_name="Anna", email="anna@example.com")
    leo = PatientFactory(
        practice=practice,
        first_name="Leo",
        guardian=mum,
        email="leo@example.com",
        date_of_birth=dt.date.today() - dt.timedelta(days=9 * 365),
    )

    message = invite(leo)

    assert message.to_address == "anna@example.com"
    assert message.patient == leo
    assert message.body.startswith("Hello Anna,")
    assert "bringing Leo to Maple Street Dental" in message.body


def test_guardian_preference_picks_the_channel(practice):
    mum = PatientFactory(practice=practice, preferred_channel="sms", phone="+12025550111")
    leo = PatientFactory(
        practice=practice, guardian=mum, date_of_birth=dt.date.today() - dt.timedelta(days=3000)
    )
    message = invite(leo)
    assert (message.channel, message.to_address) == ("sms", "+12025550111")


def test_opt_out_is_honoured_and_cancels_what_is_queued(patient):
    queued = invite(patient, key="before")

    opt_out(patient=patient, channel="email")

    assert is_opted_out(patient, "email") and not is_opted_out(patient, "sms")
    assert invite(patient, key="after") is None
    queued.refresh_from_db()
    assert queued.status == "cancelled" and queued.last_error == "the recipient opted out"
    event = AuditEvent.objects.get(object_type="contact_preference")
    assert event.patient_id == patient.pk and event.detail["cancelled_messages"] == 1


def test_opting_out_twice_keeps_one_preference(patient):
    first = opt_out(patient=patient, channel="sms")
    assert opt_out(patient=patient, channel="sms") == first
    assert ContactPreference.objects.count() == 1
    assert AuditEvent.objects.filter(object_type="contact_preference").count() == 1


def test_guardian_opt_out_covers_the_childs_messages(practice):
    mum = PatientFactory(practice=practice, email="anna@example.com")
    leo = PatientFactory(
        practice=practice, guardian=mum, date_of_birth=dt.date.today() - dt.timedelta(days=3000)
    )
    opt_out(patient=mum, channel="email")
    assert invite(leo) is None


def test_queuing_for_a_patient_is_audited_without_content(patient):
    message = invite(patient)
    event = AuditEvent.objects.get(object_type="message")
    assert (event.action, event.object_id, event.patient_id) == (
        "create",
        str(message.pk),
        patient.pk,
    )
    assert event.detail == {"kind": "survey_invitation", "channel": "email"}


def test_same_key_returns_the_first_message(patient):
    first = invite(patient)
    assert invite(patient, link="https://rapport.test/s/other").pk == first.pk
    assert OutboundMessage.objects.count() == 1


def test_practice_wording_overrides_the_group_default(practice, sister_practice, patient):
    message_template_save(
        practice=None,
        kind="survey_invitation",
        channel="email",
        subject="Group subject",
        body="Group body {{ link }}",
    )
    message_template_save(
        practice=practice,
        kind="survey_invitation",
        channel="email",
        subject="Dear {{ recipient_first_name }}",
        body="Maple wording {{ link }}",
    )
    sister = PatientFactory(practice=sister_practice)

    assert invite(patient).subject == "Dear Dana"
    assert invite(sister).subject == "Group subject"


def test_unknown_kind_without_wording_is_an_error(patient):
    with pytest.raises(MessagingError, match="no wording for 'birthday' messages by email"):
        message_enqueue_for_patient(
            patient=patient, kind="birthday", context={}, idempotency_key="b-1"
        )


def test_unknown_context_variable_is_an_error(patient):
    with pytest.raises(MessagingError, match="unknown template variables: diagnosis"):
        invite(patient, diagnosis="caries")


def test_patient_of_another_practice_is_refused(practice, other_patient):
    from messaging.services import message_enqueue

    with pytest.raises(MessagingError, match="another practice"):
        message_enqueue(
            practice=practice,
            patient=other_patient,
            channel="email",
            to_address="x@example.com",
            subject="Hi",
            body="Hi",
            kind="test",
            idempotency_key="x",
        )
