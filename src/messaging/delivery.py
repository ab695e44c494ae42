"""Delivery: claim due outbox rows one at a time, send each, record the result.

The healthchecks ``sendalerts`` pattern: a conditional UPDATE claims a row (status, lease,
attempt count, a fresh claim token) and its row count says whether this sender got it,
so two senders never send one row at the same time. No network I/O happens inside a
transaction: claim (one short statement), send, record the result (another statement,
right after the send, guarded by the claim token).

A sender killed between the server's acceptance and the recording leaves the row
"sending"; when its lease runs out another sender claims and sends it again. That
window is delivery's at-least-once part: it lasts as long as one UPDATE, and the
repeated email carries the same Message-ID, so it can be recognised.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import secrets
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from email import encoders
from email.mime.base import MIMEBase
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import F
from django.utils import timezone

from messaging.errors import MessagingError
from messaging.models import Channel, MessageAttachment, OutboundMessage
from messaging.sms import SmsError, get_sms_provider

logger = logging.getLogger(__name__)
Status = OutboundMessage.Status


def setting_int(name: str, default: int) -> int:
    """A whole-number setting: from settings.py when it defines one, else the environment."""
    value = getattr(settings, name, None)
    if value is None:
        raw = os.environ.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: expected a whole number, got {raw!r}") from None
    if int(value) < 1:
        raise ImproperlyConfigured(f"{name}: must be at least 1, got {value!r}")
    return int(value)


def lease_seconds() -> int:
    return setting_int("RAPPORT_OUTBOX_LEASE_SECONDS", 300)


def max_attempts() -> int:
    return setting_int("RAPPORT_OUTBOX_MAX_ATTEMPTS", 6)


def retry_base_seconds() -> int:
    return setting_int("RAPPORT_OUTBOX_RETRY_BASE_SECONDS", 240)


def retry_delay(attempts: int) -> dt.timedelta:
    """Wait after a failed attempt: 4, 8, 16, 32, 64 minutes by default, plus 0–25 % jitter.

    Jitter only adds, so six attempts always span at least 124 minutes.
    """
    nominal = retry_base_seconds() * 2 ** min(max(attempts - 1, 0), 16)
    return dt.timedelta(seconds=nominal * random.uniform(1.0, 1.25))


def message_id_for(message: OutboundMessage) -> str:
    """The Message-ID header: the same for every attempt, so a repeated send is recognisable."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return f"<rapport.outbox.{message.pk}.{int(message.created_at.timestamp())}@{domain}>"


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    # Rows another sender claimed between our read and our claim.
    missed: int = 0

    def __iadd__(self, other: DeliveryReport) -> DeliveryReport:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))
        return self

    def summary(self) -> str:
        return (
            f"{self.sent} sent, {self.retrying} to retry, {self.failed} undeliverable, "
            f"{self.missed} taken by another sender"
        )


@dataclass(frozen=True)
class _Outcome:
    provider_message_id: str = ""
    error: str = ""
    # A short code for logs (an SMTP code or an exception name); never the server's text,
    # which often quotes the address.
    code: str = ""
    permanent: bool = False
    # The connection is unusable: stop sending on this channel for the rest of the run.
    broken: bool = False


def _smtp_text(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return f"{code} {' '.join(str(text).split())}"


def _classify_email_error(exc: Exception) -> _Outcome:
    """Permanent (5xx, bad address) or worth retrying (4xx, connection trouble)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return _Outcome(
            error=f"recipient refused: {_smtp_text(code, text)}",
            code=str(code),
            permanent=code >= 500,
        )
    if isinstance(
        exc,
        smtplib.SMTPAuthenticationError
        | smtplib.SMTPHeloError
        | smtplib.SMTPSenderRefused
        | smtplib.SMTPConnectError,
    ):
        # The server refused us rather than this message: a configuration problem that
        # must not mark every message undeliverable. Retry later.
        return _Outcome(
            error=f"mail server refused the sender: {_smtp_text(exc.smtp_code, exc.smtp_error)}",
            code=str(exc.smtp_code),
            broken=True,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        return _Outcome(
            error=_smtp_text(code, exc.smtp_error),
            code=str(code),
            permanent=500 <= code < 600,
            broken=code == 421,
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib reports a read timeout this way too ("... closed: timed out").
        return _Outcome(
            error=f"mail server disconnected: {exc}"[:500], code="disconnected", broken=True
        )
    if isinstance(exc, OSError):  # refused, reset, timed out, name not found; SMTPException
        reason = exc.strerror or str(exc) or type(exc).__name__
        return _Outcome(
            error=f"cannot reach the mail server: {reason}", code=type(exc).__name__, broken=True
        )
    if isinstance(exc, ValueError):  # BadHeaderError, an address Django cannot encode
        return _Outcome(error=f"invalid message: {exc}", code="invalid", permanent=True)
    return _Outcome(error=f"unexpected error: {type(exc).__name__}", code=type(exc).__name__)


def _attachment_part(attachment: MessageAttachment) -> MIMEBase:
    """The file as a base64 MIME part, so it arrives byte for byte whatever its type.

    (Given bytes and a text/* type, ``EmailMessage.attach`` would decode and re-encode the
    text, and line endings may change on the way.)
    """
    maintype, _, subtype = attachment.content_type.partition("/")
    part = MIMEBase(maintype, subtype)
    part.set_payload(bytes(attachment.content))
    encoders.encode_base64(part)
    filename = attachment.filename
    if not filename.isascii():
        filename = ("utf-8", "", filename)  # RFC 2231, as Django writes it
    part.add_header("Content-Disposition", "attachment", filename=filename)
    return part


class _EmailSender:
    """One mail connection for a whole run, opened on first use."""

    def __init__(self) -> None:
        configured = getattr(settings, "EMAIL_TIMEOUT", None) or 30
        # A send must end well inside its lease, or another sender would take the row.
        timeout = min(configured, lease_seconds() / 2)
        self.connection = mail.get_connection(fail_silently=False, timeout=timeout)
        self.is_open = False
        sender = parseaddr(settings.DEFAULT_FROM_EMAIL)
        self.from_name, self.from_address = sender[0], sender[1] or "rapport@localhost"

    def send(self, message: OutboundMessage) -> _Outcome:
        message_id = message_id_for(message)
        headers = {"Message-ID": message_id, "Auto-Submitted": "auto-generated"}
        if message.unsubscribe_url:
            headers["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
        # The patient sees their practice's name, sent from the configured address.
        name = " ".join(message.practice.name.split()) or self.from_name
        email = mail.EmailMultiAlternatives(
            subject=message.subject,
            body=message.body,
            from_email=formataddr((name, self.from_address)),
            to=[message.to_address],
            headers=headers,
            connection=self.connection,
        )
        if message.html_body:
            email.attach_alternative(message.html_body, "text/html")
        for attachment in message.attachments.all():
            email.attach(_attachment_part(attachment))
        try:
            if not self.is_open:
                self.connection.open()
                self.is_open = True
            sent = self.connection.send_messages([email])
        except Exception as exc:  # classified: every failure becomes a retry or a reason
            return _classify_email_error(exc)
        if not sent:
            return _Outcome(error="the mail backend did not send it", code="not-sent")
        return _Outcome(provider_message_id=message_id)

    def close(self) -> None:
        if self.is_open:
            try:
                self.connection.close()
            except Exception:  # closing a broken connection may fail again; it is gone anyway
                logger.debug("closing the mail connection failed", exc_info=True)
            self.is_open = False


class _SmsSender:
    def __init__(self) -> None:
        self.provider = get_sms_provider()

    def send(self, message: OutboundMessage) -> _Outcome:
        try:
            provider_id = self.provider.send(
                to=message.to_address, body=message.body, reference=f"outbox-{message.pk}"
            )
        except SmsError as exc:
            return _Outcome(error=str(exc)[:400], code="sms-error", permanent=exc.permanent)
        except Exception as exc:  # a provider's own exception: worth another try
            return _Outcome(error=f"SMS provider error: {type(exc).__name__}", code="sms-error")
        return _Outcome(provider_message_id=str(provider_id)[:255])

    def close(self) -> None:
        pass


def _refuse_inside_transaction() -> None:
    # Blocks opened by Django's test case wrap every test; any other block is a caller's
    # transaction, and sending inside it would hold locks for the length of a network call.
    if any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks):
        raise MessagingError("messages are delivered outside a database transaction")


def _claim(pk: int) -> OutboundMessage | None:
    now = timezone.now()
    token = secrets.token_hex(16)
    claimed = (
        OutboundMessage.objects.due(now)
        .filter(pk=pk)
        .update(
            status=Status.SENDING,
            locked_until=now + dt.timedelta(seconds=lease_seconds()),
            attempts=F("attempts") + 1,
            claim_token=token,
        )
    )
    if claimed != 1:
        return None
    # None if the row was deleted meanwhile (its practice removed): nothing to send.
    return OutboundMessage.objects.select_related("practice").filter(pk=pk).first()


def _finish(message: OutboundMessage, **changes) -> bool:
    done = OutboundMessage.objects.filter(
        pk=message.pk, claim_token=message.claim_token, status=Status.SENDING
    ).update(locked_until=None, **changes)
    if not done:
        logger.warning("message %s: the lease ran out before the result was recorded", message.pk)
    return bool(done)


def _record(message: OutboundMessage, outcome: _Outcome, report: DeliveryReport) -> None:
    now = timezone.now()
    if not outcome.error:
        _finish(
            message,
            status=Status.SENT,
            sent_at=now,
            provider_message_id=outcome.provider_message_id,
            last_error="",
        )
        report.sent += 1
        logger.debug("message %s sent by %s", message.pk, message.channel)
        return
    give_up = outcome.permanent or message.attempts >= max_attempts()
    if give_up:
        reason = outcome.error
        if not outcome.permanent:
            reason = f"gave up after {message.attempts} attempts: {outcome.error}"
        _finish(message, status=Status.FAILED, failed_at=now, last_error=reason[:500])
        report.failed += 1
        logger.warning(
            "message %s undeliverable after attempt %d (%s)",
            message.pk,
            message.attempts,
            outcome.code,
        )
        return
    retry_at = now + retry_delay(message.attempts)
    _finish(message, status=Status.QUEUED, next_attempt_at=retry_at, last_error=outcome.error[:500])
    report.retrying += 1
    logger.info(
        "message %s: attempt %d failed (%s), next at %s",
        message.pk,
        message.attempts,
        outcome.code,
        retry_at.isoformat(timespec="seconds"),
    )


def _give_up_abandoned(now: dt.datetime) -> int:
    """Rows whose final attempt never reported back (the sender died): stop retrying them.

    Without this a message that kills its sender would be claimed for ever.
    """
    return OutboundMessage.objects.filter(
        status=Status.SENDING, locked_until__lte=now, attempts__gte=max_attempts()
    ).update(
        status=Status.FAILED,
        failed_at=now,
        locked_until=None,
        last_error="the sender stopped during the last attempt; it may not have arrived",
    )


def deliver_batch(
    *, limit: int = 100, should_stop: Callable[[], bool] = lambda: False
) -> DeliveryReport:
    """Send up to ``limit`` due messages, oldest due first, one claim at a time.

    ``should_stop`` is asked before each claim, so a stopping worker finishes the message
    in hand and claims no more.
    """
    _refuse_inside_transaction()
    report = DeliveryReport()
    now = timezone.now()
    report.failed += _give_up_abandoned(now)
    candidates = list(
        OutboundMessage.objects.due(now)
        .order_by("next_attempt_at", "id")
        .values_list("pk", "channel", "status")[:limit]
    )
    senders: dict[str, _EmailSender | _SmsSender] = {}
    broken: set[str] = set()
    try:
        for pk, channel, status in candidates:
            if should_stop():
                break
            if channel in broken:
                continue
            message = _claim(pk)
            if message is None:
                report.missed += 1
                continue
            report.claimed += 1
            if status == Status.SENDING:
                # Its sender stopped mid-send: the server may already have accepted it.
                logger.warning(
                    "message %s: taking over from a sender that stopped; it may arrive twice "
                    "(same Message-ID)",
                    pk,
                )
            if channel not in senders:
                senders[channel] = _EmailSender() if channel == Channel.EMAIL else _SmsSender()
            outcome = senders[channel].send(message)
            _record(message, outcome, report)
            if outcome.broken:
                # The server is down or refusing us: leave the other rows unclaimed (their
                # attempts untouched) and let the next run find out whether it is back.
                broken.add(channel)
                senders.pop(channel).close()
    finally:
        for sender in senders.values():
            sender.close()
    return report


def deliver_due(*, limit: int = 100) -> int:
    """One delivery run over due messages; returns how many were sent."""
    return deliver_batch(limit=limit).sent


def deliver_pending(
    *,
    batch_size: int = 100,
    time_budget: float = 50.0,
    should_stop: Callable[[], bool] = lambda: False,
) -> DeliveryReport:
    """Runs of ``deliver_batch`` until nothing due is left or the time budget is spent."""
    deadline = time.monotonic() + time_budget
    total = DeliveryReport()
    while True:
        report = deliver_batch(limit=batch_size, should_stop=should_stop)
        total += report
        if report.claimed + report.missed < batch_size:
            return total
        if time.monotonic() >= deadline or should_stop():
            return total
