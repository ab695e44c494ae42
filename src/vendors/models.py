"""Third parties: the labs, specialists and services a practice's patients meet through it.

The patient is the lab's customer's customer, and the practice answers for how the lab
treats them; these rows put the lab on the map: what it did for whom, when it was late,
what patients said about it, and whether it agreed to the practice's standards.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.models import Practice
from core.querysets import PracticeScopedQuerySet
from patients.models import Appointment, Patient

# A referral the specialist has not scheduled after this many days is a defect, unless the
# practice sets its own number on its standards (``VendorStandards.referral_days``).
REFERRAL_DAYS = 14

DEFAULT_SUBJECT = "Our patients, and how we look after them together"
DEFAULT_LETTER = """\
Dear {contact},

Thank you for the work {vendor} does for our patients. Our patients are your customers
too, and to them you are part of {practice}: what happens at your desk is what they tell
their friends about us.

So that every patient we send you feels as welcome as they do here, we ask the same of
everyone who works with us:

- Greet each patient by name as they arrive, and look up from what you are doing.
- Offer them a seat, and a glass of water if they will wait.
- No phone calls while a patient is waiting at your desk: they come first.
- Explain what you are going to do and how long it will take, before you start.
- Work that is promised for a date arrives by that date; if it cannot, tell us at once,
  so we can tell the patient before their appointment, not at it.

Please reply to say you have received these standards and will share them with your
team. If anything here is hard to do, tell us and we will work it out together.

With thanks,
{practice}
"""


def default_subject() -> str:
    return DEFAULT_SUBJECT


def default_letter() -> str:
    return DEFAULT_LETTER


class VendorQuerySet(PracticeScopedQuerySet):
    def active(self) -> VendorQuerySet:
        return self.filter(is_active=True)


class Vendor(models.Model):
    """A lab, specialist or other third party whose work or welcome patients experience."""

    class Kind(models.TextChoices):
        LAB = "lab", "Dental lab"
        SPECIALIST = "specialist", "Specialist"
        IMAGING = "imaging", "Imaging centre"
        BILLING = "billing", "Billing or collections"
        ANSWERING = "answering", "Answering service"
        OTHER = "other", "Other"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="vendors")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.LAB)
    # Other names patients use in comments ("Crestline", "the Northside surgeons").
    aliases = models.JSONField(default=list, blank=True)
    # Touchpoint slugs (``feedback.touchpoints``) the vendor owns: surveys ask about them.
    touchpoints = models.JSONField(default=list, blank=True)
    standards_sent_on = models.DateField(null=True, blank=True)
    standards_acknowledged_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = VendorQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "name"], name="vendor_name_unique")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def names(self) -> list[str]:
        """The name and every alias: what a comment may call the vendor."""
        return [self.name, *self.aliases]


class VendorContact(models.Model):
    """A person at a vendor: who the standards letter and scorecards go to."""

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=120)
    role = models.CharField(max_length=80, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["vendor", "name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.role})" if self.role else self.name


class Involvement(models.Model):
    """One time a vendor worked for or saw one of the practice's patients.

    Lab cases carry ``sent_on``/``due_back_on``/``returned_on`` and the appointment the
    work is for (the crown seat); referrals carry ``referred_on``/``scheduled_on``; a visit
    at the vendor carries the appointment it stands for, so its survey asks about it.
    """

    class Kind(models.TextChoices):
        LAB_CASE = "lab_case", "Lab case"
        VISIT = "visit", "Visit at the vendor"
        REFERRAL = "referral", "Referral"
        IMAGING = "imaging", "Imaging"
        BILLING = "billing", "Billing"
        OTHER = "other", "Other"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="involvements")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="involvements")
    appointment = models.ForeignKey(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="involvements"
    )
    recovery_case = models.ForeignKey(
        "recovery.RecoveryCase",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="involvements",
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    description = models.CharField(max_length=200, blank=True)
    sent_on = models.DateField(null=True, blank=True)
    due_back_on = models.DateField(null=True, blank=True)
    returned_on = models.DateField(null=True, blank=True)
    referred_on = models.DateField(null=True, blank=True)
    scheduled_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = PracticeScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["vendor", "kind"], name="involvement_vendor_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.vendor}"


class VendorDefect(models.Model):
    """Something a vendor got wrong: detected from the dates (late work, an unscheduled
    referral) or reported by staff. Detection adds one row per involvement and kind, so
    running it again adds nothing; ``resolved_at`` is when the situation ended (the work
    came back, the referral was scheduled)."""

    class Kind(models.TextChoices):
        LAB_CASE_LATE = "lab_case_late", "Lab case late"
        REFERRAL_NOT_SCHEDULED = "referral_not_scheduled", "Referral not scheduled"
        REPORTED = "reported", "Reported by staff"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="defects")
    involvement = models.ForeignKey(
        Involvement, on_delete=models.CASCADE, null=True, blank=True, related_name="defects"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    # For detected defects, the moment the rule says it became one.
    detected_at = models.DateTimeField(db_index=True)
    detail = models.CharField(max_length=300, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = PracticeScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-detected_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["involvement", "kind"],
                condition=~models.Q(kind="reported"),
                name="vendor_defect_once_per_involvement",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.vendor}"


class VendorStandards(models.Model):
    """A practice's patient-experience standards letter for its vendors, and its rules."""

    practice = models.OneToOneField(
        Practice, on_delete=models.CASCADE, related_name="vendor_standards"
    )
    subject = models.CharField(max_length=200, default=default_subject)
    # ``{vendor}``, ``{contact}`` and ``{practice}`` are filled in when it is sent.
    letter = models.TextField(default=default_letter)
    referral_days = models.PositiveSmallIntegerField(
        default=REFERRAL_DAYS, help_text="A referral not scheduled after this many days is late"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "vendor standards"

    def __str__(self) -> str:
        return f"Vendor standards of {self.practice}"
