"""Daily rollups: what happened at each practice on each of its local days, counted once,
and their sums per calendar month.

Dashboards read these tables, never the raw rows. ``analytics.rollups`` rewrites them from
the raw rows (set-based, idempotent); docs/analytics.md says what every column counts and
which moment of a raw row decides its day.
"""

from __future__ import annotations

from django.db import models

from core.models import Practice


def _count(help_text: str) -> models.IntegerField:
    return models.IntegerField(default=0, help_text=help_text)


# Each table's unique constraint starts with the practice: it is the practice's index too.


def _cents(help_text: str) -> models.BigIntegerField:
    # Whole cents: sums stay exact on SQLite too, where decimals are stored as floats.
    return models.BigIntegerField(default=0, help_text=help_text)


def _practice():
    return models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="+", db_index=False)


def _month():
    return models.DateField(help_text="The first day of the month")


def _unique(name: str, *fields: str) -> models.UniqueConstraint:
    return models.UniqueConstraint(fields=["practice", *fields], name=name)


class DayCounts(models.Model):
    """The summed figures of a practice's day (``PracticeDay``) or month (``PracticeMonth``)."""

    # Surveys
    invitations = _count("Survey invitations created that day")
    invitations_answered = _count("Of those invitations, the ones answered since")
    responses = _count("Survey responses submitted that day")
    nps_promoters = _count("Responses submitted that day with an NPS answer of 9-10")
    nps_passives = _count("… of 7-8")
    nps_detractors = _count("… of 0-6")
    csat_answers = _count("Answers to rating (1-5) questions of responses submitted that day")
    csat_satisfied = _count("Of those, answers of 4 or 5")
    ces_answers = _count("Answers to effort questions (see docs/analytics.md) that day")
    ces_easy = _count("Of those, 'yes' (yes/no) or 4-5 (rating)")
    # Feedback
    feedback_items = _count("Feedback items received that day, any channel")
    feedback_negative = _count("Of those, labelled negative: the service defects")
    feedback_positive = _count("Of those, labelled positive: the praise")
    # Recovery
    cases_opened = _count("Recovery cases opened that day")
    cases_ack_on_time = _count("Of those, acknowledged by the acknowledge step's deadline")
    cases_ack_late = _count("Of those, acknowledged late, or still open and past the deadline")
    cases_closed = _count("Cases closed that day")
    cases_recovered = _count("Of those, closed as recovered")
    cases_judged = _count("Of those, closed with an outcome other than unreachable")
    satisfaction_pairs = _count("Cases closed that day with a score before and after")
    satisfaction_before_sum = _count("Sum of those cases' scores before recovery")
    satisfaction_after_sum = _count("Sum of those cases' scores after recovery")
    gestures = _count("Gestures proposed that day and now approved or given")
    gestures_cost_cents = _cents("Their cost, in cents")
    # Records and departures
    records_received = _count("Records requests received that day (not withdrawn)")
    records_fulfilled = _count("Records requests fulfilled that day")
    records_fulfilled_on_time = _count("Of those, fulfilled on or before their (extended) due day")
    departures = _count("Patients whose departure was recorded for that day")
    value_lost_cents = _cents("Lifetime value of those of them still gone, in cents")
    redeemed = _count("Departed patients who came back that day")
    # Calls
    calls_inbound = _count("Inbound calls started that day")
    calls_answered = _count("Of those, answered by a person")
    calls_missed = _count("Of those, not answered (missed, voicemail, abandoned)")
    callbacks_done = _count("Call-backs of that day's missed calls done by a person")
    callbacks_on_time = _count("Of those, done by their deadline")
    callbacks_overdue = _count("Call-backs of that day's calls still open past their deadline")
    new_callers = _count("Numbers first heard that day on an inbound call from a new caller")
    new_callers_booked = _count("Of those, with an appointment booked within 7 days of the call")
    # Vendors
    vendor_defects = _count("Vendor defects detected or reported that day")
    # Case mix
    visits = _count("Completed appointments that day")
    patients_seen = _count("Distinct patients with a completed appointment that day")
    new_patients_seen = _count("Of those, patients whose first visit at the practice it was")

    class Meta:
        abstract = True


class PracticeDay(DayCounts):
    """One practice's figures for one of its local days (the practice's time zone).

    A row exists only for days on which something happened; a missing day counts zero.
    Each figure is attributed to the day of one moment of its raw row, named in the help
    text. Figures that depend on what happened later (an invitation answered, a deadline
    passed) are as of the last refresh of the day.
    """

    practice = models.ForeignKey(
        Practice, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    # A refresh rewrites only the rows whose figures changed.
    changed_at = models.DateTimeField(help_text="When a refresh last changed these figures")

    class Meta:
        ordering = ["practice", "day"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "day"], name="practice_day_unique")
        ]
        indexes = [models.Index(fields=["day", "practice"], name="practice_day_by_day")]

    def __str__(self) -> str:
        return f"{self.practice_id} on {self.day}"


class PracticeMonth(DayCounts):
    """The sums of one practice's ``PracticeDay`` rows of one calendar month (of its local
    days), kept with them by every refresh: a year of a thousand practices is 12,000 rows
    to read instead of 365,000."""

    practice = _practice()
    month = _month()

    class Meta:
        ordering = ["practice", "month"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "month"], name="practice_month_unique")
        ]
        indexes = [models.Index(fields=["month", "practice"], name="practice_month_by_month")]

    def __str__(self) -> str:
        return f"{self.practice_id} in {self.month:%Y-%m}"


class TouchpointCounts(models.Model):
    # A touchpoint slug (``feedback.touchpoints``); blank for ratings of no touchpoint.
    touchpoint = models.CharField(max_length=30, blank=True)
    answers = _count("Rating (1-5) answers about the touchpoint in responses submitted that day")
    score_sum = _count("Sum of those ratings")
    satisfied = _count("Of those, 4 or 5")
    low_scores = _count("Of those, 1 or 2")
    defects = _count("Negative feedback items received that day naming the touchpoint")

    class Meta:
        abstract = True


class PracticeDayTouchpoint(TouchpointCounts):
    """One practice's rating answers and defects for one touchpoint on one local day."""

    practice = _practice()
    day = models.DateField()

    class Meta:
        ordering = ["practice", "day", "touchpoint"]
        constraints = [_unique("practice_day_touchpoint_unique", "day", "touchpoint")]
        indexes = [models.Index(fields=["day", "practice"], name="touchpoint_day_by_day")]

    def __str__(self) -> str:
        return f"{self.practice_id} on {self.day}: {self.touchpoint or 'no touchpoint'}"


class PracticeMonthTouchpoint(TouchpointCounts):
    """The sums of a practice's ``PracticeDayTouchpoint`` rows of one month."""

    practice = _practice()
    month = _month()

    class Meta:
        ordering = ["practice", "month", "touchpoint"]
        constraints = [_unique("practice_month_touchpoint_unique", "month", "touchpoint")]
        indexes = [models.Index(fields=["month", "practice"], name="touchpoint_month_by_month")]

    def __str__(self) -> str:
        return f"{self.practice_id} in {self.month:%Y-%m}: {self.touchpoint or 'no touchpoint'}"


class DepartureCounts(models.Model):
    # ``Patient.DepartureReason``; blank when nobody recorded one.
    reason = models.CharField(max_length=16, blank=True)
    departures = _count("Patients who left that day for this reason")
    value_lost_cents = _cents("Lifetime value of those still gone, in cents")

    class Meta:
        abstract = True


class PracticeDayDeparture(DepartureCounts):
    """Patients whose departure was recorded for one local day, by reason."""

    practice = _practice()
    day = models.DateField()

    class Meta:
        ordering = ["practice", "day", "reason"]
        constraints = [_unique("practice_day_departure_unique", "day", "reason")]

    def __str__(self) -> str:
        return f"{self.practice_id} on {self.day}: {self.reason or 'no reason'}"


class PracticeMonthDeparture(DepartureCounts):
    """The sums of a practice's ``PracticeDayDeparture`` rows of one month."""

    practice = _practice()
    month = _month()

    class Meta:
        ordering = ["practice", "month", "reason"]
        constraints = [_unique("practice_month_departure_unique", "month", "reason")]

    def __str__(self) -> str:
        return f"{self.practice_id} in {self.month:%Y-%m}: {self.reason or 'no reason'}"


class PersonCounts(models.Model):
    person = models.CharField(max_length=120)
    praise = _count("Positive feedback items received that day naming the person")
    complaints = _count("Negative feedback items received that day naming the person")

    class Meta:
        abstract = True


class PracticeDayPerson(PersonCounts):
    """Praise and complaints naming one member of staff, on one local day of a practice.

    The person is the name as the text analysis found it (``FeedbackItem.people``, matched
    against the practice's staff when the item arrived): renaming someone later leaves
    what was said about them under the old name.
    """

    practice = _practice()
    day = models.DateField()

    class Meta:
        ordering = ["practice", "day", "person"]
        constraints = [_unique("practice_day_person_unique", "day", "person")]

    def __str__(self) -> str:
        return f"{self.practice_id} on {self.day}: {self.person}"


class PracticeMonthPerson(PersonCounts):
    """The sums of a practice's ``PracticeDayPerson`` rows of one month."""

    practice = _practice()
    month = _month()

    class Meta:
        ordering = ["practice", "month", "person"]
        constraints = [_unique("practice_month_person_unique", "month", "person")]

    def __str__(self) -> str:
        return f"{self.practice_id} in {self.month:%Y-%m}: {self.person}"


class VendorCounts(models.Model):
    vendor = models.ForeignKey(
        "vendors.Vendor", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    answers = _count("Rating (1-5) answers about the vendor in responses submitted that day")
    score_sum = _count("Sum of those ratings")
    satisfied = _count("Of those, 4 or 5")
    defects = _count("Defects of the vendor detected or reported that day")
    complaints = _count("Negative feedback items about the vendor received that day")
    cases_opened = _count("Recovery cases about the vendor opened that day")

    class Meta:
        abstract = True


class PracticeDayVendor(VendorCounts):
    """What patients said of one lab or specialist, and what went wrong with it, on one
    local day of a practice: the vendor scorecards of the dashboards."""

    practice = _practice()
    day = models.DateField()

    class Meta:
        ordering = ["practice", "day", "vendor"]
        constraints = [_unique("practice_day_vendor_unique", "day", "vendor")]

    def __str__(self) -> str:
        return f"{self.practice_id} on {self.day}: vendor {self.vendor_id}"


class PracticeMonthVendor(VendorCounts):
    """The sums of a practice's ``PracticeDayVendor`` rows of one month."""

    practice = _practice()
    month = _month()

    class Meta:
        ordering = ["practice", "month", "vendor"]
        constraints = [_unique("practice_month_vendor_unique", "month", "vendor")]

    def __str__(self) -> str:
        return f"{self.practice_id} in {self.month:%Y-%m}: vendor {self.vendor_id}"


class PracticeSnapshot(models.Model):
    """Figures true at a moment rather than summed over days: the loyalty scores as they
    stood when a refresh ran on that local day.

    Kept apart from ``PracticeDay`` because raw rows cannot give them back for a past day
    (a patient's score has no history here): a rebuild recomputes every ``PracticeDay``
    but leaves these as they were taken.
    """

    practice = models.ForeignKey(
        Practice, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    taken_at = models.DateTimeField()
    patients_scored = _count("Active patients with a loyalty score")
    patients_at_risk = _count("Of those, at or above the organisation's at-risk threshold")
    value_at_risk_cents = _cents("Lifetime value of the patients at risk, in cents")

    class Meta:
        ordering = ["practice", "day"]
        constraints = [
            models.UniqueConstraint(fields=["practice", "day"], name="practice_snapshot_unique")
        ]

    def __str__(self) -> str:
        return f"{self.practice_id} as of {self.day}"
