"""Reads of loyalty scores and check-ins, scoped to the practices the person may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404

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
    if not can_see_loyalty(user, patient.practice):
        return None, []
    score = PatientScore.objects.filter(patient=patient).first()
    since = dt.date.today().replace(day=1) - dt.timedelta(days=365)
    trend = list(ScoreSnapshot.objects.filter(patient=patient, month__gte=since))
    return score, trend


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
