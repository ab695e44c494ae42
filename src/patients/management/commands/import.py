"""``rapport import patients|appointments|reviews|fhir|calls PATH``: bring practice data into
Rapport."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from core.management.practice_option import add_practice_argument, resolve_practice
from core.progress import progress_bar
from core.services import audit_record
from loyalty.scoring import scores_compute
from patients.imports.common import ImportFailed, ImportResult
from patients.services import practice_figures_refresh

CSV_KINDS = ("patients", "appointments", "reviews")


def _importer(kind: str):
    if kind == "fhir":
        from patients.imports.fhir import import_fhir

        return import_fhir
    if kind == "calls":
        from calls.imports import import_calls

        return import_calls
    if kind == "reviews":
        from feedback.reviews import import_reviews_csv

        return import_reviews_csv
    from patients.imports import csv as csv_imports

    return getattr(csv_imports, f"import_{kind}_csv")


class Command(BaseCommand):
    help = (
        "Import patients, appointments or public reviews from CSV, "
        "HL7 FHIR R4 resources from a file or folder, "
        "or call records (--format asterisk|generic)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=[*CSV_KINDS, "fhir", "calls"])
        parser.add_argument("path", help="a CSV file; for fhir a .json, .ndjson file or a folder")
        add_practice_argument(parser)
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="CSV only: import the good rows and list the rejected ones "
            "(default: any bad row imports nothing)",
        )
        parser.add_argument("--no-progress", action="store_true", help="do not draw a progress bar")
        parser.add_argument(
            "--format",
            choices=["asterisk", "generic"],
            help="calls only (required): an Asterisk cdr_csv Master.csv or a generic CSV",
        )
        parser.add_argument(
            "--columns",
            help="calls --format asterisk only: the file's column order, comma-separated "
            "(default: Asterisk's 18 columns)",
        )

    def handle(self, *args, kind: str, path: str, **options) -> None:
        if kind == "calls" and not options["format"]:
            raise CommandError("calls: say which file it is with --format asterisk|generic")
        if kind == "calls" and options["skip_invalid"]:
            raise CommandError("--skip-invalid does not apply to calls: a bad row imports nothing")
        if kind != "calls" and (options["format"] or options["columns"]):
            raise CommandError("--format and --columns apply to calls only")
        if options["skip_invalid"] and kind not in CSV_KINDS:
            raise CommandError("--skip-invalid applies to CSV imports only")
        practice = resolve_practice(options["practice"])
        kwargs = {"practice": practice}
        if kind in CSV_KINDS:
            kwargs["skip_invalid"] = options["skip_invalid"]
        if kind == "calls":
            kwargs.update(file_format=options["format"], columns=options["columns"])
        try:
            result = self._import(kind, path, kwargs, quiet=options["no_progress"])
        except ImportFailed as failure:
            for problem in failure.problems:
                self.stderr.write(str(problem))
            raise CommandError(
                f"{path}: nothing imported ({len(failure.problems)} problem(s))"
            ) from None
        for problem in result.rejected:
            self.stderr.write(f"{problem} (rejected)")
        self.stdout.write(f"{path}: {result.summary()}")

    def _import(self, kind: str, path: str, kwargs: dict, *, quiet: bool) -> ImportResult:
        practice = kwargs["practice"]
        # One transaction: the rows, the refreshed figures and the audit entry land together.
        with progress_bar(f"import {kind}", disabled=quiet) as progress, transaction.atomic():
            result = _importer(kind)(path, progress=progress, **kwargs)
            practice_figures_refresh(practice=practice)
            # New cancellations, no-shows and visits change who is at risk: re-score now.
            scores_compute(practices=[practice])
            audit_record(
                action="import",
                object_type=kind,
                practice=practice,
                actor_label="command line",
                detail={"path": str(path), "summary": result.summary()},
            )
        return result
