"""Writes for records requests: log (and acknowledge), extend, set a fee, fulfil, download."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.services import audit_record
from patients.models import Patient
from records.access_rules import RULES_FILE, access_rule
from records.models import RecordsRequest

DOWNLOAD_SALT = "records.download"
LINK_VALID_DAYS = 14


class RecordsError(Exception):
    """A problem with a records request that can be shown to the person."""


def _rules_version() -> str:
    return json.loads(RULES_FILE.read_text(encoding="utf-8"))["version"]


def _clean_email(value: str, field: str, *, required: bool) -> str:
    value = (value or "").strip()
    if not value:
        if required:
            raise RecordsError(f"{field}: where should the records go?")
        return ""
    try:
        validate_email(value)
    except ValidationError:
        raise RecordsError(f"{field}: not a valid email address.") from None
    return value


def _audit(records_request: RecordsRequest, action: str, *, user=None, label="", **detail):
    audit_record(
        action=action,
        object_type="records_request",
        object_id=records_request.pk,
        patient_id=records_request.patient_id,
        practice=records_request.practice,
        user=user,
        actor_label=label,
        detail=detail,
    )


@transaction.atomic
def records_request_log(
    *,
    patient: Patient,
    channel: str,
    user,
    received_at: dt.datetime | None = None,
    send_to_email: str = "",
    send_copy_to: str = "",
    representative_name: str = "",
    representative_relation: str = "",
    actor_label: str = "",
    now: dt.datetime | None = None,
) -> RecordsRequest:
    """Record a request, compute its legal deadline, and acknowledge it the same day.

    ``actor_label`` names who logged it when no staff user did (the public page, an API key).
    """
    if channel not in RecordsRequest.Channel.values:
        raise RecordsError("How did the request arrive?")
    now = now or timezone.now()
    received_at = received_at or now
    if received_at > now + dt.timedelta(minutes=5):
        raise RecordsError("A request cannot be received in the future.")
    for name, value in (("Name", representative_name), ("Relation", representative_relation)):
        if "\x00" in value or len(value) > 120:
            raise RecordsError(f"{name}: plain text under 120 characters.")
    practice = patient.practice
    rule = access_rule(practice.region)
    received_on = received_at.astimezone(practice.zone).date()
    records_request = RecordsRequest.objects.create(
        practice=practice,
        patient=patient,
        channel=channel,
        received_at=received_at,
        representative_name=representative_name.strip(),
        representative_relation=representative_relation.strip()[:60],
        send_to_email=_clean_email(
            send_to_email or patient.contact_person.email, "Send to", required=True
        ),
        send_copy_to=_clean_email(send_copy_to, "Copy to", required=False),
        rule_region=rule.region,
        rule_version=_rules_version(),
        due_on=rule.due_on(received_on),
        logged_by=user,
    )
    _audit(
        records_request,
        "create",
        user=user,
        label=actor_label,
        channel=channel,
        due_on=str(records_request.due_on),
    )
    _acknowledge(records_request, user=user, now=now)
    return records_request


def _acknowledge(records_request: RecordsRequest, *, user, now: dt.datetime) -> None:
    from messaging.services import message_enqueue_for_patient

    message = message_enqueue_for_patient(
        patient=records_request.patient,
        kind="records_acknowledgement",
        context={"due_date": records_request.due_on},
        idempotency_key=f"records-acknowledgement-{records_request.pk}",
        user=user,
    )
    if message is not None:
        records_request.acknowledged_at = now
        records_request.save(update_fields=["acknowledged_at"])


@transaction.atomic
def records_request_extend(*, records_request: RecordsRequest, notice: str, user) -> RecordsRequest:
    """Use the one extension the law allows, with the written notice the patient receives."""
    records_request = RecordsRequest.objects.select_for_update().get(pk=records_request.pk)
    rule = access_rule(records_request.rule_region)
    if rule.extension is None:
        raise RecordsError(f"{rule.name} allows no extension ({rule.source}).")
    if records_request.extended_to is not None:
        raise RecordsError("The deadline has already been extended once.")
    if records_request.status != RecordsRequest.Status.RECEIVED:
        raise RecordsError("Only an open request can be extended.")
    notice = (notice or "").strip()
    if not notice or "\x00" in notice or len(notice) > 2000:
        raise RecordsError("Notice: write the reasons and the new date for the patient.")
    today = timezone.now().astimezone(records_request.practice.zone).date()
    if today > records_request.due_on:
        raise RecordsError("The deadline has passed: an extension had to be given before it.")
    received_on = records_request.received_at.astimezone(records_request.practice.zone).date()
    records_request.extended_to = rule.due_on(received_on, extended=True)
    records_request.extension_notice = notice
    records_request.save(update_fields=["extended_to", "extension_notice"])
    _audit(records_request, "update", user=user, extended_to=str(records_request.extended_to))
    return records_request


@transaction.atomic
def records_request_set_fee(
    *, records_request: RecordsRequest, fee, user, electronic: bool = True, itemised: bool = False
) -> RecordsRequest:
    """Charge a fee only as far as the rule allows; the default, and the usual, is none."""
    try:
        amount = Decimal(str(fee).strip().lstrip("$")).quantize(Decimal("0.01"))
    except ArithmeticError:
        raise RecordsError("Fee: an amount like 0 or 6.50.") from None
    if not amount.is_finite():
        raise RecordsError("Fee: an amount like 0 or 6.50.")
    problem = access_rule(records_request.rule_region).fee_problem(
        amount, electronic=electronic, itemised=itemised
    )
    if problem:
        raise RecordsError(problem)
    records_request.fee = amount
    records_request.save(update_fields=["fee"])
    _audit(records_request, "update", user=user, fee=str(amount))
    return records_request


def download_token(records_request: RecordsRequest) -> str:
    return signing.TimestampSigner(salt=DOWNLOAD_SALT).sign(records_request.download_id)


@transaction.atomic
def records_request_fulfil(
    *, records_request: RecordsRequest, user, now: dt.datetime | None = None
) -> RecordsRequest:
    """Open the signed, expiring download link and send it (and the copy) by email."""
    from messaging.services import message_enqueue

    now = now or timezone.now()
    records_request = RecordsRequest.objects.select_for_update().get(pk=records_request.pk)
    if records_request.status != RecordsRequest.Status.RECEIVED:
        raise RecordsError("This request is not open.")
    records_request.status = RecordsRequest.Status.FULFILLED
    records_request.fulfilled_at, records_request.fulfilled_by = now, user
    records_request.link_expires_at = now + dt.timedelta(days=LINK_VALID_DAYS)
    records_request.save(
        update_fields=["status", "fulfilled_at", "fulfilled_by", "link_expires_at"]
    )
    practice = records_request.practice
    body = (
        f"The records you asked {practice.name} for are ready. Download them here within "
        f"{LINK_VALID_DAYS} days: a readable PDF summary, and the complete record as a FHIR "
        f"file any practice can import.\n\n"
        f"{_download_url(records_request)}\n\nThank you.\n{practice.name}\n"
    )
    for address in filter(None, [records_request.send_to_email, records_request.send_copy_to]):
        message_enqueue(
            practice=practice,
            patient=records_request.patient,
            channel="email",
            to_address=address,
            subject=f"Your records from {practice.name}",
            body=body,
            kind="records_ready",
            idempotency_key=f"records-ready-{records_request.pk}-{address.lower()}",
            user=user,
        )
    _audit(records_request, "export", user=user, sent_to=records_request.send_to_email)
    return records_request


def _download_url(records_request: RecordsRequest) -> str:
    from core.links import absolute_url

    return absolute_url(f"/r/{download_token(records_request)}/")


def records_request_from_token(token: str, *, now: dt.datetime | None = None) -> RecordsRequest:
    """The fulfilled request behind a download link, or ``RecordsError`` (forged, expired)."""
    now = now or timezone.now()
    try:
        download_id = signing.TimestampSigner(salt=DOWNLOAD_SALT).unsign(token[:200])
    except signing.BadSignature:
        raise RecordsError("This link is not valid. Please use the link from your email.") from None
    found = (
        RecordsRequest.objects.select_related("patient", "practice__organisation")
        .filter(download_id=download_id, status=RecordsRequest.Status.FULFILLED)
        .first()
    )
    if found is None:
        raise RecordsError("This link is not valid. Please use the link from your email.")
    if found.link_expires_at is None or found.link_expires_at <= now:
        raise RecordsError(
            f"This link has expired. Please ask {found.practice.name} for a new one."
        )
    return found


DOWNLOAD_FORMATS = {"fhir": "fhir-r4-bundle", "pdf": "pdf-summary"}


@transaction.atomic
def records_download(
    *, records_request: RecordsRequest, request=None, format: str = "fhir"
) -> dict | bytes:
    """The records behind a link: the FHIR Bundle (a dict) or the readable PDF summary
    (bytes). Every download is counted and audited, with the format handed over."""
    from patients.exports.fhir import patient_bundle
    from records.pdf import patient_summary_pdf

    if format not in DOWNLOAD_FORMATS:
        raise RecordsError("Choose the PDF summary or the FHIR file.")
    # Built before anything is counted, so a failure leaves no download on record.
    if format == "pdf":
        records = patient_summary_pdf(records_request.patient)
    else:
        records = patient_bundle(records_request.patient)
    RecordsRequest.objects.filter(pk=records_request.pk).update(downloads=F("downloads") + 1)
    audit_record(
        action="export",
        object_type="records_download",
        object_id=records_request.pk,
        patient_id=records_request.patient_id,
        practice=records_request.practice,
        actor_label="download link",
        request=request,
        detail={"format": DOWNLOAD_FORMATS[format]},
    )
    return records
