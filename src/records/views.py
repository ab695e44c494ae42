from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from core.links import absolute_url
from core.selectors import can_manage
from patients.selectors import get_patient_for_user
from records import selectors
from records.access_rules import access_rule
from records.metrics import median_hours_to_fulfil
from records.models import RecordsRequest
from records.services import (
    RecordsError,
    records_download,
    records_request_extend,
    records_request_from_token,
    records_request_fulfil,
    records_request_log,
    records_request_set_fee,
)


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate="30/m", method=ratelimit.ALL)
def download(request: HttpRequest, token: str) -> HttpResponse:
    """The patient's download page. GET only shows it (mail scanners open links); its two
    buttons POST ``format`` (the PDF summary or the FHIR file), and only that hands over
    the records, counted and audited."""
    try:
        records_request = records_request_from_token(token)
    except RecordsError as problem:
        return render(request, "records/link_problem.html", {"problem": problem}, status=410)
    if request.method == "GET":
        context = {"practice": records_request.practice, "expires": records_request.link_expires_at}
        return render(request, "records/download.html", context)
    chosen = request.POST.get("format", "fhir")
    try:
        records = records_download(records_request=records_request, request=request, format=chosen)
    except RecordsError as problem:
        return render(request, "records/link_problem.html", {"problem": problem}, status=400)
    stem = f"records-{records_request.practice.slug}-{records_request.pk}"
    if chosen == "pdf":
        response = HttpResponse(records, content_type="application/pdf")
        name = f"{stem}.pdf"
    else:
        body = json.dumps(records, indent=2, ensure_ascii=False)
        response = HttpResponse(body, content_type="application/fhir+json")
        name = f"{stem}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


# --- Staff pages ------------------------------------------------------------------------


def _staff_audit(request, action: str, records_request=None, **detail) -> None:
    from django.db import transaction

    from core.services import audit_record

    with transaction.atomic():
        audit_record(
            action=action,
            object_type="records_request",
            object_id=records_request.pk if records_request else "",
            patient_id=records_request.patient_id if records_request else None,
            practice=records_request.practice if records_request else request.practice,
            request=request,
            detail=detail,
        )


@login_required
def request_list(request: HttpRequest) -> HttpResponse:
    """Open requests by deadline, and how fast the last ones were fulfilled."""
    if not request.practice:
        return render(request, "core/no_practice.html")
    waiting = list(selectors.open_requests(user=request.user, practice=request.practice))
    done = list(selectors.recent_fulfilled(user=request.user, practice=request.practice))
    _staff_audit(request, "list", patient_ids=sorted({r.patient_id for r in [*waiting, *done]}))
    today = timezone.now().astimezone(request.practice.zone).date()
    context = {
        "waiting": [(r, (r.deadline - today).days) for r in waiting],
        "done": done,
        "median_hours": median_hours_to_fulfil((r.received_at, r.fulfilled_at) for r in done),
        "public_url": absolute_url(
            reverse(
                "records:public-request",
                kwargs={
                    "org": request.practice.organisation.slug,
                    "practice": request.practice.slug,
                },
            )
        ),
    }
    return render(request, "records/request_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def request_new(request: HttpRequest, patient_pk: int) -> HttpResponse:
    """Anyone at the practice logs a request the moment it arrives, by any channel."""
    patient = get_patient_for_user(request.user, patient_pk)
    form = {
        "channel": request.POST.get("channel", "phone"),
        "send_to_email": request.POST.get("send_to_email", patient.contact_person.email),
        "send_copy_to": request.POST.get("send_copy_to", ""),
        "representative_name": request.POST.get("representative_name", ""),
        "representative_relation": request.POST.get("representative_relation", ""),
    }
    error = None
    if request.method == "POST":
        try:
            logged = records_request_log(patient=patient, user=request.user, **form)
        except RecordsError as problem:
            error = str(problem)
        else:
            return redirect("records:request-detail", pk=logged.pk)
    context = {
        "patient": patient,
        "form": form,
        "error": error,
        "channels": RecordsRequest.Channel.choices,
        "rule": access_rule(patient.practice.region),
    }
    return render(request, "records/request_new.html", context, status=400 if error else 200)


@login_required
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    records_request = selectors.get_request_for_user(request.user, pk)
    _staff_audit(request, "view", records_request)
    return render(request, "records/request_detail.html", _detail_context(request, records_request))


def _detail_context(request, records_request, error: str | None = None) -> dict:
    return {
        "rr": records_request,
        "rule": access_rule(records_request.rule_region),
        "is_manager": can_manage(request.user, records_request.practice),
        "error": error,
    }


def _manager_action(request: HttpRequest, pk: int, action) -> HttpResponse:
    records_request = selectors.get_request_for_user(request.user, pk)
    if not can_manage(request.user, records_request.practice):
        context = _detail_context(request, records_request, "Only a manager can do this.")
        return render(request, "records/request_detail.html", context, status=403)
    try:
        action(records_request)
    except RecordsError as problem:
        context = _detail_context(request, records_request, str(problem))
        return render(request, "records/request_detail.html", context, status=400)
    return redirect("records:request-detail", pk=pk)


@login_required
@require_POST
def request_fulfil(request: HttpRequest, pk: int) -> HttpResponse:
    return _manager_action(
        request, pk, lambda rr: records_request_fulfil(records_request=rr, user=request.user)
    )


@login_required
@require_POST
def request_extend(request: HttpRequest, pk: int) -> HttpResponse:
    notice = request.POST.get("notice", "")
    return _manager_action(
        request,
        pk,
        lambda rr: records_request_extend(records_request=rr, notice=notice, user=request.user),
    )


@login_required
@require_POST
def request_fee(request: HttpRequest, pk: int) -> HttpResponse:
    fee, itemised = request.POST.get("fee", ""), request.POST.get("itemised") == "1"
    return _manager_action(
        request,
        pk,
        lambda rr: records_request_set_fee(
            records_request=rr, fee=fee, itemised=itemised, user=request.user
        ),
    )
