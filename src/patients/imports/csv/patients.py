"""``rapport import patients FILE``: check every record first, then store the good ones.

Two passes over the file: the first checks every record (including guardians and referrers
that must exist) without writing; the second reads the file again and stores the records
that passed, batch by batch, linking patients created by this import at the end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils import timezone

from core.models import Practice
from patients.imports.common import ImportFailed, ImportResult, Progress
from patients.imports.csv.fields import (
    Row,
    choice_parser,
    field_max_length,
    parse_email,
    past_date,
    phone_parser,
)
from patients.imports.csv.reading import Columns, CsvSource, cells_problem, failed, show
from patients.imports.csv.writing import (
    BATCH_SIZE,
    apply_changes,
    atomic_import,
    count_rows,
    matched,
    problem_list,
    report_progress,
)
from patients.models import Household, Patient

PATIENT_COLUMNS = Columns(
    known=(
        "external_id", "first_name", "last_name", "date_of_birth", "email", "phone",
        "address", "city", "postal_code", "first_visit_on", "status", "preferred_channel",
        "household", "guardian_external_id", "referred_by_external_id", "referral_source",
        "goals", "greatest_concern", "previous_experiences", "preferences", "anxieties",
        "trust_notes",
    ),
    required=("external_id", "first_name", "last_name"),
)  # fmt: skip
PATIENT_TEXT = ("first_name", "last_name", "address", "city", "postal_code", "referral_source")
PATIENT_NOTES = (
    "goals", "greatest_concern", "previous_experiences", "preferences", "anxieties", "trust_notes",
)  # fmt: skip
PATIENT_STATUS = choice_parser(Patient.Status)
PATIENT_CHANNEL = choice_parser(Patient.Channel)
PATIENT_LINKS = {"guardian_external_id": "guardian_id", "referred_by_external_id": "referred_by_id"}
NAME_FIELDS = {"first_name", "last_name"}


def import_patients_csv(
    path: str | Path,
    *,
    practice: Practice,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Create or update the practice's patients from a CSV file (docs/import-csv.md)."""
    with CsvSource.open(path, PATIENT_COLUMNS) as source:
        context = _PatientContext.load(practice)
        plan = _plan_patients(source, context, progress)
        problems = problem_list(source, plan.reasons)
        if problems and (not skip_invalid or plan.good_rows == 0):
            raise ImportFailed(problems)
        result = ImportResult(rejected=problems)
        with atomic_import(source):
            _write_patients(source, plan, context, result, progress)
    return result


@dataclass(slots=True)
class PatientRow:
    """A valid patient record: model values for the columns the file has, and its links."""

    external_id: str
    values: dict[str, Any]
    household: str | None  # None when the file has no household column; "" clears it
    links: dict[str, str]  # guardian_id / referred_by_id → external id; "" clears it


@dataclass
class _PatientContext:
    practice: Practice
    today: dt.date
    parse_phone: Callable[[str], str]
    existing_ids: dict[str, int]  # external_id → pk, of the practice's patients before the import

    @classmethod
    def load(cls, practice: Practice) -> _PatientContext:
        existing = matched(Patient, practice)
        return cls(
            practice=practice,
            today=timezone.localdate(timezone=practice.zone),
            parse_phone=phone_parser(practice.region),
            existing_ids=dict(existing.values_list("external_id", "pk")),
        )


def _patient_row(row: Row, context: _PatientContext) -> PatientRow:
    external_id = row.text(
        "external_id", max_length=field_max_length(Patient, "external_id"), required=True
    )
    values: dict[str, Any] = {
        name: row.text(
            name,
            max_length=field_max_length(Patient, name),
            required=name in NAME_FIELDS,
            multiline=name in PATIENT_NOTES,
        )
        for name in (*PATIENT_TEXT, *PATIENT_NOTES)
        if name in row
    }
    for name in ("date_of_birth", "first_visit_on"):
        if name in row:
            values[name] = past_date(row, name, context.today)
    born, first_visit = values.get("date_of_birth"), values.get("first_visit_on")
    if born and first_visit and first_visit < born:
        row.fail(f"first_visit_on {first_visit} is before date_of_birth {born}")
    if "email" in row:
        values["email"] = row.parsed("email", parse_email) or ""
    if "phone" in row:
        values["phone"] = row.parsed("phone", context.parse_phone) or ""
    if "status" in row:
        values["status"] = row.parsed("status", PATIENT_STATUS) or Patient.Status.ACTIVE
    if "preferred_channel" in row:
        channel = row.parsed("preferred_channel", PATIENT_CHANNEL)
        values["preferred_channel"] = channel or Patient.Channel.EMAIL
    household = None
    if "household" in row:
        household = row.text("household", max_length=field_max_length(Household, "external_id"))
    links = {}
    for column, attname in PATIENT_LINKS.items():
        if column in row:
            links[attname] = row.text(column, max_length=field_max_length(Patient, "external_id"))
            if external_id and links[attname] == external_id:
                row.fail(f"{column} is the patient's own external_id")
    return PatientRow(external_id, values, household, links)


# --- The checking pass --------------------------------------------------------------------


@dataclass
class _PatientPlan:
    """What the checking pass learnt: every problem, and where each external_id is."""

    reasons: dict[int, list[str]] = field(default_factory=dict)
    first_line: dict[str, int] = field(default_factory=dict)
    # (line, column, external id it refers to) for every non-blank guardian or referrer
    links: list[tuple[int, str, str]] = field(default_factory=list)
    rows: int = 0

    @property
    def good_rows(self) -> int:
        return self.rows - len(self.reasons)

    @property
    def link_targets(self) -> set[str]:
        return {target for _, _, target in self.links}


def _plan_patients(
    source: CsvSource, context: _PatientContext, progress: Progress | None
) -> _PatientPlan:
    """Check every record without writing, so problems are known before anything is stored."""
    plan = _PatientPlan()
    link_columns = {attname: column for column, attname in PATIENT_LINKS.items()}
    for line, cells in source.records():
        plan.rows += 1
        row = Row(cells, source.columns)
        problem = cells_problem(cells, source.width)
        if problem:
            row.fail(problem)
            external_id = row.value("external_id") if len(cells) >= source.width else ""
            if external_id:
                plan.first_line.setdefault(external_id, line)
        else:
            patient = _patient_row(row, context)
            external_id = patient.external_id
            if external_id in plan.first_line:
                first = plan.first_line[external_id]
                row.fail(f"external_id {show(external_id)} is also on line {first}")
            elif external_id:
                plan.first_line[external_id] = line
            for attname, target in patient.links.items():
                if target:
                    plan.links.append((line, link_columns[attname], target))
        if row.reasons:
            plan.reasons[line] = row.reasons
        if plan.rows % BATCH_SIZE == 0:
            report_progress(progress, plan.rows)
    _reject_broken_links(plan, context.existing_ids)
    return plan


def _reject_broken_links(plan: _PatientPlan, existing_ids: dict[str, int]) -> None:
    """A record whose guardian or referrer is neither stored nor importable is rejected too.

    Importing a minor without their guardian would send the guardian's messages to the child,
    so the dependent record waits for its guardian's record to be fixed. Rejections can
    cascade (a guardian's guardian), hence the loop until nothing changes.
    """
    while True:
        rejected: dict[int, list[str]] = {}
        for line, column, target in plan.links:
            if line in plan.reasons or target in existing_ids:
                continue
            target_line = plan.first_line.get(target)
            if target_line is None:
                reason = f"{column} {show(target)} is not a patient of this practice or this file"
            elif target_line in plan.reasons:
                reason = f"{column} {show(target)} is on line {target_line}, which was rejected"
            else:
                continue
            rejected.setdefault(line, []).append(reason)
        if not rejected:
            return
        plan.reasons.update(rejected)


# --- The writing pass ---------------------------------------------------------------------


class _Households:
    """The practice's households by key, created the first time a stored row names one."""

    def __init__(self, practice: Practice):
        self.practice = practice
        households = matched(Household, practice)
        self.ids: dict[str, int] = dict(households.values_list("external_id", "pk"))

    def ensure(self, keys: set[str]) -> None:
        missing = sorted(key for key in keys if key and key not in self.ids)
        created = Household.objects.bulk_create(
            Household(practice=self.practice, external_id=key, name=key) for key in missing
        )
        self.ids.update((household.external_id, household.pk) for household in created)


@dataclass
class _PatientWriter:
    """Stores checked patient rows batch by batch, then links guardians and referrers."""

    context: _PatientContext
    result: ImportResult
    targets: set[str]  # external ids that some row links to
    households: _Households
    target_ids: dict[str, int] = field(default_factory=dict)
    # (patient, link attname, external id of a patient created by this import)
    pending_links: list[tuple[Patient, str, str]] = field(default_factory=list)

    def store(self, batch: list[PatientRow]) -> None:
        practice = self.context.practice
        stored = matched(Patient, practice, [row.external_id for row in batch])
        existing = {patient.external_id: patient for patient in stored}
        self.households.ensure({row.household for row in batch if row.household})
        created, updated, changed_fields = [], [], set()
        for row in batch:
            patient = existing.get(row.external_id)
            if patient is None:
                patient = Patient(practice=practice, external_id=row.external_id)
                created.append(patient)
            changed = self._apply(patient, row)
            if changed and patient.pk is not None:
                updated.append(patient)
                changed_fields.update(changed)
            if changed & NAME_FIELDS or patient.pk is None:
                patient.search_name = patient.search_text()
        Patient.objects.bulk_create(created)
        if updated:
            now = timezone.now()
            for patient in updated:
                patient.updated_at = now
            fields = sorted(changed_fields | {"search_name", "updated_at"})
            Patient.objects.bulk_update(updated, fields)
        count_rows(self.result, "patients", len(batch), created=len(created), updated=len(updated))
        self._remember_targets(created + list(existing.values()))

    def link_new_patients(self) -> None:
        """Set the links that point at patients this import created, now they have ids."""
        by_field: dict[str, list[Patient]] = {}
        for patient, attname, target in self.pending_links:
            setattr(patient, attname, self.target_ids[target])
            by_field.setdefault(attname, []).append(patient)
        for attname, patients in by_field.items():
            Patient.objects.bulk_update(patients, [attname.removesuffix("_id")], BATCH_SIZE)

    def _apply(self, patient: Patient, row: PatientRow) -> set[str]:
        changed = set(apply_changes(patient, row.values))
        if row.household is not None:
            household_id = self.households.ids[row.household] if row.household else None
            changed.update(apply_changes(patient, {"household_id": household_id}))
        for attname, target in row.links.items():
            if target and target not in self.context.existing_ids:
                # It points at a patient created by this import: link once that one has an id.
                self.pending_links.append((patient, attname, target))
                changed.add(attname)
            else:
                changed.update(
                    apply_changes(patient, {attname: self.context.existing_ids.get(target)})
                )
        if "status" in row.values:
            changed.update(apply_changes(patient, {"departed_at": _departed_at(patient)}))
        return {name.removesuffix("_id") for name in changed}

    def _remember_targets(self, patients: list[Patient]) -> None:
        for patient in patients:
            if patient.external_id in self.targets:
                self.target_ids[patient.external_id] = patient.pk


def _departed_at(patient: Patient) -> dt.datetime | None:
    """When we learnt the patient left; cleared if they are back."""
    if patient.status != Patient.Status.DEPARTED:
        return None
    return patient.departed_at or timezone.now()


def _write_patients(
    source: CsvSource,
    plan: _PatientPlan,
    context: _PatientContext,
    result: ImportResult,
    progress: Progress | None,
) -> None:
    """The second pass: read the file again and store the records that passed the checks."""
    writer = _PatientWriter(context, result, plan.link_targets, _Households(context.practice))
    batch: list[PatientRow] = []
    done = 0
    for line, cells in source.records():
        if line in plan.reasons:
            continue
        row = Row(cells, source.columns)
        patient = None if cells_problem(cells, source.width) else _patient_row(row, context)
        if patient is None or row.reasons:
            raise failed(source.name, line, "the file changed while it was being imported")
        batch.append(patient)
        if len(batch) == BATCH_SIZE:
            writer.store(batch)
            done += len(batch)
            batch = []
            report_progress(progress, done, plan.good_rows)
    if batch:
        writer.store(batch)
    writer.link_new_patients()
    report_progress(progress, plan.good_rows, plan.good_rows)
