"""Writes for vendors: the vendor and its contacts, what it did for whom, its defects,
feedback and cases attributed to it, and the standards letter."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.models import Practice
from core.services import audit_record
from feedback.models import Answer, FeedbackItem
from feedback.touchpoints import TOUCHPOINTS
from patients.models import Appointment, Patient, fold_for_search
from vendors.models import (
    REFERRAL_DAYS,
    Involvement,
    Vendor,
    VendorContact,
    VendorDefect,
    VendorStandards,
)

MAX_NOTES = 5000
MAX_LETTER = 10000
# A name shorter than this would match inside ordinary words' neighbours ("Al", "X").
MIN_NAME = 3
# Past feedback a new or renamed vendor is looked for in.
ATTRIBUTION_LOOKBACK = dt.timedelta(days=365)
# Lab cases and referrals whose dates are older than this are history: not re-checked.
DETECTION_LOOKBACK = dt.timedelta(days=400)
DETECTED_KINDS = (VendorDefect.Kind.LAB_CASE_LATE, VendorDefect.Kind.REFERRAL_NOT_SCHEDULED)


class VendorError(Exception):
    """A problem with a vendor, its work or its letter that a person can act on."""


def _audit(practice: Practice, action: str, object_type: str, object_id, *, user=None, **kw):
    audit_record(
        action=action,
        object_type=object_type,
        object_id=object_id,
        practice=practice,
        user=user,
        request=kw.pop("request", None),
        patient_id=kw.pop("patient_id", None),
        actor_label="" if user else "vendor rules",
        detail=kw,
    )


def _clean_text(value: str | None, *, field: str, limit: int, single_line: bool = True) -> str:
    value = (value or "").strip()
    if "\x00" in value:
        raise VendorError(f"{field}: contains a character we cannot store.")
    if single_line and ("\n" in value or "\r" in value):
        raise VendorError(f"{field}: one line, please.")
    if len(value) > limit:
        raise VendorError(f"{field}: please keep it under {limit} characters.")
    return value


def _clean_aliases(aliases: Iterable[str]) -> list[str]:
    cleaned = []
    for alias in aliases:
        alias = _clean_text(alias, field="Other names", limit=120)
        if not alias:
            continue
        if len(fold_for_search(alias)) < MIN_NAME:
            raise VendorError(f"Other names: “{alias}” is too short to recognise in comments.")
        if alias not in cleaned:
            cleaned.append(alias)
    if len(cleaned) > 20:
        raise VendorError("Other names: twenty at most.")
    return cleaned


def _clean_touchpoints(touchpoints: Iterable[str]) -> list[str]:
    touchpoints = list(dict.fromkeys(touchpoints))
    unknown = [t for t in touchpoints if t not in TOUCHPOINTS]
    if unknown:
        raise VendorError(f"Touchpoints: unknown {', '.join(unknown)[:100]}.")
    return touchpoints


def _local_today(practice: Practice, now: dt.datetime) -> dt.date:
    return now.astimezone(practice.zone).date()


def _day_start(day: dt.date, practice: Practice) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=practice.zone)


# --- Vendors and contacts ------------------------------------------------------------------


def _clean_vendor(practice: Practice, *, name, kind, aliases, touchpoints, notes, exclude=None):
    name = _clean_text(name, field="Name", limit=120)
    if len(fold_for_search(name)) < MIN_NAME:
        raise VendorError("Name: at least three letters, as patients would write it.")
    if kind not in Vendor.Kind.values:
        raise VendorError(
            "Kind: choose lab, specialist, imaging centre, billing, answering or other."
        )
    same = Vendor.objects.filter(practice=practice, name__iexact=name)
    if exclude is not None:
        same = same.exclude(pk=exclude.pk)
    if same.exists():
        raise VendorError(f"Name: {name} is already on the list.")
    return {
        "name": name,
        "kind": kind,
        "aliases": _clean_aliases(aliases),
        "touchpoints": _clean_touchpoints(touchpoints),
        "notes": _clean_text(notes, field="Notes", limit=MAX_NOTES, single_line=False),
    }


@transaction.atomic
def vendor_create(
    *,
    practice: Practice,
    name: str,
    kind: str,
    aliases: Sequence[str] = (),
    touchpoints: Sequence[str] = ("third_party",),
    notes: str = "",
    user: AbstractBaseUser | None = None,
    request=None,
    now: dt.datetime | None = None,
) -> Vendor:
    """Add a vendor; feedback of the last year that names it is attributed to it."""
    fields = _clean_vendor(
        practice, name=name, kind=kind, aliases=aliases, touchpoints=touchpoints, notes=notes
    )
    vendor = Vendor.objects.create(practice=practice, **fields)
    _audit(practice, "create", "vendor", vendor.pk, user=user, request=request)
    feedback_attribute_past(vendor=vendor, now=now)
    return vendor


@transaction.atomic
def vendor_update(
    *,
    vendor: Vendor,
    name: str,
    kind: str,
    aliases: Sequence[str],
    touchpoints: Sequence[str],
    notes: str = "",
    is_active: bool = True,
    user: AbstractBaseUser | None = None,
    request=None,
) -> Vendor:
    fields = _clean_vendor(
        vendor.practice,
        name=name,
        kind=kind,
        aliases=aliases,
        touchpoints=touchpoints,
        notes=notes,
        exclude=vendor,
    )
    for field, value in {**fields, "is_active": bool(is_active)}.items():
        setattr(vendor, field, value)
    vendor.save()
    _audit(vendor.practice, "update", "vendor", vendor.pk, user=user, request=request)
    if vendor.is_active:
        # A new alias finds the comments that used it.
        feedback_attribute_past(vendor=vendor)
    return vendor


@transaction.atomic
def contact_add(
    *,
    vendor: Vendor,
    name: str,
    role: str = "",
    email: str = "",
    phone: str = "",
    user: AbstractBaseUser | None = None,
    request=None,
) -> VendorContact:
    name = _clean_text(name, field="Name", limit=120)
    if not name:
        raise VendorError("Name: who is the contact?")
    email = _clean_text(email, field="Email", limit=254)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise VendorError("Email: that is not an email address.") from None
    phone = _clean_text(phone, field="Phone", limit=20)
    if phone and not re.fullmatch(r"[0-9+()\-. ]{3,20}", phone):
        raise VendorError("Phone: digits, spaces and + ( ) - . only.")
    contact = VendorContact.objects.create(
        vendor=vendor,
        name=name,
        role=_clean_text(role, field="Role", limit=80),
        email=email,
        phone=phone,
    )
    _audit(vendor.practice, "update", "vendor", vendor.pk, user=user, request=request, contact=name)
    return contact


# --- Involvements --------------------------------------------------------------------------


def _check_dates(kind: str, dates: dict[str, dt.date | None], today: dt.date) -> None:
    sent, due, returned = dates["sent_on"], dates["due_back_on"], dates["returned_on"]
    referred, scheduled = dates["referred_on"], dates["scheduled_on"]
    if kind == Involvement.Kind.LAB_CASE and sent is None:
        raise VendorError("Sent on: when did the case go to the lab?")
    if kind == Involvement.Kind.REFERRAL and referred is None:
        raise VendorError("Referred on: when was the patient referred?")
    dated = (("Sent on", sent), ("Came back on", returned), ("Referred on", referred))
    for label, day in (*dated, ("Scheduled on", scheduled)):
        if day is not None and day > today:
            raise VendorError(f"{label}: that date has not come yet.")
    if sent and due and due < sent:
        raise VendorError("Due back: before the case was sent?")
    if sent and returned and returned < sent:
        raise VendorError("Came back on: before the case was sent?")
    if referred and scheduled and scheduled < referred:
        raise VendorError("Scheduled on: before the referral?")


@transaction.atomic
def involvement_create(
    *,
    vendor: Vendor,
    patient: Patient,
    kind: str,
    appointment: Appointment | None = None,
    recovery_case=None,
    description: str = "",
    sent_on: dt.date | None = None,
    due_back_on: dt.date | None = None,
    returned_on: dt.date | None = None,
    referred_on: dt.date | None = None,
    scheduled_on: dt.date | None = None,
    notes: str = "",
    user: AbstractBaseUser | None = None,
    request=None,
    now: dt.datetime | None = None,
) -> Involvement:
    """Record that a vendor worked for or saw a patient; late work shows as a defect at once."""
    now = now or timezone.now()
    practice = vendor.practice
    if kind not in Involvement.Kind.values:
        raise VendorError("Kind: lab case, visit, referral, imaging, billing or other.")
    if patient.practice_id != practice.pk:
        raise VendorError("That patient belongs to another practice.")
    if appointment is not None and appointment.patient_id != patient.pk:
        raise VendorError("Appointment: choose one of this patient's appointments.")
    if recovery_case is not None and recovery_case.patient_id != patient.pk:
        raise VendorError("Case: choose one of this patient's cases.")
    dates = {
        "sent_on": sent_on,
        "due_back_on": due_back_on,
        "returned_on": returned_on,
        "referred_on": referred_on,
        "scheduled_on": scheduled_on,
    }
    _check_dates(kind, dates, _local_today(practice, now))
    involvement = Involvement.objects.create(
        practice=practice,
        vendor=vendor,
        patient=patient,
        appointment=appointment,
        recovery_case=recovery_case,
        kind=kind,
        description=_clean_text(description, field="What for", limit=200),
        notes=_clean_text(notes, field="Notes", limit=MAX_NOTES, single_line=False),
        created_by=user if user is not None and user.is_authenticated else None,
        **dates,
    )
    _audit(
        practice,
        "create",
        "vendor_involvement",
        involvement.pk,
        user=user,
        request=request,
        patient_id=patient.pk,
        vendor=vendor.pk,
        kind=kind,
    )
    _detect_one(involvement, now=now, referral_days=referral_days_for(practice))
    return involvement


@transaction.atomic
def involvement_record(
    *,
    involvement: Involvement,
    returned_on: dt.date | None = None,
    scheduled_on: dt.date | None = None,
    user: AbstractBaseUser | None = None,
    request=None,
    now: dt.datetime | None = None,
) -> Involvement:
    """The lab case came back, or the specialist booked the patient in."""
    now = now or timezone.now()
    involvement = Involvement.objects.select_for_update().get(pk=involvement.pk)
    changed = {}
    if returned_on is not None:
        if involvement.kind != Involvement.Kind.LAB_CASE:
            raise VendorError("Only a lab case comes back.")
        changed["returned_on"] = returned_on
    if scheduled_on is not None:
        if involvement.kind != Involvement.Kind.REFERRAL:
            raise VendorError("Only a referral is scheduled.")
        changed["scheduled_on"] = scheduled_on
    if not changed:
        raise VendorError("Give the date it came back, or the date it was scheduled.")
    dates = {
        field: changed.get(field, getattr(involvement, field))
        for field in ("sent_on", "due_back_on", "returned_on", "referred_on", "scheduled_on")
    }
    _check_dates(involvement.kind, dates, _local_today(involvement.practice, now))
    for field, value in changed.items():
        setattr(involvement, field, value)
    involvement.save(update_fields=list(changed))
    _audit(
        involvement.practice,
        "update",
        "vendor_involvement",
        involvement.pk,
        user=user,
        request=request,
        patient_id=involvement.patient_id,
        **{field: value.isoformat() for field, value in changed.items()},
    )
    # Staff correcting a date may show the work was on time after all.
    _detect_one(
        involvement, now=now, referral_days=referral_days_for(involvement.practice), prune=True
    )
    return involvement


@transaction.atomic
def defect_report(
    *,
    vendor: Vendor,
    detail: str,
    involvement: Involvement | None = None,
    user: AbstractBaseUser | None = None,
    request=None,
    now: dt.datetime | None = None,
) -> VendorDefect:
    """Staff write down something the vendor got wrong that no date shows (a wrong shade)."""
    detail = _clean_text(detail, field="What went wrong", limit=300)
    if not detail:
        raise VendorError("What went wrong: a few words, please.")
    if involvement is not None and involvement.vendor_id != vendor.pk:
        raise VendorError("That work was not done by this vendor.")
    defect = VendorDefect.objects.create(
        practice=vendor.practice,
        vendor=vendor,
        involvement=involvement,
        kind=VendorDefect.Kind.REPORTED,
        detected_at=now or timezone.now(),
        detail=detail,
        reported_by=user if user is not None and user.is_authenticated else None,
    )
    _audit(vendor.practice, "create", "vendor_defect", defect.pk, user=user, request=request)
    return defect


# --- Defects detected from the dates --------------------------------------------------------


@dataclass(frozen=True)
class Lateness:
    """What a rule found: the defect's kind, when the work became late, when that ended."""

    kind: str
    since: dt.datetime
    resolved_at: dt.datetime | None
    detail: str


def referral_days_for(practice: Practice) -> int:
    days = (
        VendorStandards.objects.filter(practice=practice)
        .values_list("referral_days", flat=True)
        .first()
    )
    return days or REFERRAL_DAYS


def lateness(involvement: Involvement, *, now: dt.datetime, referral_days: int) -> Lateness | None:
    """The rules, on one involvement's dates:

    - a lab case for an appointment is late when it came back after the day of that
      appointment, or has not come back by the time it starts;
    - a lab case with no appointment is late after its due-back date;
    - a referral is late when the specialist has not scheduled it ``referral_days`` days
      after the referral.
    """
    practice = involvement.practice
    today = _local_today(practice, now)
    if involvement.kind == Involvement.Kind.LAB_CASE:
        returned = involvement.returned_on
        appointment = involvement.appointment
        if appointment is not None:
            if appointment.status == Appointment.Status.CANCELLED:
                return None  # the work is for the rebooked visit: staff move it there
            day = appointment.starts_at.astimezone(practice.zone).date()
            when = f"{appointment.kind or 'the appointment'} on {day:%b} {day.day}"
            if returned is not None and returned > day:
                return Lateness(
                    VendorDefect.Kind.LAB_CASE_LATE,
                    appointment.starts_at,
                    _day_start(returned, practice),
                    f"Came back {returned:%b} {returned.day}, after the {when}.",
                )
            if returned is None and appointment.starts_at <= now:
                return Lateness(
                    VendorDefect.Kind.LAB_CASE_LATE,
                    appointment.starts_at,
                    None,
                    f"Not back in time for the {when}.",
                )
            return None
        due = involvement.due_back_on
        if due is None:
            return None
        late_from = _day_start(due + dt.timedelta(days=1), practice)
        if returned is not None and returned > due:
            return Lateness(
                VendorDefect.Kind.LAB_CASE_LATE,
                late_from,
                _day_start(returned, practice),
                f"Due back {due:%b} {due.day}, came back {returned:%b} {returned.day}.",
            )
        if returned is None and today > due:
            return Lateness(
                VendorDefect.Kind.LAB_CASE_LATE,
                late_from,
                None,
                f"Due back {due:%b} {due.day}, not back yet.",
            )
        return None
    if involvement.kind == Involvement.Kind.REFERRAL and involvement.referred_on is not None:
        referred = involvement.referred_on
        deadline = referred + dt.timedelta(days=referral_days)
        scheduled = involvement.scheduled_on
        late_from = _day_start(deadline + dt.timedelta(days=1), practice)
        if scheduled is not None and scheduled > deadline:
            days = (scheduled - referred).days
            return Lateness(
                VendorDefect.Kind.REFERRAL_NOT_SCHEDULED,
                late_from,
                _day_start(scheduled, practice),
                f"Referred {referred:%b} {referred.day}, scheduled after {days} days.",
            )
        if scheduled is None and today > deadline:
            return Lateness(
                VendorDefect.Kind.REFERRAL_NOT_SCHEDULED,
                late_from,
                None,
                f"Referred {referred:%b} {referred.day}, not scheduled after {referral_days} days.",
            )
    return None


def _detect_one(
    involvement: Involvement, *, now: dt.datetime, referral_days: int, prune: bool = False
) -> int:
    """Store what the rules find on one involvement; 1 when a new defect was added."""
    found = lateness(involvement, now=now, referral_days=referral_days)
    existing = VendorDefect.objects.filter(involvement=involvement, kind__in=DETECTED_KINDS)
    if found is None:
        if prune:
            existing.filter(resolved_at__isnull=True).delete()
        return 0
    defect = existing.filter(kind=found.kind).first()
    if defect is not None:
        if defect.resolved_at is None and found.resolved_at is not None:
            defect.resolved_at = found.resolved_at
            defect.detail = found.detail
            defect.save(update_fields=["resolved_at", "detail"])
        return 0
    try:
        with transaction.atomic():
            VendorDefect.objects.create(
                practice_id=involvement.practice_id,
                vendor_id=involvement.vendor_id,
                involvement=involvement,
                kind=found.kind,
                detected_at=min(found.since, now),
                resolved_at=found.resolved_at,
                detail=found.detail,
            )
    except IntegrityError:
        return 0  # another run stored it a moment ago
    return 1


def defects_detect(
    *,
    practice: Practice | None = None,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    progress=None,
) -> int:
    """Find late lab cases and unscheduled referrals (one practice, or all); the number of
    new defects. Idempotent: a defect is stored once per involvement and kind, and marked
    resolved when the work comes back or the referral is scheduled.

    ``today`` checks as at the end of that day in each practice's time zone; ``now`` (the
    default: this moment) as at that moment.
    """
    now = now or timezone.now()
    practices = Practice.objects.all() if practice is None else [practice]
    added = 0
    for done, each in enumerate(practices, start=1):
        moment = now
        if today is not None:
            moment = _day_start(today + dt.timedelta(days=1), each) - dt.timedelta(microseconds=1)
        added += _detect_practice(each, now=moment)
        if progress:
            progress(done, len(practices))
    return added


@transaction.atomic
def _detect_practice(practice: Practice, *, now: dt.datetime) -> int:
    today = _local_today(practice, now)
    since = today - DETECTION_LOOKBACK
    resolved = VendorDefect.objects.filter(
        practice=practice, kind__in=DETECTED_KINDS, resolved_at__isnull=False
    )
    candidates = (
        Involvement.objects.filter(practice=practice)
        .filter(
            Q(kind=Involvement.Kind.LAB_CASE, returned_on__isnull=True, sent_on__gte=since)
            | Q(kind=Involvement.Kind.LAB_CASE, returned_on__gte=since)
            | Q(kind=Involvement.Kind.REFERRAL, scheduled_on__isnull=True, referred_on__gte=since)
            | Q(kind=Involvement.Kind.REFERRAL, scheduled_on__gte=since)
        )
        # Once resolved, a defect is history: nothing more to find on its involvement.
        .exclude(pk__in=resolved.values("involvement_id"))
        .select_related("practice", "appointment")
        .order_by("pk")
    )
    days = referral_days_for(practice)
    added = 0
    for involvement in candidates.iterator(chunk_size=500):
        added += _detect_one(involvement, now=now, referral_days=days)
    return added


# --- Feedback and cases about a vendor ------------------------------------------------------


def _name_pattern(names: Iterable[str]) -> re.Pattern | None:
    folded = sorted(
        {fold_for_search(name) for name in names if len(fold_for_search(name)) >= MIN_NAME},
        key=len,
        reverse=True,
    )
    if not folded:
        return None
    # Whole words only: "Crestline" is not found in "Crestlines" or "uncrestline".
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(name) for name in folded) + r")(?!\w)")


def vendor_named_in(text: str, vendors: Iterable[Vendor]) -> Vendor | None:
    """The vendor a text names first (by name or alias, ignoring case and accents)."""
    folded = fold_for_search(text)
    if not folded:
        return None
    best: tuple[int, int, Vendor] | None = None
    for vendor in vendors:
        pattern = _name_pattern(vendor.names)
        match = pattern.search(folded) if pattern else None
        if match and (best is None or (match.start(), -len(match[0])) < best[:2]):
            best = (match.start(), -len(match[0]), vendor)
    return best[2] if best else None


def feedback_attribute_vendor(item: FeedbackItem) -> Vendor | None:
    """Attribute an item to the vendor its text names; called by the feedback services
    before the item is saved, in the transaction that stores it."""
    vendors = Vendor.objects.filter(practice_id=item.practice_id).active()
    item.vendor = vendor_named_in(item.text, vendors) if item.text else None
    return item.vendor


@transaction.atomic
def feedback_attribute_past(*, vendor: Vendor, now: dt.datetime | None = None) -> int:
    """Attribute the last year's unattributed feedback that names the vendor, and the cases
    it opened; the number of items attributed."""
    now = now or timezone.now()
    pattern = _name_pattern(vendor.names)
    if pattern is None:
        return 0
    items = (
        FeedbackItem.objects.filter(
            practice_id=vendor.practice_id,
            vendor__isnull=True,
            received_at__gte=now - ATTRIBUTION_LOOKBACK,
        )
        .exclude(text="")
        .only("pk", "text")
    )
    others = list(Vendor.objects.filter(practice_id=vendor.practice_id).active())
    found = [
        item.pk
        for item in items.iterator(chunk_size=1000)
        if pattern.search(fold_for_search(item.text))
        and vendor_named_in(item.text, others or [vendor]) in (vendor, None)
    ]
    if not found:
        return 0
    FeedbackItem.objects.filter(pk__in=found).update(vendor=vendor)
    from recovery.models import RecoveryCase

    cases = RecoveryCase.objects.filter(feedback_items__in=found, vendor__isnull=True).distinct()
    for case in cases.select_related("practice"):
        _case_set_vendor(case, vendor, because="its feedback names them", at=now)
    return len(found)


def _low_rated_vendor(item: FeedbackItem, topic: str) -> Vendor | None:
    from recovery.policy import recovery_policy_for

    if not item.response_id:
        return None
    low = recovery_policy_for(item.practice.organisation).low_rating_max
    answer = (
        Answer.objects.filter(
            response_id=item.response_id,
            vendor__isnull=False,
            number__lte=low,
            question__touchpoint=topic,
        )
        .select_related("vendor")
        .first()
    )
    return answer.vendor if answer else None


def case_vendor_from_feedback(*, case, item: FeedbackItem, now: dt.datetime | None = None):
    """A case opened from feedback about a vendor (its text names them, or the patient
    rated them low on the case's touchpoint) names that vendor as the third party."""
    if case is None or case.vendor_id is not None:
        return case
    vendor = item.vendor if item.vendor_id else _low_rated_vendor(item, case.topic)
    if vendor is not None:
        _case_set_vendor(case, vendor, because="from the feedback", at=now or timezone.now())
    return case


def _case_set_vendor(case, vendor: Vendor | None, *, because: str, at, user=None, request=None):
    from recovery.models import CaseEvent

    case.vendor = vendor
    case.save(update_fields=["vendor"])
    text = f"Third party: {vendor.name} ({because})" if vendor else "No third party"
    actor = user if user is not None and user.is_authenticated else None
    CaseEvent.objects.create(case=case, at=at, actor=actor, text=text[:300])
    _audit(
        case.practice,
        "update",
        "recovery_case",
        case.pk,
        user=user,
        request=request,
        patient_id=case.patient_id,
        vendor=vendor.pk if vendor else None,
    )


@transaction.atomic
def case_attribute_vendor(
    *, case, vendor: Vendor | None, user: AbstractBaseUser, request=None
) -> None:
    """Name the vendor a case is about by hand, or take it off (``vendor=None``)."""
    if vendor is not None and vendor.practice_id != case.practice_id:
        raise VendorError("Choose one of this practice's vendors.")
    if (vendor.pk if vendor else None) == case.vendor_id:
        return
    _case_set_vendor(case, vendor, because="by hand", at=timezone.now(), user=user, request=request)


# --- The standards letter ---------------------------------------------------------------------


def standards_for(practice: Practice) -> VendorStandards:
    standards, _ = VendorStandards.objects.get_or_create(practice=practice)
    return standards


@transaction.atomic
def standards_update(
    *,
    practice: Practice,
    subject: str,
    letter: str,
    referral_days: int,
    user: AbstractBaseUser | None = None,
    request=None,
) -> VendorStandards:
    standards = standards_for(practice)
    subject = _clean_text(subject, field="Subject", limit=200)
    letter = _clean_text(letter, field="Letter", limit=MAX_LETTER, single_line=False)
    if not subject or not letter:
        raise VendorError("The letter needs a subject and some words.")
    if not 1 <= referral_days <= 365:
        raise VendorError("Days to schedule a referral: 1 to 365.")
    standards.subject, standards.letter, standards.referral_days = subject, letter, referral_days
    standards.save()
    _audit(practice, "update", "vendor_standards", standards.pk, user=user, request=request)
    return standards


def standards_letter_for(vendor: Vendor, contact: VendorContact) -> tuple[str, str]:
    """The subject and body as the contact will read them."""
    standards = standards_for(vendor.practice)
    values = {
        "{vendor}": vendor.name,
        "{contact}": contact.name,
        "{practice}": vendor.practice.name,
    }
    body = standards.letter
    for placeholder, value in values.items():
        body = body.replace(placeholder, value)
    return standards.subject.replace("{vendor}", vendor.name), body


@transaction.atomic
def standards_send(
    *,
    vendor: Vendor,
    contact: VendorContact,
    user: AbstractBaseUser | None = None,
    request=None,
    now: dt.datetime | None = None,
):
    """Email the standards letter to a contact through the outbox; sent once a day at most."""
    from messaging.errors import MessagingError
    from messaging.services import message_enqueue

    now = now or timezone.now()
    if contact.vendor_id != vendor.pk:
        raise VendorError("Choose one of this vendor's contacts.")
    if not contact.email:
        raise VendorError(f"{contact.name} has no email address: add one first.")
    subject, body = standards_letter_for(vendor, contact)
    today = _local_today(vendor.practice, now)
    try:
        message = message_enqueue(
            practice=vendor.practice,
            channel="email",
            to_address=contact.email,
            subject=subject,
            body=body,
            kind="vendor_standards",
            idempotency_key=f"vendor-standards-{vendor.pk}-{contact.pk}-{today.isoformat()}",
            user=user,
        )
    except MessagingError as problem:
        raise VendorError(f"The letter cannot be sent: {problem}.") from None
    vendor.standards_sent_on = today
    vendor.save(update_fields=["standards_sent_on"])
    _audit(
        vendor.practice,
        "update",
        "vendor",
        vendor.pk,
        user=user,
        request=request,
        standards_sent_to=contact.pk,
    )
    return message


@transaction.atomic
def standards_acknowledge(
    *,
    vendor: Vendor,
    on: dt.date,
    user: AbstractBaseUser | None = None,
    request=None,
    now: dt.datetime | None = None,
) -> Vendor:
    """Record the day the vendor said it received the standards and will follow them."""
    today = _local_today(vendor.practice, now or timezone.now())
    if on > today:
        raise VendorError("Acknowledged on: that date has not come yet.")
    if vendor.standards_sent_on and on < vendor.standards_sent_on:
        raise VendorError("Acknowledged on: before the letter was sent?")
    vendor.standards_acknowledged_on = on
    vendor.save(update_fields=["standards_acknowledged_on"])
    _audit(
        vendor.practice,
        "update",
        "vendor",
        vendor.pk,
        user=user,
        request=request,
        standards_acknowledged_on=on.isoformat(),
    )
    return vendor
