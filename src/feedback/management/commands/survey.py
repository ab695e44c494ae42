"""``rapport survey export|import``: surveys as FHIR R4 Questionnaires (docs/surveys-fhir.md)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.models import Organisation
from feedback.fhir import load_json_file, questionnaire_import, survey_to_questionnaire
from feedback.models import Survey
from feedback.services import FeedbackError
from patients.imports.common import ImportProblem
from patients.imports.fhir.items import Unreadable


class Command(BaseCommand):
    help = "Export a survey as a FHIR R4 Questionnaire, or import one as a new survey."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="export|import")
        export = actions.add_parser("export", help="print a survey as Questionnaire JSON")
        export.add_argument("--survey", required=True, type=int, help="the survey's id")
        imported = actions.add_parser("import", help="create a survey from a Questionnaire")
        imported.add_argument("path", help="a Questionnaire .json file, or a Bundle holding one")
        imported.add_argument(
            "--organisation",
            help="organisation id or slug (may be left out when there is only one)",
        )

    def handle(self, *args, action: str, **options) -> None:
        if action == "export":
            self._export(options["survey"])
        else:
            self._import(options["path"], options["organisation"])

    def _export(self, survey_id: int) -> None:
        survey = Survey.objects.select_related("organisation").filter(pk=survey_id).first()
        if survey is None:
            raise CommandError(f"--survey {survey_id}: no such survey")
        resource = survey_to_questionnaire(survey)
        self.stdout.write(json.dumps(resource, indent=2, ensure_ascii=False))
        # stdout is the JSON; the summary goes where a person reads it.
        count = len(resource.get("item", []))
        self.stderr.write(f"survey {survey.pk} {survey.title!r}: {count} questions exported")

    def _import(self, path: str, organisation_value: str | None) -> None:
        organisation = _resolve_organisation(organisation_value)
        notes: list[str] = []
        try:
            data = load_json_file(path)
            survey = questionnaire_import(data, organisation=organisation, notes=notes)
        except Unreadable as exc:
            raise self._failed(ImportProblem(path, exc.line, exc.reason)) from None
        except FeedbackError as exc:
            raise self._failed(ImportProblem(path, None, str(exc))) from None
        state = "active" if survey.is_active else "inactive"
        count = survey.questions.count()
        summary = (
            f"{path}: created survey {survey.pk} {survey.title!r} ({count} questions, {state})"
        )
        self.stdout.write("; ".join([summary, *notes]))

    def _failed(self, problem: ImportProblem) -> CommandError:
        self.stderr.write(str(problem))
        return CommandError(f"{problem.path}: nothing imported")


def _resolve_organisation(value: str | None) -> Organisation:
    organisations = Organisation.objects.all()
    if value:
        organisation = organisations.filter(slug=value).first()
        if organisation is None and value.isdigit():
            organisation = organisations.filter(pk=int(value)).first()
        if organisation is None:
            raise CommandError(f"--organisation {value}: no such organisation")
        return organisation
    found = list(organisations[:2])
    if len(found) == 1:
        return found[0]
    if not found:
        raise CommandError("there is no organisation yet: run `rapport seed` or create one first")
    raise CommandError("several organisations exist: say which with --organisation")
