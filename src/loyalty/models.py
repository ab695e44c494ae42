"""Each patient's loyalty figures: what the nightly scoring saw, the risk, the value."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from core.models import Organisation, Practice
from core.querysets import PracticeScopedQuerySet
from patients.models import Patient


class LoyaltyPolicy(models.Model):
    """An organisation's tuning of the risk rules: points per rule, and who is listed."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="loyalty_policy"
    )
    weights = models.JSONField(
        default=dict, blank=True, help_text="Points per rule name; a missing rule keeps its default"
    )
    list_from_risk = models.PositiveSmallIntegerField(
        default=30, help_text="Patients at or above this risk appear on the at-risk list"
    )

    class Meta:
        verbose_name_plural = "loyalty policies"

    def __str__(self) -> str:
        return f"Loyalty policy of {self.organisation}"

    def clean(self) -> None:
        from loyalty.rules import RULES

        if not isinstance(self.weights, dict):
            raise ValidationError({"weights": "A mapping of rule name to points."})
        for name, points in self.weights.items():
            if name not in RULES:
                raise ValidationError({"weights": f"Unknown rule {name!r}."})
            if not isinstance(points, int) or not 0 <= points <= 100:
                raise ValidationError({"weights": f"{name}: points must be 0 to 100."})


class PatientScore(models.Model):
    """One patient's latest loyalty score and the facts it was computed from.

    Written for a whole practice or group by one set-based statement (``loyalty.scoring``);
    the reasons shown to people are derived from these facts by the same rules.
    """

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="loyalty")
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+")
    # When the figures last changed: a nightly run leaves an unchanged row alone, so the
    # day counts below are as of this moment.
    scored_at = models.DateTimeField()
    # Value
    tenure_days = models.IntegerField(null=True)
    lifetime_value = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    referral_count = models.IntegerField(default=0)
    referral_value = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    household_size = models.IntegerField(default=0, help_text="Other members at the practice")
    # What the risk rules look at
    last_nps = models.SmallIntegerField(null=True)
    # The better of the two answers before the last: 9 → 7 → 6 reads as a fall from 9.
    previous_nps = models.SmallIntegerField(null=True)
    last_nps_at = models.DateTimeField(null=True)
    open_cases = models.IntegerField(default=0)
    unrecovered_cases = models.IntegerField(default=0)
    recent_defects = models.IntegerField(default=0)
    visits = models.IntegerField(default=0)
    missed_recent = models.IntegerField(default=0)
    booked_recent = models.IntegerField(default=0)
    missed_before = models.IntegerField(default=0)
    booked_before = models.IntegerField(default=0)
    has_future_visit = models.BooleanField(default=False)
    days_since_visit = models.IntegerField(null=True)
    rhythm_days = models.IntegerField(null=True)
    equipment_mentions = models.IntegerField(default=0)
    distance_mentions = models.IntegerField(default=0)
    # Missed calls of the last 90 days nobody returned by their call-back deadline.
    unreturned_calls = models.IntegerField(default=0)
    # Results, 0–100
    risk = models.SmallIntegerField(default=0)
    value = models.SmallIntegerField(default=0)
    priority = models.SmallIntegerField(default=0, db_index=True)

    objects = PracticeScopedQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["practice", "-priority"], name="score_practice_priority")]

    def __str__(self) -> str:
        return f"Loyalty of patient {self.patient_id}: risk {self.risk}, value {self.value}"


class ScoreSnapshot(models.Model):
    """A patient's score at the end of a month, so the trend shows on the patient page."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="First day of the month")
    risk = models.SmallIntegerField()
    value = models.SmallIntegerField()
    priority = models.SmallIntegerField()

    class Meta:
        ordering = ["patient", "month"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "month"], name="snapshot_once_a_month")
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} risk {self.risk}"


class CheckIn(models.Model):
    """A task to reach out to a valuable patient at risk, or to one who left (win-back),
    and what came of it."""

    class Kind(models.TextChoices):
        CALL = "call", "Personal call"
        DENTIST_CALL = "dentist_call", "Call from the dentist"
        LETTER = "letter", "Personal letter"
        SURVEY = "survey", "Relationship survey"
        WINBACK = "winback", "Win-back check-in"

    class Outcome(models.TextChoices):
        REASSURED = "reassured", "Reassured, staying"
        BOOKED = "booked", "Booked a visit"
        CONCERN = "concern", "Raised a concern (case opened)"
        LEAVING = "leaving", "Leaving anyway"
        NO_ANSWER = "no_answer", "No answer"
        # Only for win-back check-ins: the departed patient is active again (redeemed).
        RETURNED = "returned", "Came back"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="check_ins")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="check_ins")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="check_ins"
    )
    due_on = models.DateField()
    reasons = models.JSONField(default=list, help_text="The reasons shown when it was planned")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    done_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, blank=True)
    notes = models.TextField(blank=True)

    objects = PracticeScopedQuerySet.as_manager()

    class Meta:
        ordering = ["due_on", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for patient {self.patient_id}"
