"""The readable PDF summary handed over beside the FHIR file."""

from __future__ import annotations

import datetime as dt
import io
import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from pypdf import PdfReader

from feedback.services import response_submit
from feedback.tests.factories import InvitationFactory, answers_for
from patients.tests.factories import AppointmentFactory, HouseholdFactory, PatientFactory
from records.pdf import MISSING_GLYPH, patient_summary_pdf

pytestmark = pytest.mark.django_db
VISIT = dt.datetime(2025, 11, 4, 15, 0, tzinfo=dt.UTC)  # 10:00 in New York


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_summary_reads_the_patient_appointments_and_survey_answers(practice):
    household = HouseholdFactory(practice=practice, name="Ångström household")
    guardian = PatientFactory(practice=practice, first_name="Ølstrøm", last_name="Brandt")
    patient = PatientFactory(
        practice=practice,
        first_name="Zoë",
        last_name="Ångström-Ñúñez",
        household=household,
        guardian=guardian,
    )
    AppointmentFactory(patient=patient, starts_at=VISIT, kind="Crown fitting")
    invitation = InvitationFactory(patient=patient)
    response_submit(
        invitation=invitation,
        answers=answers_for(invitation.survey, nps=9, text="Dr Ibáñez was very gentle"),
    )

    pdf = patient_summary_pdf(patient)

    text = _text(pdf)
    assert pdf.startswith(b"%PDF")
    assert "Maple Street Dental" in text and "Prepared on" in text
    assert "Zoë Ångström-Ñúñez" in text and "May 17, 1980" in text
    assert "Ølstrøm Brandt" in text and "Ångström household" in text
    assert "Nov 4, 2025, 10:00 AM" in text and "Crown fitting" in text and "Completed" in text
    assert invitation.survey.title in text
    assert "How likely are you to recommend Maple Street Dental" in text
    assert "9 out of 10" in text and "Dr Ibáñez was very gentle" in text
    assert "FHIR file" in text and "Page 1 of 1" in text
    assert MISSING_GLYPH not in text


def test_a_patient_with_no_history_still_gets_a_summary(patient):
    text = _text(patient_summary_pdf(patient))
    assert "Dana Whitfield" in text
    assert "No appointments on record." in text and "No survey answers on record." in text


def test_a_name_the_font_cannot_draw_still_gives_a_pdf(practice, caplog):
    patient = PatientFactory(practice=practice, first_name="小龍", last_name="李")
    with caplog.at_level(logging.WARNING):
        pdf = patient_summary_pdf(patient)
    text = _text(pdf)
    assert pdf.startswith(b"%PDF")
    assert MISSING_GLYPH * 2 in text and "the FHIR file holds them exactly" in text
    assert "missing the following glyphs" not in caplog.text


def test_a_long_history_and_hostile_text_run_over_pages(practice):
    patient = PatientFactory(
        practice=practice,
        first_name="Zoë\u200b\x07",  # PostgreSQL stores no NUL; other controls it does
        last_name="Whit\tfield",
        address="1 Long Road " + "x" * 188,  # the column's full 200 characters
    )
    AppointmentFactory.create_batch(80, patient=patient, kind="Check-up\n" * 6)
    invitation = InvitationFactory(patient=patient)
    response_submit(
        invitation=invitation, answers=answers_for(invitation.survey, nps=3, text="word " * 900)
    )

    pdf = patient_summary_pdf(patient)

    pages = PdfReader(io.BytesIO(pdf)).pages
    assert len(pages) > 2
    assert f"Page 2 of {len(pages)}" in pages[1].extract_text()


def test_a_missing_font_is_a_clear_error(patient, settings, tmp_path):
    settings.PROJECT_DIR = tmp_path
    with pytest.raises(ImproperlyConfigured, match="dejavu-fonts-ttf.*make install"):
        patient_summary_pdf(patient)


def test_a_lab_question_names_the_lab_as_the_patient_saw_it(practice, patient):
    from feedback.models import Answer, Question
    from vendors.services import vendor_create

    lab = vendor_create(practice=practice, name="Crestline Dental Lab", kind="lab")
    invitation = InvitationFactory(patient=patient)
    response_submit(invitation=invitation, answers=answers_for(invitation.survey, nps=3))
    response = patient.survey_responses.get()
    question = Question.objects.create(
        survey=invitation.survey,
        kind="rating",
        text="How was your visit to {vendor}?",
        touchpoint="third_party",
        position=99,
    )
    Answer.objects.create(response=response, question=question, number=1, vendor=lab)

    text = _text(patient_summary_pdf(patient))

    assert "How was your visit to Crestline Dental Lab?" in text and "{vendor}" not in text
