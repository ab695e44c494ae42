"""The public request page's identity check: name, date of birth, and a one-time code.

The code goes only to the email or phone already on file, so whoever asks must control
them. Guessing is bounded three ways: a code allows ``MAX_ATTEMPTS`` tries and then locks;
a patient whose code locked gets no new code for ``LOCK_HOURS``; and no more than
``CODES_PER_HOUR`` codes go to one patient in an hour. Every answer looks the same whether
or not the details matched anyone, so the page cannot be used to find out who is a patient.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from core.models import Practice
from core.services import audit_record
from patients.models import Patient, fold_for_search
from records.models import IdentityCheck, RecordsRequest

CODE_VALID_MINUTES = 15
MAX_ATTEMPTS = 5
LOCK_HOURS = 24
CODES_PER_HOUR = 3
# After the code is right, the rest of the form must be sent within this time.
VERIFIED_VALID_MINUTES = 30
ACTOR = "patient (records request page)"


class IdentityError(Exception):
    """Something the person on the public page should read; never says who is a patient."""


def _digest(check_id: int, code: str) -> str:
    return salted_hmac("records.identity", f"{check_id}:{code}").hexdigest()


def _clean_name(value: str, label: str) -> str:
    value = " ".join((value or "").split())
    if not value or len(value) > 100 or "\x00" in value:
        raise IdentityError(f"{label}: as it is on file with the practice.")
    return value


def _parse_birth_date(value: str) -> dt.date:
    try:
        born = dt.date.fromisoformat((value or "").strip()[:10])
    except ValueError:
        raise IdentityError("Date of birth: please enter it as year-month-day.") from None
    if not dt.date(1900, 1, 1) <= born <= timezone.localdate():
        raise IdentityError("Date of birth: please check the year.")
    return born


def _matching_patient(practice: Practice, first: str, last: str, born: dt.date) -> Patient | None:
    """The one patient with this date of birth whose first (or preferred) and last names
    match, ignoring case and accents; ``None`` when nobody or more than one person does."""
    first, last = fold_for_search(first), fold_for_search(last)
    found = [
        patient
        for patient in Patient.objects.filter(practice=practice, date_of_birth=born)
        if fold_for_search(patient.last_name) == last
        and first in {fold_for_search(patient.first_name), fold_for_search(patient.preferred_name)}
    ]
    return found[0] if len(found) == 1 else None


def _may_receive_code(patient: Patient, now: dt.datetime) -> bool:
    recent = IdentityCheck.objects.filter(patient=patient)
    if recent.filter(locked_at__gte=now - dt.timedelta(hours=LOCK_HOURS)).exists():
        return False
    sent = recent.filter(created_at__gte=now - dt.timedelta(hours=1)).exclude(code_digest="")
    return sent.count() < CODES_PER_HOUR


def _address(patient: Patient, channel: str) -> tuple[str, str]:
    """The channel and address on file to send the code to: the one asked for if there is
    one, else the other. A minor's code goes to their guardian."""
    person = patient.contact_person
    addresses = {IdentityCheck.Channel.EMAIL: person.email, IdentityCheck.Channel.SMS: person.phone}
    if addresses.get(channel):
        return channel, addresses[channel]
    for other, address in addresses.items():
        if address:
            return other, address
    return channel, ""


@transaction.atomic
def identity_check_start(
    *,
    practice: Practice,
    first_name: str,
    last_name: str,
    date_of_birth: str,
    channel: str,
    now: dt.datetime | None = None,
) -> IdentityCheck:
    """Match the details and, if they fit one patient who may get a code, send it."""
    from messaging.services import message_enqueue

    now = now or timezone.now()
    first, last = _clean_name(first_name, "First name"), _clean_name(last_name, "Last name")
    born = _parse_birth_date(date_of_birth)
    if channel not in IdentityCheck.Channel.values:
        raise IdentityError("Choose where we should send your code.")
    patient = _matching_patient(practice, first, last, born)
    check = IdentityCheck.objects.create(
        practice=practice,
        patient=patient,
        channel=channel,
        created_at=now,
        expires_at=now + dt.timedelta(minutes=CODE_VALID_MINUTES),
    )
    if patient is None or not _may_receive_code(patient, now):
        return check
    channel, address = _address(patient, channel)
    if not address:
        return check
    code = f"{secrets.randbelow(10**6):06d}"
    check.channel, check.code_digest = channel, _digest(check.pk, code)
    check.save(update_fields=["channel", "code_digest"])
    message_enqueue(
        practice=practice,
        patient=patient,
        channel=channel,
        to_address=address,
        subject=f"Your code for {practice.name}",
        body=(
            f"Your code to request your records from {practice.name} is {code}. "
            f"It works for {CODE_VALID_MINUTES} minutes. If you did not ask for your "
            "records, you can ignore this message."
        ),
        kind="records_identity_code",
        idempotency_key=f"records-identity-{check.pk}",
    )
    return check


def identity_check_verify(
    *, check: IdentityCheck, code: str, now: dt.datetime | None = None
) -> IdentityCheck:
    """Accept the right code once; count wrong ones and lock after ``MAX_ATTEMPTS``.

    The count is committed before the error is raised, so a wrong code always costs a try.
    """
    now = now or timezone.now()
    problem = None
    with transaction.atomic():
        check = IdentityCheck.objects.select_for_update().get(pk=check.pk)
        if check.verified_at is not None:
            return check
        if check.locked_at is not None:
            problem = _locked_message(check)
        elif check.expires_at <= now:
            problem = "This code has expired. Please start again to get a new one."
        elif check.code_digest and hmac.compare_digest(
            check.code_digest, _digest(check.pk, "".join((code or "").split())[:12])
        ):
            check.verified_at = now
            check.save(update_fields=["verified_at"])
        else:
            problem = _count_wrong_code(check, now)
    if problem:
        raise IdentityError(problem)
    return check


def _count_wrong_code(check: IdentityCheck, now: dt.datetime) -> str:
    check.attempts += 1
    if check.attempts < MAX_ATTEMPTS:
        check.save(update_fields=["attempts"])
        left = MAX_ATTEMPTS - check.attempts
        return f"That code is not right. You have {left} more {'try' if left == 1 else 'tries'}."
    check.locked_at = now
    check.save(update_fields=["attempts", "locked_at"])
    audit_record(
        action="update",
        object_type="identity_check",
        object_id=check.pk,
        practice=check.practice,
        patient_id=check.patient_id,
        actor_label=ACTOR,
        detail={"locked": True, "attempts": check.attempts},
    )
    return _locked_message(check)


def _locked_message(check: IdentityCheck) -> str:
    phone = check.practice.phone
    call = f"please call us on {phone}" if phone else "please call the practice"
    return f"For your security, online requests are paused after too many tries: {call}."


def verified_check(check_id, practice: Practice, now: dt.datetime | None = None):
    """The verified, unused check kept in the visitor's session, or ``None``."""
    now = now or timezone.now()
    return (
        IdentityCheck.objects.select_related("patient", "practice")
        .filter(
            pk=check_id if isinstance(check_id, int) else None,
            practice=practice,
            patient__isnull=False,
            verified_at__gte=now - dt.timedelta(minutes=VERIFIED_VALID_MINUTES),
            locked_at__isnull=True,
            records_request__isnull=True,
        )
        .first()
    )


@transaction.atomic
def identity_check_request(
    *,
    check: IdentityCheck,
    send_to_email: str = "",
    send_copy_to: str = "",
    representative_name: str = "",
    representative_relation: str = "",
) -> RecordsRequest:
    """Log the request of a verified visitor. The link goes to the email on file; only a
    patient with no email on file (who proved the phone) types one."""
    from records.services import records_request_log

    check = IdentityCheck.objects.select_for_update().get(pk=check.pk)
    if check.verified_at is None or check.records_request_id or check.patient is None:
        raise IdentityError("Please start again: this request was already sent or not verified.")
    on_file = check.patient.contact_person.email
    records_request = records_request_log(
        patient=check.patient,
        channel=RecordsRequest.Channel.ONLINE,
        user=None,
        actor_label=ACTOR,
        send_to_email=on_file or send_to_email,
        send_copy_to=send_copy_to,
        representative_name=representative_name,
        representative_relation=representative_relation,
    )
    check.records_request = records_request
    check.save(update_fields=["records_request"])
    return records_request


def mask_email(address: str) -> str:
    """``d***@example.com``: enough for the patient to recognise, not to read."""
    name, _, domain = (address or "").partition("@")
    return f"{name[:1]}***@{domain}" if domain else ""


KEEP_CHECKS_DAYS = 30


def identity_checks_purge(*, now: dt.datetime | None = None) -> int:
    """Forget identity checks after ``KEEP_CHECKS_DAYS``: they hold who tried to prove whom,
    which is needed for the lockouts (a day) and for questions soon after, not for ever.
    The audit log keeps the locks."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=KEEP_CHECKS_DAYS)
    deleted, _ = IdentityCheck.objects.filter(created_at__lt=cutoff).delete()
    return deleted
