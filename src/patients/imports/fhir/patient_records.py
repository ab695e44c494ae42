"""Mapping a FHIR Patient to a patient's row values (docs/import-fhir.md)."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.utils import timezone

from core.phones import PhoneError, normalise_phone
from patients.imports.fhir.items import Found, Unreadable, Where
from patients.models import Patient


@dataclass
class PatientRecord:
    """One person, perhaps met several times in the import (same id, identifier or fullUrl)."""

    where: Where
    label: str
    fhir_id: str
    external_id: str
    keys: set[str]  # "id:<fhir id>", "ext:<system|value>", "url:<fullUrl>"
    fields: dict[str, Any]
    pk: int | None = None

    def merge(self, other: PatientRecord) -> None:
        # The first copy keeps its identity; later copies bring newer details.
        self.keys |= other.keys
        self.fhir_id = self.fhir_id or other.fhir_id
        self.fields.update(other.fields)


def patient_record(found: Found, region: str, skipped: Counter) -> PatientRecord | str:
    """The patient's row values, or why the resource is skipped."""
    patient = found.resource
    label = f"Patient/{patient.id}" if patient.id else "Patient"
    name = _pick_name(patient.name)
    if name is None:
        return "patients without a name"
    external_id = identifier_key(patient.identifier) or (
        f"Patient/{patient.id}" if patient.id else found.full_url
    )
    if not external_id:
        return "patients without an id or identifier"
    fields = {"first_name": name[0], "last_name": name[1]}
    fields.update(_contact_fields(patient, region, skipped))
    if isinstance(patient.birthDate, dt.date):  # a partial date (1974, 1974-12) says too little
        fields["date_of_birth"] = patient.birthDate
    _check_lengths(Patient, label, {**fields, "external_id": external_id})
    keys = {f"ext:{external_id}"}
    keys |= {f"id:{patient.id}"} if patient.id else set()
    keys |= {f"url:{found.full_url}"} if found.full_url else set()
    return PatientRecord(found.where, label, patient.id or "", external_id, keys, fields)


def identifier_key(identifiers: list | None) -> str:
    """``system|value`` of the first identifier with a value (FHIR token syntax)."""
    for identifier in identifiers or []:
        value = (identifier.value or "").strip()
        if value:
            return f"{(identifier.system or '').strip()}|{value}"
    return ""


def _pick_name(names: list | None) -> tuple[str, str] | None:
    """(first, last) from the official name, else the usual one, else any current one."""
    current = [n for n in names or [] if n.use not in {"old", "maiden", "anonymous"}]
    for name in sorted(current, key=lambda n: {"official": 0, "usual": 1}.get(n.use, 2)):
        first = ((name.given or [""])[0] or "").strip()
        last = (name.family or "").strip()
        if first or last:
            return first, last
        words = (name.text or "").split()
        if words:  # only a display text: its last word is taken as the family name
            return " ".join(words[:-1]), words[-1]
    return None


def _contact_fields(patient: Any, region: str, skipped: Counter) -> dict[str, str]:
    points = [p for p in patient.telecom or [] if p.value and _current(p.use, p.period)]
    phones = sorted(
        (p for p in points if p.system in {"phone", "sms"}), key=lambda p: p.rank or math.inf
    )
    fields = {"phone": _first_phone(phones, region)}
    if phones and not fields["phone"]:
        skipped["invalid phone"] += 1  # kept going: the rest of the patient is still useful
    emails = [p.value.strip() for p in points if p.system == "email"]
    if emails and _is_email(emails[0]):
        fields["email"] = emails[0]
    elif emails:
        skipped["invalid email"] += 1
    address = next((a for a in patient.address or [] if _current(a.use, a.period)), None)
    if address is not None:
        fields["address"] = ", ".join(line.strip() for line in address.line or [] if line.strip())
        fields["city"] = (address.city or "").strip()
        fields["postal_code"] = (address.postalCode or "").strip()
    return {name: value for name, value in fields.items() if value}


def _current(use: str | None, period: Any) -> bool:
    end = period.end if period is not None else None
    if use == "old":
        return False
    if end is None:
        return True
    # ISO text compares in date order, partial dates ("2014") included.
    text = end.isoformat() if isinstance(end, dt.date) else str(end)
    return text[:10] >= timezone.localdate().isoformat()


def _first_phone(phones: list, region: str) -> str:
    for point in phones:
        try:
            return normalise_phone(point.value, region=region)
        except PhoneError:
            continue
    return ""


def _is_email(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return len(value) <= Patient._meta.get_field("email").max_length


def _check_lengths(model: type[models.Model], label: str, values: dict[str, Any]) -> None:
    for name, value in values.items():
        limit = model._meta.get_field(name).max_length
        if isinstance(value, str) and limit and len(value) > limit:
            what = name.replace("_", " ")
            raise Unreadable(f"{label}: {what} is longer than {limit} characters")
