"""Reads of vendors: the list with a score per vendor, one vendor's page, its scorecard."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Avg, Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.http import Http404
from django.utils import timezone

from core.charts import Series, combo_chart
from core.models import Practice
from feedback.models import Answer, FeedbackItem, Question
from feedback.touchpoints import TOUCHPOINTS
from recovery.models import RecoveryCase
from vendors.models import Involvement, Vendor, VendorDefect

# Fewer answers than this and an average says little: it is shown greyed.
THIN = 30
PERIOD = dt.timedelta(days=365)
COMMENTS = 50
INCLUDE_PATIENTS = ("none", "initials")


def vendors_for_user(user) -> QuerySet[Vendor]:
    return Vendor.objects.for_user(user)


def get_vendor_for_user(user, pk) -> Vendor:
    """The vendor, or 404 alike for missing and another practice's."""
    try:
        return vendors_for_user(user).select_related("practice__organisation").get(pk=pk)
    except (Vendor.DoesNotExist, ValueError, TypeError):
        raise Http404("No such vendor") from None


def get_involvement_for_user(user, pk) -> Involvement:
    try:
        return (
            Involvement.objects.for_user(user)
            .select_related("practice", "vendor", "patient", "appointment")
            .get(pk=pk)
        )
    except (Involvement.DoesNotExist, ValueError, TypeError):
        raise Http404("No such involvement") from None


def _count(queryset, column: str = "vendor") -> Subquery:
    rows = queryset.filter(**{column: OuterRef("pk")}).order_by().values(column)
    counted = rows.annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def vendor_list(*, user, practice: Practice, now: dt.datetime | None = None) -> QuerySet[Vendor]:
    """The practice's vendors, each with its last year's rating, defects and open cases."""
    since = (now or timezone.now()) - PERIOD
    ratings = Answer.objects.filter(
        number__isnull=False,
        question__kind=Question.Kind.RATING,
        response__submitted_at__gte=since,
    )
    average = (
        ratings.filter(vendor=OuterRef("pk"))
        .order_by()
        .values("vendor")
        .annotate(a=Avg("number"))
        .values("a")
    )
    return (
        vendors_for_user(user)
        .filter(practice=practice)
        .annotate(
            rating_average=Subquery(average),
            rating_count=_count(ratings),
            defect_count=_count(VendorDefect.objects.filter(detected_at__gte=since)),
            open_defect_count=_count(VendorDefect.objects.filter(resolved_at__isnull=True)),
            open_case_count=_count(RecoveryCase.objects.open()),
            comment_count=_count(
                FeedbackItem.objects.filter(received_at__gte=since).exclude(text="")
            ),
        )
        .order_by("-is_active", "name")
    )


@dataclass(frozen=True)
class Satisfaction:
    """The average 1–5 rating of one touchpoint, and how many answers it rests on."""

    touchpoint: str
    average: float | None
    answers: int

    @property
    def label(self) -> str:
        return TOUCHPOINTS.get(self.touchpoint, self.touchpoint or "Overall")

    @property
    def is_thin(self) -> bool:
        return self.answers < THIN


@dataclass(frozen=True)
class Comment:
    received_at: dt.datetime
    score: int | None
    label: str
    text: str
    patient_id: int | None
    initials: str = ""


@dataclass(frozen=True)
class Month:
    month: dt.date
    average: float | None
    answers: int
    defects: int
    cases: int


@dataclass
class Scorecard:
    """What one vendor's patients experienced over a year, carrying no patient names unless
    the practice chooses initials."""

    vendor: Vendor
    since: dt.datetime
    until: dt.datetime
    include_patients: str
    satisfaction: list[Satisfaction]
    overall: Satisfaction
    defects: list[tuple[str, str, int, int]]  # kind, label, total, still open
    defect_rows: list[tuple[dt.datetime, str, str, bool, str]]
    cases: dict[str, int]
    involvements: list[tuple[str, int]]
    comments: list[Comment]
    months: list[Month] = field(default_factory=list)

    @property
    def patient_ids(self) -> list[int]:
        """Whose data the scorecard rests on: for the audit log."""
        return sorted({c.patient_id for c in self.comments if c.patient_id})

    def chart(self) -> dict:
        """The rating by month as a line (1–5, left) over defects and cases as bars (right)."""
        months = self.months
        return combo_chart(
            [m.month.strftime("%b %Y") for m in months],
            Series(
                "Rating (1–5)",
                [round(m.average, 2) if m.average is not None else None for m in months],
                kind="line",
            ),
            Series("Defects", [m.defects for m in months], kind="bar", axis="right"),
            Series("Cases", [m.cases for m in months], kind="bar", axis="right"),
            left={"min": 1, "max": 5, "title": "Rating"},
            right={"title": "Defects and cases", "integer": True},
        )


def initials(patient) -> str:
    if patient is None:
        return ""
    parts = [patient.first_name, patient.last_name]
    return " ".join(f"{p.strip()[0].upper()}." for p in parts if p and p.strip())


def _months(since: dt.datetime, until: dt.datetime, zone) -> list[dt.date]:
    start = since.astimezone(zone).date().replace(day=1)
    end = until.astimezone(zone).date().replace(day=1)
    months = []
    while start <= end:
        months.append(start)
        start = (start + dt.timedelta(days=32)).replace(day=1)
    return months


def _by_month(queryset, column: str, zone, **aggregates) -> dict[dt.date, dict]:
    rows = (
        queryset.annotate(month=TruncMonth(column, tzinfo=zone))
        .order_by()
        .values("month")
        .annotate(**aggregates)
    )
    return {
        (row["month"].date() if hasattr(row["month"], "date") else row["month"]): row
        for row in rows
    }


def scorecard(
    vendor: Vendor, *, include_patients: str = "none", now: dt.datetime | None = None
) -> Scorecard:
    """The vendor's last twelve months: satisfaction on its touchpoints, defects, cases,
    comments and the trend by month."""
    if include_patients not in INCLUDE_PATIENTS:
        raise ValueError(f"include_patients: one of {', '.join(INCLUDE_PATIENTS)}")
    until = now or timezone.now()
    zone = vendor.practice.zone
    # Whole months: the first of the month eleven months back.
    first = _months(until - PERIOD + dt.timedelta(days=31), until, zone)[0]
    since = dt.datetime.combine(first, dt.time.min, tzinfo=zone)

    answers = Answer.objects.filter(
        vendor=vendor,
        number__isnull=False,
        question__kind=Question.Kind.RATING,
        response__submitted_at__gte=since,
        response__submitted_at__lte=until,
    )
    per_touchpoint = {
        row["question__touchpoint"]: Satisfaction(
            row["question__touchpoint"], row["average"], row["answers"]
        )
        for row in answers.order_by()
        .values("question__touchpoint")
        .annotate(average=Avg("number"), answers=Count("pk"))
    }
    satisfaction = [
        per_touchpoint.get(touchpoint, Satisfaction(touchpoint, None, 0))
        for touchpoint in vendor.touchpoints
    ] + [s for t, s in per_touchpoint.items() if t not in vendor.touchpoints]
    overall_row = answers.aggregate(average=Avg("number"), answers=Count("pk"))
    overall = Satisfaction("", overall_row["average"], overall_row["answers"])

    defects_q = vendor.defects.filter(detected_at__gte=since, detected_at__lte=until)
    counted = {
        row["kind"]: (row["total"], row["open"])
        for row in defects_q.order_by()
        .values("kind")
        .annotate(total=Count("pk"), open=Count("pk", filter=Q(resolved_at__isnull=True)))
    }
    defects = [
        (kind, label, *counted.get(kind, (0, 0))) for kind, label in VendorDefect.Kind.choices
    ]
    defect_rows = [
        (
            d.detected_at,
            d.get_kind_display(),
            d.detail,
            d.resolved_at is None,
            initials(d.involvement.patient)
            if include_patients == "initials" and d.involvement
            else "",
        )
        for d in defects_q.select_related("involvement__patient").order_by("-detected_at")[:100]
    ]

    cases_q = RecoveryCase.objects.filter(vendor=vendor, opened_at__gte=since, opened_at__lte=until)
    cases = cases_q.aggregate(
        opened=Count("pk"),
        open=Count("pk", filter=~Q(status=RecoveryCase.Status.CLOSED)),
        closed=Count("pk", filter=Q(status=RecoveryCase.Status.CLOSED)),
        recovered=Count("pk", filter=Q(outcome=RecoveryCase.Outcome.RECOVERED)),
    )

    involvements = list(
        vendor.involvements.filter(created_at__gte=since, created_at__lte=until)
        .order_by()
        .values_list("kind")
        .annotate(n=Count("pk"))
        .order_by("kind")
    )
    labels = dict(Involvement.Kind.choices)
    involvements = [(labels.get(kind, kind), n) for kind, n in involvements]

    items = (
        FeedbackItem.objects.filter(vendor=vendor, received_at__gte=since, received_at__lte=until)
        .exclude(text="")
        .select_related("patient")
        .order_by("-received_at", "-pk")[:COMMENTS]
    )
    comments = [
        Comment(
            received_at=item.received_at,
            score=item.score,
            label=item.label,
            text=item.text,
            patient_id=item.patient_id,
            initials=initials(item.patient) if include_patients == "initials" else "",
        )
        for item in items
    ]

    ratings = _by_month(
        answers, "response__submitted_at", zone, average=Avg("number"), answers=Count("pk")
    )
    found = _by_month(defects_q, "detected_at", zone, n=Count("pk"))
    opened = _by_month(cases_q, "opened_at", zone, n=Count("pk"))
    months = [
        Month(
            month=month,
            average=ratings.get(month, {}).get("average"),
            answers=ratings.get(month, {}).get("answers", 0),
            defects=found.get(month, {}).get("n", 0),
            cases=opened.get(month, {}).get("n", 0),
        )
        for month in _months(since, until, zone)
    ]
    return Scorecard(
        vendor=vendor,
        since=since,
        until=until,
        include_patients=include_patients,
        satisfaction=satisfaction,
        overall=overall,
        defects=defects,
        defect_rows=defect_rows,
        cases=cases,
        involvements=involvements,
        comments=comments,
        months=months,
    )


def vendor_involvements(vendor: Vendor, *, limit: int = 50) -> QuerySet[Involvement]:
    """The vendor's latest work, by the visit it is for (upcoming seats first)."""
    return (
        vendor.involvements.select_related("patient", "appointment")
        .prefetch_related("defects")
        .annotate(when=Coalesce("appointment__starts_at", "created_at"))
        .order_by("-when", "-pk")[:limit]
    )


def vendor_cases(vendor: Vendor, *, limit: int = 20) -> QuerySet[RecoveryCase]:
    return vendor.recovery_cases.select_related("patient").order_by("-opened_at")[:limit]
