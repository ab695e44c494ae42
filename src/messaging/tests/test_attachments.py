"""Files sent with an email: stored with the outbox row, arriving byte for byte, or refused."""

from __future__ import annotations

import datetime as dt
import re
from email.header import decode_header, make_header

import pytest
import time_machine
from django.db import transaction

from messaging.delivery import deliver_due
from messaging.models import MessageAttachment, OutboundMessage
from messaging.services import (
    MAX_ATTACHMENTS,
    MAX_ATTACHMENTS_BYTES,
    MessagingError,
    message_enqueue,
)

Status = OutboundMessage.Status
# Every byte value, CR and LF alone and together, and a NUL: nothing may be altered.
BINARY = bytes(range(256)) * 3 + b"\r\n\n\r\x00"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
# Text with both line endings: a text attachment re-encoded on the way would change them.
CSV = "touchpoint;défauts\r\nwaiting;2\nhygiene;0\n".encode()


def enqueue(practice, *, attachments, **fields) -> OutboundMessage:
    values = {
        "channel": "email",
        "to_address": "olivia@example.com",
        "subject": "Maple Street Dental — March 2026 report",
        "body": "The report is attached.\n",
        "kind": "analytics_monthly_report",
        "idempotency_key": "report-1",
        **fields,
    }
    return message_enqueue(practice=practice, attachments=attachments, **values)


def parts_of(received) -> dict[str, tuple[str, bytes]]:
    """The received email's attachments: file name → (content type, decoded bytes)."""
    return {
        part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
        for part in received.walk()
        if part.get_content_disposition() == "attachment"
    }


def test_attachments_arrive_byte_for_byte_with_their_names_and_types(smtp_sink, practice):
    message = enqueue(
        practice,
        attachments=[
            ("maple-2026-03.pdf", "application/pdf", PDF),
            ("défauts mars.csv", "text/csv", CSV),
            ("blob.bin", "application/octet-stream", BINARY),
        ],
    )

    stored = list(message.attachments.all())
    assert [(a.filename, a.size) for a in stored] == [
        ("maple-2026-03.pdf", len(PDF)),
        ("défauts mars.csv", len(CSV)),
        ("blob.bin", len(BINARY)),
    ]
    assert deliver_due() == 1

    [received] = smtp_sink.received
    assert str(make_header(decode_header(received["Subject"]))) == (
        "Maple Street Dental — March 2026 report"
    )
    body = next(p for p in received.walk() if p.get_content_type() == "text/plain")
    assert body.get_content_disposition() is None
    # The text body travels as text (CRLF on the wire); the files as base64, unaltered.
    assert body.get_payload(decode=True).decode().rstrip() == "The report is attached."
    assert parts_of(received) == {
        "maple-2026-03.pdf": ("application/pdf", PDF),
        "défauts mars.csv": ("text/csv", CSV),
        "blob.bin": ("application/octet-stream", BINARY),
    }
    message.refresh_from_db()
    assert message.status == Status.SENT


def test_an_email_with_an_html_alternative_keeps_it_beside_the_attachment(smtp_sink, practice):
    enqueue(
        practice,
        html_body="<p>The report is attached.</p>",
        attachments=[("report.pdf", "application/pdf", PDF)],
    )

    deliver_due()

    [received] = smtp_sink.received
    types = [part.get_content_type() for part in received.walk()]
    assert types[0] == "multipart/mixed"
    assert "multipart/alternative" in types and "text/html" in types
    assert parts_of(received) == {"report.pdf": ("application/pdf", PDF)}


def test_a_retry_sends_the_same_attachment(smtp_sink, practice):
    smtp_sink.data_responses = ["451 4.3.0 Try again later"]
    message = enqueue(practice, attachments=[("report.pdf", "application/pdf", PDF)])

    assert deliver_due() == 0
    message.refresh_from_db()
    with time_machine.travel(message.next_attempt_at + dt.timedelta(seconds=1), tick=False):
        assert deliver_due() == 1

    [received] = smtp_sink.received
    assert parts_of(received) == {"report.pdf": ("application/pdf", PDF)}


def test_the_same_idempotency_key_returns_the_message_and_its_files_unchanged(practice):
    first = enqueue(practice, attachments=[("report.pdf", "application/pdf", PDF)])
    again = enqueue(
        practice,
        subject="Another wording",
        attachments=[("other.pdf", "application/pdf", PDF + b"changed")],
    )
    without = enqueue(practice, attachments=[])

    assert again.pk == first.pk == without.pk
    assert again.subject == "Maple Street Dental — March 2026 report"
    assert list(MessageAttachment.objects.values_list("filename", "content")) == [
        ("report.pdf", PDF)
    ]


@pytest.mark.parametrize(
    ("filename", "reason"),
    [
        ("../../etc/passwd", "a name only, without / or \\"),
        ("reports/march.pdf", "a name only, without / or \\"),
        ("C:\\reports\\march.pdf", "a name only, without / or \\"),
        ("march.pdf\r\nBcc: someone@evil.example", "line breaks are not allowed"),
        ("march\n.pdf", "line breaks are not allowed"),
        ("march\u2028.pdf", "line breaks are not allowed"),
        ("march\x00.pdf", "contains a NUL character"),
        ("report\u202efdp.exe", "contains the invisible character U+202E"),
        ("march\t.pdf", "contains the invisible character U+0009"),
        ("", "is empty"),
        ("   ", "is empty"),
        ("..", "is not a name"),
        ("x" * 252 + ".pdf", "at most 255 bytes"),
        ("é" * 126 + ".pdf", "at most 255 bytes"),
    ],
)
def test_a_bad_file_name_is_refused_and_nothing_is_stored(practice, filename, reason):
    with pytest.raises(MessagingError) as refused:
        enqueue(
            practice, attachments=[("fine.pdf", "application/pdf", PDF), (filename, "x/y", b"1")]
        )

    assert str(refused.value).startswith("attachment 2: file name")
    assert reason in str(refused.value)
    assert not OutboundMessage.objects.exists()
    assert not MessageAttachment.objects.exists()


def test_a_name_of_255_bytes_is_accepted(practice):
    message = enqueue(practice, attachments=[("x" * 251 + ".pdf", "application/pdf", PDF)])
    assert message.attachments.get().filename.endswith("x.pdf")


@pytest.mark.parametrize(
    ("attachments", "reason"),
    [
        (
            [(f"{n}.pdf", "application/pdf", PDF) for n in range(MAX_ATTACHMENTS + 1)],
            "attachments: at most 5 files per message",
        ),
        (
            [
                ("a.bin", "application/octet-stream", b"a" * (MAX_ATTACHMENTS_BYTES // 2)),
                ("b.bin", "application/octet-stream", b"b" * (MAX_ATTACHMENTS_BYTES // 2 + 1)),
            ],
            "attachments: 10 MB at most in all",
        ),
        ([("empty.pdf", "application/pdf", b"")], "attachment 1 (empty.pdf): the file is empty"),
        ([("a.pdf", "application/pdf", "text, not bytes")], "attachment 1: the content must be"),
        ([("a.pdf", "application/pdf\r\nBcc: x@evil.example", PDF)], "is not like application"),
        ([("a.pdf", "pdf", PDF)], "is not like application/pdf"),
        ([("a.eml", "message/rfc822", PDF)], "message/rfc822 cannot be attached"),
        ([("a.pdf", PDF)], "attachment 1: give (file name, content type, bytes)"),
    ],
    ids=[
        "six-files",
        "over-10-MB",
        "empty",
        "text",
        "header-injection",
        "no-subtype",
        "eml",
        "pair",
    ],
)
def test_too_many_too_large_or_malformed_attachments_are_refused(practice, attachments, reason):
    with pytest.raises(MessagingError, match=re.escape(reason)):
        enqueue(practice, attachments=attachments)

    assert not OutboundMessage.objects.exists()
    assert not MessageAttachment.objects.exists()


def test_exactly_ten_megabytes_in_five_files_is_accepted(practice):
    size = MAX_ATTACHMENTS_BYTES // MAX_ATTACHMENTS
    files = [(f"{n}.bin", "application/octet-stream", bytes([n]) * size) for n in range(5)]

    message = enqueue(practice, attachments=files)

    assert sum(message.attachments.values_list("size", flat=True)) == MAX_ATTACHMENTS_BYTES


def test_a_text_message_cannot_carry_attachments(practice):
    with pytest.raises(MessagingError, match="only an email can carry attachments"):
        enqueue(
            practice,
            channel="sms",
            to_address="+12025550100",
            subject="",
            attachments=[("report.pdf", "application/pdf", PDF)],
        )

    assert not OutboundMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_attachments_are_written_in_the_callers_transaction(smtp_sink, practice):
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue(practice, attachments=[("report.pdf", "application/pdf", PDF)])
        raise RuntimeError("the business change failed")

    assert not MessageAttachment.objects.exists()
    assert smtp_sink.count == 0

    # Committed: the kick after the commit sends it with its file (Huey is immediate).
    with transaction.atomic():
        enqueue(practice, attachments=[("report.pdf", "application/pdf", PDF)])
    [received] = smtp_sink.received
    assert parts_of(received) == {"report.pdf": ("application/pdf", PDF)}
