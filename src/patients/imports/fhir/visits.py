"""Mapping a FHIR Appointment or Encounter to an appointment row (docs/import-fhir.md).

Its patient and provider stay references here: they are looked up when storing, once every
file has been read.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from patients.imports.fhir.items import Found, Unreadable, Where
from patients.imports.fhir.patient_records import identifier_key
from patients.models import Appointment

DEFAULT_MINUTES, MIN_MINUTES, MAX_MINUTES = 30, 1, 600

Status = Appointment.Status
SKIP = None  # a status we know but do not import
APPOINTMENT_STATUS = {
    **dict.fromkeys(
        ["booked", "pending", "proposed", "arrived", "checked-in", "waitlist"], Status.SCHEDULED
    ),
    "fulfilled": Status.COMPLETED,
    "cancelled": Status.CANCELLED,
    "noshow": Status.NO_SHOW,
    "entered-in-error": SKIP,
}
ENCOUNTER_STATUS = {
    # Not finished yet (inpatient "onleave" included) is still a visit on the schedule.
    **dict.fromkeys(["planned", "arrived", "triaged", "in-progress", "onleave"], Status.SCHEDULED),
    "finished": Status.COMPLETED,
    "cancelled": Status.CANCELLED,
    "entered-in-error": SKIP,
    "unknown": SKIP,
}

_PATIENT_ID = re.compile(r"(?:^|/)Patient/([A-Za-z0-9.-]{1,64})(?:/_history/[^/]*)?$")
_PRACTITIONER_ID = re.compile(r"(?:^|/)Practitioner/([A-Za-z0-9.-]{1,64})(?:/_history/[^/]*)?$")
_PATIENT_BY_IDENTIFIER = re.compile(r"^Patient\?identifier=([^&]*\|[^&]+)$")


@dataclass
class Visit:
    """An Appointment or Encounter; its patient and provider are looked up when storing."""

    where: Where
    external_id: str
    patient_keys: list[str]  # "id:", "ext:" or "url:" keys as in PatientRecord, best first
    providers: list[tuple[str, str, bool]]  # (reference, display, surely a Practitioner)
    values: dict[str, Any]


def visit_record(found: Found, zone: dt.tzinfo) -> Visit | str:
    """An Appointment or Encounter as an appointment row, or why it is skipped."""
    resource = found.resource
    kind = resource.get_resource_type()
    statuses = APPOINTMENT_STATUS if kind == "Appointment" else ENCOUNTER_STATUS
    label = f"{kind}/{resource.id}" if resource.id else kind
    if resource.status not in statuses:
        raise Unreadable(f"{label}: status {resource.status!r} is not an R4 {kind} status")
    if statuses[resource.status] is SKIP:
        return f"{kind.lower()}s with status {resource.status}"
    external_id = f"{kind}/{resource.id}" if resource.id else found.full_url
    if not external_id:
        return "appointments without an id"
    if len(external_id) > Appointment._meta.get_field("external_id").max_length:
        raise Unreadable(f"{label}: fullUrl is too long to keep as its id")
    start, end, minutes, patients, providers, types = _visit_parts(resource)
    starts_at = _moment(start, zone)
    if starts_at is None:
        return "appointments without a start time"
    contained = {
        c.id: key
        for c in resource.contained or []
        if c.get_resource_type() == "Patient" and c.id and (key := identifier_key(c.identifier))
    }
    values = {
        "starts_at": starts_at,
        "duration_minutes": _minutes(starts_at, _moment(end, zone), minutes),
        "kind": _concept_text(types),
        "status": statuses[resource.status],
    }
    return Visit(
        found.where,
        external_id,
        _patient_keys(patients, contained),
        _provider_refs(providers),
        values,
    )


def _visit_parts(resource: Any) -> tuple:
    """(start, end, minutes, patient refs, provider refs, type concepts) of either kind."""
    if resource.get_resource_type() == "Appointment":
        actors = [p.actor for p in resource.participant if p.actor is not None]
        providers = [p.actor for p in resource.participant if p.actor and p.status != "declined"]
        types = [resource.appointmentType, *(resource.serviceType or [])]
        return resource.start, resource.end, resource.minutesDuration, actors, providers, types
    period = resource.period
    patients = [resource.subject] if resource.subject is not None else []
    providers = [p.individual for p in resource.participant or [] if p.individual is not None]
    types = [*(resource.type or []), resource.serviceType]
    start, end = (period.start, period.end) if period is not None else (None, None)
    return start, end, None, patients, providers, types


def _moment(value: Any, zone: dt.tzinfo) -> dt.datetime | None:
    """An aware datetime; a bare date is midnight at the practice, a partial date is None."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(0), tzinfo=zone)
    return None


def _minutes(start: dt.datetime, end: dt.datetime | None, given: int | None) -> int:
    if end is not None and end > start:
        minutes = round((end - start).total_seconds() / 60)
    else:
        minutes = given or DEFAULT_MINUTES
    return max(MIN_MINUTES, min(MAX_MINUTES, minutes))


def _concept_text(concepts: list) -> str:
    limit = Appointment._meta.get_field("kind").max_length
    for concept in concepts:
        if concept is None:
            continue
        codings = [c.display or c.code for c in concept.coding or [] if c.display or c.code]
        text = " ".join((concept.text or (codings[0] if codings else "")).split())
        if text:  # only a label: shortening it loses nothing that matters
            return text if len(text) <= limit else text[: limit - 1] + "…"
    return ""


def _patient_keys(refs: list, contained: dict[str, str]) -> list[str]:
    """Keys a reference may match, best first; a contained Patient only by its identifier."""
    keys: list[str] = []
    for ref in refs:
        if ref.type and ref.type != "Patient":
            continue
        text = (ref.reference or "").strip()
        if text.startswith("#"):
            keys += [f"ext:{contained[text[1:]]}"] if text[1:] in contained else []
            continue
        if text:
            keys.append(f"url:{text}")
            if match := _PATIENT_BY_IDENTIFIER.match(unquote(text)):
                keys.append(f"ext:{match[1]}")
            if match := _PATIENT_ID.search(text):
                keys.append(f"id:{match[1]}")
        if ref.identifier is not None and (key := identifier_key([ref.identifier])):
            keys.append(f"ext:{key}")
    return keys


def _provider_refs(refs: list) -> list[tuple[str, str, bool]]:
    found = []
    for ref in refs:
        text = (ref.reference or "").strip()
        sure = (
            ref.type == "Practitioner"
            or text.startswith("Practitioner?")  # Synthea: a conditional reference by NPI
            or bool(_PRACTITIONER_ID.search(text))
        )
        found.append((text, (ref.display or "").strip(), sure))
    return found


def practitioner_name(practitioner: Any) -> str:
    for name in practitioner.name or []:
        parts = [*(name.prefix or []), *(name.given or []), name.family or ""]
        text = (name.text or "").strip() or " ".join(p.strip() for p in parts if p and p.strip())
        if text:
            return text
    return ""


def provider_name(refs: list[tuple[str, str, bool]], practitioners: dict[str, str]) -> str:
    """The first participant known to be a Practitioner, by its display or its resource."""
    for text, display, sure in refs:
        match = _PRACTITIONER_ID.search(text)
        known = practitioners.get(text) if text else None
        if known is None and match:
            known = practitioners.get(f"Practitioner/{match[1]}")
        if (sure or known is not None) and (display or known):
            return display or known or ""
    return ""
