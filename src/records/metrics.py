"""Records figures for the practice dashboard: how fast and how lawfully requests are met."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

from django.utils import timezone

from core.models import Practice
from records.models import RecordsRequest


@dataclass(frozen=True)
class RecordsMetrics:
    received: int
    fulfilled: int
    fulfilled_on_time: int
    median_hours_to_fulfil: float | None
    open_now: int
    overdue_now: int


def median_hours_to_fulfil(pairs) -> float | None:
    """Median of (fulfilled_at − received_at) in hours over ``(received_at, fulfilled_at)``."""
    hours = [(fulfilled - received).total_seconds() / 3600 for received, fulfilled in pairs]
    return statistics.median(hours) if hours else None


def records_metrics(practice: Practice, *, since: dt.datetime) -> RecordsMetrics:
    """Requests received since ``since`` and the ones open now. A practice has few requests
    a year, so the rows are read once rather than aggregated in SQL (median is not portable)."""
    received = RecordsRequest.objects.filter(practice=practice, received_at__gte=since).exclude(
        status=RecordsRequest.Status.WITHDRAWN
    )
    fulfilled = [
        (row["received_at"], row["fulfilled_at"], row["extended_to"] or row["due_on"])
        for row in received.filter(status=RecordsRequest.Status.FULFILLED).values(
            "received_at", "fulfilled_at", "extended_to", "due_on"
        )
    ]
    zone = practice.zone
    open_deadlines = [
        extended or due
        for extended, due in RecordsRequest.objects.filter(
            practice=practice, status=RecordsRequest.Status.RECEIVED
        ).values_list("extended_to", "due_on")
    ]
    today = timezone.now().astimezone(zone).date()
    return RecordsMetrics(
        received=received.count(),
        fulfilled=len(fulfilled),
        fulfilled_on_time=sum(done.astimezone(zone).date() <= due for _, done, due in fulfilled),
        median_hours_to_fulfil=median_hours_to_fulfil((r, f) for r, f, _ in fulfilled),
        open_now=len(open_deadlines),
        overdue_now=sum(deadline < today for deadline in open_deadlines),
    )
