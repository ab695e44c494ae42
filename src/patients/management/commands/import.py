"""``rapport import patients|appointments|fhir PATH``: bring practice data into Rapport."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.management.practice_option import add_practice_argument, resolve_practice
from core.progress import progress_bar
from core.services import audit_record
from patients.imports.common import ImportFailed
from patients.services import practice_figures_refresh


def _importers():
    from patients.imports.csv_import import import_appointments_csv, import_patients_csv
    from patients.imports.fhir_import import import_fhir

    return {
        "patients": import_patients_csv,
        "appointments": import_appointments_csv,
        "fhir": import_fhir,
    }


class Command(BaseCommand):
    help = (
        "Import patients or appointments from CSV, or HL7 FHIR R4 resources from a file or folder."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=["patients", "appointments", "fhir"])
        parser.add_argument("path", help="a CSV file; for fhir a .json, .ndjson file or a folder")
        add_practice_argument(parser)
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="import the good rows and list the rejected ones "
            "(default: any bad row imports nothing)",
        )
        parser.add_argument("--no-progress", action="store_true", help="do not draw a progress bar")

    def handle(self, *args, kind: str, path: str, **options) -> None:
        practice = resolve_practice(options["practice"])
        importer = _importers()[kind]
        kwargs = {"practice": practice}
        if kind != "fhir":
            kwargs["skip_invalid"] = options["skip_invalid"]
        with progress_bar(f"import {kind}", disabled=options["no_progress"]) as progress:
            try:
                result = importer(path, progress=progress, **kwargs)
            except ImportFailed as failure:
                for problem in failure.problems:
                    self.stderr.write(str(problem))
                raise CommandError(
                    f"{path}: nothing imported ({len(failure.problems)} problem(s))"
                ) from None
        for problem in result.rejected:
            self.stderr.write(f"{problem} (rejected)")
        practice_figures_refresh(practice=practice)
        audit_record(
            action="import",
            object_type=kind,
            practice=practice,
            actor_label="command line",
            detail={"path": str(path), "summary": result.summary()},
        )
        self.stdout.write(f"{path}: {result.summary()}")
