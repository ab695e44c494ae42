"""The missed-call list (call-backs to work) and the call figures."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from calls import selectors
from calls.conversion import Period, PeriodError, call_figures
from calls.models import Call, CallbackTask
from calls.services import (
    MAX_NOTES,
    PERSON_OUTCOMES,
    CallsError,
    callback_assign,
    callback_complete,
)
from core.business_hours import BusinessCalendar
from core.charts import Series, bar_chart
from core.services import audit_record

# In the order people meet them: the good outcome first.
OUTCOMES = [
    (value, label) for value, label in CallbackTask.Outcome.choices if value in PERSON_OUTCOMES
]


def _local_midnight(practice, now: dt.datetime) -> dt.datetime:
    today = now.astimezone(practice.zone).date()
    return dt.datetime.combine(today, dt.time(), tzinfo=practice.zone)


def _list_context(request, **extra) -> dict:
    practice = request.practice
    now = timezone.now()
    calendar = BusinessCalendar.for_practice(practice)
    waiting = list(selectors.open_tasks(user=request.user, practice=practice))
    done = list(
        selectors.tasks_done_since(
            user=request.user, practice=practice, since=_local_midnight(practice, now)
        )
    )
    filters = selectors.CallFilters.from_query(request.GET)
    calls = list(selectors.recent_calls(user=request.user, practice=practice, filters=filters))
    shown = {t.patient_id for t in [*waiting, *done]} | {c.patient_id for c in calls}
    with transaction.atomic():
        audit_record(
            action="list",
            object_type="callback_task",
            practice=practice,
            request=request,
            detail={"patient_ids": sorted(pk for pk in shown if pk)},
        )
    return {
        "waiting": [
            (task, selectors.task_clock(task, calendar=calendar, now=now)) for task in waiting
        ],
        "done": done,
        "calls": calls,
        "filters": filters,
        "outcomes": OUTCOMES,
        "dispositions": Call.Disposition.choices,
        "directions": Call.Direction.choices,
        "max_notes": MAX_NOTES,
        **extra,
    }


@login_required
def callback_list(request: HttpRequest) -> HttpResponse:
    """Every call-back still owed, the overdue first; those done today; the latest calls."""
    if not request.practice:
        return render(request, "core/no_practice.html")
    return render(request, "calls/callback_list.html", _list_context(request))


def _refused(request, task: CallbackTask, problem: CallsError, **form) -> HttpResponse:
    """The list again with the reason next to the task, and what was typed kept."""
    if not request.practice:
        return render(request, "calls/problem.html", {"problem": problem}, status=400)
    context = _list_context(request, error=str(problem), error_task=task.pk, form=form)
    return render(request, "calls/callback_list.html", context, status=400)


@login_required
@require_POST
def callback_assign_view(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Take it": the call-back is the signed-in person's."""
    task = selectors.get_task_for_user(request.user, pk)
    try:
        callback_assign(task=task, owner=request.user, user=request.user, request=request)
    except CallsError as problem:
        return _refused(request, task, problem)
    messages.success(request, "It's yours: call them back before the deadline.")
    return redirect("calls:callback-list")


@login_required
@require_POST
def callback_complete_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Log what came of a call-back; a call-back is completed once."""
    task = selectors.get_task_for_user(request.user, pk)
    outcome = request.POST.get("outcome", "")
    notes = request.POST.get("notes", "")
    try:
        callback_complete(
            task=task, outcome=outcome, notes=notes, user=request.user, request=request
        )
    except CallsError as problem:
        # What was typed comes back to be corrected, less any NUL (never echoed into HTML).
        return _refused(request, task, problem, outcome=outcome, notes=notes.replace("\x00", ""))
    label = CallbackTask.Outcome(outcome).label
    messages.success(request, f"Logged: {label[0].lower()}{label[1:]}.")
    return redirect("calls:callback-list")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Conversion, answer rate by hour and weekday, call-back time and people, for a period
    (the last 90 days unless chosen). Figures only: no patient is named, so nothing is
    audited."""
    if not request.practice:
        return render(request, "core/no_practice.html")
    practice = request.practice
    now = timezone.now()
    today = now.astimezone(practice.zone).date()
    error = None
    try:
        period = Period.parse(request.GET.get("from", ""), request.GET.get("to", ""), today=today)
    except PeriodError as problem:
        error, period = str(problem), Period.ending(today)
    figures = call_figures(practice=practice, period=period, now=now)
    context = {
        "figures": figures,
        "period": period,
        "error": error,
        "chart": bar_chart(
            [f"{week.week_of:%b} {week.week_of.day}" for week in figures.weekly],
            Series("Calls", [week.calls for week in figures.weekly]),
            Series("Missed", [week.missed for week in figures.weekly]),
        ),
    }
    return render(request, "calls/dashboard.html", context, status=400 if error else 200)
