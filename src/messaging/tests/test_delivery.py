"""Delivery through a real SMTP server on loopback: arrival, retries, give-ups, claims."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest
import time_machine
from django.db import connection, connections, transaction
from django.utils import timezone

from messaging import delivery
from messaging.delivery import deliver_batch, deliver_due, message_id_for
from messaging.models import OutboundMessage
from messaging.services import MessagingError, message_enqueue
from messaging.sms import SmsError
from messaging.tests.factories import OutboundMessageFactory

Status = OutboundMessage.Status


def enqueue(practice, n: int = 1, **fields) -> list[OutboundMessage]:
    rows = []
    with transaction.atomic():
        for i in range(n):
            values = {
                "channel": "email",
                "to_address": f"patient{i}@example.com",
                "subject": "How was your visit to Maple Street Dental?",
                "body": f"Tell us how it went: https://rapport.test/s/{i}",
                "kind": "survey_invitation",
                "idempotency_key": f"invite-{i}",
                **fields,
            }
            rows.append(message_enqueue(practice=practice, **values))
    return rows


def test_enqueued_message_arrives_with_to_subject_and_message_id(smtp_sink, practice):
    [message] = enqueue(practice, html_body="<p>Tell us</p>")

    assert deliver_due() == 1

    [received] = smtp_sink.received
    assert received["To"] == "patient0@example.com"
    assert received["Subject"] == "How was your visit to Maple Street Dental?"
    assert received["Message-ID"] == message_id_for(message)
    assert "Maple Street Dental" in received["From"] and "rapport@rapport.test" in received["From"]
    assert received.is_multipart()  # plain text plus the HTML alternative
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert message.attempts == 1
    assert message.sent_at is not None and message.locked_until is None
    assert message.provider_message_id == received["Message-ID"]


def test_same_idempotency_key_is_sent_once(smtp_sink, practice):
    first = enqueue(practice)[0]
    again = enqueue(practice, subject="Another wording", to_address="other@example.com")[0]

    assert again.pk == first.pk
    assert OutboundMessage.objects.count() == 1
    deliver_due()
    deliver_due()
    assert enqueue(practice)[0].pk == first.pk  # after sending too
    deliver_due()
    assert smtp_sink.count == 1


@pytest.mark.django_db(transaction=True)
def test_rolled_back_transaction_sends_nothing_and_a_commit_sends_at_once(smtp_sink, practice):
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue(practice)
        raise RuntimeError("the business change failed")

    assert OutboundMessage.objects.count() == 0
    assert smtp_sink.count == 0

    # Committed: the on-commit kick runs the delivery job (Huey is immediate in tests).
    with transaction.atomic():
        [message] = enqueue(practice, idempotency_key="committed")
        assert smtp_sink.count == 0  # nothing leaves before the commit
    assert smtp_sink.message_ids() == [message_id_for(message)]


def test_server_down_keeps_messages_queued_and_backs_off_then_sends_each_once(smtp_sink, practice):
    smtp_sink.stop()
    messages = enqueue(practice, 3)
    started = timezone.now()

    assert deliver_due() == 0

    rows = {m.pk: m for m in OutboundMessage.objects.all()}
    probed = rows[messages[0].pk]
    assert all(m.status == Status.QUEUED for m in rows.values())
    assert probed.attempts == 1
    assert probed.next_attempt_at >= started + dt.timedelta(minutes=4)
    assert probed.last_error.startswith("cannot reach the mail server")
    # One refused connection is enough to know: the others were not claimed at all.
    assert [rows[m.pk].attempts for m in messages[1:]] == [0, 0]

    smtp_sink.start()
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=6), tick=False):
        assert deliver_due() == 3
        assert deliver_due() == 0
    assert sorted(smtp_sink.message_ids()) == sorted(message_id_for(m) for m in messages)
    assert set(OutboundMessage.objects.values_list("status", flat=True)) == {Status.SENT}


def test_451_is_retried_after_back_off(smtp_sink, practice):
    smtp_sink.data_responses = ["451 4.3.0 Try again later"]
    [message] = enqueue(practice)

    assert deliver_due() == 0
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.QUEUED, 1)
    assert message.last_error == "451 4.3.0 Try again later"
    assert deliver_due() == 0  # not due yet

    with time_machine.travel(message.next_attempt_at + dt.timedelta(seconds=1), tick=False):
        assert deliver_due() == 1
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == (Status.SENT, 2, "")
    assert smtp_sink.count == 1


def test_a_server_too_slow_to_answer_is_retried_later(smtp_sink, practice, settings):
    settings.EMAIL_TIMEOUT = 0.2
    smtp_sink.delay = 0.6
    [message] = enqueue(practice)

    assert deliver_due() == 0
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.QUEUED, 1)
    assert message.last_error.startswith("mail server disconnected")
    assert message.last_error.endswith("timed out")

    smtp_sink.delay = 0
    with time_machine.travel(message.next_attempt_at + dt.timedelta(seconds=1), tick=False):
        assert deliver_due() == 1
    # The server gave up on the first try when we hung up: it arrived once.
    assert smtp_sink.message_ids() == [message_id_for(message)]


def test_550_is_undeliverable_with_the_reason_and_never_retried(smtp_sink, practice):
    smtp_sink.data_responses = ["550 5.7.1 Message rejected"]
    smtp_sink.refused_recipients = {"gone@example.com": "550 5.1.1 No such mailbox"}
    [rejected] = enqueue(practice)
    [bounced] = enqueue(practice, to_address="gone@example.com", idempotency_key="gone")

    deliver_due()

    rejected.refresh_from_db()
    bounced.refresh_from_db()
    assert (rejected.status, rejected.last_error) == (Status.FAILED, "550 5.7.1 Message rejected")
    assert bounced.status == Status.FAILED
    assert bounced.last_error == "recipient refused: 550 5.1.1 No such mailbox"
    assert rejected.failed_at is not None
    with time_machine.travel(timezone.now() + dt.timedelta(days=1), tick=False):
        assert deliver_due() == 0
    assert smtp_sink.count == 0
    assert OutboundMessage.objects.undeliverable().count() == 2


def test_six_transient_failures_over_two_hours_make_it_undeliverable(smtp_sink, practice):
    smtp_sink.data_responses = ["421 4.7.0 Too busy"] * 6
    [message] = enqueue(practice)
    first_attempt = timezone.now()
    moment = first_attempt

    for attempt in range(1, 7):
        with time_machine.travel(moment, tick=False):
            assert deliver_due() == 0
        message.refresh_from_db()
        assert message.attempts == attempt
        moment = message.next_attempt_at + dt.timedelta(seconds=1)

    assert message.status == Status.FAILED
    assert message.last_error == "gave up after 6 attempts: 421 4.7.0 Too busy"
    # Six attempts span at least two hours: 4 + 8 + 16 + 32 + 64 minutes at the least.
    assert message.failed_at - first_attempt >= dt.timedelta(hours=2)
    with time_machine.travel(timezone.now() + dt.timedelta(days=1), tick=False):
        assert deliver_due() == 0
    assert smtp_sink.count == 0


def test_back_off_doubles_with_jitter_that_only_adds():
    for attempts, minutes in [(1, 4), (2, 8), (3, 16), (4, 32), (5, 64)]:
        delays = [delivery.retry_delay(attempts) for _ in range(50)]
        assert all(
            dt.timedelta(minutes=minutes) <= d <= dt.timedelta(minutes=minutes * 1.25)
            for d in delays
        )
        assert len(set(delays)) > 1


@pytest.mark.django_db(transaction=True)
def test_a_message_in_flight_is_not_sent_again_by_a_second_sender(smtp_sink, practice):
    """Sender B runs while the server still holds A's first message: each row goes once."""
    # Written directly: enqueue would kick delivery on commit (Huey is immediate in tests).
    messages = OutboundMessageFactory.create_batch(5, practice=practice)
    second: list[int] = []

    def second_sender() -> None:
        try:
            second.append(deliver_due())
        finally:
            connection.close()

    smtp_sink.on_data = second_sender
    first = deliver_due()

    assert second == [4] and first == 1
    assert sorted(smtp_sink.message_ids()) == sorted(message_id_for(m) for m in messages)
    assert smtp_sink.duplicates() == {}


@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_send_each_message_once(smtp_sink, practice):
    if connection.vendor == "sqlite":
        # The test database is SQLite's shared-cache memory database, where a second
        # writer fails at once ("table is locked") instead of waiting. The kill drill
        # runs concurrent senders against a real SQLite file instead.
        pytest.skip("needs a database file or PostgreSQL")
    messages = OutboundMessageFactory.create_batch(60, practice=practice)
    barrier = threading.Barrier(4)
    sent: list[int] = []

    def sender() -> None:
        try:
            barrier.wait()
            sent.append(deliver_due(limit=100))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(sent) == 60
    assert smtp_sink.duplicates() == {}
    assert sorted(smtp_sink.message_ids()) == sorted(message_id_for(m) for m in messages)


def test_a_sender_that_died_mid_send_is_replaced_after_its_lease(smtp_sink, practice, settings):
    settings.RAPPORT_OUTBOX_LEASE_SECONDS = 60
    [message] = enqueue(practice)
    dead = delivery._claim(message.pk)  # claimed, then the process vanished

    assert deliver_due() == 0  # still leased
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=61), tick=False):
        assert deliver_due() == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Status.SENT, 2)
    # The late first sender cannot overwrite the new claim's result.
    assert delivery._finish(dead, status=Status.FAILED) is False
    message.refresh_from_db()
    assert message.status == Status.SENT


def test_a_final_attempt_that_never_reported_back_is_given_up(smtp_sink, practice, settings):
    settings.RAPPORT_OUTBOX_LEASE_SECONDS = 60
    [message] = enqueue(practice)
    OutboundMessage.objects.filter(pk=message.pk).update(attempts=5)
    delivery._claim(message.pk)  # the sixth attempt; its sender dies

    with time_machine.travel(timezone.now() + dt.timedelta(seconds=61), tick=False):
        report = deliver_batch()
    message.refresh_from_db()
    assert message.status == Status.FAILED and report.failed == 1
    assert "stopped during the last attempt" in message.last_error
    assert smtp_sink.count == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "Hello\r\nBcc: victim@evil.example"),
        ("subject", "Hello\nBcc: victim@evil.example"),
        ("to_address", "dana@example.com\r\nBcc: victim@evil.example"),
        ("to_address", "dana@example.com\nBcc: victim@evil.example"),
        ("to_address", "not an address"),
        ("subject", "Hello\u2028Bcc: victim@evil.example"),
        ("subject", "Hello\x85Bcc: victim@evil.example"),
        ("subject", "Hello\x00"),
        ("body", "Hello\x00there"),
        ("html_body", "<p>\x00</p>"),
    ],
)
def test_header_injection_and_nul_are_refused(practice, field, value):
    reported_as = "body" if field == "html_body" else field
    with pytest.raises(MessagingError, match=f"^{reported_as}: "):
        enqueue(practice, **{field: value})
    assert OutboundMessage.objects.count() == 0


def test_sms_needs_an_e164_number(practice):
    with pytest.raises(MessagingError, match="to_address"):
        enqueue(practice, channel="sms", to_address="555-1234")


class RecordingSmsProvider:
    """A provider for tests: keeps what it was given, fails as scripted."""

    sent: list[dict] = []
    failures: list[SmsError] = []

    def send(self, *, to: str, body: str, reference: str) -> str:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append({"to": to, "body": body, "reference": reference})
        return f"sms-{len(self.sent)}"


@pytest.fixture
def sms_provider(settings):
    settings.RAPPORT_SMS_PROVIDER = "messaging.tests.test_delivery.RecordingSmsProvider"
    RecordingSmsProvider.sent = []
    RecordingSmsProvider.failures = []
    return RecordingSmsProvider


def test_sms_goes_through_the_configured_provider_with_retries(sms_provider, practice):
    sms_provider.failures = [SmsError("gateway timeout", permanent=False)]
    [message] = enqueue(practice, channel="sms", to_address="+12025550123", subject="")

    assert deliver_due() == 0
    message.refresh_from_db()
    assert (message.status, message.last_error) == (Status.QUEUED, "gateway timeout")
    with time_machine.travel(message.next_attempt_at + dt.timedelta(seconds=1), tick=False):
        assert deliver_due() == 1
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (Status.SENT, "sms-1")
    assert sms_provider.sent == [
        {"to": "+12025550123", "body": message.body, "reference": f"outbox-{message.pk}"}
    ]


def test_sms_refused_for_good_is_undeliverable(sms_provider, practice):
    sms_provider.failures = [SmsError("21211 invalid 'To' number", permanent=True)]
    [message] = enqueue(practice, channel="sms", to_address="+12025550123", subject="")
    deliver_due()
    message.refresh_from_db()
    assert (message.status, message.last_error) == (Status.FAILED, "21211 invalid 'To' number")


def test_logging_sms_provider_logs_neither_number_nor_words(practice, caplog):
    [message] = enqueue(
        practice, channel="sms", to_address="+12025550123", subject="", body="Secret words"
    )
    with caplog.at_level(logging.DEBUG):
        assert deliver_due() == 1
    logged = caplog.text
    assert f"outbox-{message.pk}" in logged and "12 characters" in logged
    assert "Secret" not in logged and "2025550123" not in logged


def test_delivery_logs_no_address_subject_or_body(smtp_sink, practice, caplog):
    smtp_sink.refused_recipients = {"dana@example.com": "550 5.1.1 <dana@example.com> unknown"}
    enqueue(practice, to_address="dana@example.com", subject="Private subject", body="Private")
    with caplog.at_level(logging.DEBUG):
        deliver_due()
    # Everything but the test server's own log ("mail.log", aiosmtpd).
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "mail.log")
    assert "dana@example.com" not in ours
    assert "Private" not in ours
    assert "550" in ours


def test_delivery_refuses_to_run_inside_a_transaction(practice):
    with (
        pytest.raises(MessagingError, match="outside a database transaction"),
        transaction.atomic(),
    ):
        deliver_due()
