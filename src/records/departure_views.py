"""Staff pages for patients who leave: record a departure, welcome them back, and the
departures page (why they left, the value lost, who came back)."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from core.selectors import practice_staff_users
from core.services import audit_record
from messaging.errors import MessagingError
from messaging.services import message_draft
from patients.models import Patient
from patients.selectors import get_patient_for_user
from records.departure_selectors import departures_by_reason
from records.departures import (
    FAREWELL_KIND,
    DepartureError,
    patient_depart,
    patient_return,
    winback_owner_default,
    years_with_us,
)

WINBACK_MONTHS = 6
MAX_WINBACK_MONTHS = 24
LONGEST_PERIOD_DAYS = 366 * 10
SURVEY_LINK_PLACEHOLDER = "[the link to the one-question exit survey]"


def _audit(request, action: str, **detail) -> None:
    with transaction.atomic():
        audit_record(action=action, request=request, **detail)


def _today(practice) -> dt.date:
    return timezone.now().astimezone(practice.zone).date()


def _farewell_preview(patient: Patient):
    """The letter as it would go out today, with a placeholder for the survey link; ``None``
    when we have no address for them, or they opted out."""
    context = {
        "link": SURVEY_LINK_PLACEHOLDER,
        "years_with_us": years_with_us(patient, _today(patient.practice)),
    }
    try:
        return message_draft(patient=patient, kind=FAREWELL_KIND, context=context)
    except MessagingError:
        return None


def _parse_departure(form: dict, staff: list) -> dict:
    """The form's values as ``patient_depart`` arguments, or ``DepartureError``."""
    try:
        months = int(form["months"])
    except ValueError:
        months = 0
    if not 1 <= months <= MAX_WINBACK_MONTHS:
        raise DepartureError(f"Win-back after: 1 to {MAX_WINBACK_MONTHS} months.")
    owner = None
    if form["owner"]:
        owner = next((person for person in staff if str(person.pk) == form["owner"]), None)
        if owner is None:
            raise DepartureError("Win-back: choose who reaches out from the list.")
    return {
        "reason": form["reason"],
        "note": form["note"],
        "winback_owner": owner,
        # Six months is 182 days, as the service's default.
        "winback_after_days": months * 365 // 12,
        "send_farewell": form["send_farewell"],
    }


@login_required
@require_http_methods(["GET", "POST"])
def patient_depart_view(request: HttpRequest, patient_pk: int) -> HttpResponse:
    """Anyone at the practice records a departure: why, the farewell letter, and who
    reaches out again in six months."""
    patient = get_patient_for_user(request.user, patient_pk)
    staff = list(practice_staff_users(patient.practice))
    default_owner = winback_owner_default(patient, request.user)
    posted = request.method == "POST"
    form = {
        "reason": request.POST.get("reason", ""),
        "note": request.POST.get("note", ""),
        "owner": request.POST.get("owner", str(default_owner.pk) if default_owner else ""),
        "months": request.POST.get("months", str(WINBACK_MONTHS)).strip(),
        "send_farewell": request.POST.get("send_farewell") == "on" if posted else True,
    }
    error = None
    if posted:
        try:
            departure = patient_depart(
                patient=patient,
                user=request.user,
                request=request,
                **_parse_departure(form, staff),
            )
        except DepartureError as problem:
            error = str(problem)
        else:
            due = departure.winback.due_on
            if departure.farewell:
                letter = " The farewell letter is on its way."
            elif form["send_farewell"]:
                letter = " We have no way to write to them, so no letter went out."
            else:
                letter = ""
            messages.success(
                request,
                f"{patient.full_name} is recorded as departed.{letter} A win-back check-in "
                f"is due {due:%b} {due.day}, {due.year}.",
            )
            return redirect("patients:patient-detail", pk=patient.pk)
    else:
        _audit(
            request,
            "view",
            object_type="patient",
            object_id=patient.pk,
            patient_id=patient.pk,
            practice=patient.practice,
            detail={"page": "depart"},
        )
    context = {
        "patient": patient,
        "form": form,
        "error": error,
        "reasons": Patient.DepartureReason.choices,
        "staff": staff,
        "max_months": MAX_WINBACK_MONTHS,
        "preview": _farewell_preview(patient),
    }
    return render(request, "records/departure_form.html", context, status=400 if error else 200)


@login_required
@require_POST
def patient_return_view(request: HttpRequest, patient_pk: int) -> HttpResponse:
    """A departed patient is back: active again, counted as redeemed."""
    patient = get_patient_for_user(request.user, patient_pk)
    try:
        patient_return(patient=patient, user=request.user, request=request)
    except DepartureError as problem:
        context = {"patient": patient, "problem": str(problem)}
        return render(request, "records/departure_problem.html", context, status=400)
    messages.success(request, f"Welcome back, {patient.full_name}: counted as redeemed.")
    return redirect("patients:patient-detail", pk=patient.pk)


def _year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # February 29
        return day.replace(year=day.year - 1, day=28)


def _period(request: HttpRequest, today: dt.date) -> tuple[dt.date, dt.date, str | None]:
    """The period asked for, or the last twelve months with a problem to show."""
    default = (_year_before(today), today)
    try:
        since = dt.date.fromisoformat(request.GET.get("since") or default[0].isoformat())
        until = dt.date.fromisoformat(request.GET.get("until") or default[1].isoformat())
    except ValueError:
        return *default, "Period: dates like 2026-01-31."
    if since > until:
        return *default, "Period: the start must be before the end."
    if (until - since).days > LONGEST_PERIOD_DAYS:
        return *default, "Period: ten years at most."
    return since, until, None


@login_required
def departures(request: HttpRequest) -> HttpResponse:
    """Why patients left in a period, the lifetime value that left with them, and the
    patients who came back."""
    practice = request.practice
    if not practice:
        return render(request, "core/no_practice.html")
    since, until, error = _period(request, _today(practice))
    report = departures_by_reason(user=request.user, practice=practice, since=since, until=until)
    _audit(
        request,
        "list",
        object_type="patient",
        practice=practice,
        detail={"page": "departures", "patient_ids": [p.pk for p in report.patients]},
    )
    context = {"report": report, "error": error}
    return render(request, "records/departure_list.html", context, status=400 if error else 200)
