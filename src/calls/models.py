"""Phone calls, the call-backs owed for missed ones, and the telephone system's events."""

from __future__ import annotations

import base64
import secrets

from django.conf import settings
from django.db import models

from core.models import Practice, StaffMember
from core.querysets import PracticeScopedQuerySet
from patients.models import Patient


def new_webhook_id() -> str:
    """The unguessable part of a practice's webhook address (names no practice)."""
    return secrets.token_urlsafe(16)


def new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and 32 random bytes in base64.

    Standard base64, not the URL-safe kind: the Standard Webhooks libraries decode the secret
    with plain base64, which would silently drop ``-`` and ``_`` and sign with another key.
    """
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


class PhoneSystem(models.Model):
    """How a practice's telephone system reaches Rapport, and the call-back promise it keeps.

    The signing secrets are shared with the telephone system, so they are kept as they are
    (a hash could not check a signature); only managers see them, in the admin.
    """

    practice = models.OneToOneField(Practice, on_delete=models.CASCADE, related_name="phone_system")
    webhook_id = models.CharField(max_length=32, unique=True, default=new_webhook_id)
    webhook_secret = models.CharField(max_length=100, default=new_secret)
    # During a rotation the old secret is still accepted until it is cleared.
    previous_webhook_secret = models.CharField(max_length=100, blank=True)
    twilio_auth_token = models.CharField(max_length=100, blank=True)
    callback_minutes = models.PositiveSmallIntegerField(
        default=15, help_text="Business minutes to call back a missed call"
    )

    objects = PracticeScopedQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Phone system of {self.practice}"


class Call(models.Model):
    """One call, keyed by the telephone system's own id so a re-import adds nothing."""

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"
        INTERNAL = "internal", "Internal"

    class Disposition(models.TextChoices):
        ANSWERED = "answered", "Answered"
        MISSED = "missed", "Missed"
        VOICEMAIL = "voicemail", "Voicemail"
        ABANDONED = "abandoned", "Abandoned"

    class Source(models.TextChoices):
        ASTERISK = "asterisk", "Asterisk CDR"
        GENERIC = "generic", "CSV"
        WEBHOOK = "webhook", "Webhook"
        TWILIO = "twilio", "Twilio"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="calls")
    source = models.CharField(max_length=10, choices=Source.choices)
    external_id = models.CharField(max_length=150, help_text="The telephone system's unique id")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    # E.164 when the number parses; else the raw caller id ("anonymous", an extension).
    caller = models.CharField(max_length=40, blank=True, db_index=True)
    called = models.CharField(max_length=40, blank=True)
    caller_name = models.CharField(max_length=80, blank=True)
    # The other party as a number someone can call back (E.164): the caller of an inbound
    # call, the number dialled by an outbound one; blank when withheld, an extension, the
    # practice's own line, or not a valid number. Call-backs and "got through" use it.
    number = models.CharField(max_length=20, blank=True)
    started_at = models.DateTimeField()
    ring_seconds = models.PositiveIntegerField(default=0)
    talk_seconds = models.PositiveIntegerField(default=0)
    disposition = models.CharField(max_length=10, choices=Disposition.choices)
    extension = models.CharField(max_length=40, blank=True)
    staff = models.ForeignKey(
        StaffMember, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls"
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls"
    )
    new_caller = models.BooleanField(
        default=False, help_text="From a number no patient had when the call came"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PracticeScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "source", "external_id"], name="call_unique_per_source"
            )
        ]
        indexes = [
            models.Index(fields=["practice", "started_at"], name="call_practice_start"),
            models.Index(fields=["practice", "caller", "started_at"], name="call_practice_caller"),
            models.Index(fields=["practice", "number", "started_at"], name="call_practice_number"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} call {self.pk} ({self.get_disposition_display()})"

    @property
    def was_missed(self) -> bool:
        return self.disposition != self.Disposition.ANSWERED


class CallbackTask(models.Model):
    """A missed call someone must return, with its deadline, owner and outcome."""

    class Outcome(models.TextChoices):
        BOOKED = "booked", "Reached — booked a visit"
        REACHED = "reached", "Reached"
        VOICEMAIL = "voicemail", "Left a voicemail"
        NO_ANSWER = "no_answer", "No answer"
        WRONG_NUMBER = "wrong_number", "Wrong number or not needed"
        GOT_THROUGH = "got_through", "They got through on a later call"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="callback_tasks")
    call = models.OneToOneField(Call, on_delete=models.CASCADE, related_name="callback")
    patient = models.ForeignKey(
        Patient, on_delete=models.SET_NULL, null=True, blank=True, related_name="callback_tasks"
    )
    number = models.CharField(max_length=40)
    due_at = models.DateTimeField(db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    notes = models.TextField(blank=True)

    objects = PracticeScopedQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "id"]

    def __str__(self) -> str:
        return f"Call-back {self.pk}"


class WebhookEvent(models.Model):
    """A verified event from a telephone system, stored before it is answered 2xx.

    Unique per practice, provider and event id: a delivery repeated any number of times,
    even concurrently, is stored and applied once.
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=10)
    event_id = models.CharField(max_length=150)
    body_sha256 = models.CharField(max_length=64)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=400, blank=True)

    objects = PracticeScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "provider", "event_id"], name="webhook_event_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} event {self.event_id}"
