"""Reads about patients who left: why, what it cost, and who came back."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Prefetch, Q, Sum

from core.charts import Series, bar_chart
from core.models import Practice
from loyalty.models import CheckIn
from patients.models import Patient

NOT_RECORDED = "Not recorded"


@dataclass(frozen=True)
class ReasonRow:
    reason: str
    label: str
    count: int
    value_lost: Decimal


@dataclass(frozen=True)
class DepartureReport:
    """Departures in a period by reason. ``value_lost`` counts only patients who have not
    come back; ``redeemed_count`` is everyone who came back in the period."""

    since: dt.date
    until: dt.date
    rows: list[ReasonRow]
    total_count: int
    total_value_lost: Decimal
    redeemed_count: int
    patients: list[Patient]

    @property
    def chart(self) -> dict:
        return bar_chart(
            [row.label for row in self.rows],
            Series("Patients who left", [row.count for row in self.rows]),
            horizontal=True,
        )


def _bounds(practice: Practice, since: dt.date, until: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """From the start of ``since`` to the end of ``until``, in the practice's own time."""
    start = dt.datetime.combine(since, dt.time.min, tzinfo=practice.zone)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=practice.zone)
    return start, end


def departures_by_reason(
    *, user, practice: Practice, since: dt.date, until: dt.date
) -> DepartureReport:
    start, end = _bounds(practice, since, until)
    patients = Patient.objects.for_user(user).filter(practice=practice)
    departed = patients.filter(departed_at__gte=start, departed_at__lt=end)
    still_gone = Q(status=Patient.Status.DEPARTED)
    grouped = (
        departed.order_by()
        .values("departure_reason")
        .annotate(count=Count("id"), value_lost=Sum("lifetime_value", filter=still_gone))
    )
    labels = dict(Patient.DepartureReason.choices)
    rows = sorted(
        (
            ReasonRow(
                reason=group["departure_reason"],
                label=labels.get(group["departure_reason"], NOT_RECORDED),
                count=group["count"],
                value_lost=group["value_lost"] or Decimal("0"),
            )
            for group in grouped
        ),
        # Most common first; departures nobody recorded a reason for (imports) last.
        key=lambda row: (row.reason == "", -row.count, row.label),
    )
    winbacks = CheckIn.objects.filter(kind=CheckIn.Kind.WINBACK).select_related("owner")
    listed = list(
        departed.prefetch_related(
            Prefetch("check_ins", queryset=winbacks.order_by("-created_at"), to_attr="winbacks")
        ).order_by("-departed_at", "id")
    )
    return DepartureReport(
        since=since,
        until=until,
        rows=rows,
        total_count=sum(row.count for row in rows),
        total_value_lost=sum((row.value_lost for row in rows), Decimal("0")),
        redeemed_count=patients.filter(returned_at__gte=start, returned_at__lt=end).count(),
        patients=listed,
    )
