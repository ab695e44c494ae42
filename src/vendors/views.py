from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_POST

from core.selectors import can_manage
from core.services import audit_record
from feedback.touchpoints import TOUCHPOINTS
from patients.models import Patient
from patients.selectors import get_patient_for_user
from recovery.selectors import get_case_for_user
from vendors import forms, selectors, services
from vendors.exports import scorecard_csv, scorecard_pdf
from vendors.models import Involvement, Vendor
from vendors.services import VendorError


def _forbidden(request) -> HttpResponse:
    return render(request, "errors/403.html", status=403)


def _problem(request, problem: str, *, back: str = "") -> HttpResponse:
    context = {"problem": problem, "back": back}
    return render(request, "vendors/problem.html", context, status=400)


def _audit_view(request, action: str, vendor: Vendor, patient_ids, **detail) -> None:
    with transaction.atomic():
        audit_record(
            action=action,
            object_type="vendor",
            object_id=vendor.pk,
            practice=vendor.practice,
            request=request,
            detail={"patient_ids": sorted(set(patient_ids)), **detail},
        )


# --- The list, and adding a vendor -----------------------------------------------------------


@login_required
def vendor_list(request: HttpRequest) -> HttpResponse:
    if not request.practice:
        return render(request, "core/no_practice.html")
    vendors = selectors.vendor_list(user=request.user, practice=request.practice)
    context = {"vendors": vendors, "thin": selectors.THIN, "touchpoints": TOUCHPOINTS}
    return render(request, "vendors/vendor_list.html", context)


def _vendor_form_context(form_data: dict, error: str | None, **extra) -> dict:
    return {
        "form": form_data,
        "error": error,
        "kinds": Vendor.Kind.choices,
        "touchpoints": TOUCHPOINTS,
        **extra,
    }


def _vendor_fields(request) -> dict:
    return {
        "name": request.POST.get("name", ""),
        "kind": request.POST.get("kind", Vendor.Kind.LAB),
        "aliases": request.POST.get("aliases", ""),
        "touchpoints": request.POST.getlist("touchpoints"),
        "notes": request.POST.get("notes", ""),
        "is_active": request.POST.get("is_active") == "on",
    }


@login_required
@require_http_methods(["GET", "POST"])
def vendor_new(request: HttpRequest) -> HttpResponse:
    if not request.practice:
        return render(request, "core/no_practice.html")
    if not can_manage(request.user, request.practice):
        return _forbidden(request)
    data = {"name": "", "kind": "lab", "aliases": "", "touchpoints": ["third_party"], "notes": ""}
    error = None
    if request.method == "POST":
        data = _vendor_fields(request)
        form = forms.VendorForm(request.POST)
        try:
            if not form.is_valid():
                raise VendorError(forms.problem(form))
            vendor = services.vendor_create(
                practice=request.practice,
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                aliases=forms.split_names(form.cleaned_data["aliases"]),
                touchpoints=form.cleaned_data["touchpoints"],
                notes=form.cleaned_data["notes"],
                user=request.user,
                request=request,
            )
        except VendorError as problem:
            error = str(problem)
        else:
            return redirect("vendors:vendor-detail", pk=vendor.pk)
    context = _vendor_form_context(data, error, vendor=None)
    return render(request, "vendors/vendor_form.html", context, status=400 if error else 200)


# --- One vendor ------------------------------------------------------------------------------


def _detail_context(request, vendor: Vendor, **extra) -> dict:
    involvements = list(selectors.vendor_involvements(vendor))
    practice = vendor.practice
    return {
        "vendor": vendor,
        "contacts": list(vendor.contacts.all()),
        "involvements": involvements,
        "defects": list(
            vendor.defects.select_related("involvement__patient").order_by("-detected_at")[:30]
        ),
        "cases": list(selectors.vendor_cases(vendor)),
        "is_manager": can_manage(request.user, practice),
        "standards": services.standards_for(practice),
        "today": timezone.now().astimezone(practice.zone).date(),
        "touchpoint_labels": [TOUCHPOINTS.get(t, t) for t in vendor.touchpoints],
        **extra,
    }


def _render_detail(request, vendor: Vendor, *, error: str | None = None) -> HttpResponse:
    context = _detail_context(request, vendor, error=error)
    patient_ids = [i.patient_id for i in context["involvements"]]
    patient_ids += [c.patient_id for c in context["cases"] if c.patient_id]
    patient_ids += [
        d.involvement.patient_id for d in context["defects"] if d.involvement is not None
    ]
    _audit_view(request, "view", vendor, patient_ids)
    return render(request, "vendors/vendor_detail.html", context, status=400 if error else 200)


@login_required
def vendor_detail(request: HttpRequest, pk: int) -> HttpResponse:
    vendor = selectors.get_vendor_for_user(request.user, pk)
    return _render_detail(request, vendor)


def _after_change(request, vendor: Vendor, error: str | None) -> HttpResponse:
    if error:
        return _render_detail(request, vendor, error=error)
    return redirect("vendors:vendor-detail", pk=vendor.pk)


@login_required
@require_http_methods(["GET", "POST"])
def vendor_edit(request: HttpRequest, pk: int) -> HttpResponse:
    vendor = selectors.get_vendor_for_user(request.user, pk)
    if not can_manage(request.user, vendor.practice):
        return _forbidden(request)
    data = {
        "name": vendor.name,
        "kind": vendor.kind,
        "aliases": ", ".join(vendor.aliases),
        "touchpoints": vendor.touchpoints,
        "notes": vendor.notes,
        "is_active": vendor.is_active,
    }
    error = None
    if request.method == "POST":
        data = _vendor_fields(request)
        form = forms.VendorForm(request.POST)
        try:
            if not form.is_valid():
                raise VendorError(forms.problem(form))
            services.vendor_update(
                vendor=vendor,
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                aliases=forms.split_names(form.cleaned_data["aliases"]),
                touchpoints=form.cleaned_data["touchpoints"],
                notes=form.cleaned_data["notes"],
                is_active=form.cleaned_data["is_active"],
                user=request.user,
                request=request,
            )
        except VendorError as problem:
            error = str(problem)
            vendor.refresh_from_db()
        else:
            return redirect("vendors:vendor-detail", pk=vendor.pk)
    context = _vendor_form_context(data, error, vendor=vendor)
    return render(request, "vendors/vendor_form.html", context, status=400 if error else 200)


@login_required
@require_POST
def contact_add(request: HttpRequest, pk: int) -> HttpResponse:
    vendor = selectors.get_vendor_for_user(request.user, pk)
    if not can_manage(request.user, vendor.practice):
        return _forbidden(request)
    form = forms.ContactForm(request.POST)
    error = None
    try:
        if not form.is_valid():
            raise VendorError(forms.problem(form))
        services.contact_add(vendor=vendor, **form.cleaned_data, user=request.user, request=request)
    except VendorError as problem:
        error = str(problem)
    return _after_change(request, vendor, error)


# --- What the vendor did for whom -------------------------------------------------------------


def _patient_choices(request, vendor: Vendor, query: str):
    query = (query or "").strip()[:100]
    if not query:
        return []
    found = list(
        Patient.objects.for_user(request.user)
        .filter(practice=vendor.practice)
        .search(query)
        .order_by("last_name", "first_name", "pk")[:20]
    )
    _audit_view(request, "list", vendor, [p.pk for p in found], search=True)
    return found


def _appointments_around(patient: Patient):
    today = timezone.now()
    return patient.appointments.filter(
        starts_at__gte=today - dt.timedelta(days=365), starts_at__lte=today + dt.timedelta(days=365)
    ).order_by("-starts_at")[:40]


@login_required
@require_http_methods(["GET", "POST"])
def involvement_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Record work or a visit: find the patient first, then the dates."""
    vendor = selectors.get_vendor_for_user(request.user, pk)
    source = request.POST if request.method == "POST" else request.GET
    patient = None
    if source.get("patient"):
        patient = get_patient_for_user(request.user, source["patient"])
        if patient.practice_id != vendor.practice_id:
            return render(request, "errors/404.html", status=404)
    error = None
    data = {key: source.get(key, "") for key in forms.InvolvementForm.base_fields}
    if request.method == "POST":
        form = forms.InvolvementForm(request.POST)
        try:
            if patient is None:
                raise VendorError("Patient: find the patient first.")
            if not form.is_valid():
                raise VendorError(forms.problem(form))
            fields = dict(form.cleaned_data)
            appointment_id = fields.pop("appointment")
            appointment = None
            if appointment_id:
                appointment = patient.appointments.filter(pk=appointment_id).first()
                if appointment is None:
                    raise VendorError("Appointment: choose one of this patient's appointments.")
            services.involvement_create(
                vendor=vendor,
                patient=patient,
                appointment=appointment,
                user=request.user,
                request=request,
                **fields,
            )
        except VendorError as problem:
            error = str(problem)
        else:
            return redirect("vendors:vendor-detail", pk=vendor.pk)
    if patient is not None:
        with transaction.atomic():
            audit_record(
                action="view",
                object_type="patient",
                object_id=patient.pk,
                patient_id=patient.pk,
                practice=patient.practice,
                request=request,
                detail={"via": "vendor involvement"},
            )
    context = {
        "vendor": vendor,
        "patient": patient,
        "query": source.get("q", ""),
        "matches": [] if patient else _patient_choices(request, vendor, source.get("q", "")),
        "appointments": _appointments_around(patient) if patient else [],
        "kinds": Involvement.Kind.choices,
        "form": data,
        "error": error,
    }
    return render(request, "vendors/involvement_new.html", context, status=400 if error else 200)


@login_required
@require_POST
def involvement_record(request: HttpRequest, pk: int) -> HttpResponse:
    involvement = selectors.get_involvement_for_user(request.user, pk)
    form = forms.RecordForm(request.POST)
    error = None
    try:
        if not form.is_valid():
            raise VendorError(forms.problem(form))
        services.involvement_record(
            involvement=involvement, **form.cleaned_data, user=request.user, request=request
        )
    except VendorError as problem:
        error = str(problem)
    return _after_change(request, involvement.vendor, error)


@login_required
@require_POST
def defect_report(request: HttpRequest, pk: int) -> HttpResponse:
    vendor = selectors.get_vendor_for_user(request.user, pk)
    form = forms.DefectForm(request.POST)
    error = None
    try:
        if not form.is_valid():
            raise VendorError(forms.problem(form))
        involvement = None
        if form.cleaned_data["involvement"]:
            involvement = vendor.involvements.filter(pk=form.cleaned_data["involvement"]).first()
            if involvement is None:
                raise VendorError("Which work: choose one of this vendor's.")
        services.defect_report(
            vendor=vendor,
            detail=form.cleaned_data["detail"],
            involvement=involvement,
            user=request.user,
            request=request,
        )
    except VendorError as problem:
        error = str(problem)
    return _after_change(request, vendor, error)


# --- The standards letter ---------------------------------------------------------------------


@login_required
@require_POST
def standards_send(request: HttpRequest, pk: int) -> HttpResponse:
    vendor = selectors.get_vendor_for_user(request.user, pk)
    if not can_manage(request.user, vendor.practice):
        return _forbidden(request)
    form = forms.SendForm(request.POST)
    error = None
    try:
        if not form.is_valid():
            raise VendorError(forms.problem(form))
        contact = vendor.contacts.filter(pk=form.cleaned_data["contact"]).first()
        if contact is None:
            raise VendorError("Contact: choose one of this vendor's contacts.")
        services.standards_send(vendor=vendor, contact=contact, user=request.user, request=request)
    except VendorError as problem:
        error = str(problem)
    return _after_change(request, vendor, error)


@login_required
@require_POST
def standards_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    vendor = selectors.get_vendor_for_user(request.user, pk)
    if not can_manage(request.user, vendor.practice):
        return _forbidden(request)
    form = forms.AcknowledgeForm(request.POST)
    error = None
    try:
        if not form.is_valid():
            raise VendorError(forms.problem(form))
        services.standards_acknowledge(
            vendor=vendor, on=form.cleaned_data["on"], user=request.user, request=request
        )
    except VendorError as problem:
        error = str(problem)
    return _after_change(request, vendor, error)


@login_required
@require_http_methods(["GET", "POST"])
def standards_edit(request: HttpRequest) -> HttpResponse:
    """The practice's standards letter for its vendors, and the days a referral may take."""
    if not request.practice:
        return render(request, "core/no_practice.html")
    if not can_manage(request.user, request.practice):
        return _forbidden(request)
    standards = services.standards_for(request.practice)
    data = {
        "subject": standards.subject,
        "letter": standards.letter,
        "referral_days": standards.referral_days,
    }
    error = None
    if request.method == "POST":
        data = {key: request.POST.get(key, "") for key in data}
        form = forms.StandardsForm(request.POST)
        try:
            if not form.is_valid():
                raise VendorError(forms.problem(form))
            services.standards_update(
                practice=request.practice, **form.cleaned_data, user=request.user, request=request
            )
        except VendorError as problem:
            error = str(problem)
        else:
            return redirect("vendors:vendor-list")
    context = {"form": data, "error": error}
    return render(request, "vendors/standards_edit.html", context, status=400 if error else 200)


# --- The scorecard and its exports -------------------------------------------------------------


def _include_patients(request) -> str | None:
    form = forms.ExportForm(request.GET)
    if not form.is_valid():
        return None
    return form.cleaned_data["patients"] or "none"


@login_required
def vendor_scorecard(request: HttpRequest, pk: int) -> HttpResponse:
    vendor = selectors.get_vendor_for_user(request.user, pk)
    include = _include_patients(request)
    if include is None:
        return _problem(request, "Patients: choose none or initials.")
    card = selectors.scorecard(vendor, include_patients=include)
    _audit_view(request, "list", vendor, card.patient_ids, scorecard=True)
    context = {
        "vendor": vendor,
        "card": card,
        "chart": card.chart(),
        "include_patients": include,
        "is_manager": can_manage(request.user, vendor.practice),
        "thin": selectors.THIN,
    }
    return render(request, "vendors/vendor_scorecard.html", context)


def _export(request, pk: int, kind: str) -> HttpResponse:
    vendor = selectors.get_vendor_for_user(request.user, pk)
    if not can_manage(request.user, vendor.practice):
        return _forbidden(request)
    include = _include_patients(request)
    if include is None:
        return _problem(request, "Patients: choose none or initials.")
    card = selectors.scorecard(vendor, include_patients=include)
    _audit_view(request, "export", vendor, card.patient_ids, format=kind, include_patients=include)
    today = timezone.now().astimezone(vendor.practice.zone).date()
    stem = f"{slugify(vendor.name) or 'vendor'}-scorecard-{today.isoformat()}"
    if kind == "csv":
        response = HttpResponse(scorecard_csv(card), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(scorecard_pdf(card), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{stem}.{kind}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
def scorecard_csv_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _export(request, pk, "csv")


@login_required
def scorecard_pdf_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _export(request, pk, "pdf")


# --- A case's third party, by hand -------------------------------------------------------------


@login_required
@require_POST
def case_vendor(request: HttpRequest, pk: int) -> HttpResponse:
    """Name (or clear) the lab or specialist a recovery case is about."""
    case = get_case_for_user(request.user, pk)
    form = forms.CaseVendorForm(request.POST)
    back = reverse("recovery:case-detail", args=[case.pk])
    if not form.is_valid():
        return _problem(request, forms.problem(form), back=back)
    vendor = None
    if form.cleaned_data["vendor"]:
        vendor = Vendor.objects.filter(
            practice=case.practice, pk=form.cleaned_data["vendor"]
        ).first()
        if vendor is None:
            return _problem(request, "Choose one of this practice's vendors.", back=back)
    services.case_attribute_vendor(case=case, vendor=vendor, user=request.user, request=request)
    return redirect("recovery:case-detail", pk=case.pk)
