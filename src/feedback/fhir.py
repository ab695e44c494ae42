"""Surveys as HL7 FHIR R4: Questionnaire out and in, survey responses as QuestionnaireResponse.

The mapping is documented in docs/surveys-fhir.md. In short: a question is an item with
linkId ``q<pk>``; NPS and rating questions are ``integer`` items whose answerOptions are the
scores (``valueInteger`` 0–10 or 1–5), so a score answer is a plain ``valueInteger``; yes/no
is ``boolean``, one-choice is ``choice`` with ``valueCoding`` options, free text is ``text``.
The touchpoint travels as an item ``code`` in the system ``TOUCHPOINT_SYSTEM``. Output is
validated with the ``fhir.resources`` R4B models, which accept R4 (4.0.1) data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from core.models import Organisation
from core.services import audit_record
from feedback.models import Question, Survey, SurveyResponse
from feedback.services import FeedbackError
from feedback.touchpoints import TOUCHPOINTS
from patients.imports.common import ImportProblem
from patients.imports.fhir.items import Unreadable, Where
from patients.imports.fhir.reading import parse_strict_json
from patients.imports.fhir.validation import expand

TOUCHPOINT_SYSTEM = "https://rapport.example/touchpoint"
SURVEY_KIND_SYSTEM = "https://rapport.example/survey-kind"
# Scores are integer items whose answerOptions are exactly these values.
SCORE_RANGES = {Question.Kind.NPS: range(0, 11), Question.Kind.RATING: range(1, 6)}
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"

STATUSES = ("draft", "active", "retired", "unknown")
ITEM_TYPES = {
    "group", "display", "boolean", "decimal", "integer", "date", "dateTime", "time", "string",
    "text", "url", "choice", "open-choice", "attachment", "reference", "quantity",
}  # fmt: skip
MAX_QUESTIONS = 200
TEXT_LENGTH = Question._meta.get_field("text").max_length
TITLE_LENGTH = Survey._meta.get_field("title").max_length


def _base_url() -> str:
    return settings.RAPPORT_BASE_URL.rstrip("/")


def questionnaire_url(survey: Survey) -> str:
    """The survey's canonical URL: this installation's address, so two Rapports never clash."""
    return f"{_base_url()}/fhir/Questionnaire/survey-{survey.pk}"


# --- Export -------------------------------------------------------------------------------


def survey_to_questionnaire(survey: Survey) -> dict[str, Any]:
    """The survey as an R4 Questionnaire (JSON-ready), validated with the R4B model."""
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": f"survey-{survey.pk}",
        "url": questionnaire_url(survey),
        "identifier": [{"system": f"{_base_url()}/survey", "value": str(survey.pk)}],
        "title": survey.title,
        "status": "active" if survey.is_active else "retired",
        "subjectType": ["Patient"],
        "date": survey.created_at.isoformat(),
        "publisher": survey.organisation.name,
        "code": [
            {
                "system": SURVEY_KIND_SYSTEM,
                "code": survey.kind,
                "display": survey.get_kind_display(),
            }
        ],
    }
    if survey.intro:
        resource["description"] = survey.intro
    resource["item"] = [_question_item(q) for q in survey.questions.order_by("position", "id")]
    Questionnaire.model_validate(resource)
    return resource


def _question_item(question: Question) -> dict[str, Any]:
    item: dict[str, Any] = {
        "linkId": f"q{question.pk}",
        "text": question.text,
        "type": _ITEM_TYPE[question.kind],
        "required": question.is_required,
    }
    if question.touchpoint:
        item["code"] = [
            {
                "system": TOUCHPOINT_SYSTEM,
                "code": question.touchpoint,
                "display": TOUCHPOINTS.get(question.touchpoint, question.touchpoint),
            }
        ]
    if question.kind in SCORE_RANGES:
        item["answerOption"] = [{"valueInteger": n} for n in SCORE_RANGES[question.kind]]
    elif question.kind == Question.Kind.CHOICE:
        item["answerOption"] = [{"valueCoding": _choice_coding(c)} for c in question.choices]
    return item


_ITEM_TYPE = {
    Question.Kind.NPS: "integer",
    Question.Kind.RATING: "integer",
    Question.Kind.YES_NO: "boolean",
    Question.Kind.CHOICE: "choice",
    Question.Kind.TEXT: "text",
}


def _choice_coding(choice: str) -> dict[str, str]:
    """A choice has no code system: the code is its text (a FHIR code allows single spaces)."""
    code = " ".join(str(choice).split())
    return {"code": code, "display": str(choice)} if code else {"display": str(choice)}


def response_to_questionnaire_response(response: SurveyResponse) -> dict[str, Any]:
    """A survey response as an R4 QuestionnaireResponse; unanswered questions are left out."""
    survey, patient = response.survey, response.patient
    answers = response.answers.select_related("question").order_by(
        "question__position", "question_id"
    )
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": f"survey-response-{response.pk}",
        "identifier": {"system": f"{_base_url()}/survey-response", "value": str(response.pk)},
        "questionnaire": questionnaire_url(survey),
        "status": "completed",
        "subject": {"reference": f"Patient/{patient.fhir_id or patient.pk}"},
        # FHIR's authored is when the answers were last changed; a patient may edit them.
        "authored": response.updated_at.isoformat(),
    }
    items = [item for answer in answers if (item := _answer_item(answer))]
    if items:
        resource["item"] = items
    QuestionnaireResponse.model_validate(resource)
    return resource


def _answer_item(answer) -> dict[str, Any] | None:
    question = answer.question
    kind = question.kind
    if kind in SCORE_RANGES and answer.number is not None:
        value = {"valueInteger": answer.number}
    elif kind == Question.Kind.YES_NO and answer.number is not None:
        value = {"valueBoolean": bool(answer.number)}
    elif kind == Question.Kind.CHOICE and answer.text:
        value = {"valueCoding": _choice_coding(answer.text)}
    elif answer.text:
        value = {"valueString": answer.text}
    else:
        return None
    return {"linkId": f"q{question.pk}", "text": question.text, "answer": [value]}


# --- Import -------------------------------------------------------------------------------


def load_json_file(path: str | Path) -> Any:
    """A JSON file read strictly (as ``rapport import fhir`` does), or ``Unreadable``."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise Unreadable("no such file") from None
    except OSError as exc:
        raise Unreadable(f"cannot be read: {exc.strerror or exc}") from None
    if not path.is_file():
        raise Unreadable("is not a regular file")
    limit = settings.RAPPORT_IMPORT_MAX_BYTES
    if size > limit:
        raise Unreadable(
            f"is {size:,} bytes, over the import limit of {limit:,} (RAPPORT_IMPORT_MAX_BYTES)"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise Unreadable(f"cannot be read: {exc.strerror or exc}") from None
    return parse_strict_json(data)


@dataclass
class _Plan:
    """What an import will create, and what it had to change on the way."""

    questions: list[dict[str, Any]] = field(default_factory=list)
    asked_as_text: Counter = field(default_factory=Counter)
    counts: Counter = field(default_factory=Counter)
    unknown_touchpoints: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        notes = []
        for count, one, many in (
            (self.counts["group"], "group flattened", "groups flattened"),
            (self.counts["display"], "display item skipped", "display items skipped"),
            (self.counts["untitled"], "item without text: named by its code or linkId",
             "items without text: named by their code or linkId"),
            (self.counts["shortened"], "text shortened to 300 characters",
             "texts shortened to 300 characters"),
            (self.counts["conditional"], "condition (enableWhen) dropped: always asked",
             "conditions (enableWhen) dropped: always asked"),
            (self.counts["repeats"], "repeating item asked once", "repeating items asked once"),
            (self.counts["open"], "open-choice item without its free-text answer",
             "open-choice items without their free-text answer"),
        ):  # fmt: skip
            if count:
                notes.append(f"{count} {one if count == 1 else many}")
        if self.asked_as_text:
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.asked_as_text.items()))
            notes.append(f"asked as free text: {kinds}")
        if self.unknown_touchpoints:
            shown = ", ".join(repr(t) for t in self.unknown_touchpoints[:5])
            notes.append(f"unknown touchpoints left blank: {shown}")
        return notes


def questionnaire_import(
    data: Any, *, organisation: Organisation, notes: list[str] | None = None
) -> Survey:
    """Create a survey of ``organisation`` from an R4 Questionnaire (or a Bundle holding one).

    Raises ``FeedbackError`` with a reason a person can act on and stores nothing when the
    data is not a valid Questionnaire or has nothing to ask. What had to be adapted (groups
    flattened, dates asked as free text, …) is appended to ``notes`` when given.
    """
    questionnaire, value_sets = _questionnaire_and_value_sets(data)
    status = questionnaire.get("status")
    if status not in STATUSES:
        raise FeedbackError(f"status {str(status)[:40]!r} is not one of {', '.join(STATUSES)}")
    if not questionnaire.get("item"):
        raise FeedbackError("the Questionnaire has no items: there is nothing to ask")
    plan = _Plan()
    for item in _flattened(questionnaire["item"], plan):
        plan.questions.append(_question_from_item(item, value_sets, plan))
    if not plan.questions:
        raise FeedbackError("the Questionnaire has no questions, only display items and groups")
    if len(plan.questions) > MAX_QUESTIONS:
        raise FeedbackError(
            f"the Questionnaire has {len(plan.questions):,} questions; "
            f"a survey may have at most {MAX_QUESTIONS}"
        )
    survey = _store(questionnaire, plan, organisation)
    if notes is not None:
        notes.extend(plan.notes())
    return survey


def _questionnaire_and_value_sets(data: Any) -> tuple[dict, dict[str, dict]]:
    """The Questionnaire and the ValueSets its answerValueSets may name, all validated."""
    if not isinstance(data, dict):
        raise FeedbackError(f"expected a FHIR Questionnaire (a JSON object), found {_kind(data)}")
    kind = data.get("resourceType")
    if kind not in ("Questionnaire", "Bundle"):  # a tuple: kind may be unhashable
        found = f"resourceType {str(kind)[:40]!r}" if kind else "no resourceType"
        raise FeedbackError(f"expected a FHIR Questionnaire, found {found}")
    _validate(data)
    value_sets: dict[str, dict] = {}
    if kind == "Questionnaire":
        questionnaire = data
    else:
        entries = [e for e in data.get("entry") or [] if isinstance(e.get("resource"), dict)]
        found = [e["resource"] for e in entries if e["resource"]["resourceType"] == "Questionnaire"]
        if len(found) != 1:
            raise FeedbackError(
                f"the Bundle holds {len(found)} Questionnaires; import one at a time"
                if found
                else "the Bundle holds no Questionnaire"
            )
        questionnaire = found[0]
        for entry in entries:
            resource = entry["resource"]
            if resource["resourceType"] == "ValueSet":
                for key in (entry.get("fullUrl"), resource.get("url")):
                    if key:
                        value_sets[key] = resource
    for resource in questionnaire.get("contained") or []:
        if resource.get("resourceType") == "ValueSet" and resource.get("id"):
            value_sets[f"#{resource['id']}"] = resource
    return questionnaire, value_sets


def _validate(data: dict) -> None:
    """The R4B model's verdict, with the checks ``rapport import fhir`` makes first."""
    for item in expand(data, Where(""), depth=1):
        if isinstance(item, ImportProblem):  # the others are resources and skip reasons
            raise FeedbackError(item.reason)


def _flattened(items: list[dict], plan: _Plan) -> Iterator[dict]:
    """Questions in reading order: groups opened, display items left out, children after
    the question they belong to."""
    for item in items:
        kind = item.get("type")
        if kind not in ITEM_TYPES:
            raise FeedbackError(
                f"item {str(item.get('linkId'))[:40]!r}: unknown item type {str(kind)[:40]!r}"
            )
        if kind in {"group", "display"}:
            plan.counts[kind] += 1
        else:
            yield item
        yield from _flattened(item.get("item") or [], plan)


def _question_from_item(item: dict, value_sets: dict[str, dict], plan: _Plan) -> dict[str, Any]:
    kind, choices = _kind_and_choices(item, value_sets, plan)
    if item.get("enableWhen"):
        plan.counts["conditional"] += 1
    if item.get("repeats"):
        plan.counts["repeats"] += 1
    return {
        "kind": kind,
        "text": _item_text(item, plan),
        "touchpoint": _touchpoint(item, plan),
        "choices": choices,
        "is_required": bool(item.get("required")),
    }


def _kind_and_choices(
    item: dict, value_sets: dict[str, dict], plan: _Plan
) -> tuple[str, list[str]]:
    fhir_type = item["type"]
    if fhir_type == "boolean":
        return Question.Kind.YES_NO, []
    if fhir_type in {"string", "text"}:
        return Question.Kind.TEXT, []
    options = item.get("answerOption") or []
    if fhir_type == "integer":
        values = [o.get("valueInteger") for o in options]
        if not options:
            values = _min_max(item)
        for kind, scores in SCORE_RANGES.items():
            if values == list(scores):
                return kind, []
    if fhir_type in {"integer", "choice", "open-choice"}:
        labels = [_option_label(o) for o in options]
        if not options and item.get("answerValueSet"):
            labels = _value_set_labels(value_sets.get(item["answerValueSet"]))
        labels = list(dict.fromkeys(_shortened(label, plan) for label in labels if label))
        if labels:
            if fhir_type == "open-choice":
                plan.counts["open"] += 1
            return Question.Kind.CHOICE, labels
    plan.asked_as_text[fhir_type] += 1
    return Question.Kind.TEXT, []


def _min_max(item: dict) -> list[int]:
    """Scores given by the standard minValue/maxValue extensions instead of answerOptions."""
    bounds = {e.get("url"): e.get("valueInteger") for e in item.get("extension") or []}
    low, high = bounds.get(MIN_VALUE), bounds.get(MAX_VALUE)
    if isinstance(low, int) and isinstance(high, int) and 0 <= high - low <= 10:
        return list(range(low, high + 1))
    return []


def _option_label(option: dict) -> str:
    for key in ("valueString", "valueDate", "valueTime"):
        if option.get(key):
            return str(option[key]).strip()
    if option.get("valueInteger") is not None:
        return str(option["valueInteger"])
    coding = option.get("valueCoding") or option.get("valueReference") or {}
    label = coding.get("display") or coding.get("code") or coding.get("reference") or ""
    return str(label).strip()


def _value_set_labels(value_set: dict | None) -> list[str]:
    """Concepts of a ValueSet the file itself holds; others cannot be fetched offline."""
    if not value_set:
        return []
    concepts = [
        concept
        for include in (value_set.get("compose") or {}).get("include") or []
        for concept in include.get("concept") or []
    ]
    concepts += (value_set.get("expansion") or {}).get("contains") or []
    return [str(c.get("display") or c.get("code") or "").strip() for c in concepts]


def _item_text(item: dict, plan: _Plan) -> str:
    text = " ".join(str(item.get("text") or "").split())
    if not text:
        codes = [c.get("display") for c in item.get("code") or [] if c.get("display")]
        text = codes[0] if codes else f"Question {item['linkId']}"
        plan.counts["untitled"] += 1
    return _shortened(text, plan)


def _shortened(text: str, plan: _Plan) -> str:
    """A question or option text that fits the form (and ``Question.text``)."""
    if len(text) <= TEXT_LENGTH:
        return text
    plan.counts["shortened"] += 1
    return text[: TEXT_LENGTH - 1] + "…"


def _touchpoint(item: dict, plan: _Plan) -> str:
    for coding in item.get("code") or []:
        if coding.get("system") == TOUCHPOINT_SYSTEM:
            slug = coding.get("code") or ""
            if slug in TOUCHPOINTS:
                return slug
            plan.unknown_touchpoints.append(slug[:40])
    return ""


@transaction.atomic
def _store(questionnaire: dict, plan: _Plan, organisation: Organisation) -> Survey:
    title = " ".join(str(questionnaire.get("title") or questionnaire.get("name") or "").split())
    survey = Survey.objects.create(
        organisation=organisation,
        kind=_survey_kind(questionnaire),
        title=(title or "Imported questionnaire")[:TITLE_LENGTH],
        intro=str(questionnaire.get("description") or ""),
        # A draft is for a person to check and switch on; only an active one is used at once.
        is_active=questionnaire["status"] == "active",
    )
    Question.objects.bulk_create(
        Question(survey=survey, position=index, **question)
        for index, question in enumerate(plan.questions)
    )
    audit_record(
        action="import",
        object_type="survey",
        object_id=survey.pk,
        actor_label="FHIR Questionnaire import",
        detail={"url": str(questionnaire.get("url") or "")[:200], "notes": plan.notes()},
    )
    return survey


def _survey_kind(questionnaire: dict) -> str:
    for coding in questionnaire.get("code") or []:
        if coding.get("system") == SURVEY_KIND_SYSTEM and coding.get("code") in Survey.Kind.values:
            return coding["code"]
    return Survey.Kind.CUSTOM


def _kind(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "true or false"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")
