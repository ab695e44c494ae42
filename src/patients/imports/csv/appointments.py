"""``rapport import appointments FILE``: check and store in one pass, inside one transaction.

A provider is matched by provider_id or by name; staff members the file names that the
practice does not have yet are created.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from core.models import Practice, StaffMember
from patients.imports.common import ImportResult, Progress
from patients.imports.csv.fast_insert import NewRows
from patients.imports.csv.fields import (
    Row,
    choice_parser,
    field_max_length,
    moment_parser,
    parse_fee,
    parse_minutes,
)
from patients.imports.csv.reading import Columns, CsvSource, cells_problem, show
from patients.imports.csv.writing import (
    BATCH_SIZE,
    apply_changes,
    count_rows,
    import_in_one_pass,
    matched,
    report_progress,
)
from patients.models import Appointment, Patient, fold_for_search

APPOINTMENT_COLUMNS = Columns(
    known=(
        "external_id", "patient_external_id", "provider", "provider_id", "starts_at",
        "duration_minutes", "type", "status", "fee",
    ),
    required=("external_id", "patient_external_id", "starts_at"),
)  # fmt: skip


APPOINTMENT_STATUS = choice_parser(Appointment.Status)
NEW_APPOINTMENT_COLUMNS = (
    "practice_id", "external_id", "patient_id", "provider_id", "starts_at",
    "duration_minutes", "kind", "status", "fee",
)  # fmt: skip


def import_appointments_csv(
    path: str | Path,
    *,
    practice: Practice,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Create or update the practice's appointments from a CSV file (docs/import-csv.md).

    Patients must be imported first: a row is matched to its patient by patient_external_id.
    """
    return import_in_one_pass(
        path,
        APPOINTMENT_COLUMNS,
        load_context=partial(_AppointmentContext.load, practice),
        import_rows=partial(_import_appointment_rows, skip_invalid=skip_invalid, progress=progress),
        skip_invalid=skip_invalid,
    )


@dataclass(slots=True)
class AppointmentRow:
    """A valid appointment record: model values for the columns the file has."""

    external_id: str
    values: dict[str, Any]
    provider: tuple[str, str] | None  # (provider_id, name); None when the file has neither


class _Providers:
    """The practice's staff by external id and by name; new ones are created as rows need them."""

    def __init__(self, practice: Practice):
        self.practice = practice
        self.by_external_id: dict[str, int] = {}
        self.by_name: dict[str, list[int]] = {}
        self.keys: dict[str, str] = {}  # name as written → folded; a file repeats a few names
        for staff in StaffMember.objects.filter(practice=practice):
            self._remember(staff)

    def check(self, row: Row, provider: tuple[str, str]) -> None:
        provider_id, name = provider
        matches = self.by_name.get(self._key(name), ())
        if not provider_id and len(matches) > 1:
            row.fail(
                f"provider {show(name)} matches {len(matches)} staff members: "
                "add a provider_id column to say which"
            )

    def ids_for(self, providers: list[tuple[str, str]]) -> dict[tuple[str, str], int | None]:
        """Staff ids for (provider_id, name) pairs, creating each missing person once."""
        new_staff: dict[str, StaffMember] = {}
        for provider_id, name in providers:
            if (provider_id or name) and self._find((provider_id, name)) is None:
                key = provider_id or self._key(name)
                if key not in new_staff or not new_staff[key].name:
                    new_staff[key] = StaffMember(
                        practice=self.practice, name=name, external_id=provider_id
                    )
        for staff in new_staff.values():
            staff.name = staff.name or staff.external_id
        for staff in StaffMember.objects.bulk_create(new_staff.values()):
            self._remember(staff)
        return {provider: self._find(provider) for provider in providers}

    def _key(self, name: str) -> str:
        key = self.keys.get(name)
        if key is None:
            key = self.keys[name] = fold_for_search(name)
        return key

    def _find(self, provider: tuple[str, str]) -> int | None:
        provider_id, name = provider
        if provider_id:
            return self.by_external_id.get(provider_id)
        matches = self.by_name.get(self._key(name))
        return matches[0] if matches else None

    def _remember(self, staff: StaffMember) -> None:
        if staff.external_id:
            self.by_external_id[staff.external_id] = staff.pk
        self.by_name.setdefault(self._key(staff.name), []).append(staff.pk)


@dataclass
class _AppointmentContext:
    practice: Practice
    patient_ids: dict[str, int]
    parse_moment: Callable[[str], dt.datetime]
    providers: _Providers
    new_rows: NewRows
    # The practice's appointment external ids before the import: most rows of a first import
    # are new, and those need no look-up at all.
    stored_ids: set[str]

    @classmethod
    def load(cls, practice: Practice) -> _AppointmentContext:
        patients = matched(Patient, practice)
        return cls(
            practice=practice,
            patient_ids=dict(patients.values_list("external_id", "pk")),
            parse_moment=moment_parser(practice.zone),
            providers=_Providers(practice),
            new_rows=NewRows(Appointment, NEW_APPOINTMENT_COLUMNS),
            stored_ids=set(matched(Appointment, practice).values_list("external_id", flat=True)),
        )


def _appointment_row(row: Row, context: _AppointmentContext) -> AppointmentRow:
    external_id = row.text(
        "external_id", max_length=field_max_length(Appointment, "external_id"), required=True
    )
    patient = row.text(
        "patient_external_id", max_length=field_max_length(Patient, "external_id"), required=True
    )
    values: dict[str, Any] = {"patient_id": context.patient_ids.get(patient)}
    if patient and values["patient_id"] is None:
        row.fail(f"patient_external_id {show(patient)} is an unknown patient")
    values["starts_at"] = row.parsed("starts_at", context.parse_moment, required=True)
    if "duration_minutes" in row:
        values["duration_minutes"] = row.parsed("duration_minutes", parse_minutes) or 30
    if "type" in row:
        values["kind"] = row.text("type", max_length=field_max_length(Appointment, "kind"))
    if "status" in row:
        status = row.parsed("status", APPOINTMENT_STATUS)
        values["status"] = status or Appointment.Status.SCHEDULED
    if "fee" in row:
        values["fee"] = row.parsed("fee", parse_fee) or Decimal("0")
    provider = None
    if "provider" in row or "provider_id" in row:
        provider = (
            row.text("provider_id", max_length=field_max_length(StaffMember, "external_id")),
            row.text("provider", max_length=field_max_length(StaffMember, "name")),
        )
        context.providers.check(row, provider)
    return AppointmentRow(external_id, values, provider)


def _store_appointments(
    batch: list[AppointmentRow], context: _AppointmentContext, result: ImportResult
) -> None:
    practice = context.practice
    providers = dict.fromkeys(row.provider for row in batch if row.provider)
    provider_ids = context.providers.ids_for(list(providers))
    stored = [row.external_id for row in batch if row.external_id in context.stored_ids]
    existing = {a.external_id: a for a in matched(Appointment, practice, stored)} if stored else {}
    created, updated, changed_fields = [], [], set()
    for row in batch:
        values = row.values
        if row.provider is not None:
            values["provider_id"] = provider_ids[row.provider]
        appointment = existing.get(row.external_id)
        if appointment is None:
            values.update(practice_id=practice.pk, external_id=row.external_id)
            created.append(context.new_rows.row(values))
            continue
        changed = apply_changes(appointment, values)
        if changed:
            updated.append(appointment)
            changed_fields.update(name.removesuffix("_id") for name in changed)
    context.new_rows.insert(created)
    if updated:
        Appointment.objects.bulk_update(updated, sorted(changed_fields))
    count_rows(result, "appointments", len(batch), created=len(created), updated=len(updated))


def _import_appointment_rows(
    source: CsvSource,
    context: _AppointmentContext,
    result: ImportResult,
    *,
    skip_invalid: bool,
    progress: Progress | None,
) -> tuple[dict[int, list[str]], int]:
    """Check and store in one pass; after the first problem only check, unless skipping."""
    reasons: dict[int, list[str]] = {}
    first_line: dict[str, int] = {}
    batch: list[AppointmentRow] = []
    good = 0
    for line, cells in source.records():
        row = Row(cells, source.columns)
        problem = cells_problem(cells, source.width)
        if problem:
            row.fail(problem)
        else:
            appointment = _appointment_row(row, context)
            external_id = appointment.external_id
            if external_id in first_line:
                first = first_line[external_id]
                row.fail(f"external_id {show(external_id)} is also on line {first}")
            elif external_id:
                first_line[external_id] = line
        if row.reasons:
            reasons[line] = row.reasons
            continue
        good += 1
        batch.append(appointment)
        if len(batch) == BATCH_SIZE:
            if skip_invalid or not reasons:
                _store_appointments(batch, context, result)
            batch = []
            report_progress(progress, good + len(reasons))
    if batch and (skip_invalid or not reasons):
        _store_appointments(batch, context, result)
    report_progress(progress, good + len(reasons), good + len(reasons))
    return reasons, good
