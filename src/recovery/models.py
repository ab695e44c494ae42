"""Service-recovery cases: the six playbook steps, their deadlines, gestures and alerts."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from core.models import Organisation, Practice
from core.querysets import PracticeScopedQuerySet
from feedback.models import FeedbackItem, SurveyInvitation
from patients.models import Patient


class Severity(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class StepKind(models.TextChoices):
    """The recovery playbook, in the order it is done."""

    ACKNOWLEDGE = "acknowledge", "Acknowledge"
    LISTEN = "listen", "Encourage them to talk"
    THANK = "thank", "Thank and validate"
    PLAN = "plan", "Agree next steps"
    IMPLEMENT = "implement", "Implement the plan"
    FOLLOW_UP = "follow_up", "Follow up"


STEP_ORDER = list(StepKind.values)


class DeadlineUnit(models.TextChoices):
    BUSINESS_HOURS = "business_hours", "business hours"
    BUSINESS_DAYS = "business_days", "business days"
    DAYS = "days", "calendar days"


class RecoveryPolicy(models.Model):
    """An organisation's rules: when cases open by themselves, who gets priority, gestures."""

    organisation = models.OneToOneField(
        Organisation, on_delete=models.CASCADE, related_name="recovery_policy"
    )
    open_on_detractor = models.BooleanField(default=True, help_text="A survey score of 0–6")
    open_on_negative_text = models.BooleanField(default=True)
    open_on_urgent_text = models.BooleanField(default=True)
    low_rating_max = models.PositiveSmallIntegerField(
        default=2, help_text="A touchpoint rating (1–5) at or below this opens a case; 0 never"
    )
    priority_tenure_years = models.PositiveSmallIntegerField(default=10)
    priority_lifetime_value = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("5000")
    )
    priority_referrals = models.PositiveSmallIntegerField(default=3)
    priority_deadline_percent = models.PositiveSmallIntegerField(
        default=50, help_text="Priority cases get this share of each deadline"
    )
    escalation_interval_hours = models.PositiveSmallIntegerField(
        default=4, help_text="Business hours between escalation levels"
    )
    gesture_approval_limit = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=Decimal("50"),
        help_text="Gestures costing more need a manager's approval",
    )
    monthly_gesture_budget = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("300"), help_text="Per practice"
    )

    class Meta:
        verbose_name_plural = "recovery policies"

    def __str__(self) -> str:
        return f"Recovery policy of {self.organisation}"


class DeadlineRule(models.Model):
    """How long one playbook step may take for one severity, counted in the practice's hours.

    Acknowledge to plan count from the opening of the case; implement from the agreed
    plan; follow-up from the implementation.
    """

    policy = models.ForeignKey(RecoveryPolicy, on_delete=models.CASCADE, related_name="deadlines")
    severity = models.CharField(max_length=10, choices=Severity.choices)
    step = models.CharField(max_length=12, choices=StepKind.choices)
    amount = models.PositiveSmallIntegerField()
    unit = models.CharField(max_length=16, choices=DeadlineUnit.choices)

    class Meta:
        ordering = ["policy", "severity", "step"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "severity", "step"], name="deadline_rule_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_step_display()} ({self.severity}): {self.amount} {self.unit}"


class CaseQuerySet(PracticeScopedQuerySet):
    def open(self) -> CaseQuerySet:
        return self.exclude(status=RecoveryCase.Status.CLOSED)


class RecoveryCase(models.Model):
    """One service defect a patient experienced, and how the practice is putting it right."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        WAITING_PATIENT = "waiting_patient", "Waiting on the patient"
        WAITING_THIRD_PARTY = "waiting_third_party", "Waiting on a third party"
        CLOSED = "closed", "Closed"

    class Outcome(models.TextChoices):
        RECOVERED = "recovered", "Recovered"
        PARTLY = "partly", "Partly recovered"
        NOT_RECOVERED = "not_recovered", "Not recovered"
        UNREACHABLE = "unreachable", "Unreachable"

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="recovery_cases")
    patient = models.ForeignKey(
        Patient, on_delete=models.SET_NULL, null=True, blank=True, related_name="recovery_cases"
    )
    # Who to reach when the feedback was anonymous ("Mrs Lee, at checkout").
    contact_name = models.CharField(max_length=120, blank=True)
    summary = models.CharField(max_length=200)
    topic = models.CharField(max_length=30, help_text="Main touchpoint; one open case per topic")
    touchpoints = models.JSONField(default=list, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.NORMAL)
    is_priority = models.BooleanField(default=False)
    priority_reasons = models.JSONField(default=list, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recovery_cases",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(db_index=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    opened_because = models.CharField(max_length=200, blank=True)
    feedback_items = models.ManyToManyField(FeedbackItem, blank=True, related_name="recovery_cases")
    # Set when the patient had a recovered case before: a second failure does lasting harm.
    follows_case = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # While paused no clock runs; on resume each step gets back the time it had left.
    paused_at = models.DateTimeField(null=True, blank=True)
    satisfaction_before = models.PositiveSmallIntegerField(null=True, blank=True)
    satisfaction_after = models.PositiveSmallIntegerField(null=True, blank=True)
    follow_up_invitation = models.OneToOneField(
        SurveyInvitation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    # The lab or specialist the defect belongs to, for its scorecard.
    vendor = models.ForeignKey(
        "vendors.Vendor",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recovery_cases",
    )

    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["practice", "status"], name="case_practice_status")]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "topic"],
                condition=~models.Q(status="closed") & models.Q(patient__isnull=False),
                name="one_open_case_per_patient_topic",
            ),
            models.CheckConstraint(
                condition=models.Q(status="closed", closed_at__isnull=False)
                | (~models.Q(status="closed") & models.Q(closed_at__isnull=True, outcome="")),
                name="case_closed_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"Case #{self.pk}: {self.summary}"

    @property
    def is_paused(self) -> bool:
        return self.status in {self.Status.WAITING_PATIENT, self.Status.WAITING_THIRD_PARTY}

    @property
    def who(self) -> str:
        if self.patient_id:
            return self.patient.full_name
        return self.contact_name or "Anonymous"


class CaseStep(models.Model):
    """One playbook step of a case: its deadline, and who did what, how and what was said."""

    class Method(models.TextChoices):
        CALL = "call", "Phone call"
        IN_PERSON = "in_person", "In person"
        EMAIL = "email", "Email"
        LETTER = "letter", "Letter"
        TEXT = "text", "Text message"
        INTERNAL = "internal", "Within the team"

    case = models.ForeignKey(RecoveryCase, on_delete=models.CASCADE, related_name="steps")
    kind = models.CharField(max_length=12, choices=StepKind.choices)
    position = models.PositiveSmallIntegerField()
    # Empty until the step's clock starts (implement waits for the plan).
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    method = models.CharField(max_length=12, choices=Method.choices, blank=True)
    notes = models.TextField(blank=True, help_text="What was said or done, in their words")

    class Meta:
        ordering = ["case", "position"]
        constraints = [models.UniqueConstraint(fields=["case", "kind"], name="case_step_unique")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of case {self.case_id}"

    @property
    def is_done(self) -> bool:
        return self.completed_at is not None

    @property
    def was_on_time(self) -> bool | None:
        if self.completed_at is None or self.due_at is None:
            return None
        return self.completed_at <= self.due_at


class CaseEscalation(models.Model):
    """One notice that a step is overdue, sent once per level: owner, manager, group admin."""

    class Level(models.IntegerChoices):
        OWNER = 1, "Owner"
        MANAGER = 2, "Manager"
        GROUP_ADMIN = 3, "Group admin"

    step = models.ForeignKey(CaseStep, on_delete=models.CASCADE, related_name="escalations")
    level = models.PositiveSmallIntegerField(choices=Level.choices)
    at = models.DateTimeField()
    notified = models.JSONField(default=list, help_text="Usernames told")

    class Meta:
        ordering = ["step", "level"]
        constraints = [
            models.UniqueConstraint(fields=["step", "level"], name="escalation_once_per_level")
        ]

    def __str__(self) -> str:
        return f"{self.step} escalated to {self.get_level_display()}"


class CaseEvent(models.Model):
    """A line of the case timeline: opened, feedback joined, paused, escalated, closed…"""

    case = models.ForeignKey(RecoveryCase, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    text = models.CharField(max_length=300)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return self.text


class GestureKind(models.Model):
    """A gesture of goodwill in an organisation's catalogue, with its usual cost."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="gesture_kinds"
    )
    name = models.CharField(max_length=80)
    usual_cost = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0"))
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["organisation", "usual_cost", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="gesture_kind_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Gesture(models.Model):
    """A gesture offered in one case; above the organisation's limit a manager approves it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"
        GIVEN = "given", "Given"

    case = models.ForeignKey(RecoveryCase, on_delete=models.CASCADE, related_name="gestures")
    kind = models.ForeignKey(GestureKind, on_delete=models.PROTECT, related_name="+")
    description = models.CharField(max_length=200, blank=True)
    cost = models.DecimalField(max_digits=8, decimal_places=2)
    status = models.CharField(max_length=10, choices=Status.choices)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    proposed_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["case", "proposed_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(cost__gte=0), name="gesture_cost_positive")
        ]

    def __str__(self) -> str:
        return f"{self.kind} (${self.cost})"


class NextVisitAlert(models.Model):
    """A note for the patient's next appointment, shown until the front desk marks it done."""

    practice = models.ForeignKey(
        Practice, on_delete=models.CASCADE, related_name="next_visit_alerts"
    )
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="next_visit_alerts")
    case = models.ForeignKey(
        RecoveryCase, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    text = models.CharField(max_length=300)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = PracticeScopedQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(
                fields=["patient"],
                condition=models.Q(done_at__isnull=True),
                name="alert_pending_per_patient",
            )
        ]

    def __str__(self) -> str:
        return self.text
