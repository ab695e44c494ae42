"""Reading every file into one ``Batch``: patients merged by id, identifier or fullUrl, visits
by external id, and practitioners' names, all mapped before anything is stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.models import Practice
from patients.imports.common import ImportProblem, ImportResult, Progress
from patients.imports.fhir.items import Found, Unreadable
from patients.imports.fhir.patient_records import PatientRecord, patient_record
from patients.imports.fhir.reading import read_file
from patients.imports.fhir.visits import Visit, practitioner_name, visit_record

# Past this many problems the rest is noise: the file is clearly not what was meant.
MAX_PROBLEMS = 100


@dataclass
class Batch:
    """Everything read so far, mapped but not yet stored."""

    practice: Practice
    result: ImportResult = field(default_factory=ImportResult)
    patients: list[PatientRecord] = field(default_factory=list)
    patient_keys: dict[str, PatientRecord] = field(default_factory=dict)
    visits: dict[str, Visit] = field(default_factory=dict)
    practitioners: dict[str, str] = field(default_factory=dict)  # reference or fullUrl → name

    def add(self, found: Found) -> None:
        kind = found.resource.get_resource_type()
        if kind == "Patient":
            self._add_patient(found)
        elif kind in {"Appointment", "Encounter"}:
            self._add_visit(found)
        else:
            if kind == "Practitioner":
                self._remember_practitioner(found)
            self.result.skipped[kind] += 1

    def _add_patient(self, found: Found) -> None:
        record = patient_record(found, self.practice.region, self.result.skipped)
        if isinstance(record, str):
            self.result.skipped[record] += 1
            return
        matches = {id(known): known for key in record.keys if (known := self.patient_keys.get(key))}
        if len(matches) > 1:
            reason = f"{record.label} matches {len(matches)} different patients read before it"
            raise Unreadable(reason)
        if matches:
            (known,) = matches.values()
            known.merge(record)
            record = known
        else:
            self.patients.append(record)
        for key in record.keys:
            self.patient_keys[key] = record

    def _add_visit(self, found: Found) -> None:
        visit = visit_record(found, self.practice.zone)
        if isinstance(visit, str):
            self.result.skipped[visit] += 1
        else:
            self.visits[visit.external_id] = visit  # a later copy of the same visit wins

    def _remember_practitioner(self, found: Found) -> None:
        name = practitioner_name(found.resource)
        if found.resource.id:
            self.practitioners[f"Practitioner/{found.resource.id}"] = name
        if found.full_url:
            self.practitioners[found.full_url] = name


def collect(
    files: list[Path], practice: Practice, progress: Progress | None
) -> tuple[Batch, list[ImportProblem]]:
    """Read, validate and map every file before anything is written."""
    batch = Batch(practice)
    problems: list[ImportProblem] = []
    done = 0
    for path in files:
        for item in read_file(path):
            if isinstance(item, ImportProblem):
                problems.append(item)
            elif isinstance(item, str):
                batch.result.skipped[item] += 1
            else:
                try:
                    batch.add(item)
                except Unreadable as exc:
                    problems.append(item.where.problem(exc.reason))
                done += 1
                if progress:
                    progress(done, None)
            if len(problems) >= MAX_PROBLEMS:
                problems.append(ImportProblem(str(path), None, "too many problems; stopped here"))
                return batch, problems
    if progress:
        progress(done, done)
    return batch, problems
