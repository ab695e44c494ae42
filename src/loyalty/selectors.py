"""Reads of loyalty scores and check-ins, scoped to the practices the person may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404
from django.utils import timezone

from core.models import Practice
from core.selectors import CASE_ROLES, practices_where_role
from loyalty.models import CheckIn, PatientScore, ScoreSnapshot
from loyalty.rules import reasons_for, suggested_action

# The front desk greets patients; scores of who might leave are for those who act on them.
LOYALTY_ROLES = CASE_ROLES


def loyalty_practices_for_user(user) -> QuerySet[Practice]:
    return practices_where_role(user, LOYALTY_ROLES)


def can_see_loyalty(user, practice: Practice) -> bool:
    return loyalty_practices_for_user(user).filter(pk=practice.pk).exists()


@dataclass(frozen=True)
class Reading:
    """A score as people read it: the figures, the reasons in words, what to do."""

    score: PatientScore
    reasons: list[str]
    action: str


def read(score: PatientScore, weights: dict[str, int]) -> Reading:
    return Reading(score, reasons_for(score, weights), suggested_action(score, weights))


def at_risk(*, user, practice: Practice, min_risk: int) -> QuerySet[PatientScore]:
    """Valuable patients at risk, highest priority first, with any check-in still open."""
    open_check_in = CheckIn.objects.filter(patient=OuterRef("patient"), done_at__isnull=True)
    return (
        PatientScore.objects.filter(practice__in=loyalty_practices_for_user(user))
        .filter(practice=practice, risk__gte=min_risk)
        .select_related("patient")
        .annotate(has_open_check_in=Exists(open_check_in))
        .order_by("-priority", "-risk", "patient_id")
    )


def patient_loyalty(*, user, patient) -> tuple[PatientScore | None, list[ScoreSnapshot]]:
    """The patient's score and its trend: one point a month for the last twelve."""
    if not can_see_loyalty(user, patient.practice):
        return None, []
    score = PatientScore.objects.filter(patient=patient).first()
    today = timezone.now().astimezone(patient.practice.zone).date()
    return score, monthly_trend(ScoreSnapshot.objects.filter(patient=patient), today=today)


def monthly_trend(snapshots, *, today: dt.date, months: int = 12) -> list[ScoreSnapshot]:
    """A snapshot is written only in months the score changed: carry each one forward."""
    known = sorted(snapshots, key=lambda snapshot: snapshot.month)
    if not known:
        return []
    month = today.replace(day=1)
    wanted = []
    for _ in range(months + 1):
        wanted.append(month)
        month = (month - dt.timedelta(days=1)).replace(day=1)
    trend, latest, index = [], None, 0
    for month in reversed(wanted):
        while index < len(known) and known[index].month <= month:
            latest, index = known[index], index + 1
        if latest is not None:
            trend.append(
                ScoreSnapshot(
                    patient_id=latest.patient_id,
                    month=month,
                    risk=latest.risk,
                    value=latest.value,
                    priority=latest.priority,
                )
            )
    return trend


def check_ins(*, user, practice: Practice) -> QuerySet[CheckIn]:
    return (
        CheckIn.objects.filter(practice__in=loyalty_practices_for_user(user), practice=practice)
        .filter(done_at__isnull=True)
        .select_related("patient", "owner")
    )


def patient_check_ins(*, user, patient) -> QuerySet[CheckIn]:
    return (
        CheckIn.objects.filter(practice__in=loyalty_practices_for_user(user), patient=patient)
        .select_related("owner")
        .order_by("-created_at")
    )


def get_check_in_for_user(user, pk) -> CheckIn:
    try:
        return CheckIn.objects.select_related("practice", "patient").get(
            pk=pk, practice__in=loyalty_practices_for_user(user)
        )
    except (CheckIn.DoesNotExist, ValueError, TypeError):
        raise Http404("No such check-in") from None
