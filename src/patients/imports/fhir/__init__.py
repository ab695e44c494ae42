"""``rapport import fhir PATH``: patients and visits from HL7 FHIR R4 resources.

Reads Bundles of any type, NDJSON bulk-export files, single resources and folders of them.
Every resource is validated with the fhir.resources R4B models before it is mapped, and one
bad file or resource stops the run with nothing stored. The mapping is in docs/import-fhir.md.

reading.py parses files, validation.py checks resources against the R4B models,
patient_records.py and visits.py map them, batch.py gathers them, storing.py writes them.
"""

from __future__ import annotations

from pathlib import Path

from django.db import DatabaseError, transaction

from core.models import Practice
from patients.imports.common import ImportFailed, ImportProblem, ImportResult, Progress
from patients.imports.fhir.batch import collect
from patients.imports.fhir.storing import store_patients, store_visits

__all__ = ["import_fhir"]


def import_fhir(
    path: str | Path, *, practice: Practice, progress: Progress | None = None
) -> ImportResult:
    """Import Patient, Appointment and Encounter resources; all or nothing.

    Raises ``ImportFailed`` naming every problem (file, line, Bundle entry) when nothing
    was stored; otherwise returns what was created, updated, left unchanged and skipped.
    """
    root = Path(path)
    batch, problems = collect(_find_files(root), practice, progress)
    if problems:
        raise ImportFailed(problems)
    try:
        with transaction.atomic():
            problems = store_patients(batch) or store_visits(batch)
            if problems:
                raise ImportFailed(problems)
    except DatabaseError as exc:
        # E.g. another import stored the same patient meanwhile: report, never a traceback.
        reason = f"the database refused the import: {exc}"
        raise ImportFailed([ImportProblem(str(root), None, reason)]) from exc
    return batch.result


def _find_files(root: Path) -> list[Path]:
    if not root.exists():
        raise ImportFailed([ImportProblem(str(root), None, "no such file or folder")])
    if root.is_file():
        return [root]
    files = sorted(
        p for p in root.rglob("*") if p.suffix.lower() in {".json", ".ndjson"} and p.is_file()
    )
    if not files:
        reason = "no FHIR files found (*.json, *.ndjson)"
        raise ImportFailed([ImportProblem(str(root), None, reason)])
    return files
