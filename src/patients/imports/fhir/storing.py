"""Storing a ``Batch`` in bulk: patients first, then their visits, inside the caller's
transaction. A problem found here (an ambiguous match, a name too long) stores nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from django.utils import timezone

from core.models import Practice, StaffMember
from patients.imports.common import ImportProblem
from patients.imports.fhir.batch import Batch
from patients.imports.fhir.patient_records import PatientRecord
from patients.imports.fhir.visits import Visit, provider_name
from patients.models import Appointment, Patient

CHUNK = 500  # rows per IN (...) query: well under SQLite's and PostgreSQL's parameter limits
PATIENT_FIELDS = [
    "first_name", "last_name", "date_of_birth", "phone", "email", "address", "city", "postal_code",
]  # fmt: skip
VISIT_FIELDS = ["patient_id", "provider_id", "starts_at", "duration_minutes", "kind", "status"]


def store_patients(batch: Batch) -> list[ImportProblem]:
    """Create new patients and update the ones already in the practice, in bulk."""
    stored = _stored_patients(batch.practice, {k for r in batch.patients for k in r.keys})
    problems: list[ImportProblem] = []
    new: list[tuple[PatientRecord, Patient]] = []
    changed: list[Patient] = []
    claimed: dict[int, str] = {}
    for record in batch.patients:
        matches = {p.pk: p for key in sorted(record.keys) if (p := stored.get(key))}
        if len(matches) > 1:
            reason = (
                f"{record.label} matches {len(matches)} stored patients (ids {sorted(matches)})"
            )
            problems.append(record.where.problem(reason))
        elif not matches:
            new.append((record, _new_patient(batch.practice, record)))
        elif (pk := next(iter(matches))) in claimed:
            reason = f"{record.label} and {claimed[pk]} both match stored patient {pk}"
            problems.append(record.where.problem(reason))
        else:
            claimed[pk] = record.label
            record.pk = pk
            if _apply(matches[pk], record):
                changed.append(matches[pk])
    if problems:
        return problems
    Patient.objects.bulk_create([patient for _, patient in new], batch_size=CHUNK)
    for record, patient in new:
        record.pk = patient.pk  # set by INSERT … RETURNING on SQLite ≥ 3.35 and PostgreSQL
    fields = [*PATIENT_FIELDS, "fhir_id", "external_id", "search_name", "updated_at"]
    Patient.objects.bulk_update(changed, fields, batch_size=CHUNK)
    _count(batch.result.created, "patients", len(new))
    _count(batch.result.updated, "patients", len(changed))
    _count(batch.result.unchanged, "patients", len(claimed) - len(changed))
    return []


def _stored_patients(practice: Practice, keys: Iterable[str]) -> dict[str, Patient]:
    """The practice's patients by "id:" and "ext:" key; never another practice's."""
    keys = set(keys)
    by_pk: dict[int, Patient] = {}
    found: dict[str, Patient] = {}
    for prefix, column in (("id:", "fhir_id"), ("ext:", "external_id")):
        values = sorted(key.removeprefix(prefix) for key in keys if key.startswith(prefix))
        for chunk in _chunks(values):
            rows = Patient.objects.filter(practice=practice, **{f"{column}__in": chunk})
            for row in rows:
                patient = by_pk.setdefault(row.pk, row)
                found[prefix + getattr(patient, column)] = patient
    return found


def _new_patient(practice: Practice, record: PatientRecord) -> Patient:
    patient = Patient(
        practice=practice, fhir_id=record.fhir_id, external_id=record.external_id, **record.fields
    )
    patient.search_name = patient.search_text()  # bulk_create skips save(), which sets it
    return patient


def _apply(patient: Patient, record: PatientRecord) -> bool:
    """Copy the record's values onto a stored patient; True when something changed.

    Fields the resource leaves out keep their stored value, and ids are only filled in,
    never replaced: a CSV import may rely on the external id it wrote.
    """
    wanted = dict(record.fields)
    if not patient.fhir_id and record.fhir_id:
        wanted["fhir_id"] = record.fhir_id
    if not patient.external_id:
        wanted["external_id"] = record.external_id
    changed = [name for name, value in wanted.items() if getattr(patient, name) != value]
    for name in changed:
        setattr(patient, name, wanted[name])
    if changed:
        patient.search_name = patient.search_text()
        patient.updated_at = timezone.now()
    return bool(changed)


def store_visits(batch: Batch) -> list[ImportProblem]:
    """Create or update one appointment per Appointment or Encounter with a known patient."""
    resolve = _patient_resolver(batch)
    limit = StaffMember._meta.get_field("name").max_length
    problems: list[ImportProblem] = []
    ready: list[tuple[Visit, int, str]] = []
    for visit in batch.visits.values():
        patient_pk = resolve(visit.patient_keys)
        provider = provider_name(visit.providers, batch.practitioners)
        if patient_pk is None:
            batch.result.skipped["appointments without a known patient"] += 1
        elif len(provider) > limit:
            reason = f"{visit.external_id}: practitioner name is longer than {limit} characters"
            problems.append(visit.where.problem(reason))
        else:
            ready.append((visit, patient_pk, provider))
    if problems:
        return problems
    staff = _staff_ids(batch, {provider for _, _, provider in ready if provider})
    stored = _stored_appointments(batch.practice, [visit.external_id for visit, _, _ in ready])
    new: list[Appointment] = []
    changed: list[Appointment] = []
    for visit, patient_pk, provider in ready:
        values = {**visit.values, "patient_id": patient_pk}
        if provider:  # with no provider named, keep the one staff may have set
            values["provider_id"] = staff[provider.casefold()]
        if not values["kind"]:
            del values["kind"]
        appointment = stored.get(visit.external_id)
        if appointment is None:
            new.append(
                Appointment(practice=batch.practice, external_id=visit.external_id, **values)
            )
        elif _update(appointment, values):
            changed.append(appointment)
    Appointment.objects.bulk_create(new, batch_size=CHUNK)
    Appointment.objects.bulk_update(changed, VISIT_FIELDS, batch_size=CHUNK)
    _count(batch.result.created, "appointments", len(new))
    _count(batch.result.updated, "appointments", len(changed))
    _count(batch.result.unchanged, "appointments", len(ready) - len(new) - len(changed))
    return []


def _patient_resolver(batch: Batch):
    """A function from a visit's patient keys to a patient id: this import first, then stored."""
    wanted = {
        k for v in batch.visits.values() for k in v.patient_keys if k not in batch.patient_keys
    }
    stored = {key: patient.pk for key, patient in _stored_patients(batch.practice, wanted).items()}

    def resolve(keys: list[str]) -> int | None:
        for key in keys:
            if key in batch.patient_keys:
                return batch.patient_keys[key].pk
            if key in stored:
                return stored[key]
        return None

    return resolve


def _staff_ids(batch: Batch, names: set[str]) -> dict[str, int]:
    """Staff ids by case-folded name, creating a staff member for each new name."""
    ids: dict[str, int] = {}
    for member in StaffMember.objects.filter(practice=batch.practice).order_by("pk"):
        ids.setdefault(member.name.casefold(), member.pk)
    missing: dict[str, str] = {}
    for name in sorted(names):
        if name.casefold() not in ids:
            missing.setdefault(name.casefold(), name)
    created = StaffMember.objects.bulk_create(
        StaffMember(practice=batch.practice, name=name) for name in missing.values()
    )
    ids.update((member.name.casefold(), member.pk) for member in created)
    _count(batch.result.created, "staff members", len(created))
    return ids


def _stored_appointments(practice: Practice, external_ids: list[str]) -> dict[str, Appointment]:
    found: dict[str, Appointment] = {}
    for chunk in _chunks(sorted(set(external_ids))):
        # No ordering: it would steer SQLite onto the starts_at index for a whole-practice scan.
        for row in Appointment.objects.filter(practice=practice, external_id__in=chunk).order_by():
            found[row.external_id] = row
    return found


def _update(appointment: Appointment, values: dict[str, Any]) -> bool:
    changed = [name for name, value in values.items() if getattr(appointment, name) != value]
    for name in changed:
        setattr(appointment, name, values[name])
    return bool(changed)


def _count(counter: Counter, what: str, number: int) -> None:
    if number:  # a zero would still be printed by ImportResult.summary()
        counter[what] += number


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]
