"""Reads of calls and call-backs, scoped to the practices the person works at."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import Http404

from calls.models import Call, CallbackTask
from core.business_hours import BusinessCalendar
from core.models import Practice

RECENT_CALLS = 100


def open_tasks(*, user, practice: Practice) -> QuerySet[CallbackTask]:
    """Call-backs still owed, the earliest deadline first: the overdue ones lead."""
    return (
        CallbackTask.objects.for_user(user)
        .filter(practice=practice, done_at__isnull=True)
        .select_related("call", "patient", "owner")
        .order_by("due_at", "id")
    )


def tasks_done_since(*, user, practice: Practice, since: dt.datetime) -> QuerySet[CallbackTask]:
    """Call-backs completed (by a person or by a later call) since a moment, latest first."""
    return (
        CallbackTask.objects.for_user(user)
        .filter(practice=practice, done_at__gte=since)
        .select_related("call", "patient", "done_by")
        .order_by("-done_at", "-id")
    )


def get_task_for_user(user, pk) -> CallbackTask:
    """The call-back, or 404 alike for "missing" and "another practice's"."""
    try:
        return (
            CallbackTask.objects.for_user(user)
            .select_related("practice", "call", "patient")
            .get(pk=pk)
        )
    except (CallbackTask.DoesNotExist, ValueError, TypeError):
        raise Http404("No such call-back") from None


@dataclass(frozen=True)
class CallFilters:
    """What the recent-calls list is narrowed to; blank means everything."""

    disposition: str = ""
    direction: str = ""
    day: dt.date | None = None

    @classmethod
    def from_query(cls, query) -> CallFilters:
        """From a GET query; a value that is not one of the choices is ignored."""
        disposition = query.get("disposition", "")
        direction = query.get("direction", "")
        try:
            day = dt.date.fromisoformat(query.get("day", ""))
        except ValueError:
            day = None
        return cls(
            disposition=disposition if disposition in Call.Disposition.values else "",
            direction=direction if direction in Call.Direction.values else "",
            day=day,
        )


def recent_calls(
    *, user, practice: Practice, filters: CallFilters | None = None, limit: int = RECENT_CALLS
) -> QuerySet[Call]:
    """The practice's latest calls, narrowed by disposition, direction and local day."""
    filters = filters or CallFilters()
    calls = Call.objects.for_user(user).filter(practice=practice)
    if filters.disposition:
        calls = calls.filter(disposition=filters.disposition)
    if filters.direction:
        calls = calls.filter(direction=filters.direction)
    if filters.day is not None:
        # The practice's local day, as real instants (23 or 25 hours around a clock change).
        start = dt.datetime.combine(filters.day, dt.time(), tzinfo=practice.zone)
        end = dt.datetime.combine(
            filters.day + dt.timedelta(days=1), dt.time(), tzinfo=practice.zone
        )
        calls = calls.filter(started_at__gte=start, started_at__lt=end)
    return calls.select_related("patient", "staff").order_by("-started_at", "-id")[:limit]


def patient_calls(*, user, patient, limit: int = 20) -> QuerySet[Call]:
    return (
        Call.objects.for_user(user)
        .filter(patient=patient)
        .select_related("callback", "staff")
        .order_by("-started_at", "-id")[:limit]
    )


def patient_open_callbacks(*, user, patient) -> QuerySet[CallbackTask]:
    return (
        CallbackTask.objects.for_user(user)
        .filter(patient=patient, done_at__isnull=True)
        .select_related("call", "owner")
        .order_by("due_at", "id")
    )


# --- The deadline clock on the page ---------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """How a call-back stands against its deadline, in the practice's business time."""

    state: str  # "due", "at_opening" or "overdue"
    minutes: int  # business minutes left (due) or past (overdue)
    due_at: dt.datetime

    @property
    def label(self) -> str:
        if self.state == "overdue":
            return f"overdue by {duration(self.minutes)}" if self.minutes else "overdue"
        if self.state == "at_opening":
            return "due when the practice opens"
        return f"due in {duration(self.minutes)}"


def duration(minutes: int) -> str:
    """``5 min``, ``1 h 05 min``, ``3 h``."""
    hours, rest = divmod(max(0, minutes), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h"


def task_clock(task: CallbackTask, *, calendar: BusinessCalendar, now: dt.datetime) -> Clock:
    """Due in / overdue by, counting only opening time: a task due at 08:00 looked at on the
    evening before is due at the opening, not "in 12 hours"."""
    if task.due_at <= now:
        return Clock("overdue", calendar.minutes_between(task.due_at, now), task.due_at)
    left = calendar.minutes_between(now, task.due_at)
    return Clock("due" if left else "at_opening", left, task.due_at)
