"""Writes for calls: recording calls from any source, the call-backs they owe, and the
phone-system settings.

Every way a call arrives (an Asterisk CDR file, a generic CSV, a signed webhook, a Twilio
status callback) ends in ``calls_record``. It merges what it is given with what is stored, so
the result does not depend on how often or in what order the records come:

* A call is keyed by (practice, source, the telephone system's id). Records with the same key
  merge (``calls.merging``): the earliest start and the caller it names; the best outcome
  (answered, then voicemail, then abandoned, then missed) with its talk time and extension;
  the ring time up to the earliest answer (or the latest end of ringing when nobody
  answered). Merging is order-free and a record merged twice changes nothing, so a
  re-import adds nothing.
* The patient is the one whose phone is the call's number (see ``_choose_patient`` for a
  shared phone); ``new_caller`` says no patient had that number when the call came.
* Call-backs are then recomputed for every number the batch touched (``_tasks_refresh``).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from calls.callerid import classify, clean_name, clean_text, own_numbers_of
from calls.merging import CallIn, calls_merge
from calls.models import Call, CallbackTask, PhoneSystem, new_secret
from core.business_hours import BusinessCalendar
from core.models import Practice, StaffMember
from core.selectors import roles_at
from core.services import audit_record
from patients.models import Patient

# An inbound call that ended like this is owed a call-back.
NOT_THROUGH = frozenset(
    {Call.Disposition.MISSED, Call.Disposition.VOICEMAIL, Call.Disposition.ABANDONED}
)
# Outcomes a person records; "got through" is only ever set by a later answered call.
PERSON_OUTCOMES = frozenset(CallbackTask.Outcome.values) - {CallbackTask.Outcome.GOT_THROUGH}
MAX_NOTES = 2000
CHUNK = 500


class CallsError(Exception):
    """A problem with a call or a call-back that can be shown to the person."""


@dataclass
class CallsRecorded:
    """What ``calls_record`` changed."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    merged: int = 0  # records that merged into another record of the same call
    tasks_created: int = 0
    tasks_closed: int = 0
    tasks_reopened: int = 0
    call_ids: list[int] = field(default_factory=list)


def phone_system_for(practice: Practice) -> PhoneSystem:
    """The practice's phone-system settings, created with fresh secrets the first time."""
    phone_system, _created = PhoneSystem.objects.get_or_create(practice=practice)
    return phone_system


@dataclass(frozen=True)
class _Context:
    practice: Practice
    phone_system: PhoneSystem
    region: str
    own_numbers: frozenset[str]


@transaction.atomic
def calls_record(
    *, practice: Practice, calls: Iterable[CallIn], replace: bool = False
) -> CallsRecorded:
    """Store calls (new or merged into the stored ones) and recompute their call-backs.

    ``replace``: each record is already everything known about its call (a Twilio call
    worked out from all its events) and replaces the stored one instead of merging with it,
    so a call can also lose an answer it seemed to have.
    """
    recorder = CallsRecorder(practice, replace=replace)
    recorder.add(calls)
    return recorder.finish()


class CallsRecorder:
    """``calls_record`` for a stream too large to hold: ``add`` batches as they are read,
    then ``finish`` once, inside one transaction.

    Call-backs are only worked out in ``finish``, over everything added: a missed call and
    the answered call after it in the same file never make a task that is closed at once.
    """

    def __init__(self, practice: Practice, *, replace: bool = False):
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError("CallsRecorder must run inside transaction.atomic")
        phone_system = phone_system_for(practice)
        # One writer per practice at a time: imports and webhook events that touch the same
        # numbers must see each other's calls when they decide which call-backs are owed.
        phone_system = PhoneSystem.objects.select_for_update().get(pk=phone_system.pk)
        self.context = _Context(
            practice=practice,
            phone_system=phone_system,
            region=practice.region,
            own_numbers=own_numbers_of(practice.phone, region=practice.region),
        )
        self.replace = replace
        self.result = CallsRecorded()
        self.created: set[int] = set()
        self.updated: set[int] = set()
        self.numbers: set[str] = set()

    def add(self, calls: Iterable[CallIn]) -> None:
        incoming: dict[tuple[str, str], CallIn] = {}
        for call in calls:
            call = _canonical(call, self.context)
            if call.key in incoming:
                incoming[call.key] = calls_merge(incoming[call.key], call)
                self.result.merged += 1
            else:
                incoming[call.key] = call
            if len(incoming) == CHUNK:
                self._store(incoming)
                incoming = {}
        if incoming:
            self._store(incoming)

    def finish(self) -> CallsRecorded:
        touched = self.created | self.updated
        tasks = _tasks_refresh(self.context, self.numbers, touched)
        self.result.tasks_created, self.result.tasks_closed, self.result.tasks_reopened = tasks
        self.result.call_ids = sorted(touched)
        return self.result

    def _store(self, incoming: dict[tuple[str, str], CallIn]) -> None:
        created_before = set(self.created)
        updated = _store(
            list(incoming.values()), self.context, self.created, self.numbers, self.replace
        )
        new = len(self.created) - len(created_before)
        self.result.created = len(self.created)
        # A call this recorder created and then merged into is still one new call.
        self.result.updated += len(set(updated) - created_before - self.updated)
        self.updated.update(updated)
        self.result.unchanged += len(incoming) - new - len(updated)


def _canonical(call: CallIn, context: _Context) -> CallIn:
    """Numbers as stored (E.164 when valid), names and extensions cleaned."""
    caller = classify(call.caller, region=context.region, own_numbers=context.own_numbers)
    called = classify(call.called, region=context.region, own_numbers=context.own_numbers)
    return replace(
        call,
        caller=caller.stored,
        called=called.stored,
        caller_name=clean_name(call.caller_name),
        extension=clean_text(call.extension, max_length=40),
    )


def _number_of(call: CallIn, context: _Context) -> str:
    """The number to call back: the caller of an inbound call, the number an outbound one
    dialled; blank for internal calls and for anything that is not a callable number."""
    if call.direction == Call.Direction.INBOUND:
        party = call.caller
    elif call.direction == Call.Direction.OUTBOUND:
        party = call.called
    else:
        return ""
    return classify(party, region=context.region, own_numbers=context.own_numbers).callable_number


def _as_call_in(call: Call) -> CallIn:
    return CallIn(
        source=call.source,
        external_id=call.external_id,
        direction=call.direction,
        caller=call.caller,
        called=call.called,
        caller_name=call.caller_name,
        started_at=call.started_at,
        ring_seconds=call.ring_seconds,
        talk_seconds=call.talk_seconds,
        disposition=call.disposition,
        extension=call.extension,
    )


CALL_FIELDS = (
    "direction", "caller", "called", "caller_name", "number", "started_at", "ring_seconds",
    "talk_seconds", "disposition", "extension", "patient", "new_caller", "staff",
)  # fmt: skip


def _store(
    batch: list[CallIn],
    context: _Context,
    created_ids: set[int],
    numbers: set[str],
    replace: bool,
) -> list[int]:
    """Create or merge a batch of calls with distinct keys; the ids of the updated ones.

    Adds the ids of created calls to ``created_ids`` and every number whose call-backs may
    have changed to ``numbers``.
    """
    practice = context.practice
    stored: dict[tuple[str, str], Call] = {}
    by_source: dict[str, list[str]] = defaultdict(list)
    for call in batch:
        by_source[call.source].append(call.external_id)
    for source, ids in by_source.items():
        for call in Call.objects.filter(practice=practice, source=source, external_id__in=ids):
            stored[(call.source, call.external_id)] = call
    merged = [
        c if replace or c.key not in stored else calls_merge(_as_call_in(stored[c.key]), c)
        for c in batch
    ]
    call_numbers = {c.key: _number_of(c, context) for c in merged}
    patients = _patients_by_number(practice, {n for n in call_numbers.values() if n})
    # The staff member whose extension rang or answered: as set now (see StaffMember.extension).
    staff_by_extension = dict(
        StaffMember.objects.filter(practice=practice, is_active=True)
        .exclude(extension="")
        .values_list("extension", "pk")
    )
    created, updated = [], []
    for call in merged:
        number = call_numbers[call.key]
        matches = patients.get(number, [])
        values = {
            "direction": call.direction,
            "caller": call.caller,
            "called": call.called,
            "caller_name": call.caller_name,
            "number": number,
            "started_at": call.started_at,
            "ring_seconds": call.ring_seconds,
            "talk_seconds": call.talk_seconds,
            "disposition": call.disposition,
            "extension": call.extension,
            "staff_id": staff_by_extension.get(call.extension) if call.extension else None,
            "patient_id": _choose_patient(matches),
            "new_caller": bool(
                number
                and call.direction == Call.Direction.INBOUND
                and not any(_had_number(p, call.started_at, practice) for p in matches)
            ),
        }
        existing = stored.get(call.key)
        if existing is None:
            created.append(
                Call(practice=practice, source=call.source, external_id=call.external_id, **values)
            )
            continue
        changed = [name for name, value in values.items() if getattr(existing, name) != value]
        if not changed:
            continue
        numbers.update(n for n in (existing.number, number) if n)
        for name in changed:
            setattr(existing, name, values[name])
        updated.append(existing)
    if created:
        # bulk_create sets primary keys on PostgreSQL and SQLite alike (RETURNING).
        Call.objects.bulk_create(created)
        created_ids.update(call.pk for call in created)
        numbers.update(call.number for call in created if call.number)
    if updated:
        Call.objects.bulk_update(updated, CALL_FIELDS)
    return [call.pk for call in updated]


@dataclass(frozen=True)
class _PatientMatch:
    pk: int
    guardian_id: int | None
    is_active: bool
    created_at: dt.datetime
    first_visit_on: dt.date | None


def _patients_by_number(practice: Practice, numbers: set[str]) -> dict[str, list[_PatientMatch]]:
    found: dict[str, list[_PatientMatch]] = defaultdict(list)
    wanted = sorted(numbers)
    for start in range(0, len(wanted), CHUNK):
        rows = Patient.objects.filter(practice=practice, phone__in=wanted[start : start + CHUNK])
        for pk, phone, guardian_id, status, created_at, first_visit_on in rows.values_list(
            "pk", "phone", "guardian_id", "status", "created_at", "first_visit_on"
        ).order_by("pk"):
            found[phone].append(
                _PatientMatch(
                    pk, guardian_id, status == Patient.Status.ACTIVE, created_at, first_visit_on
                )
            )
    return found


def _choose_patient(matches: list[_PatientMatch]) -> int | None:
    """The patient a number belongs to.

    One match: that patient. Several (a household sharing a phone): the one the others'
    guardian links lead to, i.e. the only match who is nobody's ward among them; failing
    that the only active one. Otherwise nobody: guessing would file the call, and any
    call-back, under the wrong person, and staff see the number either way.
    """
    if len(matches) <= 1:
        return matches[0].pk if matches else None
    ids = {match.pk for match in matches}
    heads = [match for match in matches if match.guardian_id not in ids]
    if len(heads) == 1:
        return heads[0].pk
    active = [match for match in heads if match.is_active]
    return active[0].pk if len(active) == 1 else None


def _had_number(match: _PatientMatch, started_at: dt.datetime, practice: Practice) -> bool:
    """Whether the patient was already the practice's patient when the call came.

    Imported patients are created after their history, so a first visit on or before the
    day of the call counts too.
    """
    if match.created_at <= started_at:
        return True
    day = started_at.astimezone(practice.zone).date()
    return match.first_visit_on is not None and match.first_visit_on <= day


def callback_due_at(calendar: BusinessCalendar, started_at: dt.datetime, minutes: int):
    """In hours: ``minutes`` business minutes after the call; after hours: the next opening."""
    if calendar.is_open(started_at):
        return calendar.add_minutes(started_at, minutes)
    return calendar.next_open(started_at)


def _tasks_refresh(context: _Context, numbers: set[str], touched: set[int]) -> tuple[int, int, int]:
    """Make the call-backs of these numbers match their calls.

    An inbound missed, voicemail or abandoned call is owed a call-back unless the number got
    through later (a later answered inbound call from it or answered outbound call to it).
    A task whose number got through is closed as ``got_through``; one closed that way whose
    later call no longer counts is opened again; tasks closed by a person are left alone.
    """
    if not numbers:
        return 0, 0, 0
    calendar = BusinessCalendar.for_practice(context.practice)
    minutes = context.phone_system.callback_minutes
    new_tasks: list[CallbackTask] = []
    changed: list[CallbackTask] = []
    closed = reopened = 0
    wanted = sorted(numbers)
    for start in range(0, len(wanted), CHUNK):
        calls = (
            Call.objects.filter(practice=context.practice, number__in=wanted[start : start + CHUNK])
            .select_related("callback")
            .order_by("started_at", "pk")
        )
        by_number: dict[str, list[Call]] = defaultdict(list)
        for call in calls:
            by_number[call.number].append(call)
        for number_calls in by_number.values():
            answered = [
                call.started_at
                for call in number_calls
                if call.disposition == Call.Disposition.ANSWERED
                and call.direction in (Call.Direction.INBOUND, Call.Direction.OUTBOUND)
            ]
            for call in number_calls:
                task = getattr(call, "callback", None)
                if call.direction != Call.Direction.INBOUND or call.disposition not in NOT_THROUGH:
                    if task is not None and task.done_at is None:
                        # Another record of this very call says it was answered after all.
                        task.outcome = CallbackTask.Outcome.GOT_THROUGH
                        task.done_at = call.started_at + dt.timedelta(seconds=call.ring_seconds)
                        changed.append(task)
                        closed += 1
                    continue
                later = bisect.bisect_right(answered, call.started_at)
                got_through_at = answered[later] if later < len(answered) else None
                if task is None:
                    if got_through_at is None:
                        new_tasks.append(_new_task(call, calendar, minutes))
                elif got_through_at is not None:
                    if task.done_at is None:
                        task.outcome = CallbackTask.Outcome.GOT_THROUGH
                        task.done_at = got_through_at
                        changed.append(task)
                        closed += 1
                elif task.outcome == CallbackTask.Outcome.GOT_THROUGH:
                    task.outcome, task.done_at = "", None
                    task.due_at = callback_due_at(calendar, call.started_at, minutes)
                    changed.append(task)
                    reopened += 1
                elif task.done_at is None and call.pk in touched:
                    # The call was recorded again: an earlier leg, a corrected caller id.
                    now = (callback_due_at(calendar, call.started_at, minutes), call.patient_id)
                    if (task.due_at, task.patient_id, task.number) != (*now, call.number):
                        task.due_at, task.patient_id = now
                        task.number = call.number
                        changed.append(task)
    CallbackTask.objects.bulk_create(new_tasks)
    if changed:
        CallbackTask.objects.bulk_update(
            changed, ["outcome", "done_at", "due_at", "patient_id", "number"]
        )
    return len(new_tasks), closed, reopened


def _new_task(call: Call, calendar: BusinessCalendar, minutes: int) -> CallbackTask:
    return CallbackTask(
        practice_id=call.practice_id,
        call=call,
        patient_id=call.patient_id,
        number=call.number,
        due_at=callback_due_at(calendar, call.started_at, minutes),
    )


# --- Call-backs: people working the missed-call list -------------------------------


def _audit_task(task: CallbackTask, *, user, request=None, **detail) -> None:
    audit_record(
        action="update",
        object_type="callback_task",
        object_id=task.pk,
        patient_id=task.patient_id,
        practice=task.practice,
        user=user,
        request=request,
        detail=detail,
    )


def _locked_task(task: CallbackTask) -> CallbackTask:
    return CallbackTask.objects.select_for_update().select_related("practice").get(pk=task.pk)


@transaction.atomic
def callback_complete(
    *,
    task: CallbackTask,
    outcome: str,
    user: AbstractBaseUser,
    notes: str = "",
    request=None,
) -> CallbackTask:
    """Record what came of a call-back. A task is completed once."""
    task = _locked_task(task)
    if task.done_at is not None:
        raise CallsError(f"This call-back is already done ({task.get_outcome_display().lower()}).")
    if not roles_at(user, task.practice):
        raise CallsError("Only staff of the practice work its call-backs.")
    if outcome not in PERSON_OUTCOMES:
        raise CallsError("Choose what came of the call-back.")
    notes = (notes or "").strip()
    if "\x00" in notes or len(notes) > MAX_NOTES:
        raise CallsError(f"Notes: plain text under {MAX_NOTES} characters.")
    task.outcome, task.notes = outcome, notes
    task.done_at, task.done_by = timezone.now(), user
    task.save(update_fields=["outcome", "notes", "done_at", "done_by"])
    _audit_task(task, user=user, request=request, outcome=outcome)
    return task


@transaction.atomic
def callback_assign(
    *,
    task: CallbackTask,
    owner: AbstractBaseUser | None,
    user: AbstractBaseUser,
    request=None,
) -> CallbackTask:
    """Give a call-back to someone of the practice (``None``: nobody)."""
    task = _locked_task(task)
    if task.done_at is not None:
        raise CallsError("This call-back is already done.")
    if not roles_at(user, task.practice):
        raise CallsError("Only staff of the practice work its call-backs.")
    if owner is not None and (not owner.is_active or not roles_at(owner, task.practice)):
        raise CallsError("The owner must work at the practice.")
    task.owner = owner
    task.save(update_fields=["owner"])
    _audit_task(task, user=user, request=request, owner=owner.pk if owner else None)
    return task


# --- Phone-system settings ------------------------------------------------------------


def _audit_phone_system(phone_system: PhoneSystem, *, user, request=None, **detail) -> None:
    # The secrets themselves never go into the audit log.
    audit_record(
        action="update",
        object_type="phone_system",
        object_id=phone_system.pk,
        practice=phone_system.practice,
        user=user,
        request=request,
        detail=detail,
    )


@transaction.atomic
def phone_system_rotate_secret(
    *, phone_system: PhoneSystem, user: AbstractBaseUser, request=None
) -> PhoneSystem:
    """A new signing secret; the current one stays valid as the previous one until the
    telephone system uses the new one and the rotation is ended."""
    phone_system = PhoneSystem.objects.select_for_update().get(pk=phone_system.pk)
    phone_system.previous_webhook_secret = phone_system.webhook_secret
    phone_system.webhook_secret = new_secret()
    phone_system.save(update_fields=["webhook_secret", "previous_webhook_secret"])
    _audit_phone_system(phone_system, user=user, request=request, change="rotate secret")
    return phone_system


@transaction.atomic
def phone_system_end_rotation(
    *, phone_system: PhoneSystem, user: AbstractBaseUser, request=None
) -> PhoneSystem:
    """Stop accepting the previous signing secret."""
    phone_system = PhoneSystem.objects.select_for_update().get(pk=phone_system.pk)
    phone_system.previous_webhook_secret = ""
    phone_system.save(update_fields=["previous_webhook_secret"])
    _audit_phone_system(phone_system, user=user, request=request, change="end rotation")
    return phone_system
