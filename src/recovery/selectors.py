"""Reads of recovery cases, scoped to the practices where the person works cases."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Min, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from core.models import Practice
from core.periods import day_bounds
from core.selectors import CASE_ROLES, practices_where_role
from feedback.touchpoints import TOUCHPOINTS
from recovery.models import CaseStep, Gesture, NextVisitAlert, RecoveryCase, Severity


def case_practices_for_user(user) -> QuerySet[Practice]:
    return practices_where_role(user, CASE_ROLES)


def can_work_cases(user, practice: Practice) -> bool:
    return case_practices_for_user(user).filter(pk=practice.pk).exists()


def cases_for_user(user) -> QuerySet[RecoveryCase]:
    return RecoveryCase.objects.filter(practice__in=case_practices_for_user(user))


def _with_next_due(cases: QuerySet[RecoveryCase]) -> QuerySet[RecoveryCase]:
    """Each case with the deadline of its earliest unfinished step (its running clock)."""
    return cases.annotate(
        next_due_at=Min(
            "steps__due_at",
            filter=Q(steps__completed_at__isnull=True, steps__due_at__isnull=False),
        )
    )


def case_inbox(*, user, practice: Practice, filters: dict[str, str]) -> QuerySet[RecoveryCase]:
    cases = _with_next_due(
        cases_for_user(user).filter(practice=practice).select_related("patient", "owner")
    )
    since, until = day_bounds(filters.get("from", ""), filters.get("to", ""), practice.zone)
    status = filters.get("status") or "open"
    if status == "open":
        cases = cases.open()
    elif status in RecoveryCase.Status.values:
        cases = cases.filter(status=status)
    if filters.get("mine") == "1":
        cases = cases.filter(owner=user)
    if filters.get("overdue") == "1":
        cases = cases.filter(status=RecoveryCase.Status.OPEN, next_due_at__lt=timezone.now())
    if filters.get("severity") in Severity.values:
        cases = cases.filter(severity=filters["severity"])
    touchpoint = filters.get("touchpoint")
    if touchpoint in TOUCHPOINTS:
        # JSON "contains" is not portable to SQLite; a quoted-slug match is exact enough.
        cases = cases.filter(touchpoints__icontains=f'"{touchpoint}"')
    if since:
        cases = cases.filter(opened_at__gte=since)
    if until:
        cases = cases.filter(opened_at__lt=until)
    # Paused cases have no running clock: they sort after the ones that do.
    return cases.order_by("status", "next_due_at", "-opened_at")


def case_counts(*, user, practice: Practice) -> dict[str, int]:
    now = timezone.now()
    open_cases = _with_next_due(cases_for_user(user).filter(practice=practice).open())
    return {
        "open": open_cases.count(),
        "overdue": open_cases.filter(status="open", next_due_at__lt=now).count(),
        "mine": open_cases.filter(owner=user).count(),
    }


def get_case_for_user(user, pk) -> RecoveryCase:
    """The case, or 404 alike for missing, another practice's, or not a case worker's."""
    try:
        return (
            cases_for_user(user)
            .select_related("practice__organisation", "patient", "owner", "follows_case")
            .prefetch_related(
                Prefetch("steps", queryset=CaseStep.objects.select_related("completed_by")),
                Prefetch("gestures", queryset=Gesture.objects.select_related("kind")),
                "feedback_items",
                "alerts",
            )
            .get(pk=pk)
        )
    except (RecoveryCase.DoesNotExist, ValueError, TypeError):
        raise Http404("No such case") from None


def get_gesture_for_user(user, pk) -> Gesture:
    try:
        return Gesture.objects.select_related("case__practice", "kind").get(
            pk=pk, case__practice__in=case_practices_for_user(user)
        )
    except (Gesture.DoesNotExist, ValueError, TypeError):
        raise Http404("No such gesture") from None


@dataclass(frozen=True)
class Clock:
    """How a step's deadline stands right now, for the clocks on every case."""

    due_at: dt.datetime | None
    state: str  # done, late, overdue, due, waiting, paused
    late_by: dt.timedelta | None = None


def step_clock(step: CaseStep, *, case: RecoveryCase, now: dt.datetime) -> Clock:
    if step.completed_at is not None:
        late = step.due_at is not None and step.completed_at > step.due_at
        return Clock(step.due_at, "late" if late else "done")
    if step.due_at is None:
        return Clock(None, "waiting")
    if case.is_paused:
        return Clock(step.due_at, "paused")
    if step.due_at < now:
        return Clock(step.due_at, "overdue", now - step.due_at)
    return Clock(step.due_at, "due")


def patient_cases(*, user, patient) -> QuerySet[RecoveryCase]:
    return _with_next_due(
        cases_for_user(user).filter(patient=patient).select_related("owner")
    ).order_by("-opened_at")


def pending_alerts(*, user, patients) -> dict[int, list[NextVisitAlert]]:
    """Alerts not yet done for the given patients, by patient id; for the day sheet and banner."""
    alerts = (
        NextVisitAlert.objects.for_user(user)
        .filter(patient__in=patients, done_at__isnull=True)
        .order_by("created_at")
    )
    by_patient: dict[int, list[NextVisitAlert]] = {}
    for alert in alerts:
        by_patient.setdefault(alert.patient_id, []).append(alert)
    return by_patient


def get_alert_for_user(user, pk) -> NextVisitAlert:
    try:
        return NextVisitAlert.objects.for_user(user).select_related("case").get(pk=pk)
    except (NextVisitAlert.DoesNotExist, ValueError, TypeError):
        raise Http404("No such alert") from None
