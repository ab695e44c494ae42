from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from calls.selectors import patient_calls, patient_open_callbacks
from core.charts import Series, line_chart
from core.services import audit_record
from feedback.selectors import patient_feedback
from loyalty.selectors import can_see_loyalty
from messaging.selectors import messages_for_patient
from patients import selectors
from patients.forms import ProfileForm
from patients.services import PatientError, patient_profile_update
from records.selectors import patient_requests
from recovery.selectors import can_work_cases, patient_cases, pending_alerts

PAGE_SIZE = 50


@login_required
def patient_list(request: HttpRequest) -> HttpResponse:
    if not request.practice:
        return render(request, "core/no_practice.html")
    query = request.GET.get("q", "")[:100]
    patients = selectors.patient_list(user=request.user, practice=request.practice, search=query)
    page = Paginator(patients, PAGE_SIZE).get_page(request.GET.get("page"))
    with transaction.atomic():
        audit_record(
            action="list",
            object_type="patient",
            practice=request.practice,
            request=request,
            detail={"patient_ids": [patient.pk for patient in page], "searched": bool(query)},
        )
    template = "patients/patient_list.html"
    if request.htmx:
        template += "#results"
    return render(request, template, {"page": page, "query": query})


@login_required
def patient_detail(request: HttpRequest, pk: int) -> HttpResponse:
    patient = selectors.get_patient_for_user(request.user, pk)
    with transaction.atomic():
        audit_record(
            action="view",
            object_type="patient",
            object_id=patient.pk,
            patient_id=patient.pk,
            practice=patient.practice,
            request=request,
        )
    works_cases = can_work_cases(request.user, patient.practice)
    context = {
        **_loyalty_context(request, patient),
        "patient": patient,
        "alerts": pending_alerts(user=request.user, patients=[patient]).get(patient.pk, []),
        "cases": patient_cases(user=request.user, patient=patient) if works_cases else None,
        "appointments": selectors.patient_appointments(patient)[:100],
        "household": selectors.patient_household_members(patient),
        "referrals": patient.referrals.order_by("first_name")[:20],
        "feedback": patient_feedback(patient),
        "patient_messages": messages_for_patient(patient)[:50],
        "records_requests": patient_requests(user=request.user, patient=patient)[:10],
        "calls": patient_calls(user=request.user, patient=patient),
        "open_callbacks": patient_open_callbacks(user=request.user, patient=patient),
    }
    return render(request, "patients/patient_detail.html", context)


def _loyalty_context(request, patient) -> dict:
    """The score, reasons and trend, for those who may see who might leave."""
    from loyalty.selectors import patient_check_ins, patient_loyalty, read
    from loyalty.services import loyalty_policy_for

    score, trend = patient_loyalty(user=request.user, patient=patient)
    if score is None and not trend:
        return {"show_loyalty": can_see_loyalty(request.user, patient.practice)}
    weights = loyalty_policy_for(patient.practice.organisation).weights
    return {
        "show_loyalty": True,
        "loyalty": read(score, weights) if score else None,
        "loyalty_trend": trend,
        "loyalty_chart": line_chart(
            [point.month.strftime("%b %Y") for point in trend],
            Series("Risk", [point.risk for point in trend]),
            y_min=0,
            y_max=100,
        ),
        "patient_check_ins": patient_check_ins(user=request.user, patient=patient)[:10],
    }


@login_required
@require_http_methods(["GET", "POST"])
def patient_profile_edit(request: HttpRequest, pk: int) -> HttpResponse:
    patient = selectors.get_patient_for_user(request.user, pk)
    form = ProfileForm(request.POST or None, instance=patient)
    if request.method == "POST" and form.is_valid():
        try:
            patient_profile_update(
                patient=selectors.get_patient_for_user(request.user, pk),
                user=request.user,
                request=request,
                **form.cleaned_data,
            )
        except PatientError as exc:
            form.add_error(None, str(exc))
        else:
            patient.refresh_from_db()
            return render(request, "patients/patient_detail.html#profile", {"patient": patient})
    status = 400 if form.errors else 200
    return render(
        request,
        "patients/patient_detail.html#profile-form",
        {"patient": patient, "form": form},
        status=status,
    )


@login_required
def day_sheet(request: HttpRequest) -> HttpResponse:
    if not request.practice:
        return render(request, "core/no_practice.html")
    today = selectors.practice_today(request.practice)
    try:
        day = dt.date.fromisoformat(request.GET["day"]) if request.GET.get("day") else today
    except ValueError:
        day = today
    sheet = selectors.day_sheet(user=request.user, practice=request.practice, day=day)
    patient_ids = sorted({a.patient_id for rows in sheet.values() for a in rows})
    with transaction.atomic():
        audit_record(
            action="list",
            object_type="day_sheet",
            object_id=day.isoformat(),
            practice=request.practice,
            request=request,
            detail={"patient_ids": patient_ids},
        )
    context = {
        "alerts": pending_alerts(user=request.user, patients=patient_ids),
        "sheet": sheet,
        "day": day,
        "today": today,
        "previous_day": day - dt.timedelta(days=1),
        "next_day": day + dt.timedelta(days=1),
        "count": sum(len(rows) for rows in sheet.values()),
    }
    return render(request, "patients/day_sheet.html", context)
