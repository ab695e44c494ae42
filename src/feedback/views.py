from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from core.charts import Series, bar_chart, line_chart
from core.links import absolute_url
from core.models import Practice
from core.services import audit_record
from feedback import selectors
from feedback.models import FeedbackItem, Question, SurveyResponse
from feedback.services import (
    FeedbackError,
    feedback_item_create,
    feedback_item_set_status,
    feedback_policy_for,
    invitation_from_token,
    response_submit,
    survey_questions,
    unsubscribe_from_link,
)
from feedback.touchpoints import TOUCHPOINTS
from patients.selectors import get_patient_for_user
from records.metrics import records_metrics
from vendors.surveys import question_text

PAGE_SIZE = 30


# --- Public pages: no login, no patient data in the URL -------------------------------


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate="60/m", method=ratelimit.ALL)
@ratelimit(key="ip", rate="20/m", method="POST")
def survey_answer(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = invitation_from_token(token)
    except FeedbackError as problem:
        return render(request, "feedback/link_problem.html", {"problem": problem}, status=410)
    questions = survey_questions(invitation)
    previous = _previous_answers(invitation)
    error = None
    if request.method == "POST":
        try:
            response_submit(invitation=invitation, answers=request.POST)
        except FeedbackError as problem:
            error = str(problem)
            previous = {f"q{q.pk}": request.POST.get(f"q{q.pk}", "") for q in questions}
        else:
            return redirect("feedback:survey-thanks", token=token)
    elif invitation.opened_at is None:
        type(invitation).objects.filter(pk=invitation.pk).update(opened_at=timezone.now())
    context = {
        "invitation": invitation,
        "practice": invitation.practice,
        "questions": [_question_view(q, previous, invitation.practice) for q in questions],
        "error": error,
        "editing": bool(previous) and error is None,
    }
    return render(request, "feedback/survey_answer.html", context, status=400 if error else 200)


@ratelimit(key="ip", rate="60/m", method=ratelimit.ALL)
def survey_thanks(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = invitation_from_token(token)
    except FeedbackError as problem:
        return render(request, "feedback/link_problem.html", {"problem": problem}, status=410)
    policy = feedback_policy_for(invitation.practice)
    context = {"invitation": invitation, "review_url": policy.review_url, "token": token}
    return render(request, "feedback/survey_thanks.html", context)


def _previous_answers(invitation) -> dict[str, str]:
    response = SurveyResponse.objects.filter(invitation=invitation).first()
    if response is None:
        return {}
    return {
        f"q{a.question_id}": str(a.number) if a.number is not None else a.text
        for a in response.answers.all()
    }


def _question_view(question: Question, previous: dict[str, str], practice: Practice) -> dict:
    scale = {"nps": range(0, 11), "rating": range(1, 6)}.get(question.kind)
    return {
        "question": question,
        "text": question_text(question).replace("{practice}", practice.name),
        "name": f"q{question.pk}",
        "value": previous.get(f"q{question.pk}", ""),
        "scale": [str(n) for n in scale] if scale else None,
    }


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate="30/m", method=ratelimit.ALL)
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """One click: GET only asks (mail scanners open links), POST opts out."""
    try:
        invitation = invitation_from_token(token, allow_closed=True)
    except FeedbackError as problem:
        return render(request, "feedback/link_problem.html", {"problem": problem}, status=410)
    done = request.method == "POST"
    if done:
        unsubscribe_from_link(invitation=invitation)
    context = {"practice": invitation.practice, "done": done}
    return render(request, "feedback/unsubscribe.html", context)


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate="60/m", method="GET")
@ratelimit(key="ip", rate="5/m", method="POST")
def talk_to_us(request: HttpRequest, org: str, practice: str) -> HttpResponse:
    practice_obj = get_object_or_404(Practice, organisation__slug=org, slug=practice)
    form = {"text": "", "name": "", "contact": ""}
    error = None
    if request.method == "POST":
        form = {key: request.POST.get(key, "") for key in form}
        try:
            feedback_item_create(
                practice=practice_obj,
                source=FeedbackItem.Source.WEB,
                text=form["text"],
                author_name=form["name"],
                contact=form["contact"],
            )
        except FeedbackError as problem:
            error = str(problem)
        else:
            return render(request, "feedback/talk_thanks.html", {"practice": practice_obj})
    context = {"practice": practice_obj, "form": form, "error": error}
    return render(request, "feedback/talk_to_us.html", context, status=400 if error else 200)


# --- Staff pages ----------------------------------------------------------------------


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    if not request.practice:
        return render(request, "core/no_practice.html")
    filters = {
        key: request.GET.get(key, "")
        for key in ("label", "status", "source", "urgent", "touchpoint", "person", "from", "to")
    }
    items = selectors.inbox(user=request.user, practice=request.practice, filters=filters)
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    with transaction.atomic():
        audit_record(
            action="list",
            object_type="feedback_item",
            practice=request.practice,
            request=request,
            detail={"patient_ids": sorted({i.patient_id for i in page if i.patient_id})},
        )
    context = {
        "page": page,
        "filters": filters,
        "touchpoints": TOUCHPOINTS,
        "labels": FeedbackItem.Label.choices,
        "statuses": FeedbackItem.Status.choices,
        "sources": FeedbackItem.Source.choices,
    }
    template = "feedback/inbox.html#items" if request.htmx else "feedback/inbox.html"
    return render(request, template, context)


@login_required
@require_POST
def item_status(request: HttpRequest, pk: int) -> HttpResponse:
    item = selectors.get_item_for_user(request.user, pk)
    try:
        feedback_item_set_status(
            item=item, status=request.POST.get("status", ""), user=request.user, request=request
        )
    except FeedbackError as problem:
        return HttpResponse(str(problem), status=400)
    if request.htmx:
        return render(request, "feedback/inbox.html#item", {"item": item})
    return redirect("feedback:inbox")


@login_required
@require_http_methods(["GET", "POST"])
def staff_note(request: HttpRequest) -> HttpResponse:
    """What a patient said at the desk or on the phone, written down so it is not lost."""
    if not request.practice:
        return render(request, "core/no_practice.html")
    patient = None
    patient_id = request.GET.get("patient") or request.POST.get("patient")
    if patient_id:
        patient = get_patient_for_user(request.user, patient_id)
    error = None
    if request.method == "POST":
        try:
            feedback_item_create(
                practice=patient.practice if patient else request.practice,
                source=FeedbackItem.Source.STAFF,
                source_detail=request.POST.get("heard_via", "")[:80],
                text=request.POST.get("text", ""),
                patient=patient,
                user=request.user,
                request=request,
            )
        except FeedbackError as problem:
            error = str(problem)
        else:
            if patient:
                return redirect("patients:patient-detail", pk=patient.pk)
            return redirect("feedback:inbox")
    context = {"patient": patient, "error": error, "text": request.POST.get("text", "")}
    return render(request, "feedback/staff_note.html", context, status=400 if error else 200)


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    if not request.practice:
        return render(request, "core/no_practice.html")
    practice = request.practice
    since = timezone.now() - dt.timedelta(days=365)
    monthly = selectors.nps_by_month(practice, since=since)
    answered, invited = selectors.response_rate(
        practice, since=timezone.now() - dt.timedelta(days=90)
    )
    detractors = list(selectors.latest_detractor_comments(practice))
    with transaction.atomic():
        audit_record(
            action="list",
            object_type="feedback_dashboard",
            practice=practice,
            request=request,
            detail={"patient_ids": sorted({i.patient_id for i in detractors if i.patient_id})},
        )
    context = {
        "nps": selectors.practice_nps(practice, since=since),
        "monthly": monthly,
        "chart": line_chart(
            [month.strftime("%b %Y") for month, _ in monthly],
            Series(
                "NPS",
                [round(n.score, 1) if n.score is not None else None for _, n in monthly],
                band=[round(n.margin, 1) if n.margin is not None else None for _, n in monthly],
            ),
            y_min=-100,
            y_max=100,
        ),
        "answered": answered,
        "invited": invited,
        "touchpoints": selectors.touchpoint_satisfaction(practice, since=since),
        "detractors": detractors,
        **_recovery_context(practice, since),
        "records": records_metrics(practice, since=since),
    }
    return render(request, "feedback/dashboard.html", context)


def _recovery_context(practice: Practice, since: dt.datetime) -> dict:
    from recovery.metrics import recovery_metrics

    metrics = recovery_metrics(practice, since=since)
    return {
        "recovery": metrics,
        "recovery_chart": bar_chart(
            [month.strftime("%b %Y") for month, _, _ in metrics.monthly],
            Series("Opened", [opened for _, opened, _ in metrics.monthly]),
            Series("Recovered", [recovered for _, _, recovered in metrics.monthly]),
        ),
    }


@login_required
@require_http_methods(["GET", "POST"])
def reply_check(request: HttpRequest) -> HttpResponse:
    """Check a draft public reply to a review for health information before it is posted."""
    if not request.practice:
        return render(request, "core/no_practice.html")
    from feedback.reply_check import reply_phi_problems

    draft = request.POST.get("draft", "")[:5000]
    problems = (
        reply_phi_problems(draft, practice=request.practice) if request.method == "POST" else None
    )
    context = {"draft": draft, "problems": problems}
    template = "feedback/reply_check.html#result" if request.htmx else "feedback/reply_check.html"
    return render(request, template, context)


@login_required
def talk_poster(request: HttpRequest) -> HttpResponse:
    """A printable poster with the talk-to-us link and its QR code, for the waiting room."""
    if not request.practice:
        return render(request, "core/no_practice.html")
    import segno

    practice = request.practice
    url = absolute_url(
        reverse("feedback:talk-to-us", args=[practice.organisation.slug, practice.slug])
    )
    qr_svg = segno.make(url, error="m").svg_inline(scale=8, dark="#1d2a33", title="Talk to us")
    return render(request, "feedback/talk_poster.html", {"url": url, "qr_svg": qr_svg})
