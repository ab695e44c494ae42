"""Verified webhook events: stored once in the inbox, then applied to the practice's calls.

The webhook views (``calls.webhooks``) check the signature; everything here runs after that.
An event is stored and applied in one transaction, so it is either both stored and applied
or neither, and a 2xx answer means it is in the database. The practice's phone-system row
is locked first: events of one practice are applied one at a time, and a delivery repeated
any number of times (even concurrently) finds the first one stored.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from calls.imports import MAX_SECONDS, generic_call
from calls.merging import CallIn
from calls.models import Call, PhoneSystem, WebhookEvent
from calls.services import calls_record

GENERIC = "standard"
TWILIO = "twilio"
CALL_ENDED = "call.ended"


class Outcome(StrEnum):
    APPLIED = "applied"
    IGNORED = "ignored"  # stored, but it changes no call (unknown type, a call still ringing)
    DUPLICATE = "duplicate"  # the same event again: nothing new
    CONFLICT = "conflict"  # the same event id with another body: nothing changed


def body_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# apply(event) -> a note when the event changed nothing, else ""
Apply = Callable[[WebhookEvent], str]


@transaction.atomic
def webhook_event_receive(
    *,
    phone_system: PhoneSystem,
    provider: str,
    event_id: str,
    body_sha256: str,
    payload: Any,
    apply: Apply,
) -> Outcome:
    """Store a verified event once and apply it; a repeat is a duplicate or a conflict."""
    # A repeat is answered without the practice's lock, so a retry storm does not queue
    # behind new events; the check is made again under the lock for concurrent firsts.
    known = _known(phone_system, provider, event_id, body_sha256)
    if known is not None:
        return known
    PhoneSystem.objects.select_for_update().filter(pk=phone_system.pk).first()
    known = _known(phone_system, provider, event_id, body_sha256)
    if known is not None:
        return known
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                practice_id=phone_system.practice_id,
                provider=provider,
                event_id=event_id,
                body_sha256=body_sha256,
                payload=payload,
            )
    except IntegrityError:
        # Another delivery of the same event won the race (a database without row locks).
        known = _known(phone_system, provider, event_id, body_sha256)
        if known is None:
            raise
        return known
    note = apply(event)
    event.applied_at = timezone.now()
    event.error = note[:400]
    event.save(update_fields=["applied_at", "error"])
    return Outcome.IGNORED if note else Outcome.APPLIED


def _known(
    phone_system: PhoneSystem, provider: str, event_id: str, body_sha256: str
) -> Outcome | None:
    stored = (
        WebhookEvent.objects.filter(
            practice_id=phone_system.practice_id, provider=provider, event_id=event_id
        )
        .values_list("body_sha256", flat=True)
        .first()
    )
    if stored is None:
        return None
    return Outcome.DUPLICATE if stored == body_sha256 else Outcome.CONFLICT


# --- Generic JSON (Standard Webhooks) ---------------------------------------------------


class EventInvalid(ValueError):
    """A verified event that cannot be applied; the reasons go back to the sender."""

    def __init__(self, reasons: list[str]):
        self.reasons = reasons
        super().__init__("; ".join(reasons))


def generic_event_check(payload: Any, *, now: dt.datetime) -> CallIn | None:
    """The call a ``call.ended`` event carries; None for other event types.

    Raises ``EventInvalid`` for a body that is not an event or a ``call.ended`` whose call is
    invalid: such an event is refused, not stored, so a corrected one can be sent again.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise EventInvalid(['the body must be a JSON object with a "type"'])
    if payload["type"] != CALL_ENDED:
        return None
    call = payload.get("call")
    if not isinstance(call, dict):
        raise EventInvalid(['a call.ended event needs a "call" object'])
    found, reasons = generic_call(call, source=Call.Source.WEBHOOK, now=now)
    if reasons:
        raise EventInvalid(reasons)
    return found


def generic_event_apply(phone_system: PhoneSystem, call: CallIn | None) -> Apply:
    def apply(event: WebhookEvent) -> str:
        if call is None:
            return f"event type {str(event.payload.get('type'))[:60]!r} is not used: ignored"
        calls_record(practice=phone_system.practice, calls=[call])
        return ""

    return apply


# --- Twilio voice status callbacks ----------------------------------------------------

TWILIO_FINAL = {
    "completed": Call.Disposition.ANSWERED,
    "busy": Call.Disposition.MISSED,
    "failed": Call.Disposition.MISSED,
    "no-answer": Call.Disposition.MISSED,
    "canceled": Call.Disposition.ABANDONED,
}
TWILIO_STATUSES = {"queued", "initiated", "ringing", "in-progress", *TWILIO_FINAL}
TWILIO_PROGRESS = {"queued": 0, "initiated": 0, "ringing": 1, "in-progress": 2}
ANSWERED_LEG = {"in-progress", "completed"}


def twilio_event_id(params: dict[str, str]) -> str:
    """CallSid, status and sequence number: one id per status callback, however often sent."""
    return ":".join(
        (params.get("CallSid", ""), params.get("CallStatus", ""), params.get("SequenceNumber", ""))
    )[:150]


def twilio_params_digest(pairs: list[tuple[str, list[str]]]) -> str:
    """The digest of the form fields, whatever order they were sent in."""
    canonical = json.dumps(sorted((key, sorted(values)) for key, values in pairs))
    return body_digest(canonical.encode())


@dataclass(frozen=True)
class _Status:
    call_sid: str
    status: str
    sequence: int
    at: dt.datetime
    duration: int | None
    params: dict[str, str]

    @property
    def rank(self) -> tuple[int, int, str]:
        order = 3 if self.status in TWILIO_FINAL else TWILIO_PROGRESS.get(self.status, -1)
        return order, self.sequence, self.status


def _status(event: WebhookEvent) -> _Status:
    params = event.payload
    try:
        at = email.utils.parsedate_to_datetime(params.get("Timestamp", ""))
    except (TypeError, ValueError):
        at = None
    if at is None or at.tzinfo is None:
        at = event.received_at  # what Twilio did not say, the inbox did
    duration = params.get("CallDuration", "")
    sequence = params.get("SequenceNumber", "")
    return _Status(
        call_sid=params.get("CallSid", ""),
        status=params.get("CallStatus", "").lower(),
        sequence=int(sequence) if sequence.isascii() and sequence.isdigit() else 0,
        at=at.astimezone(dt.UTC),
        duration=(
            min(int(duration), MAX_SECONDS) if duration.isascii() and duration.isdigit() else None
        ),
        params=params,
    )


def twilio_call(call_sid: str, events: list[WebhookEvent]) -> CallIn | None:
    """The call as all its stored status callbacks describe it, or None while it is unsettled.

    Computed from the whole set of events, so the order they arrived in does not matter.
    Legs (``ParentCallSid``: the calls a ``<Dial>`` makes to staff phones) say whether a
    person answered: with legs, the call is answered when one of them was; without, a
    completed call counts as answered. A call is settled once it has a final status or a
    leg was answered.
    """
    statuses = [_status(event) for event in events]
    statuses = [s for s in statuses if s.status in TWILIO_STATUSES]
    own = [s for s in statuses if s.call_sid == call_sid]
    legs = [s for s in statuses if s.call_sid != call_sid]
    if not own:
        return None
    latest = max(own, key=lambda s: s.rank)
    answered_legs = [s for s in legs if s.status in ANSWERED_LEG]
    final = latest.status in TWILIO_FINAL
    if not final and not answered_legs:
        return None
    # A final status carries the call's length: the call began that long before it ended.
    ended = [s.at - dt.timedelta(seconds=s.duration or 0) for s in own if s.status in TWILIO_FINAL]
    started_at = min([s.at for s in own] + ended)
    if answered_legs:
        disposition = Call.Disposition.ANSWERED
        answered_at = min(_answered_at(s) for s in answered_legs)
        talk = max((s.duration or 0) for s in answered_legs)
        ring = answered_at - started_at
    elif legs:
        # Staff phones were rung and nobody picked up.
        disposition = (
            Call.Disposition.ABANDONED if latest.status == "canceled" else Call.Disposition.MISSED
        )
        talk, ring = 0, latest.at - started_at
    else:
        disposition = TWILIO_FINAL[latest.status]
        answered = disposition == Call.Disposition.ANSWERED
        talk = (latest.duration or 0) if answered else 0
        # A completed call was answered CallDuration seconds before it ended.
        ring = latest.at - dt.timedelta(seconds=talk) - started_at
    params = latest.params
    direction = params.get("Direction", "").lower()
    return CallIn(
        source=Call.Source.TWILIO,
        external_id=call_sid,
        direction=Call.Direction.INBOUND if direction == "inbound" else Call.Direction.OUTBOUND,
        caller=params.get("From", ""),
        called=params.get("To", ""),
        caller_name=params.get("CallerName", ""),
        started_at=started_at,
        ring_seconds=min(max(0, int(ring.total_seconds())), MAX_SECONDS),
        talk_seconds=talk,
        disposition=disposition,
    )


def _answered_at(leg: _Status) -> dt.datetime:
    if leg.status == "completed" and leg.duration is not None:
        return leg.at - dt.timedelta(seconds=leg.duration)
    return leg.at


def twilio_event_apply(phone_system: PhoneSystem) -> Apply:
    def apply(event: WebhookEvent) -> str:
        params = event.payload
        call_sid = params.get("ParentCallSid") or params["CallSid"]
        if params.get("CallStatus", "").lower() not in TWILIO_STATUSES:
            return f"call status {params.get('CallStatus', '')[:40]!r} is not used: ignored"
        # This event is stored already: the call is worked out from all of them.
        stored = WebhookEvent.objects.filter(practice_id=phone_system.practice_id, provider=TWILIO)
        events = [
            *stored.filter(event_id__startswith=f"{call_sid}:"),
            *stored.filter(payload__ParentCallSid=call_sid),
        ]
        call = twilio_call(call_sid, events)
        if call is None:
            return ""  # not settled yet: a later status callback will record the call
        calls_record(practice=phone_system.practice, calls=[call], replace=True)
        return ""

    return apply
