"""Writes for messages: enqueue, opt out, edit wording. Delivery lives in ``delivery``.

A message is an outbox row written in the caller's transaction; a job is only kicked
when that transaction commits, so a rolled-back change sends nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.html import linebreaks, urlize

from core.models import Practice
from core.phones import display_phone
from core.services import audit_record
from messaging.delivery import DeliveryReport, deliver_batch, deliver_due, deliver_pending
from messaging.errors import MessagingError
from messaging.models import (
    Channel,
    ContactPreference,
    MessageAttachment,
    MessageTemplate,
    OutboundMessage,
)
from messaging.rendering import MAX_BODY_CHARS, render_message, validate_template_fields
from messaging.selectors import is_opted_out, message_template_for

__all__ = [
    "DeliveryReport",
    "MessagingError",
    "deliver_batch",
    "deliver_due",
    "deliver_pending",
    "message_enqueue",
    "message_draft",
    "message_enqueue_for_patient",
    "message_send_written",
    "message_template_save",
    "opt_out",
]

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
ACTOR = "messaging"

# Files sent with an email are held in the outbox table until sent: keep them few and small.
MAX_ATTACHMENTS = 5
MAX_ATTACHMENTS_BYTES = 10 * 1024 * 1024
MAX_FILENAME_BYTES = 255
# type/subtype as RFC 6838 spells them, nothing after (no parameters, no line break).
CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")
# (file name, content type, content): what a caller hands to ``message_enqueue``.
Attachment = tuple[str, str, bytes]


# CR and LF, and everything else str.splitlines() breaks on.
LINE_BREAKS = re.compile("[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def _single_line(name: str, value: str) -> None:
    if "\x00" in value:
        raise MessagingError(f"{name}: contains a NUL character")
    if LINE_BREAKS.search(value):
        # A line break in a header value would let it add headers (Bcc: …).
        raise MessagingError(f"{name}: line breaks are not allowed")


def _validate(*, channel: str, to_address: str, subject: str, body: str, html_body: str) -> None:
    if channel not in Channel.values:
        raise MessagingError(f"channel: must be one of {', '.join(Channel.values)}")
    _single_line("to_address", to_address)
    _single_line("subject", subject)
    if channel == Channel.EMAIL:
        try:
            validate_email(to_address)
        except ValidationError:
            raise MessagingError("to_address: not a valid email address") from None
        if not subject.strip():
            raise MessagingError("subject: an email needs a subject")
    elif not E164.fullmatch(to_address):
        raise MessagingError("to_address: a text message needs a number like +15551234567")
    if "\x00" in body or "\x00" in html_body:
        raise MessagingError("body: contains a NUL character")
    if not body.strip():
        raise MessagingError("body: a message needs a body")


def _validate_attachments(channel: str, attachments: Sequence[Attachment]) -> list[Attachment]:
    """The attachments as given, or a ``MessagingError`` naming the first problem."""
    if not attachments:
        return []
    if channel != Channel.EMAIL:
        raise MessagingError("attachments: only an email can carry attachments")
    if len(attachments) > MAX_ATTACHMENTS:
        raise MessagingError(f"attachments: at most {MAX_ATTACHMENTS} files per message")
    checked, total = [], 0
    for number, attachment in enumerate(attachments, start=1):
        try:
            filename, content_type, content = attachment
        except (TypeError, ValueError):
            raise MessagingError(
                f"attachment {number}: give (file name, content type, bytes)"
            ) from None
        if not isinstance(filename, str) or not isinstance(content_type, str):
            raise MessagingError(f"attachment {number}: the name and type must be text")
        _validate_filename(number, filename)
        if not CONTENT_TYPE.fullmatch(content_type.lower()):
            raise MessagingError(
                f"attachment {number}: content type {content_type[:60]!r} is not like "
                "application/pdf"
            )
        if content_type.lower().split("/")[0] in {"message", "multipart"}:
            # These are MIME structures, not files: they cannot be sent as plain bytes.
            raise MessagingError(f"attachment {number}: {content_type} cannot be attached")
        if not isinstance(content, bytes | bytearray | memoryview):
            raise MessagingError(f"attachment {number}: the content must be bytes")
        content = bytes(content)
        if not content:
            raise MessagingError(f"attachment {number} ({filename}): the file is empty")
        total += len(content)
        if total > MAX_ATTACHMENTS_BYTES:
            raise MessagingError(
                f"attachments: {MAX_ATTACHMENTS_BYTES // (1024 * 1024)} MB at most in all"
            )
        checked.append((filename, content_type.lower(), content))
    return checked


def _validate_filename(number: int, filename: str) -> None:
    label = f"attachment {number}: file name"
    if not filename.strip():
        raise MessagingError(f"{label} is empty")
    _single_line(label, filename)
    if "/" in filename or "\\" in filename:
        raise MessagingError(f"{label} {filename[:60]!r}: a name only, without / or \\")
    if filename.strip(". ") == "":
        raise MessagingError(f"{label} {filename!r} is not a name")
    for ch in filename:
        # Control characters, and format ones such as the right-to-left override that
        # makes "report\u202efdp.exe" show as "reportexe.pdf".
        if unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"}:
            raise MessagingError(f"{label}: contains the invisible character U+{ord(ch):04X}")
    if len(filename.encode("utf-8")) > MAX_FILENAME_BYTES:
        raise MessagingError(f"{label}: at most {MAX_FILENAME_BYTES} bytes")


def _kick_delivery() -> None:
    from messaging.tasks import deliver_outbox

    deliver_outbox()


def _kick_delivery_on_commit() -> None:
    # One kick per transaction is enough: a kick delivers everything that is due.
    if any(entry[1] is _kick_delivery for entry in connection.run_on_commit):
        return
    # robust: a queue that is down must not fail the caller's committed change; the
    # periodic sweep delivers the row anyway.
    transaction.on_commit(_kick_delivery, robust=True)


@transaction.atomic
def message_enqueue(
    *,
    practice: Practice,
    patient=None,
    channel: str,
    to_address: str,
    subject: str,
    body: str,
    kind: str,
    idempotency_key: str,
    html_body: str = "",
    unsubscribe_url: str = "",
    attachments: Sequence[Attachment] = (),
    user=None,
) -> OutboundMessage:
    """Put one message in the outbox; call it inside the transaction of the business change.

    The same ``idempotency_key`` for the same practice returns the existing row and sends
    nothing more, whatever its status, with its attachments as first stored. ``html_body``
    is sent as it is: build it escaped (``message_enqueue_for_patient`` renders it from the
    sandboxed template). ``attachments`` are ``(file name, content type, bytes)`` for an
    email: at most ``MAX_ATTACHMENTS`` files and ``MAX_ATTACHMENTS_BYTES`` in all, each
    named without a path.
    """
    to_address = to_address.strip()
    _validate(
        channel=channel, to_address=to_address, subject=subject, body=body, html_body=html_body
    )
    _single_line("unsubscribe_url", unsubscribe_url)
    if not idempotency_key or len(idempotency_key) > 200:
        raise MessagingError("idempotency_key: 1 to 200 characters")
    _single_line("idempotency_key", idempotency_key)
    if not kind or len(kind) > 60:
        raise MessagingError("kind: 1 to 60 characters")
    if patient is not None and patient.practice_id != practice.pk:
        raise MessagingError("the patient belongs to another practice")
    files = _validate_attachments(channel, attachments)

    existing = OutboundMessage.objects.filter(
        practice=practice, idempotency_key=idempotency_key
    ).first()
    if existing is not None:
        return existing
    try:
        # A savepoint: when a concurrent caller wrote the same key first, use its row.
        with transaction.atomic():
            message = OutboundMessage.objects.create(
                practice=practice,
                patient=patient,
                channel=channel,
                to_address=to_address,
                subject=subject,
                body=body,
                html_body=html_body,
                unsubscribe_url=unsubscribe_url,
                kind=kind,
                idempotency_key=idempotency_key,
                next_attempt_at=timezone.now(),
            )
            MessageAttachment.objects.bulk_create(
                MessageAttachment(
                    message=message,
                    filename=filename,
                    content_type=content_type,
                    content=content,
                    size=len(content),
                )
                for filename, content_type, content in files
            )
    except IntegrityError:
        return OutboundMessage.objects.get(practice=practice, idempotency_key=idempotency_key)
    if patient is not None:
        audit_record(
            action="create",
            object_type="message",
            object_id=message.pk,
            practice=practice,
            patient_id=patient.pk,
            user=user,
            actor_label="" if user else ACTOR,
            detail={"kind": kind, "channel": channel}
            | ({"attachments": len(files)} if files else {}),
        )
    _kick_delivery_on_commit()
    return message


def _choose_channel(person) -> str | None:
    """The person's preferred channel when we have its address, else email, else SMS."""
    addresses = {Channel.EMAIL: person.email, Channel.SMS: person.phone}
    if addresses.get(person.preferred_channel):
        return person.preferred_channel
    for channel in (Channel.EMAIL, Channel.SMS):
        if addresses[channel]:
            return channel
    return None


@dataclass(frozen=True)
class MessageDraft:
    """A message about a patient, worded and addressed, not yet queued."""

    channel: str
    to_address: str
    subject: str
    body: str
    html_body: str
    unsubscribe_url: str


def message_draft(*, patient, kind: str, context: dict | None = None) -> MessageDraft | None:
    """Word a message about a patient for whoever receives their messages.

    A minor's messages go to the guardian. ``None`` when the recipient has no address or
    opted out of the chosen channel.
    """
    practice = patient.practice
    recipient = patient.contact_person
    channel = _choose_channel(recipient)
    if channel is None:
        return None
    if is_opted_out(recipient, channel) or is_opted_out(patient, channel):
        return None
    values = {
        "recipient_first_name": recipient.preferred_name or recipient.first_name,
        "patient_first_name": patient.preferred_name or patient.first_name,
        "is_for_dependant": recipient.pk != patient.pk,
        "practice_name": practice.name,
        "practice_phone": display_phone(practice.phone),
        **(context or {}),
    }
    subject, body = message_template_for(practice=practice, kind=kind, channel=channel)
    rendered = render_message(subject=subject, body=body, channel=channel, context=values)
    return MessageDraft(
        channel=channel,
        to_address=recipient.email if channel == Channel.EMAIL else recipient.phone,
        subject=rendered.subject,
        body=rendered.body,
        html_body=rendered.html_body,
        unsubscribe_url=str(values.get("unsubscribe_link") or ""),
    )


@transaction.atomic
def message_enqueue_for_patient(
    *, patient, kind: str, context: dict | None = None, idempotency_key: str, user=None
) -> OutboundMessage | None:
    """Word and queue a message about a patient, to whoever receives their messages.

    Returns ``None`` (and writes nothing) when ``message_draft`` finds no way to reach them.
    """
    existing = OutboundMessage.objects.filter(
        practice=patient.practice, idempotency_key=idempotency_key
    ).first()
    if existing is not None:
        return existing
    draft = message_draft(patient=patient, kind=kind, context=context)
    if draft is None:
        return None
    return message_enqueue(
        practice=patient.practice,
        patient=patient,
        channel=draft.channel,
        to_address=draft.to_address,
        subject=draft.subject,
        body=draft.body,
        html_body=draft.html_body,
        unsubscribe_url=draft.unsubscribe_url,
        kind=kind,
        idempotency_key=idempotency_key,
        user=user,
    )


@transaction.atomic
def message_send_written(
    *, patient, kind: str, subject: str, body: str, idempotency_key: str, user
) -> OutboundMessage:
    """Queue a message a team member wrote (or edited from a draft) to the patient.

    The channel and address are the ones ``message_draft`` would use; the text is taken as
    written, as plain text, and escaped for the HTML alternative.
    """
    draft = message_draft(patient=patient, kind=kind)
    if draft is None:
        raise MessagingError(
            "We have no email or mobile number for them, or they asked not to be contacted "
            "this way. Call them or write a letter instead."
        )
    body = body.strip()
    if len(body) > MAX_BODY_CHARS:
        raise MessagingError(f"body: at most {MAX_BODY_CHARS} characters")
    if draft.channel == Channel.SMS:
        body = " ".join(body.split())
    # Escaped by urlize (autoescape=True); linebreaks only adds paragraphs.
    html_body = linebreaks(urlize(body, autoescape=True)) if draft.channel == Channel.EMAIL else ""
    return message_enqueue(
        practice=patient.practice,
        patient=patient,
        channel=draft.channel,
        to_address=draft.to_address,
        subject=" ".join(subject.split()) if draft.channel == Channel.EMAIL else "",
        body=body + "\n" if draft.channel == Channel.EMAIL else body,
        html_body=html_body,
        kind=kind,
        idempotency_key=idempotency_key,
        user=user,
    )


@transaction.atomic
def opt_out(
    patient, channel: str, *, source: str = "unsubscribe link", user=None
) -> ContactPreference:
    """Stop messages to this person on one channel, including ones already queued.

    Positional like ``is_opted_out(patient, channel)``, the pair callers use together.
    """
    if channel not in Channel.values:
        raise MessagingError(f"channel: must be one of {', '.join(Channel.values)}")
    preference, created = ContactPreference.objects.get_or_create(
        patient=patient,
        channel=channel,
        defaults={
            "practice_id": patient.practice_id,
            "opted_out_at": timezone.now(),
            "source": source[:40],
        },
    )
    if not created:
        return preference
    address = patient.email if channel == Channel.EMAIL else patient.phone
    to_this_person = Q(patient=patient)
    if address:
        to_this_person |= Q(to_address=address)
    cancelled = OutboundMessage.objects.filter(
        to_this_person,
        practice_id=patient.practice_id,
        channel=channel,
        status=OutboundMessage.Status.QUEUED,
    ).update(status=OutboundMessage.Status.CANCELLED, last_error="the recipient opted out")
    audit_record(
        action="update",
        object_type="contact_preference",
        object_id=preference.pk,
        practice=patient.practice,
        patient_id=patient.pk,
        user=user,
        actor_label="" if user else ACTOR,
        detail={"channel": channel, "opted_out": True, "cancelled_messages": cancelled},
    )
    return preference


@transaction.atomic
def message_template_save(
    *, practice: Practice | None, kind: str, channel: str, subject: str, body: str
) -> MessageTemplate:
    """A practice's own wording (or the group-wide default with ``practice=None``).

    Refuses tags, filters and variables outside the sandbox with a message naming them.
    """
    if channel not in Channel.values:
        raise MessagingError(f"channel: must be one of {', '.join(Channel.values)}")
    if not kind or len(kind) > 60:
        raise MessagingError("kind: 1 to 60 characters")
    validate_template_fields(channel=channel, subject=subject, body=body)
    template, _ = MessageTemplate.objects.update_or_create(
        practice=practice, kind=kind, channel=channel, defaults={"subject": subject, "body": body}
    )
    return template
