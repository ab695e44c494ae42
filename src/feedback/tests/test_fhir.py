"""Surveys as FHIR R4: Questionnaire export and import, QuestionnaireResponse export, the CLI.

Uses the official R4 examples in the shared data folder and hand-written hostile input.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from core.models import AuditEvent
from core.tests.factories import OrganisationFactory
from feedback.fhir import (
    TOUCHPOINT_SYSTEM,
    questionnaire_import,
    response_to_questionnaire_response,
    survey_to_questionnaire,
)
from feedback.models import Answer, Question, Survey, SurveyResponse
from feedback.services import FeedbackError, surveys_ensure_defaults
from feedback.tests.factories import InvitationFactory

EXAMPLES = Path(__file__).resolve().parents[4] / "shared" / "data" / "fhir_r4_examples"
QUESTIONNAIRE_EXAMPLES = sorted(
    p.name for p in EXAMPLES.glob("questionnaire-*.json") if "response" not in p.name
)
RESPONSE_EXAMPLES = sorted(p.name for p in EXAMPLES.glob("questionnaireresponse-*.json"))

QUESTION_FIELDS = ("kind", "text", "touchpoint", "choices", "is_required")


def example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def questions_of(survey: Survey) -> list[tuple]:
    return [
        tuple(getattr(q, name) for name in QUESTION_FIELDS)
        for q in survey.questions.order_by("position", "id")
    ]


@pytest.fixture
def defaults(organisation):
    return surveys_ensure_defaults(organisation=organisation)


@pytest.fixture
def elsewhere(db):
    return OrganisationFactory(name="Coastal Dental Group", slug="coastal")


def minimal(**changes) -> dict:
    resource = {
        "resourceType": "Questionnaire",
        "status": "active",
        "title": "Quick check",
        "item": [{"linkId": "1", "type": "boolean", "text": "Were you seen on time?"}],
    }
    resource.update(changes)
    return resource


def refused(data, organisation) -> str:
    """The reason an import fails with; it must also have stored nothing."""
    surveys, questions = Survey.objects.count(), Question.objects.count()
    with pytest.raises(FeedbackError) as failure:
        questionnaire_import(data, organisation=organisation)
    assert (Survey.objects.count(), Question.objects.count()) == (surveys, questions)
    return str(failure.value)


# --- Export ---------------------------------------------------------------------------------


def test_post_visit_survey_exports_as_a_valid_r4_questionnaire(defaults, settings):
    settings.RAPPORT_BASE_URL = "https://rapport.maple.example/"
    survey = defaults["post_visit"]

    resource = survey_to_questionnaire(survey)

    Questionnaire.model_validate(resource)  # what the function promises; checked again here
    assert resource["url"] == f"https://rapport.maple.example/fhir/Questionnaire/survey-{survey.pk}"
    assert resource["identifier"] == [
        {"system": "https://rapport.maple.example/survey", "value": str(survey.pk)}
    ]
    assert resource["status"] == "active"
    assert resource["title"] == "How was your visit?"
    assert resource["publisher"] == "Bright Smiles Group"
    nps, booking = resource["item"][:2]
    first = survey.questions.order_by("position").first()
    assert nps["linkId"] == f"q{first.pk}"
    assert nps["type"] == "integer"
    assert nps["required"] is True
    assert [o["valueInteger"] for o in nps["answerOption"]] == list(range(11))
    assert "code" not in nps
    assert booking == {
        "linkId": booking["linkId"],
        "text": "Booking and reminders",
        "type": "integer",
        "required": False,
        "code": [
            {"system": TOUCHPOINT_SYSTEM, "code": "reminders", "display": "Reminders & scheduling"}
        ],
        "answerOption": [{"valueInteger": n} for n in range(1, 6)],
    }
    assert {item["type"] for item in resource["item"][-2:]} == {"text"}
    json.dumps(resource)  # JSON-ready as it is


def test_yes_no_and_choice_questions_and_retired_surveys(defaults):
    relationship, leaving = defaults["relationship"], defaults["exit"]
    leaving.is_active = False
    leaving.save()

    listen = survey_to_questionnaire(relationship)["item"][1]
    exported = survey_to_questionnaire(leaving)

    assert listen["type"] == "boolean" and "answerOption" not in listen
    assert exported["status"] == "retired"
    reason = exported["item"][0]
    assert reason["type"] == "choice"
    assert reason["answerOption"][1] == {"valueCoding": {"code": "Cost", "display": "Cost"}}


# --- Round trip -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["post_visit", "relationship", "exit"])
def test_default_surveys_round_trip_with_the_same_questions(defaults, elsewhere, kind):
    original = defaults[kind]

    copy_ = questionnaire_import(survey_to_questionnaire(original), organisation=elsewhere)

    assert copy_.pk != original.pk
    assert copy_.organisation == elsewhere
    assert (copy_.kind, copy_.title, copy_.intro, copy_.is_active) == (
        original.kind,
        original.title,
        original.intro,
        True,
    )
    assert questions_of(copy_) == questions_of(original)
    assert any(q[2] for q in questions_of(copy_)) or kind == "exit"  # touchpoints came along


def test_every_question_kind_and_touchpoint_survives_a_round_trip(organisation, elsewhere):
    survey = Survey.objects.create(organisation=organisation, kind="custom", title="Everything")
    specs = [
        ("nps", "Recommend us?", "", [], True),
        ("rating", "The bill", "billing_insurance", [], False),
        ("yes_no", "Did the lab call you?", "third_party", [], True),
        ("choice", "Best time to call", "phone_booking", ["Morning", "Late  afternoon"], False),
        ("text", "Anything else?", "digital", [], False),
    ]
    for position, (kind, text, touchpoint, choices, required) in enumerate(specs):
        Question.objects.create(
            survey=survey, position=position, kind=kind, text=text, touchpoint=touchpoint,
            choices=choices, is_required=required,
        )  # fmt: skip

    copy_ = questionnaire_import(survey_to_questionnaire(survey), organisation=elsewhere)

    assert questions_of(copy_) == specs
    assert copy_.kind == "custom"


def test_import_writes_an_audit_entry_and_reports_notes(elsewhere):
    notes: list[str] = []
    survey = questionnaire_import(
        example("questionnaire-example-f201-lifelines.json"), organisation=elsewhere, notes=notes
    )

    assert notes == ["2 groups flattened", "asked as free text: 1 date"]
    event = AuditEvent.objects.get(action="import", object_type="survey")
    assert event.object_id == str(survey.pk)
    assert event.detail["url"] == "http://hl7.org/fhir/Questionnaire/f201"


# --- The official examples ------------------------------------------------------------------


@pytest.mark.parametrize("name", QUESTIONNAIRE_EXAMPLES)
def test_every_official_questionnaire_example_imports(organisation, name):
    survey = questionnaire_import(example(name), organisation=organisation)

    assert survey.questions.count() > 0
    assert survey.kind == "custom"
    for question in survey.questions.all():
        assert question.text
        assert len(question.text) <= 300
        assert question.kind in Question.Kind.values
        assert (question.kind == "choice") == bool(question.choices)


def test_official_examples_are_all_there():
    assert len(QUESTIONNAIRE_EXAMPLES) == 7  # six Questionnaires and a Bundle
    assert len(RESPONSE_EXAMPLES) == 5


def test_lifelines_groups_are_flattened_and_types_mapped(organisation):
    survey = questionnaire_import(
        example("questionnaire-example-f201-lifelines.json"), organisation=organisation
    )

    assert [(q.kind, q.text) for q in survey.questions.order_by("position")] == [
        ("yes_no", "Do you have allergies?"),
        ("text", "What is your gender?"),
        ("text", "What is your date of birth?"),  # a date, asked as free text
        ("text", "What is your country of birth?"),
        ("text", "What is your marital status?"),
        ("yes_no", "Do you smoke?"),
        ("yes_no", "Do you drink alchohol?"),
    ]
    assert survey.is_active  # the example is "active"
    assert survey.title == "Imported questionnaire"  # it has neither title nor name


def test_glasgow_coma_score_choices_come_from_contained_value_sets(organisation):
    notes: list[str] = []
    survey = questionnaire_import(
        example("questionnaire-example-gcs.json"), organisation=organisation, notes=notes
    )

    eye = survey.questions.order_by("position").last()
    assert eye.kind == "choice"
    assert eye.text == "Question 1.3"  # no text and no code display: named by its linkId
    assert eye.choices == [
        "No eye opening",
        "Eye opening to pain",
        "Eye opening to verbal command",
        "Eyes open spontaneously",
    ]
    assert survey.title == "Glasgow Coma Score"
    assert not survey.is_active  # a draft waits for a person to switch it on
    assert notes == ["3 items without text: named by their code or linkId"]


def test_bundle_with_a_questionnaire_and_its_value_sets(organisation):
    survey = questionnaire_import(
        example("questionnaire-profile-example-ussg-fht.json"), organisation=organisation
    )

    assert survey.title == "US Surgeon General - Family Health Portrait"
    gender = survey.questions.get(text="Gender", is_required=True)
    assert gender.kind == "choice"
    assert gender.choices == ["Male", "Female", "Other"]  # from the Bundle's ValueSet LL1-9
    units = survey.questions.filter(text="Units").first()
    assert units.choices == ["inches", "centimeters"]  # "#length", contained in the Questionnaire


def test_bluebook_choices_from_answer_options_and_nested_items(organisation):
    survey = questionnaire_import(
        example("questionnaire-example-bluebook.json"), organisation=organisation
    )

    texts = [q.text for q in survey.questions.order_by("position")]
    assert texts.index("Vitamin K given") < texts.index("1st dose")  # children follow
    sex = survey.questions.get(text="Sex")
    assert sex.kind == "choice" and sex.choices == ["F", "M"]  # codes without a display
    assert survey.questions.get(text="Hep B given y / n").kind == "yes_no"
    assert survey.questions.get(text="Birth weight (kg)").kind == "text"


def test_value_set_on_another_server_means_free_text(organisation):
    notes: list[str] = []
    survey = questionnaire_import(
        example("questionnaire-cqf-example.json"), organisation=organisation, notes=notes
    )

    interest = survey.questions.get(text="Little interest or pleasure in doing things")
    assert interest.kind == "text" and interest.is_required
    assert notes == ["asked as free text: 9 choice, 1 integer"]


@pytest.mark.parametrize("name", RESPONSE_EXAMPLES)
def test_a_questionnaire_response_is_not_a_questionnaire(organisation, name):
    assert refused(example(name), organisation) == (
        "expected a FHIR Questionnaire, found resourceType 'QuestionnaireResponse'"
    )


# --- Hostile and malformed input ------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ([], "expected a FHIR Questionnaire (a JSON object), found an array"),
        ("Questionnaire", "expected a FHIR Questionnaire (a JSON object), found a string"),
        (None, "expected a FHIR Questionnaire (a JSON object), found null"),
        ({"status": "active"}, "expected a FHIR Questionnaire, found no resourceType"),
        ({"resourceType": ["Questionnaire"]}, "expected a FHIR Questionnaire, found resourceType "
         "\"['Questionnaire']\""),
        ({"resourceType": "Patient"}, "expected a FHIR Questionnaire, found resourceType "
         "'Patient'"),
        (
            {"resourceType": "questionnaire", "status": "active"},
            "expected a FHIR Questionnaire, found resourceType 'questionnaire'",
        ),
        (minimal(item=[]), "the Questionnaire has no items: there is nothing to ask"),
        ({"resourceType": "Questionnaire", "status": "active"}, "the Questionnaire has no items: "
         "there is nothing to ask"),
        (
            minimal(item=[{"linkId": "1", "type": "display", "text": "Welcome"}]),
            "the Questionnaire has no questions, only display items and groups",
        ),
        (
            minimal(item=[{"linkId": "1", "type": "slider", "text": "How much?"}]),
            "item '1': unknown item type 'slider'",
        ),
        (minimal(status="published"), "status 'published' is not one of draft, active, "
         "retired, unknown"),
        (
            minimal(item=[{"type": "boolean", "text": "No linkId"}]),
            "invalid Questionnaire: item[0].linkId: Value for the field 'linkId' is required.",
        ),
        (
            minimal(date="2024-02-30"),
            "invalid Questionnaire: date: Input should be a valid datetime or date, day value "
            "is outside expected range ('2024-02-30')",
        ),
        (
            minimal(title="Hello\x00"),
            "a text contains a NUL character (\\u0000), which cannot be stored",
        ),
        (
            minimal(colour="blue"),
            "invalid Questionnaire: colour: Extra inputs are not permitted ('blue')",
        ),
        (
            {"resourceType": "Bundle", "type": "collection", "entry": []},
            "the Bundle holds no Questionnaire",
        ),
    ],
)  # fmt: skip
def test_hostile_questionnaires_are_refused_with_a_reason(organisation, data, reason):
    assert refused(data, organisation) == reason


def test_two_questionnaires_in_a_bundle_are_refused(organisation):
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": minimal()}, {"resource": minimal(title="Other")}],
    }
    assert refused(bundle, organisation) == (
        "the Bundle holds 2 Questionnaires; import one at a time"
    )


def test_a_bundle_entry_that_is_invalid_is_named(organisation):
    questionnaire = minimal()
    del questionnaire["status"]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": questionnaire}],
    }
    assert refused(bundle, organisation) == (
        "entry[0]: invalid Questionnaire: status: Value for the field 'status' is required."
    )


def test_deep_nesting_and_too_many_questions_are_refused(organisation):
    deep = minimal()
    node = deep["item"][0]
    for n in range(80):
        node["item"] = [{"linkId": f"g{n}", "type": "group"}]
        node = node["item"][0]
    assert refused(deep, organisation) == "nested too deeply (more than 64 levels)"

    many = minimal(item=[{"linkId": str(n), "type": "string", "text": f"Q{n}"} for n in range(201)])
    assert refused(many, organisation) == (
        "the Questionnaire has 201 questions; a survey may have at most 200"
    )


def test_long_texts_are_shortened_and_unknown_touchpoints_dropped(organisation):
    data = minimal(
        title="T" * 500,
        item=[
            {
                "linkId": "1",
                "type": "open-choice",
                "text": "W" * 400,
                "code": [{"system": TOUCHPOINT_SYSTEM, "code": "parking"}],
                "answerOption": [
                    {"valueString": "Yes"}, {"valueString": "Yes"}, {"valueInteger": 3},
                    {"valueString": "L" * 301},
                ],
                "enableWhen": [{"question": "0", "operator": "exists", "answerBoolean": True}],
            },
            {
                "linkId": "2",
                "type": "integer",
                "text": "Stars",
                "extension": [
                    {"url": "http://hl7.org/fhir/StructureDefinition/minValue", "valueInteger": 1},
                    {"url": "http://hl7.org/fhir/StructureDefinition/maxValue", "valueInteger": 5},
                ],
            },
        ],
    )  # fmt: skip
    notes: list[str] = []

    survey = questionnaire_import(data, organisation=organisation, notes=notes)

    first, stars = survey.questions.order_by("position")
    assert len(survey.title) == 200
    assert first.text == "W" * 299 + "…"
    assert (first.kind, first.choices, first.touchpoint) == (
        "choice", ["Yes", "3", "L" * 299 + "…"], "",
    )  # fmt: skip
    assert stars.kind == "rating"
    assert notes == [
        "2 texts shortened to 300 characters",
        "1 condition (enableWhen) dropped: always asked",
        "1 open-choice item without its free-text answer",
        "unknown touchpoints left blank: 'parking'",
    ]


def test_the_exported_dict_is_not_changed_by_an_import(defaults, elsewhere):
    resource = survey_to_questionnaire(defaults["exit"])
    before = copy.deepcopy(resource)
    questionnaire_import(resource, organisation=elsewhere)
    assert resource == before


# --- QuestionnaireResponse ------------------------------------------------------------------


def test_response_exports_as_questionnaire_response(patient, settings):
    settings.RAPPORT_BASE_URL = "https://rapport.maple.example"
    invitation = InvitationFactory(
        patient=patient,
        survey=surveys_ensure_defaults(organisation=patient.practice.organisation)["relationship"],
    )
    survey = invitation.survey
    nps, listen, facility, billing, matters, life = survey.questions.order_by("position")
    response = SurveyResponse.objects.create(
        invitation=invitation, practice=patient.practice, patient=patient, survey=survey, nps=9
    )
    Answer.objects.bulk_create(
        [
            Answer(response=response, question=nps, number=9),
            Answer(response=response, question=listen, number=0),
            Answer(response=response, question=billing, number=2),
            Answer(response=response, question=matters, text="Keeping my own teeth"),
        ]
    )

    resource = response_to_questionnaire_response(response)

    QuestionnaireResponse.model_validate(resource)
    assert resource["questionnaire"] == survey_to_questionnaire(survey)["url"]
    assert resource["status"] == "completed"
    assert resource["subject"] == {"reference": f"Patient/{patient.pk}"}
    assert resource["authored"] == response.updated_at.isoformat()
    assert resource["item"] == [
        {"linkId": f"q{nps.pk}", "text": nps.text, "answer": [{"valueInteger": 9}]},
        {"linkId": f"q{listen.pk}", "text": listen.text, "answer": [{"valueBoolean": False}]},
        {"linkId": f"q{billing.pk}", "text": billing.text, "answer": [{"valueInteger": 2}]},
        {
            "linkId": f"q{matters.pk}",
            "text": matters.text,
            "answer": [{"valueString": "Keeping my own teeth"}],
        },
    ]  # facility and life were not answered
    assert patient.last_name not in json.dumps(resource)


def test_response_uses_the_fhir_id_and_codes_a_choice(patient):
    patient.fhir_id = "pat-123"
    patient.save()
    invitation = InvitationFactory(
        patient=patient,
        survey=surveys_ensure_defaults(organisation=patient.practice.organisation)["exit"],
    )
    reason = invitation.survey.questions.get(kind="choice")
    response = SurveyResponse.objects.create(
        invitation=invitation, practice=patient.practice, patient=patient, survey=invitation.survey
    )
    Answer.objects.create(response=response, question=reason, text="Insurance")

    resource = response_to_questionnaire_response(response)

    assert resource["subject"] == {"reference": "Patient/pat-123"}
    assert resource["item"][0]["answer"] == [
        {"valueCoding": {"code": "Insurance", "display": "Insurance"}}
    ]
    # The answer is one of the Questionnaire's options, as R4 asks of a choice item.
    options = survey_to_questionnaire(invitation.survey)["item"][0]["answerOption"]
    assert resource["item"][0]["answer"][0] in options


# --- The command line -----------------------------------------------------------------------


def run_survey(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("survey", *args, stdout=out, stderr=err)
    finally:
        run_survey.err = err.getvalue()
    return out.getvalue(), err.getvalue()


def test_command_exports_json_and_imports_it_back(defaults, elsewhere, tmp_path):
    survey = defaults["exit"]

    out, err = run_survey("export", "--survey", str(survey.pk))

    assert json.loads(out) == survey_to_questionnaire(survey)
    assert err == f"survey {survey.pk} 'Before you go': 2 questions exported\n"

    path = tmp_path / "exit.json"
    path.write_text(out)
    out, err = run_survey("import", str(path), "--organisation", "coastal")

    copy_ = Survey.objects.get(organisation=elsewhere)
    assert out == f"{path}: created survey {copy_.pk} 'Before you go' (2 questions, active)\n"
    assert err == ""
    assert questions_of(copy_) == questions_of(survey)


def test_command_import_prints_notes_on_the_summary_line(organisation, tmp_path):
    path = tmp_path / "gcs.json"
    path.write_bytes((EXAMPLES / "questionnaire-example-gcs.json").read_bytes())

    out, _ = run_survey("import", str(path))  # the only organisation

    survey = Survey.objects.get(title="Glasgow Coma Score")
    assert out == (
        f"{path}: created survey {survey.pk} 'Glasgow Coma Score' (3 questions, inactive); "
        "3 items without text: named by their code or linkId\n"
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"resourceType": "Questionnaire",\n "status": }', ":2: not valid JSON: Expecting value "
         "(column 12)"),
        (b"", ": empty file"),
        (b'{"resourceType": "Patient"}', ": expected a FHIR Questionnaire, found resourceType "
         "'Patient'"),
        (b'{"resourceType": "Questionnaire", "status": "active"}', ": the Questionnaire has no "
         "items: there is nothing to ask"),
        (b'{"a": 1, "a": 2}', ": not valid JSON: duplicate key 'a'"),
        (b"\xff\xfe{}", ": not UTF-8 text (bad byte at offset 0)"),
    ],
)  # fmt: skip
def test_command_import_reports_file_and_reason(organisation, tmp_path, content, problem):
    path = tmp_path / "q.json"
    path.write_bytes(content)

    with pytest.raises(CommandError) as failure:
        run_survey("import", str(path), "--organisation", "smiles-group")

    assert str(failure.value) == f"{path}: nothing imported"
    assert run_survey.err == f"{path}{problem}\n"
    assert not Survey.objects.exists()


def test_command_refuses_missing_files_unknown_surveys_and_organisations(organisation, tmp_path):
    with pytest.raises(CommandError):
        run_survey("import", str(tmp_path / "nope.json"))
    assert run_survey.err == f"{tmp_path / 'nope.json'}: no such file\n"

    with pytest.raises(CommandError, match="--survey 999999: no such survey"):
        run_survey("export", "--survey", "999999")

    path = tmp_path / "q.json"
    path.write_text(json.dumps(minimal()))
    with pytest.raises(CommandError, match="--organisation nowhere: no such organisation"):
        run_survey("import", str(path), "--organisation", "nowhere")


def test_command_import_refuses_oversized_files(organisation, tmp_path, settings):
    settings.RAPPORT_IMPORT_MAX_BYTES = 100
    path = tmp_path / "big.json"
    path.write_text(json.dumps(minimal(description="x" * 200)))

    with pytest.raises(CommandError):
        run_survey("import", str(path))

    assert run_survey.err.startswith(f"{path}: is ")
    assert "over the import limit of 100 (RAPPORT_IMPORT_MAX_BYTES)" in run_survey.err
