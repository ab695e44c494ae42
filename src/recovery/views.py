from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from core.selectors import can_manage, practice_staff_users
from core.services import audit_record
from feedback.selectors import get_item_for_user
from feedback.touchpoints import TOUCHPOINTS
from patients.selectors import get_patient_for_user
from recovery import actions, selectors, services
from recovery.errors import RecoveryError
from recovery.models import CaseStep, GestureKind, RecoveryCase, Severity
from recovery.playbook import GUIDANCE
from recovery.policy import recovery_policy_for

PAGE_SIZE = 30


def _forbidden_unless_case_worker(request, practice) -> HttpResponse | None:
    if not selectors.can_work_cases(request.user, practice):
        return render(request, "errors/403.html", status=403)
    return None


@login_required
def case_inbox(request: HttpRequest) -> HttpResponse:
    if not request.practice:
        return render(request, "core/no_practice.html")
    if denied := _forbidden_unless_case_worker(request, request.practice):
        return denied
    filters = {
        key: request.GET.get(key, "")
        for key in ("status", "mine", "overdue", "severity", "touchpoint", "from", "to")
    }
    if (filters["from"] or filters["to"]) and not filters["status"]:
        # Cases opened in a period (the dashboard's count) whatever their state now.
        filters["status"] = "all"
    cases = selectors.case_inbox(user=request.user, practice=request.practice, filters=filters)
    page = Paginator(cases, PAGE_SIZE).get_page(request.GET.get("page"))
    with transaction.atomic():
        audit_record(
            action="list",
            object_type="recovery_case",
            practice=request.practice,
            request=request,
            detail={"patient_ids": sorted({c.patient_id for c in page if c.patient_id})},
        )
    context = {
        "page": page,
        "filters": filters,
        "counts": selectors.case_counts(user=request.user, practice=request.practice),
        "now": timezone.now(),
        "touchpoints": TOUCHPOINTS,
        "severities": Severity.choices,
        "statuses": RecoveryCase.Status.choices,
    }
    template = "recovery/case_inbox.html#cases" if request.htmx else "recovery/case_inbox.html"
    return render(request, template, context)


def _case_context(request, case: RecoveryCase, **extra) -> dict:
    now = timezone.now()
    steps = list(case.steps.all())
    next_step = next((s for s in steps if not s.is_done), None)
    return {
        "case": case,
        "steps": [
            (step, selectors.step_clock(step, case=case, now=now), GUIDANCE[step.kind])
            for step in steps
        ],
        "next_step": next_step,
        "events": case.events.select_related("actor"),
        "methods": CaseStep.Method.choices,
        "severities": Severity.choices,
        "outcomes": RecoveryCase.Outcome.choices,
        "gesture_kinds": GestureKind.objects.filter(
            organisation_id=case.practice.organisation_id, is_active=True
        ),
        "spend": actions.gesture_spend(case.practice),
        "policy": recovery_policy_for(case.practice.organisation),
        "is_manager": can_manage(request.user, case.practice),
        "owners": _possible_owners(case),
        "message_kinds": actions.CASE_MESSAGE_KINDS,
        "touchpoint_labels": [TOUCHPOINTS.get(t, t) for t in case.touchpoints],
        **extra,
    }


def _possible_owners(case: RecoveryCase):
    return practice_staff_users(case.practice)


@login_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = selectors.get_case_for_user(request.user, pk)
    with transaction.atomic():
        audit_record(
            action="view",
            object_type="recovery_case",
            object_id=case.pk,
            patient_id=case.patient_id,
            practice=case.practice,
            request=request,
        )
    return render(request, "recovery/case_detail.html", _case_context(request, case))


def _case_changed(request, pk: int, error: str | None = None) -> HttpResponse:
    """After a change: the case partial for htmx, else back to the page."""
    case = selectors.get_case_for_user(request.user, pk)
    if request.htmx:
        context = _case_context(request, case, error=error)
        return render(
            request, "recovery/case_detail.html#case", context, status=400 if error else 200
        )
    if error:
        context = _case_context(request, case, error=error)
        return render(request, "recovery/case_detail.html", context, status=400)
    return redirect("recovery:case-detail", pk=pk)


def _act(request, pk: int, action) -> HttpResponse:
    case = selectors.get_case_for_user(request.user, pk)
    try:
        action(case)
    except RecoveryError as problem:
        return _case_changed(request, pk, error=str(problem))
    return _case_changed(request, pk)


def _score(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise RecoveryError("Score: a whole number from 0 to 10.") from None


@login_required
@require_POST
def step_complete(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    def complete(case):
        services.case_step_complete(
            case=case,
            kind=kind,
            method=request.POST.get("method", ""),
            notes=request.POST.get("notes", ""),
            score=_score(request.POST.get("score")),
            user=request.user,
            request=request,
        )

    return _act(request, pk, complete)


@login_required
@require_POST
def case_pause(request: HttpRequest, pk: int) -> HttpResponse:
    waiting_on = request.POST.get("waiting_on", "")
    return _act(
        request,
        pk,
        lambda case: services.case_pause(
            case=case, waiting_on=waiting_on, user=request.user, request=request
        ),
    )


@login_required
@require_POST
def case_resume(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda case: services.case_resume(case=case, user=request.user, request=request),
    )


@login_required
@require_POST
def case_owner(request: HttpRequest, pk: int) -> HttpResponse:
    def assign(case):
        owner = _possible_owners(case).filter(pk=request.POST.get("owner") or 0).first()
        if owner is None:
            raise RecoveryError("Choose a dentist, hygienist or manager of this practice.")
        services.case_assign(case=case, owner=owner, user=request.user, request=request)

    return _act(request, pk, assign)


@login_required
@require_POST
def case_severity(request: HttpRequest, pk: int) -> HttpResponse:
    severity = request.POST.get("severity", "")
    return _act(
        request,
        pk,
        lambda case: services.case_set_severity(
            case=case, severity=severity, user=request.user, request=request
        ),
    )


@login_required
@require_POST
def case_close(request: HttpRequest, pk: int) -> HttpResponse:
    outcome = request.POST.get("outcome", "")
    return _act(
        request,
        pk,
        lambda case: services.case_close(
            case=case, outcome=outcome, user=request.user, request=request
        ),
    )


@login_required
@require_POST
def gesture_propose(request: HttpRequest, pk: int) -> HttpResponse:
    def propose(case):
        kind = GestureKind.objects.filter(
            pk=request.POST.get("kind") or 0, organisation_id=case.practice.organisation_id
        ).first()
        if kind is None:
            raise RecoveryError("Choose a gesture from the catalogue.")
        actions.gesture_propose(
            case=case,
            kind=kind,
            cost=request.POST.get("cost", ""),
            description=request.POST.get("description", ""),
            user=request.user,
            request=request,
        )

    return _act(request, pk, propose)


@login_required
@require_POST
def gesture_decide(request: HttpRequest, pk: int) -> HttpResponse:
    gesture = selectors.get_gesture_for_user(request.user, pk)
    decision = request.POST.get("decision")
    if decision == "given":
        action = actions.gesture_mark_given
        kwargs = {}
    else:
        action = actions.gesture_decide
        kwargs = {"approve": decision == "approve"}
    try:
        action(gesture=gesture, user=request.user, request=request, **kwargs)
    except RecoveryError as problem:
        return _case_changed(request, gesture.case_id, error=str(problem))
    return _case_changed(request, gesture.case_id)


@login_required
@require_POST
def alert_leave(request: HttpRequest, pk: int) -> HttpResponse:
    text = request.POST.get("text", "")
    return _act(
        request,
        pk,
        lambda case: actions.alert_leave(case=case, text=text, user=request.user, request=request),
    )


@login_required
@require_POST
def alert_done(request: HttpRequest, pk: int) -> HttpResponse:
    """The front desk did what the alert asked; it leaves the day sheet and the banner."""
    alert = selectors.get_alert_for_user(request.user, pk)
    actions.alert_mark_done(alert=alert, user=request.user, request=request)
    if request.htmx:
        return HttpResponse('<p class="alert-done" role="status">Done, thank you.</p>')
    if request.POST.get("back") == "day":
        return redirect("patients:day-sheet")
    return redirect("patients:patient-detail", pk=alert.patient_id)


@login_required
@require_http_methods(["GET", "POST"])
def message_compose(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """The suggested words, edited by the owner, then sent through the outbox."""
    case = selectors.get_case_for_user(request.user, pk)
    if kind not in actions.CASE_MESSAGE_KINDS:
        return render(request, "errors/404.html", status=404)
    error = None
    if request.method == "POST":
        subject, body = request.POST.get("subject", ""), request.POST.get("body", "")
        try:
            actions.case_message_send(
                case=case, kind=kind, subject=subject, body=body, user=request.user, request=request
            )
        except RecoveryError as problem:
            error = str(problem)
        else:
            return redirect("recovery:case-detail", pk=pk)
        draft = {"subject": subject, "body": body, "channel": request.POST.get("channel", "")}
    else:
        found = actions.case_message_draft(case=case, kind=kind, user=request.user)
        draft = found and {"subject": found.subject, "body": found.body, "channel": found.channel}
    context = {
        "case": case,
        "kind": kind,
        "label": actions.CASE_MESSAGE_KINDS[kind],
        "draft": draft,
        "error": error,
    }
    return render(request, "recovery/message_compose.html", context, status=400 if error else 200)


@login_required
@require_POST
def follow_up_survey(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda case: actions.case_follow_up_survey_send(case=case, user=request.user),
    )


@login_required
@require_http_methods(["GET", "POST"])
def case_new(request: HttpRequest) -> HttpResponse:
    """Open a case by hand: from a patient, from a feedback item, or for someone unnamed."""
    if not request.practice:
        return render(request, "core/no_practice.html")
    source = request.POST if request.method == "POST" else request.GET
    item = get_item_for_user(request.user, source["item"]) if source.get("item") else None
    patient = item.patient if item else None
    if source.get("patient"):
        patient = get_patient_for_user(request.user, source["patient"])
    practice = item.practice if item else patient.practice if patient else request.practice
    if denied := _forbidden_unless_case_worker(request, practice):
        return denied
    form = {
        "summary": source.get("summary", item.text[:120] if item else ""),
        "severity": source.get("severity", Severity.NORMAL),
        "touchpoints": source.getlist("touchpoints")
        if request.method == "POST"
        else (item.touchpoints if item else []),
        "contact_name": source.get("contact_name", item.author_name if item else ""),
    }
    error = None
    if request.method == "POST":
        try:
            case = services.case_open(
                practice=practice,
                patient=patient,
                summary=form["summary"],
                severity=form["severity"],
                touchpoints=form["touchpoints"],
                contact_name=form["contact_name"],
                feedback_items=[item] if item else [],
                because="opened by hand",
                user=request.user,
                request=request,
            )
        except RecoveryError as problem:
            error = str(problem)
        else:
            return redirect("recovery:case-detail", pk=case.pk)
    context = {
        "form": form,
        "item": item,
        "patient": patient,
        "error": error,
        "touchpoints": TOUCHPOINTS,
        "severities": Severity.choices,
    }
    return render(request, "recovery/case_new.html", context, status=400 if error else 200)
