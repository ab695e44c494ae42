from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.selectors import can_manage, practice_staff_users
from core.services import audit_record
from loyalty import selectors
from loyalty.models import CheckIn
from loyalty.services import LoyaltyError, checkin_complete, checkin_plan, loyalty_policy_for
from patients.selectors import get_patient_for_user

PAGE_SIZE = 25


@login_required
def at_risk(request: HttpRequest) -> HttpResponse:
    """Valuable patients at risk, highest priority first, each with reasons and a next step."""
    practice = request.practice
    if not practice:
        return render(request, "core/no_practice.html")
    if not selectors.can_see_loyalty(request.user, practice):
        return render(request, "errors/403.html", status=403)
    policy = loyalty_policy_for(practice.organisation)
    scores = selectors.at_risk(user=request.user, practice=practice, min_risk=policy.list_from_risk)
    page = Paginator(scores, PAGE_SIZE).get_page(request.GET.get("page"))
    with transaction.atomic():
        audit_record(
            action="list",
            object_type="loyalty_score",
            practice=practice,
            request=request,
            detail={"patient_ids": [score.patient_id for score in page]},
        )
    context = {
        "page": page,
        "readings": [selectors.read(score, policy.weights) for score in page],
        "check_ins": selectors.check_ins(user=request.user, practice=practice),
        "policy": policy,
        "staff": practice_staff_users(practice),
        # Win-back check-ins are planned when a patient leaves, not from this list.
        "kinds": [(v, label) for v, label in CheckIn.Kind.choices if v != CheckIn.Kind.WINBACK],
        "outcomes": CheckIn.Outcome.choices,
        "can_plan": can_manage(request.user, practice),
        "default_due": timezone.now().astimezone(practice.zone).date() + dt.timedelta(days=7),
    }
    return render(request, "loyalty/at_risk.html", context)


def _back(request, patient_id: int) -> HttpResponse:
    if request.POST.get("back") == "patient":
        return redirect("patients:patient-detail", pk=patient_id)
    return redirect("loyalty:at-risk")


@login_required
@require_POST
def plan_check_in(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for_user(request.user, pk)
    owner = practice_staff_users(patient.practice).filter(pk=request.POST.get("owner") or 0).first()
    try:
        due_on = dt.date.fromisoformat(request.POST.get("due_on", ""))
        if owner is None:
            raise LoyaltyError("Choose who reaches out.")
        checkin_plan(
            patient=patient,
            kind=request.POST.get("kind", ""),
            owner=owner,
            due_on=due_on,
            user=request.user,
            request=request,
        )
    except ValueError:
        return _problem(request, "Due date: a date like 2026-12-01.")
    except LoyaltyError as problem:
        return _problem(request, str(problem))
    return _back(request, patient.pk)


@login_required
@require_POST
def complete_check_in(request: HttpRequest, pk: int) -> HttpResponse:
    check_in = selectors.get_check_in_for_user(request.user, pk)
    try:
        checkin_complete(
            check_in=check_in,
            outcome=request.POST.get("outcome", ""),
            notes=request.POST.get("notes", ""),
            user=request.user,
            request=request,
        )
    except LoyaltyError as problem:
        return _problem(request, str(problem))
    return _back(request, check_in.patient_id)


def _problem(request, message: str) -> HttpResponse:
    return render(request, "loyalty/problem.html", {"problem": message}, status=400)
