from __future__ import annotations

import datetime as dt
import secrets

from django.db import models
from django.utils import timezone

from core.models import Organisation, Practice
from core.querysets import PracticeScopedQuerySet
from feedback.touchpoints import TOUCHPOINT_CHOICES
from patients.models import Appointment, Patient


def new_public_id() -> str:
    """128 random bits: links stay unguessable even before their signature is checked."""
    return secrets.token_urlsafe(16)


class FeedbackPolicy(models.Model):
    """When and how often a practice asks its patients; defaults suit most practices."""

    practice = models.OneToOneField(
        Practice, on_delete=models.CASCADE, related_name="feedback_policy"
    )
    delay_minutes = models.PositiveIntegerField(default=120, help_text="After the visit ends")
    quiet_from = models.TimeField(default=dt.time(20, 0), help_text="No messages from this time…")
    quiet_until = models.TimeField(default=dt.time(9, 0), help_text="…until this time, local")
    throttle_days = models.PositiveIntegerField(
        default=30, help_text="At most one survey per patient"
    )
    link_valid_days = models.PositiveIntegerField(default=14)
    review_url = models.URLField(blank=True, help_text="Where patients can review the practice")

    def __str__(self) -> str:
        return f"Feedback policy of {self.practice}"


class Survey(models.Model):
    """A questionnaire an organisation sends: after visits, yearly, or when a patient leaves."""

    class Kind(models.TextChoices):
        POST_VISIT = "post_visit", "After a visit"
        RELATIONSHIP = "relationship", "Annual relationship check-in"
        EXIT = "exit", "Exit survey"
        FOLLOW_UP = "follow_up", "Follow-up after a complaint"
        CUSTOM = "custom", "Custom"

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="surveys")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=200)
    intro = models.TextField(blank=True)
    thanks = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organisation", "kind", "title"]

    def __str__(self) -> str:
        return self.title


class Question(models.Model):
    """One typed question of a survey."""

    class Kind(models.TextChoices):
        NPS = "nps", "Likelihood to recommend (0–10)"
        RATING = "rating", "Satisfaction (1–5)"
        YES_NO = "yes_no", "Yes / no"
        CHOICE = "choice", "One choice"
        TEXT = "text", "Free text"

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    text = models.CharField(max_length=300)
    touchpoint = models.CharField(max_length=30, blank=True, choices=TOUCHPOINT_CHOICES)
    choices = models.JSONField(default=list, blank=True, help_text="Options of a choice question")
    is_required = models.BooleanField(default=False)

    class Meta:
        ordering = ["survey", "position", "id"]

    def __str__(self) -> str:
        return self.text


class SurveyInvitation(models.Model):
    """One patient asked to answer one survey, reached through a signed, expiring link."""

    practice = models.ForeignKey(
        Practice, on_delete=models.CASCADE, related_name="survey_invitations"
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="survey_invitations"
    )
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="invitations")
    appointment = models.OneToOneField(
        Appointment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="survey_invitation",
    )
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    opened_at = models.DateTimeField(null=True, blank=True)

    objects = PracticeScopedQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["patient", "created_at"], name="invitation_patient_created")
        ]

    def __str__(self) -> str:
        return f"{self.survey} for patient {self.patient_id}"


class SurveyResponse(models.Model):
    """A patient's answers to one invitation; a second visit edits it until the link closes."""

    invitation = models.OneToOneField(
        SurveyInvitation, on_delete=models.CASCADE, related_name="response"
    )
    practice = models.ForeignKey(
        Practice, on_delete=models.CASCADE, related_name="survey_responses"
    )
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="survey_responses")
    survey = models.ForeignKey(Survey, on_delete=models.PROTECT, related_name="responses")
    nps = models.PositiveSmallIntegerField(null=True, blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Every respondent is offered the same review invitation, whatever their score.
    review_offered_at = models.DateTimeField(null=True, blank=True)

    objects = PracticeScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [models.Index(fields=["practice", "submitted_at"], name="response_practice_time")]

    def __str__(self) -> str:
        return f"Response {self.pk} to {self.survey}"


class Answer(models.Model):
    """The answer to one question of a response."""

    response = models.ForeignKey(SurveyResponse, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers")
    number = models.SmallIntegerField(null=True, blank=True)
    text = models.TextField(blank=True)
    # The lab or specialist a ``{vendor}`` question asked about, for its scorecard.
    vendor = models.ForeignKey(
        "vendors.Vendor", on_delete=models.SET_NULL, null=True, blank=True, related_name="answers"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["response", "question"], name="answer_once_per_question"
            )
        ]

    def __str__(self) -> str:
        return f"{self.question}: {self.number if self.number is not None else self.text}"


class FeedbackItem(models.Model):
    """Something a patient told the practice, on any channel, with its text analysis."""

    class Source(models.TextChoices):
        SURVEY = "survey", "Survey answer"
        WEB = "web", "Talk-to-us page"
        STAFF = "staff", "Heard by staff"
        REVIEW = "review", "Public review"

    class Label(models.TextChoices):
        NEGATIVE = "negative", "Negative"
        NEUTRAL = "neutral", "Neutral"
        POSITIVE = "positive", "Positive"

    class Status(models.TextChoices):
        NEW = "new", "New"
        READ = "read", "Read"
        HANDLED = "handled", "Handled"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="feedback_items")
    patient = models.ForeignKey(
        Patient, on_delete=models.SET_NULL, null=True, blank=True, related_name="feedback_items"
    )
    response = models.ForeignKey(
        SurveyResponse, on_delete=models.CASCADE, null=True, blank=True, related_name="items"
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    source_detail = models.CharField(max_length=80, blank=True, help_text="e.g. Google, phone")
    external_id = models.CharField(max_length=200, blank=True)
    author_name = models.CharField(max_length=120, blank=True)
    contact = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True)
    score = models.SmallIntegerField(null=True, blank=True, help_text="0–10, or the review's stars")
    received_at = models.DateTimeField(db_index=True)
    sentiment = models.FloatField(default=0)
    label = models.CharField(max_length=10, choices=Label.choices, default=Label.NEUTRAL)
    touchpoints = models.JSONField(default=list, blank=True)
    is_urgent = models.BooleanField(default=False)
    reasons = models.JSONField(default=list, blank=True)
    people = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    handled_at = models.DateTimeField(null=True, blank=True)
    # The third party the feedback is about: its text names the vendor.
    vendor = models.ForeignKey(
        "vendors.Vendor",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="feedback_items",
    )

    objects = PracticeScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["practice", "status", "received_at"], name="item_practice_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "source", "external_id"],
                condition=~models.Q(external_id=""),
                name="feedback_item_external_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.received_at:%Y-%m-%d}"
