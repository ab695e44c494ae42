from __future__ import annotations

import datetime as dt
import unicodedata
from decimal import Decimal

from django.db import models
from django.utils import timezone

from core.models import Practice, StaffMember
from core.querysets import PracticeScopedQuerySet


def fold_for_search(text: str) -> str:
    """Case- and accent-insensitive form, so "José", "JOSE" and "Jose\u0301" all match."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


class PatientQuerySet(PracticeScopedQuerySet):
    def search(self, text: str) -> PatientQuerySet:
        text = (text or "").strip()
        if not text:
            return self
        digits = "".join(ch for ch in text if ch.isdigit())
        query = models.Q(search_name__contains=fold_for_search(text))
        if len(digits) >= 3:
            query |= models.Q(phone__contains=digits)
        return self.filter(query)


class Household(models.Model):
    """People who live together and often share a phone, an email and a bill."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="households")
    name = models.CharField(max_length=120)
    external_id = models.CharField(max_length=80, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "external_id"],
                condition=~models.Q(external_id=""),
                name="household_external_id_unique",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Patient(models.Model):
    """A person cared for by a practice, with the relationship profile staff read before a visit.

    The derived figures (visits, lifetime value, referrals, last and next visit) are refreshed
    set-based by ``patient_figures_refresh``: nightly, and after imports.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DEPARTED = "departed", "Departed"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "Text message"
        PHONE = "phone", "Phone call"
        LETTER = "letter", "Letter"

    class DepartureReason(models.TextChoices):
        MOVED = "moved", "Moved"
        COST = "cost", "Cost"
        INSURANCE = "insurance", "Insurance"
        EQUIPMENT = "equipment", "Equipment or technology"
        SERVICE = "service", "Service"
        CLINICAL = "clinical", "Clinical care"
        THIRD_PARTY = "third_party", "A lab, specialist or other third party"
        OTHER = "other", "Other"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="patients")
    # The practice-management system's own id (CSV) or a FHIR identifier, for re-imports.
    external_id = models.CharField(max_length=200, blank=True)
    fhir_id = models.CharField(max_length=64, blank=True)

    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=20, blank=True, help_text="E.164, e.g. +15551234567")
    address = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    first_visit_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    departed_at = models.DateTimeField(null=True, blank=True)
    departure_reason = models.CharField(max_length=16, choices=DepartureReason.choices, blank=True)
    departure_note = models.CharField(max_length=500, blank=True)
    # Set when a departed patient comes back: they count as redeemed.
    returned_at = models.DateTimeField(null=True, blank=True)
    preferred_channel = models.CharField(
        max_length=10, choices=Channel.choices, default=Channel.EMAIL
    )

    household = models.ForeignKey(
        Household, on_delete=models.SET_NULL, null=True, blank=True, related_name="members"
    )
    # A minor's guardian receives all contact; a shared phone or email never merges people.
    guardian = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="wards"
    )
    referred_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="referrals"
    )
    referral_source = models.CharField(max_length=120, blank=True)

    # The relationship profile: the five must-haves of a lasting relationship.
    goals = models.TextField(blank=True, help_text="What the patient really wants")
    greatest_concern = models.TextField(blank=True)
    previous_experiences = models.TextField(
        blank=True, help_text="Good and bad, here and elsewhere"
    )
    preferences = models.TextField(blank=True)
    anxieties = models.TextField(blank=True, help_text="Gag reflex, needle fear, …")
    trust_notes = models.TextField(blank=True)

    # Derived figures, refreshed set-based.
    visit_count = models.PositiveIntegerField(default=0)
    lifetime_value = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    last_visit_at = models.DateTimeField(null=True, blank=True)
    next_visit_at = models.DateTimeField(null=True, blank=True)
    referral_count = models.PositiveIntegerField(default=0)
    referral_value = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    figures_refreshed_at = models.DateTimeField(null=True, blank=True)

    search_name = models.CharField(max_length=320, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "external_id"],
                condition=~models.Q(external_id=""),
                name="patient_external_id_unique",
            ),
            models.UniqueConstraint(
                fields=["practice", "fhir_id"],
                condition=~models.Q(fhir_id=""),
                name="patient_fhir_id_unique",
            ),
        ]
        indexes = [
            models.Index(
                fields=["practice", "last_name", "first_name"], name="patient_practice_name"
            ),
            models.Index(fields=["practice", "phone"], name="patient_practice_phone"),
        ]

    def __str__(self) -> str:
        return self.full_name

    def save(self, *args, **kwargs):
        self.search_name = self.search_text()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "search_name"}
        super().save(*args, **kwargs)

    def search_text(self) -> str:
        return fold_for_search(f"{self.first_name} {self.preferred_name} {self.last_name}")

    @property
    def full_name(self) -> str:
        if self.preferred_name and self.preferred_name != self.first_name:
            return f"{self.first_name} “{self.preferred_name}” {self.last_name}"
        return f"{self.first_name} {self.last_name}"

    def age_on(self, day: dt.date) -> int | None:
        if self.date_of_birth is None:
            return None
        born = self.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    @property
    def is_minor(self) -> bool:
        age = self.age_on(timezone.localdate())
        return age is not None and age < 18

    @property
    def contact_person(self) -> Patient:
        """Who receives messages: the guardian for a minor who has one, else the patient."""
        if self.is_minor and self.guardian_id:
            return self.guardian
        return self

    @property
    def tenure_years(self) -> float | None:
        if self.first_visit_on is None:
            return None
        return round((timezone.localdate() - self.first_visit_on).days / 365.25, 1)

    @property
    def has_profile(self) -> bool:
        return any(
            (
                self.goals,
                self.greatest_concern,
                self.previous_experiences,
                self.preferences,
                self.anxieties,
                self.trust_notes,
            )
        )


class Appointment(models.Model):
    """A booked visit: who, with whom, when, what for, and how it ended."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "No-show"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="appointments")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="appointments")
    provider = models.ForeignKey(
        StaffMember, on_delete=models.SET_NULL, null=True, blank=True, related_name="appointments"
    )
    external_id = models.CharField(max_length=200, blank=True)
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveSmallIntegerField(default=30)
    kind = models.CharField("type", max_length=60, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    fee = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PracticeScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "external_id"],
                condition=~models.Q(external_id=""),
                name="appointment_external_id_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(fee__gte=0), name="appointment_fee_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["practice", "starts_at"], name="appointment_practice_start"),
            models.Index(fields=["patient", "starts_at"], name="appointment_patient_start"),
        ]

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d %H:%M} {self.kind}"

    @property
    def ends_at(self) -> dt.datetime:
        return self.starts_at + dt.timedelta(minutes=self.duration_minutes)
