"""Call figures for a practice and a period: who called, who booked, when calls are missed,
how fast missed calls are returned, and by whom.

Definitions (also in docs/calls.md, "Conversion"):

* The **period** is a range of the practice's local days, first and last included; a call
  belongs to it by its start.
* **New callers**: the distinct numbers of inbound calls flagged ``new_caller`` (no patient
  had the number when the call came). A new caller **booked** when an appointment of a
  patient the number belongs to *now* (a patient of the practice with that phone, or the
  patient the call was linked to) appeared in Rapport within 7 days after one of the
  number's calls in the period: ``call start <= Appointment.created_at < call start + 7
  days``, for a visit that starts after the call. Rapport does not see the telephone
  booking itself, so "the appointment appeared in Rapport" stands for it: it lags by the
  practice-management import, and a visit that starts before the call (history imported
  later) never counts.
* **Existing patients**: the distinct patients linked to inbound calls not flagged as new;
  booked the same way, with that patient's appointments.
* **Answer rate by hour × weekday**: inbound calls answered by a person / all inbound calls,
  by the local hour and weekday of their start in the practice's time zone.
* **Call-back time**: over the call-backs of the period's missed calls that a person
  completed, the median clock minutes from the call's start to the completion; and the share
  done by the deadline, out of those completed and those still open past their deadline
  (open ones not yet due are undecided; ones closed because the caller got through are no
  call-back at all).
* **Per staff member**: inbound calls answered at their extension (``Call.staff``),
  call-backs they completed, and how many of those were followed by a booking within 7 days
  of the call-back, by the same test as above.

A practice has thousands of calls a month, not millions: totals are counted in SQL and the
rest is worked out in Python over the period's rows, where local hours and weekdays (with
their daylight-saving changes) are plain ``zoneinfo`` arithmetic instead of SQL that differs
between SQLite and PostgreSQL.
"""

from __future__ import annotations

import bisect
import datetime as dt
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Count, Q

from calls.models import Call, CallbackTask
from core.models import Practice, StaffMember
from core.periods import Period, PeriodError

__all__ = ["Period", "PeriodError", "call_figures"]
from patients.models import Appointment, Patient

BOOKING_WINDOW = dt.timedelta(days=7)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CHUNK = 500


@dataclass(frozen=True)
class Share:
    """``count`` of ``total``."""

    count: int
    total: int

    @property
    def percent(self) -> float | None:
        return 100 * self.count / self.total if self.total else None


@dataclass(frozen=True)
class HeatCell:
    weekday: int  # 0 = Monday
    hour: int  # 0–23, local
    answered: int
    calls: int

    @property
    def rate(self) -> float | None:
        """Answered share in percent; None without calls."""
        return 100 * self.answered / self.calls if self.calls else None

    @property
    def band(self) -> str:
        """A colour band for the page (the number is always written in the cell too)."""
        rate = self.rate
        if rate is None:
            return "none"
        if rate >= 90:
            return "good"
        if rate >= 75:
            return "fair"
        if rate >= 50:
            return "poor"
        return "bad"


@dataclass(frozen=True)
class Heatmap:
    """Answer rate by local weekday (rows) and hour (columns)."""

    hours: list[int]
    rows: list[tuple[str, list[HeatCell]]]

    def cell(self, weekday: int, hour: int) -> HeatCell | None:
        if hour not in self.hours:
            return None
        return self.rows[weekday][1][self.hours.index(hour)]


@dataclass(frozen=True)
class CallbackTime:
    median_minutes: float | None
    completed: int  # by a person
    within_deadline: Share


@dataclass(frozen=True)
class StaffFigures:
    name: str
    answered: int = 0
    callbacks_done: int = 0
    bookings: int = 0


@dataclass(frozen=True)
class WeekBar:
    week_of: dt.date  # the Monday
    calls: int
    missed: int


@dataclass(frozen=True)
class CallFigures:
    period: Period
    inbound: int
    answered: int
    new_callers: Share  # booked of new callers
    existing_patients: Share  # booked of existing patients who called
    heatmap: Heatmap
    callback_time: CallbackTime
    staff: list[StaffFigures] = field(default_factory=list)
    weekly: list[WeekBar] = field(default_factory=list)

    @property
    def answer_rate(self) -> Share:
        return Share(self.answered, self.inbound)


# --- Bookings ------------------------------------------------------------------------


class _Bookings:
    """When each patient's appointments appeared in Rapport, for the 7-day test."""

    def __init__(self, practice: Practice, since: dt.datetime):
        created: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
        rows = Appointment.objects.filter(practice=practice, created_at__gte=since).values_list(
            "patient_id", "created_at", "starts_at"
        )
        for patient_id, created_at, starts_at in rows.order_by("created_at", "pk"):
            created[patient_id].append((created_at, starts_at))
        self._created = created
        self._keys = {pk: [c for c, _s in items] for pk, items in created.items()}

    def booked_after(self, patient_ids, moment: dt.datetime) -> bool:
        """Whether an appointment of one of these patients, for a visit after ``moment``,
        appeared in Rapport within 7 days after it."""
        for patient_id in patient_ids:
            items = self._created.get(patient_id)
            if not items:
                continue
            start = bisect.bisect_left(self._keys[patient_id], moment)
            for created_at, starts_at in items[start:]:
                if created_at >= moment + BOOKING_WINDOW:
                    break
                if starts_at >= moment:
                    return True
        return False


def _patients_with_phones(practice: Practice, numbers: set[str]) -> dict[str, set[int]]:
    """The patients each number belongs to now."""
    found: dict[str, set[int]] = defaultdict(set)
    wanted = sorted(n for n in numbers if n)
    for start in range(0, len(wanted), CHUNK):
        rows = Patient.objects.filter(practice=practice, phone__in=wanted[start : start + CHUNK])
        for pk, phone in rows.values_list("pk", "phone"):
            found[phone].add(pk)
    return found


# --- The figures ---------------------------------------------------------------------


def call_figures(*, practice: Practice, period: Period, now: dt.datetime) -> CallFigures:
    """Every figure of the calls dashboard for one practice and period."""
    start, end = period.bounds(practice.zone)
    inbound = Call.objects.filter(
        practice=practice,
        direction=Call.Direction.INBOUND,
        started_at__gte=start,
        started_at__lt=end,
    )
    totals = inbound.aggregate(
        calls=Count("id"), answered=Count("id", filter=Q(disposition=Call.Disposition.ANSWERED))
    )
    rows = list(
        inbound.values_list(
            "started_at", "disposition", "number", "new_caller", "patient_id"
        ).order_by("started_at", "pk")
    )
    tasks = list(
        CallbackTask.objects.filter(
            practice=practice, call__started_at__gte=start, call__started_at__lt=end
        ).values_list(
            "call__started_at", "due_at", "done_at", "outcome", "done_by_id", "number", "patient_id"
        )
    )
    numbers = {number for _s, _d, number, new, _p in rows if new and number}
    numbers |= {task[5] for task in tasks if task[5]}
    phones = _patients_with_phones(practice, numbers)
    bookings = _Bookings(practice, since=start)
    answered_by = dict(
        inbound.filter(disposition=Call.Disposition.ANSWERED, staff__isnull=False)
        .order_by()
        .values_list("staff_id")
        .annotate(n=Count("id"))
        .values_list("staff_id", "n")
    )
    return CallFigures(
        period=period,
        inbound=totals["calls"],
        answered=totals["answered"],
        new_callers=_new_callers(rows, phones, bookings),
        existing_patients=_existing_patients(rows, bookings),
        heatmap=_heatmap(rows, practice.zone),
        callback_time=_callback_time(tasks, now),
        staff=_staff(practice, answered_by, tasks, phones, bookings),
        weekly=_weekly(rows, period, practice.zone),
    )


def _new_callers(rows, phones: dict[str, set[int]], bookings: _Bookings) -> Share:
    calls: dict[str, list[tuple[dt.datetime, int | None]]] = defaultdict(list)
    for started_at, _disposition, number, new_caller, patient_id in rows:
        if new_caller and number:
            calls[number].append((started_at, patient_id))
    booked = 0
    for number, number_calls in calls.items():
        patients = set(phones.get(number, ())) | {p for _s, p in number_calls if p}
        if any(bookings.booked_after(patients, started_at) for started_at, _p in number_calls):
            booked += 1
    return Share(booked, len(calls))


def _existing_patients(rows, bookings: _Bookings) -> Share:
    calls: dict[int, list[dt.datetime]] = defaultdict(list)
    for started_at, _disposition, _number, new_caller, patient_id in rows:
        if not new_caller and patient_id is not None:
            calls[patient_id].append(started_at)
    booked = sum(
        1
        for patient_id, moments in calls.items()
        if any(bookings.booked_after([patient_id], moment) for moment in moments)
    )
    return Share(booked, len(calls))


def _heatmap(rows, zone) -> Heatmap:
    answered: Counter[tuple[int, int]] = Counter()
    calls: Counter[tuple[int, int]] = Counter()
    for started_at, disposition, *_rest in rows:
        local = started_at.astimezone(zone)
        key = (local.weekday(), local.hour)
        calls[key] += 1
        answered[key] += disposition == Call.Disposition.ANSWERED
    if not calls:
        return Heatmap(hours=[], rows=[])
    hours = list(range(min(h for _d, h in calls), max(h for _d, h in calls) + 1))
    return Heatmap(
        hours=hours,
        rows=[
            (
                WEEKDAYS[day],
                [HeatCell(day, hour, answered[(day, hour)], calls[(day, hour)]) for hour in hours],
            )
            for day in range(7)
        ],
    )


def _by_person(task) -> bool:
    _started, _due, done_at, outcome, *_rest = task
    return done_at is not None and outcome != CallbackTask.Outcome.GOT_THROUGH


def _callback_time(tasks, now: dt.datetime) -> CallbackTime:
    done = [task for task in tasks if _by_person(task)]
    minutes = [(done_at - started).total_seconds() / 60 for started, _d, done_at, *_r in done]
    on_time = sum(1 for _s, due_at, done_at, *_r in done if done_at <= due_at)
    overdue_open = sum(1 for _s, due_at, done_at, *_r in tasks if done_at is None and due_at <= now)
    return CallbackTime(
        median_minutes=statistics.median(minutes) if minutes else None,
        completed=len(done),
        within_deadline=Share(on_time, len(done) + overdue_open),
    )


def _staff(
    practice: Practice,
    answered_by: dict[int, int],
    tasks,
    phones: dict[str, set[int]],
    bookings: _Bookings,
) -> list[StaffFigures]:
    callbacks: Counter[int] = Counter()
    booked: Counter[int] = Counter()
    for task in tasks:
        if not _by_person(task) or task[4] is None:
            continue
        _s, _due, done_at, _outcome, user_id, number, patient_id = task
        callbacks[user_id] += 1
        patients = set(phones.get(number, ())) | ({patient_id} if patient_id else set())
        booked[user_id] += bookings.booked_after(patients, done_at)
    staff = StaffMember.objects.filter(practice=practice).filter(
        Q(pk__in=list(answered_by)) | Q(user_id__in=list(callbacks))
    )
    figures: dict[tuple[str, int], dict] = {}
    user_rows: dict[int, tuple[str, int]] = {}
    for member in staff.order_by("pk"):
        key = ("staff", member.pk)
        figures[key] = {"name": member.name, "answered": answered_by.get(member.pk, 0)}
        if member.user_id is not None:
            user_rows.setdefault(member.user_id, key)
    people = get_user_model().objects.filter(pk__in=[u for u in callbacks if u not in user_rows])
    for person in people:
        key = ("user", person.pk)
        figures[key] = {"name": person.get_full_name() or person.get_username(), "answered": 0}
        user_rows[person.pk] = key
    for user_id, count in callbacks.items():
        row = figures[user_rows[user_id]]
        row["callbacks_done"] = count
        row["bookings"] = booked[user_id]
    return sorted((StaffFigures(**row) for row in figures.values()), key=lambda r: r.name)


def _weekly(rows, period: Period, zone) -> list[WeekBar]:
    calls: Counter[dt.date] = Counter()
    missed: Counter[dt.date] = Counter()
    for started_at, disposition, *_rest in rows:
        day = started_at.astimezone(zone).date()
        monday = day - dt.timedelta(days=day.weekday())
        calls[monday] += 1
        missed[monday] += disposition != Call.Disposition.ANSWERED
    weeks = []
    monday = period.first - dt.timedelta(days=period.first.weekday())
    while monday <= period.last:
        weeks.append(WeekBar(monday, calls[monday], missed[monday]))
        monday += dt.timedelta(days=7)
    return weeks
