"""Demo calls: a week of the practice's phone, so the missed-call list, the patient pages and
the call figures show what they are for.

Calls go through ``calls_record`` like any import, so their call-backs and deadlines are the
real ones; what people did afterwards (call-backs logged, bookings) is history and written
directly. Deterministic for a practice and a moment, and written once: a second run finds
the demo calls and adds nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

import phonenumbers
from django.contrib.auth import get_user_model
from django.db import transaction

from calls.merging import CallIn
from calls.models import Call, CallbackTask
from calls.services import calls_record
from core.business_hours import BusinessCalendar
from core.models import Practice, StaffMember
from patients.models import Appointment, Patient

SOURCE = Call.Source.GENERIC
PREFIX = "demo-call-"
DAYS = 7
STARTED_DAYS_AGO = 35
STRANGERS = 150
# Story patients keep their stories; their pages would not need a stray call.
STORY_SURNAMES = ("Whitfield", "Ortega", "Nair", "Lee", "Brandt")
# Who answers: (staff kind, extension, share of the calls answered).
DESK = ((StaffMember.Kind.FRONT_DESK, "101"), (StaffMember.Kind.FRONT_DESK, "102"))
MANAGER_EXTENSION = "103"
# Person outcomes of the week's call-backs, most often a booking.
OUTCOMES = (
    [CallbackTask.Outcome.BOOKED] * 4
    + [CallbackTask.Outcome.REACHED] * 2
    + [CallbackTask.Outcome.VOICEMAIL] * 2
    + [CallbackTask.Outcome.NO_ANSWER, CallbackTask.Outcome.WRONG_NUMBER]
)
NOTES = {
    CallbackTask.Outcome.BOOKED: "Booked a visit; apologised for the missed call.",
    CallbackTask.Outcome.REACHED: "Question about a bill; answered on the phone.",
    CallbackTask.Outcome.VOICEMAIL: "Left a voicemail with our direct line.",
    CallbackTask.Outcome.NO_ANSWER: "No answer; will try again.",
    CallbackTask.Outcome.WRONG_NUMBER: "Meant to call the pharmacy next door.",
}
FIRST_NAMES = ("Avery", "Jordan", "Riley", "Morgan", "Casey", "Taylor", "Quinn", "Rowan")
LAST_NAMES = ("Hale", "Moreno", "Kim", "Osei", "Novak", "Duarte", "Farrell", "Lindqvist")


def calls_seed(*, practice: Practice, now: dt.datetime) -> int:
    """Seed the week's calls of ``practice``; returns how many calls were recorded."""
    if Call.objects.filter(
        practice=practice, source=SOURCE, external_id__startswith=PREFIX
    ).exists():
        return 0
    with transaction.atomic():
        return _Week(practice, now).seed()


class _Week:
    def __init__(self, practice: Practice, now: dt.datetime):
        self.practice = practice
        self.now = now
        self.zone = practice.zone
        self.rng = random.Random(f"calls-{practice.slug}")
        self.calendar = BusinessCalendar.for_practice(practice)
        self.calls: list[CallIn] = []
        # external id -> what happens after the call: ("booking", patient) for an answered
        # call that books, ("new", number) for a new caller who books.
        self.after: dict[str, tuple[str, object]] = {}
        users = get_user_model().objects.filter(username__in=["frontdesk", "manager"])
        self.users = {user.username: user for user in users}
        self.extensions = self._extensions()
        self.provider = (
            StaffMember.objects.filter(practice=practice, kind=StaffMember.Kind.DENTIST)
            .order_by("pk")
            .first()
        )

    def _extensions(self) -> list[str]:
        """Give the desk and the manager their extensions (the figures count by them)."""
        given = []
        for kind, extension in DESK:
            member = (
                StaffMember.objects.filter(practice=self.practice, kind=kind, extension="")
                .order_by("pk")
                .first()
            )
            if member is not None:
                StaffMember.objects.filter(pk=member.pk).update(extension=extension)
                given.append(extension)
        manager = StaffMember.objects.filter(
            practice=self.practice, kind=StaffMember.Kind.MANAGER, extension=""
        ).first()
        if manager is not None:
            StaffMember.objects.filter(pk=manager.pk).update(extension=MANAGER_EXTENSION)
        return given or ["101"]

    # --- Who calls --------------------------------------------------------------------

    def _callers(self) -> tuple[list[Patient], list[str]]:
        patients = list(
            Patient.objects.filter(practice=self.practice, status=Patient.Status.ACTIVE)
            .exclude(phone="")
            .exclude(last_name__in=STORY_SURNAMES)
            .order_by("external_id", "pk")
        )
        used = set(Patient.objects.filter(practice=self.practice).values_list("phone", flat=True))
        strangers = []
        # Fictional 555-01xx numbers that no patient of the practice has.
        for code in range(200, 1000):
            for line in range(1, 100):
                number = f"+1{code}55501{line:02d}"
                if number in used or not phonenumbers.is_valid_number(phonenumbers.parse(number)):
                    continue
                strangers.append(number)
                if len(strangers) == STRANGERS:
                    return patients, strangers
        return patients, strangers

    # --- The week -----------------------------------------------------------------------

    def seed(self) -> int:
        patients, strangers = self._callers()
        if not patients or not strangers:
            return 0
        # The generated diary was written just now; as far as the call figures can tell, it
        # appeared in Rapport when the practice started with it, a month ago. Otherwise
        # every patient with a visit ahead would look as if they had booked after calling.
        Appointment.objects.filter(
            practice=self.practice, created_at__gte=self.now - dt.timedelta(days=1)
        ).update(created_at=self.now - dt.timedelta(days=STARTED_DAYS_AGO))
        self.rng.shuffle(patients)
        self.patients = iter(patients)
        self.strangers = iter(strangers)
        today = self.now.astimezone(self.zone).date()
        for back in range(DAYS, -1, -1):
            self._day(today - dt.timedelta(days=back))
        overdue = self._overdue_call(today)
        fresh = self._fresh_call()
        calls_record(practice=self.practice, calls=self.calls)
        callbacks = self._call_backs(keep_open={overdue, fresh})
        self._bookings()
        if callbacks:
            calls_record(practice=self.practice, calls=callbacks)
        return len(self.calls) + len(callbacks)

    def _moment(self, day: dt.date, hour: int, minute: int) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=self.zone)

    def _day(self, day: dt.date) -> None:
        """The calls of one local day up to now: busy opening hours, a few after hours."""
        rng = self.rng
        for hour in range(7, 21):
            start = self._moment(day, hour, 0)
            is_open = self.calendar.is_open(start) or self.calendar.is_open(
                start + dt.timedelta(minutes=30)
            )
            count = rng.choice((3, 4, 5, 6)) if is_open else rng.choice((0, 0, 0, 1))
            # Monday mornings and the hour before lunch are when the phone rings out.
            answer = 0.9
            if day.weekday() == 0 and hour < 10:
                answer = 0.55
            elif hour == 11:
                answer = 0.75
            for _ in range(count):
                started = start + dt.timedelta(minutes=rng.randrange(60), seconds=rng.randrange(60))
                if started >= self.now - dt.timedelta(minutes=10):
                    continue
                answered = self.calendar.is_open(started) and rng.random() < answer
                self._inbound(started, answered)

    def _inbound(self, started: dt.datetime, answered: bool, new: bool | None = None) -> str:
        """Record an inbound call (from a new caller when ``new``, by chance when None);
        its external id, or "" when the demo ran out of callers."""
        rng = self.rng
        external_id = f"{PREFIX}{len(self.calls) + 1}"
        chance = rng.random()
        new = chance < 0.15 if new is None else new
        patient = None if new else next(self.patients, None)
        number = next(self.strangers, None) if new else patient and patient.phone
        if not number:
            return ""
        if answered:
            disposition = Call.Disposition.ANSWERED
        else:
            disposition = rng.choice(
                (Call.Disposition.MISSED, Call.Disposition.MISSED, Call.Disposition.VOICEMAIL)
            )
        self.calls.append(
            CallIn(
                source=SOURCE,
                external_id=external_id,
                direction=Call.Direction.INBOUND,
                caller=number,
                called=self.practice.phone or "+18605550100",
                started_at=started,
                ring_seconds=rng.randrange(8, 20) if answered else rng.randrange(25, 45),
                talk_seconds=rng.randrange(45, 420) if answered else 0,
                disposition=disposition,
                extension=rng.choice(self.extensions) if answered else "",
            )
        )
        if answered and rng.random() < (0.7 if new else 0.3):
            self.after[external_id] = ("new", number) if new else ("booking", patient)
        return external_id

    def _overdue_call(self, today: dt.date) -> str:
        """A patient's voicemail late on the last open day: nobody has called back yet."""
        day = today - dt.timedelta(days=1)
        while not self.calendar.is_open(self._moment(day, 16, 40)):
            day -= dt.timedelta(days=1)
        external_id = self._inbound(self._moment(day, 16, 40), answered=False, new=False)
        if external_id:
            self.calls[-1] = replace(self.calls[-1], disposition=Call.Disposition.VOICEMAIL)
        return external_id

    def _fresh_call(self) -> str:
        """A new caller who rang a few minutes ago: due soon, or at the next opening."""
        return self._inbound(self.now - dt.timedelta(minutes=4), answered=False, new=True)

    # --- What people did afterwards -------------------------------------------------------

    def _call_backs(self, keep_open: set[str]) -> list[CallIn]:
        """Log the week's call-backs as the desk did them; the outbound calls they made."""
        rng = self.rng
        tasks = (
            CallbackTask.objects.filter(practice=self.practice, done_at__isnull=True)
            .filter(call__source=SOURCE, call__external_id__startswith=PREFIX)
            .select_related("call")
            .order_by("call__started_at", "pk")
        )
        outbound = []
        people = [
            self.users[name] for name in ("frontdesk", "frontdesk", "manager") if name in self.users
        ]
        for task in tasks:
            if task.call.external_id in keep_open or not people:
                continue
            called = task.call.started_at
            if self.calendar.is_open(called):
                # Mostly within the 15 minutes; now and then late.
                done_at = called + dt.timedelta(minutes=rng.choice((3, 5, 7, 9, 12, 14, 25, 50)))
            else:
                # Due at the opening: the desk starts with them before the doors open.
                early = dt.timedelta(minutes=rng.choice((-12, -8, -5, -3, 20)))
                done_at = max(called + dt.timedelta(minutes=1), task.due_at + early)
            if done_at >= self.now:
                continue
            outcome = rng.choice(OUTCOMES)
            person = rng.choice(people)
            CallbackTask.objects.filter(pk=task.pk).update(
                outcome=outcome, notes=NOTES[outcome], done_at=done_at, done_by=person
            )
            reached = outcome in (CallbackTask.Outcome.BOOKED, CallbackTask.Outcome.REACHED)
            talk = rng.randrange(60, 300) if reached else 0
            outbound.append(
                CallIn(
                    source=SOURCE,
                    external_id=f"{PREFIX}back-{task.pk}",
                    direction=Call.Direction.OUTBOUND,
                    caller=self.extensions[0],
                    called=task.number,
                    started_at=done_at - dt.timedelta(seconds=talk + 15),
                    ring_seconds=15,
                    talk_seconds=talk,
                    disposition=Call.Disposition.ANSWERED if reached else Call.Disposition.MISSED,
                    extension=self.extensions[0],
                )
            )
            if outcome == CallbackTask.Outcome.BOOKED:
                self._book(self._patient_of(task, done_at), done_at)
        return outbound

    def _patient_of(self, task: CallbackTask, moment: dt.datetime) -> Patient:
        """Who the call-back booked: the caller, a patient with their number (a household's
        shared phone), or a new caller who becomes a patient."""
        if task.patient_id is not None:
            return Patient.objects.get(pk=task.patient_id)
        sharing = Patient.objects.filter(practice=self.practice, phone=task.number)
        return sharing.order_by("pk").first() or self._new_patient(task.number, moment)

    def _bookings(self) -> None:
        """Answered calls that booked: existing patients, and new callers who became ones."""
        started = {call.external_id: call.started_at for call in self.calls}
        for external_id, (kind, who) in self.after.items():
            moment = started[external_id] + dt.timedelta(minutes=self.rng.randrange(2, 40))
            if moment >= self.now:
                continue
            patient = who if kind == "booking" else self._new_patient(who, moment)
            self._book(patient, moment)

    def _new_patient(self, number: str, moment: dt.datetime) -> Patient:
        rng = self.rng
        patient = Patient.objects.create(
            practice=self.practice,
            first_name=rng.choice(FIRST_NAMES),
            last_name=rng.choice(LAST_NAMES),
            phone=number,
            first_visit_on=None,
        )
        # Added when the desk booked them, not when the demo was written.
        Patient.objects.filter(pk=patient.pk).update(created_at=moment)
        return patient

    def _book(self, patient: Patient, moment: dt.datetime) -> None:
        """An appointment booked at ``moment``: it appears in Rapport then."""
        day = moment.astimezone(self.zone).date() + dt.timedelta(days=self.rng.randrange(3, 30))
        starts = self.calendar.next_open(self._moment(day, self.rng.choice((8, 9, 10, 14, 15)), 0))
        kind = "New patient exam" if patient.first_visit_on is None else "Cleaning"
        appointment = Appointment.objects.create(
            practice=self.practice,
            patient=patient,
            provider=self.provider,
            starts_at=starts,
            duration_minutes=60,
            kind=kind,
            status=Appointment.Status.SCHEDULED,
        )
        Appointment.objects.filter(pk=appointment.pk).update(created_at=moment)
