"""Records requests: a patient's right of access, on time, lawful and warm."""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.db import models

from core.models import Practice
from core.querysets import PracticeScopedQuerySet
from patients.models import Patient


def new_download_id() -> str:
    """128 random bits: a download link stays unguessable even before its signature."""
    return secrets.token_urlsafe(16)


class RecordsRequest(models.Model):
    """A request for a patient's records, with its legal deadline and how it was met."""

    class Channel(models.TextChoices):
        PHONE = "phone", "Phone"
        LETTER = "letter", "Letter"
        EMAIL = "email", "Email"
        IN_PERSON = "in_person", "In person"
        NEW_PRACTICE = "new_practice", "From the new practice"
        ONLINE = "online", "Request page"

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        FULFILLED = "fulfilled", "Fulfilled"
        WITHDRAWN = "withdrawn", "Withdrawn"

    practice = models.ForeignKey(
        Practice, on_delete=models.CASCADE, related_name="records_requests"
    )
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="records_requests")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    received_at = models.DateTimeField(db_index=True)
    # A parent, guardian or other personal representative asking on the patient's behalf.
    representative_name = models.CharField(max_length=120, blank=True)
    representative_relation = models.CharField(max_length=60, blank=True)
    send_to_email = models.EmailField(help_text="Where the download link goes")
    send_copy_to = models.EmailField(blank=True, help_text="e.g. the new practice")
    rule_region = models.CharField(max_length=8)
    rule_version = models.CharField(max_length=20)
    due_on = models.DateField(db_index=True)
    extended_to = models.DateField(null=True, blank=True)
    extension_notice = models.TextField(blank=True, help_text="The written notice sent")
    fee = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    fulfilled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    download_id = models.CharField(
        max_length=32, unique=True, default=new_download_id, editable=False
    )
    link_expires_at = models.DateTimeField(null=True, blank=True)
    downloads = models.PositiveIntegerField(default=0)

    objects = PracticeScopedQuerySet.as_manager()

    class Meta:
        ordering = ["due_on", "received_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(fee__gte=0), name="records_fee_not_negative")
        ]

    def __str__(self) -> str:
        return f"Records request {self.pk} for patient {self.patient_id}"

    @property
    def deadline(self):
        return self.extended_to or self.due_on


class IdentityCheck(models.Model):
    """Someone on the public request page proving they are the patient: name, date of
    birth, and a one-time code sent to the email or phone on file.

    A check is stored even when nothing matched (``patient`` empty, no code sent), so the
    page answers the same either way and says nothing about who is a patient here.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "Text message"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    code_digest = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    records_request = models.OneToOneField(
        RecordsRequest, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = PracticeScopedQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Identity check {self.pk}"
