"""The outbox, the wording practices may edit, and who asked not to be contacted."""

from __future__ import annotations

from django.db import models

from core.models import Practice
from core.querysets import PracticeScopedQuerySet


class Channel(models.TextChoices):
    """How a message reaches a person. Calls and letters are not sent from here."""

    EMAIL = "email", "Email"
    SMS = "sms", "Text message"


class OutboundMessageQuerySet(PracticeScopedQuerySet):
    def due(self, now) -> OutboundMessageQuerySet:
        """Rows a sender may claim: queued and due, or sending with a lease that ran out."""
        return self.filter(
            models.Q(status=OutboundMessage.Status.QUEUED, next_attempt_at__lte=now)
            | models.Q(status=OutboundMessage.Status.SENDING, locked_until__lte=now)
        )

    def undeliverable(self) -> OutboundMessageQuerySet:
        return self.filter(status=OutboundMessage.Status.FAILED)


class OutboundMessage(models.Model):
    """One email or text message to one address: the outbox row and the communication log.

    The table, not the job queue, is the source of truth: a row is written in the same
    transaction as the business change that wants it sent, senders claim it with a
    conditional UPDATE and a lease, and a sweeper picks up rows whose lease ran out.
    The body is patient data: it is stored here and sent, never logged.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Undeliverable"
        CANCELLED = "cancelled", "Cancelled"

    Channel = Channel

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="outbound_messages",
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    to_address = models.CharField(max_length=254)
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField()
    html_body = models.TextField(blank=True)
    # RFC 8058 one-click unsubscribe target, sent as the List-Unsubscribe header.
    unsubscribe_url = models.CharField(max_length=500, blank=True)
    kind = models.CharField(max_length=60)
    idempotency_key = models.CharField(max_length=200)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Indexed with status (outbound_message_due): the sender's claim query reads both.
    next_attempt_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    # Changes with every claim: only the sender holding the current claim records a result.
    claim_token = models.CharField(max_length=32, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    objects = OutboundMessageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "idempotency_key"], name="outbound_message_idempotency_key"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbound_message_due"),
            models.Index(fields=["status", "locked_until"], name="outbound_message_lease"),
            models.Index(fields=["patient", "created_at"], name="outbound_message_patient"),
            models.Index(
                fields=["practice", "status", "failed_at"], name="outbound_message_failed"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} #{self.pk} {self.kind} ({self.status})"

    @property
    def kind_label(self) -> str:
        return self.kind.replace("_", " ").capitalize()


class MessageTemplate(models.Model):
    """The wording of one kind of message on one channel, edited by a practice.

    Rendered in a sandbox (``messaging.rendering``): a few safe tags and filters, a context
    of plain strings. A row without a practice is the default for every practice; without
    any row the wording in ``messaging.rendering.DEFAULT_TEMPLATES`` is used.
    """

    practice = models.ForeignKey(
        Practice, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=60)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "kind", "channel"], name="message_template_unique"
            ),
            models.UniqueConstraint(
                fields=["kind", "channel"],
                condition=models.Q(practice__isnull=True),
                name="message_template_default_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.get_channel_display()})"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from messaging.errors import MessagingError
        from messaging.rendering import validate_template_fields

        try:
            validate_template_fields(channel=self.channel, subject=self.subject, body=self.body)
        except MessagingError as exc:
            raise ValidationError(str(exc)) from None


class ContactPreference(models.Model):
    """A person's wish not to be contacted on one channel (one-click unsubscribe).

    Kept per recipient: the patient whose address receives the message, which for a
    minor is the guardian.
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="contact_preferences"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    opted_out_at = models.DateTimeField()
    source = models.CharField(max_length=40, blank=True, help_text="unsubscribe link, staff, …")

    objects = PracticeScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "channel"], name="contact_preference_unique")
        ]

    def __str__(self) -> str:
        return f"no {self.get_channel_display()} since {self.opted_out_at:%Y-%m-%d}"


class MessageAttachment(models.Model):
    """A file sent with one email of the outbox, such as a practice's monthly report.

    Stored in the database beside its message, written in the same transaction: the outbox
    row stays the whole truth of what is sent, and a retry hours later sends the same
    bytes. Limits (count, total size, a plain file name) are checked by
    ``messaging.services.message_enqueue``.
    """

    message = models.ForeignKey(
        OutboundMessage, on_delete=models.CASCADE, related_name="attachments"
    )
    # A name only, never a path: the recipient's mail program saves it under this name.
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    content = models.BinaryField()
    size = models.PositiveIntegerField(help_text="Bytes, as attached")

    class Meta:
        # Attached in the order the caller gave them.
        ordering = ["message", "id"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.size:,} bytes)"
