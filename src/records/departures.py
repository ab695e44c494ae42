"""Writes for patients who leave: the departure with its reason, the farewell letter with
the exit survey, the win-back check-in, and the welcome back (a redeemed patient)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from core.selectors import practice_staff_users
from core.services import audit_record
from feedback.defaults import EXIT_REASON_CHOICES
from loyalty.models import CheckIn
from messaging.models import OutboundMessage
from patients.models import Patient
from records.services import RecordsError

WINBACK_AFTER_DAYS = 182
MAX_WINBACK_AFTER_DAYS = 731
MAX_NOTE = 500
FAREWELL_KIND = "farewell_letter"

Reason = Patient.DepartureReason

# An exit survey answer → the reason it records. The wording before the eight reasons is
# kept so that answers to an organisation's older copy of the survey still count.
EXIT_ANSWER_REASONS: dict[str, str] = {
    **{wording: reason for reason, wording in EXIT_REASON_CHOICES.items()},
    "Moved or closer to home": Reason.MOVED,
    "Insurance or cost": Reason.COST,
    "Equipment or facility": Reason.EQUIPMENT,
    "Something that happened here": Reason.SERVICE,
}


class DepartureError(RecordsError):
    """A departure or a return that cannot be recorded, said so a person can act on it."""


@dataclass(frozen=True)
class Departure:
    """What recording a departure changed: the patient, the win-back check-in, and the
    farewell letter (``None`` when not sent, or when we have no way to reach them)."""

    patient: Patient
    winback: CheckIn
    farewell: OutboundMessage | None


def years_with_us(patient: Patient, on: dt.date) -> int:
    """Whole years since the first visit (or since the patient was added): the letter's
    "thank you for the 20 years"."""
    since = patient.first_visit_on or (patient.created_at and patient.created_at.date())
    if since is None or since > on:
        return 0
    return on.year - since.year - ((on.month, on.day) < (since.month, since.day))


def winback_owner_default(patient: Patient, user: AbstractBaseUser):
    """The practice's owner dentist when set and still on the staff, else the person
    recording the departure, if they can own a check-in; ``None`` otherwise."""
    staff = practice_staff_users(patient.practice)
    for candidate in (patient.practice.owner_dentist, user):
        if candidate is not None and staff.filter(pk=candidate.pk).exists():
            return candidate
    return None


def _audit_patient(patient: Patient, *, user, request=None, actor_label="", **detail) -> None:
    audit_record(
        action="update",
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk,
        practice=patient.practice,
        user=user,
        request=request,
        actor_label=actor_label,
        detail=detail,
    )


def _clean_note(note: str) -> str:
    note = " ".join((note or "").split())
    if "\x00" in note or len(note) > MAX_NOTE:
        raise DepartureError(f"Note: plain text under {MAX_NOTE} characters.")
    return note


@transaction.atomic
def patient_depart(
    *,
    patient: Patient,
    reason: str,
    user: AbstractBaseUser,
    note: str = "",
    winback_owner: AbstractBaseUser | None = None,
    winback_after_days: int = WINBACK_AFTER_DAYS,
    send_farewell: bool = True,
    now: dt.datetime | None = None,
    request=None,
) -> Departure:
    """Let a patient go warmly: record why, thank them with the exit survey, and put a
    win-back check-in on someone's list for later. Nothing is stored if anything is wrong."""
    now = now or timezone.now()
    if reason not in Reason.values:
        raise DepartureError("Reason: choose why they are leaving.")
    note = _clean_note(note)
    if not isinstance(winback_after_days, int) or not (
        1 <= winback_after_days <= MAX_WINBACK_AFTER_DAYS
    ):
        raise DepartureError("Win-back: from one day to two years after they leave.")
    patient = Patient.objects.select_for_update().select_related("practice").get(pk=patient.pk)
    practice = patient.practice
    if patient.status == Patient.Status.DEPARTED:
        when = patient.departed_at and patient.departed_at.astimezone(practice.zone)
        since = f" on {when:%b} {when.day}, {when.year}" if when else ""
        raise DepartureError(f"{patient.full_name} is already recorded as departed{since}.")
    owner = winback_owner or winback_owner_default(patient, user)
    if owner is None or not practice_staff_users(practice).filter(pk=owner.pk).exists():
        raise DepartureError(
            "Win-back: choose a dentist, hygienist or manager of the practice to reach out."
        )

    patient.status, patient.departed_at, patient.returned_at = Patient.Status.DEPARTED, now, None
    patient.departure_reason, patient.departure_note = reason, note
    patient.save(
        update_fields=[
            "status",
            "departed_at",
            "returned_at",
            "departure_reason",
            "departure_note",
            "updated_at",
        ]
    )
    today = now.astimezone(practice.zone).date()
    winback = CheckIn.objects.create(
        practice=practice,
        patient=patient,
        kind=CheckIn.Kind.WINBACK,
        owner=owner,
        due_on=today + dt.timedelta(days=winback_after_days),
        reasons=[f"Left: {Reason(reason).label}", *([f"Note: {note}"] if note else [])],
        created_at=now,
        created_by=user,
    )
    audit_record(
        action="create",
        object_type="check_in",
        object_id=winback.pk,
        patient_id=patient.pk,
        practice=practice,
        user=user,
        request=request,
        detail={"kind": CheckIn.Kind.WINBACK, "due_on": str(winback.due_on)},
    )
    farewell = _farewell_send(patient, today=today, now=now) if send_farewell else None
    _audit_patient(
        patient,
        user=user,
        request=request,
        status=Patient.Status.DEPARTED,
        reason=reason,
        winback_check_in=winback.pk,
        farewell_message=farewell.pk if farewell else None,
    )
    return Departure(patient=patient, winback=winback, farewell=farewell)


def _farewell_send(patient: Patient, *, today: dt.date, now: dt.datetime) -> OutboundMessage | None:
    """The exit survey invitation, sent as the farewell letter that carries its link."""
    from feedback.services import invitation_create, surveys_ensure_defaults

    survey = surveys_ensure_defaults(organisation=patient.practice.organisation)["exit"]
    invitation = invitation_create(
        patient=patient,
        survey=survey,
        now=now,
        message_kind=FAREWELL_KIND,
        message_context={"years_with_us": years_with_us(patient, today)},
    )
    return OutboundMessage.objects.filter(
        practice=patient.practice, idempotency_key=f"survey-invitation-{invitation.pk}"
    ).first()


@transaction.atomic
def patient_return(
    *, patient: Patient, user: AbstractBaseUser, now: dt.datetime | None = None, request=None
) -> Patient:
    """Welcome a departed patient back: active again and counted as redeemed; their open
    win-back check-ins are logged as "came back"."""
    now = now or timezone.now()
    patient = Patient.objects.select_for_update().select_related("practice").get(pk=patient.pk)
    if patient.status != Patient.Status.DEPARTED:
        raise DepartureError(f"{patient.full_name} is not recorded as departed.")
    patient.status, patient.returned_at = Patient.Status.ACTIVE, now
    patient.save(update_fields=["status", "returned_at", "updated_at"])
    closed = list(
        CheckIn.objects.filter(
            patient=patient, kind=CheckIn.Kind.WINBACK, done_at__isnull=True
        ).values_list("pk", flat=True)
    )
    CheckIn.objects.filter(pk__in=closed).update(done_at=now, outcome=CheckIn.Outcome.RETURNED)
    _audit_patient(
        patient,
        user=user,
        request=request,
        status=Patient.Status.ACTIVE,
        returned=True,
        closed_check_ins=closed,
    )
    return patient


def departure_reason_from_exit_answers(*, patient_id: int, answers: Iterable[str]) -> str:
    """Record the reason a departed patient chose on the exit survey, when staff left it
    blank. Returns the reason recorded, or "" when nothing changed."""
    reason = next((EXIT_ANSWER_REASONS[a] for a in answers if a in EXIT_ANSWER_REASONS), "")
    if not reason:
        return ""
    # Conditional, so a reason staff recorded (or a patient who came back) is left alone.
    updated = Patient.objects.filter(
        pk=patient_id, status=Patient.Status.DEPARTED, departure_reason=""
    ).update(departure_reason=reason, updated_at=timezone.now())
    if not updated:
        return ""
    patient = Patient.objects.select_related("practice").get(pk=patient_id)
    _audit_patient(patient, user=None, actor_label="patient (exit survey)", reason=reason)
    return str(reason)
