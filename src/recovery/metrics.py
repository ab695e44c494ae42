"""How well a practice recovers: speed, deadlines, outcomes, satisfaction, cost, retention.

A practice works tens to hundreds of cases a year, so the figures are computed from the
cases themselves rather than from a rollup table.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Prefetch, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from core.models import Practice
from patients.models import Appointment
from recovery.models import CaseStep, Gesture, RecoveryCase, StepKind

HALF_YEAR = dt.timedelta(days=182)
YEAR = dt.timedelta(days=365)


@dataclass(frozen=True)
class Share:
    """A count out of a total, shown as a percentage when there is a total."""

    count: int
    total: int

    @property
    def percent(self) -> float | None:
        return 100 * self.count / self.total if self.total else None


@dataclass
class RecoveryMetrics:
    opened: int = 0
    hours_to_acknowledge: float | None = None
    acknowledged_on_time: Share = Share(0, 0)
    deadlines_met: Share = Share(0, 0)
    outcomes: Counter = field(default_factory=Counter)
    recovered: Share = Share(0, 0)
    satisfaction_before: float | None = None
    satisfaction_after: float | None = None
    satisfaction_pairs: int = 0
    gesture_cost: Decimal = Decimal("0")
    retained_6_months: Share = Share(0, 0)
    retained_12_months: Share = Share(0, 0)
    second_failures: int = 0
    monthly: list[tuple[dt.date, int, int]] = field(default_factory=list)


def _step_shares(cases: list[RecoveryCase], now: dt.datetime) -> tuple[Share, Share, list[float]]:
    on_time = due = ack_on_time = ack_due = 0
    hours = []
    for case in cases:
        for step in case.steps.all():
            if step.due_at is None:
                continue
            finished = step.completed_at is not None
            if not finished and (step.due_at >= now or case.status != "open"):
                continue  # still within its deadline, or left when the case closed
            met = finished and step.completed_at <= step.due_at
            due, on_time = due + 1, on_time + met
            if step.kind == StepKind.ACKNOWLEDGE:
                ack_due, ack_on_time = ack_due + 1, ack_on_time + met
                if finished:
                    hours.append((step.completed_at - case.opened_at).total_seconds() / 3600)
    return Share(on_time, due), Share(ack_on_time, ack_due), hours


def _retention(practice: Practice, now: dt.datetime) -> tuple[Share, Share]:
    """Of patients whose case closed 6 (12) months ago or more, how many came back since."""
    closed = list(
        RecoveryCase.objects.filter(
            practice=practice,
            patient__isnull=False,
            closed_at__isnull=False,
            closed_at__gte=now - 2 * YEAR,
            closed_at__lte=now - HALF_YEAR,
        )
        .exclude(outcome=RecoveryCase.Outcome.UNREACHABLE)
        .values_list("patient_id", "closed_at")
    )
    if not closed:
        return Share(0, 0), Share(0, 0)
    visits: dict[int, list[dt.datetime]] = {}
    for patient_id, starts_at in Appointment.objects.filter(
        patient_id__in={patient for patient, _ in closed},
        status=Appointment.Status.COMPLETED,
        starts_at__gt=min(at for _, at in closed),
    ).values_list("patient_id", "starts_at"):
        visits.setdefault(patient_id, []).append(starts_at)
    shares = []
    for window in (HALF_YEAR, YEAR):
        eligible = [(p, at) for p, at in closed if at <= now - window]
        kept = sum(any(at < v <= at + window for v in visits.get(p, [])) for p, at in eligible)
        shares.append(Share(kept, len(eligible)))
    return shares[0], shares[1]


def _monthly(practice: Practice, since: dt.datetime) -> list[tuple[dt.date, int, int]]:
    opened = Counter(
        row["month"].date() if hasattr(row["month"], "date") else row["month"]
        for row in RecoveryCase.objects.filter(practice=practice, opened_at__gte=since)
        .annotate(month=TruncMonth("opened_at", tzinfo=practice.zone))
        .values("month")
    )
    recovered = Counter(
        row["month"].date() if hasattr(row["month"], "date") else row["month"]
        for row in RecoveryCase.objects.filter(
            practice=practice, closed_at__gte=since, outcome=RecoveryCase.Outcome.RECOVERED
        )
        .annotate(month=TruncMonth("closed_at", tzinfo=practice.zone))
        .values("month")
    )
    months = sorted(set(opened) | set(recovered))
    return [(month, opened[month], recovered[month]) for month in months]


def recovery_metrics(practice: Practice, *, since: dt.datetime) -> RecoveryMetrics:
    now = timezone.now()
    cases = list(
        RecoveryCase.objects.filter(practice=practice, opened_at__gte=since).prefetch_related(
            Prefetch("steps", queryset=CaseStep.objects.order_by("position"))
        )
    )
    deadlines_met, acknowledged_on_time, hours = _step_shares(cases, now)
    outcomes = Counter(case.outcome for case in cases if case.outcome)
    judged = sum(outcomes.values()) - outcomes[RecoveryCase.Outcome.UNREACHABLE]
    pairs = [
        (case.satisfaction_before, case.satisfaction_after)
        for case in cases
        if case.satisfaction_before is not None and case.satisfaction_after is not None
    ]
    cost = Gesture.objects.filter(
        case__practice=practice,
        proposed_at__gte=since,
        status__in=[Gesture.Status.APPROVED, Gesture.Status.GIVEN],
    ).aggregate(total=Sum("cost"))["total"]
    retained_6, retained_12 = _retention(practice, now)
    return RecoveryMetrics(
        opened=len(cases),
        hours_to_acknowledge=statistics.median(hours) if hours else None,
        acknowledged_on_time=acknowledged_on_time,
        deadlines_met=deadlines_met,
        outcomes=outcomes,
        recovered=Share(outcomes[RecoveryCase.Outcome.RECOVERED], judged),
        satisfaction_before=statistics.mean(b for b, _ in pairs) if pairs else None,
        satisfaction_after=statistics.mean(a for _, a in pairs) if pairs else None,
        satisfaction_pairs=len(pairs),
        gesture_cost=cost or Decimal("0"),
        retained_6_months=retained_6,
        retained_12_months=retained_12,
        second_failures=sum(case.follows_case_id is not None for case in cases),
        monthly=_monthly(practice, since),
    )
