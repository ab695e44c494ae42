"""The post-visit survey asks about the lab only when the visit involved the lab."""

from __future__ import annotations

import pytest

from feedback.models import Answer, FeedbackItem, Question
from feedback.services import invitation_path, survey_questions
from feedback.tests.factories import InvitationFactory, answers_for
from patients.tests.factories import AppointmentFactory
from recovery.models import RecoveryCase
from vendors.services import involvement_create
from vendors.surveys import VENDOR_PLACEHOLDER
from vendors.tests.factories import crestline, shade_visit

pytestmark = pytest.mark.django_db
ASKED = "How was your visit to Crestline Dental Lab?"


def _vendor_question(invitation) -> Question:
    return invitation.survey.questions.get(text__contains=VENDOR_PLACEHOLDER)


def test_the_survey_asks_about_the_lab_when_the_visit_involved_it(client, practice, patient):
    lab = crestline(practice)
    visit = shade_visit(lab, patient)
    invitation = InvitationFactory(patient=patient, appointment=visit)
    page = client.get(invitation_path(invitation)).content.decode()
    assert ASKED in page
    assert VENDOR_PLACEHOLDER not in page
    question = _vendor_question(invitation)
    assert (question.kind, question.touchpoint) == ("rating", "third_party")
    # Before the free-text questions, after the ratings.
    texts = list(invitation.survey.questions.filter(kind="text"))
    assert all(question.position < text.position for text in texts)


def test_the_survey_does_not_ask_about_a_lab_that_was_not_involved(client, practice, patient):
    lab = crestline(practice)
    shade_visit(lab, patient)  # another visit involved the lab, not this one
    cleaning = AppointmentFactory(patient=patient, kind="Cleaning")
    involvement_create(
        vendor=lab,
        patient=patient,
        kind="lab_case",
        appointment=cleaning,
        sent_on=cleaning.starts_at.date(),
    )  # a lab case is not a visit to rate
    for invitation in (
        InvitationFactory(patient=patient, appointment=cleaning),
        InvitationFactory(patient=patient),
    ):
        page = client.get(invitation_path(invitation)).content.decode()
        assert "Crestline" not in page and VENDOR_PLACEHOLDER not in page
        assert all(VENDOR_PLACEHOLDER not in q.text for q in survey_questions(invitation))


def test_the_lab_rating_is_stored_with_its_touchpoint_and_vendor(client, practice, patient):
    lab = crestline(practice)
    invitation = InvitationFactory(patient=patient, appointment=shade_visit(lab, patient))
    client.get(invitation_path(invitation))
    question = _vendor_question(invitation)
    data = answers_for(invitation.survey, nps=3)
    data[f"q{question.pk}"] = "1"
    comment = invitation.survey.questions.filter(kind="text").first()
    data[f"q{comment.pk}"] = "The Crestline technician ignored me and took two phone calls."
    assert client.post(invitation_path(invitation), data).status_code == 302
    answer = Answer.objects.get(question=question)
    assert (answer.number, answer.vendor, answer.question.touchpoint) == (1, lab, "third_party")
    item = FeedbackItem.objects.get(response__invitation=invitation)
    assert item.vendor == lab and item.score == 3
    case = RecoveryCase.objects.get(feedback_items=item)
    assert case.vendor == lab
    # Only the lab's own question is the lab's.
    assert list(Answer.objects.filter(response=answer.response, vendor=lab)) == [answer]


def test_a_low_lab_rating_names_the_lab_on_its_case_even_without_a_comment(
    client, practice, patient
):
    lab = crestline(practice)
    invitation = InvitationFactory(patient=patient, appointment=shade_visit(lab, patient))
    client.get(invitation_path(invitation))
    data = answers_for(invitation.survey, nps=9)
    data[f"q{_vendor_question(invitation).pk}"] = "1"
    client.post(invitation_path(invitation), data)
    item = FeedbackItem.objects.get(response__invitation=invitation)
    assert item.vendor is None  # the text names nobody
    case = RecoveryCase.objects.get(feedback_items=item)
    assert case.topic == "third_party" and case.vendor == lab


def test_an_answer_to_a_question_not_asked_is_ignored(client, practice, patient):
    lab = crestline(practice)
    invitation = InvitationFactory(patient=patient, appointment=shade_visit(lab, patient))
    client.get(invitation_path(invitation))
    question = _vendor_question(invitation)
    other = InvitationFactory(patient=patient, appointment=AppointmentFactory(patient=patient))
    data = answers_for(other.survey, nps=8)
    data[f"q{question.pk}"] = "2"
    assert client.post(invitation_path(other), data).status_code == 302
    assert not Answer.objects.filter(question=question).exists()


def test_the_question_is_added_once_per_survey(client, practice, patient):
    lab = crestline(practice)
    for _ in range(3):
        invitation = InvitationFactory(patient=patient, appointment=shade_visit(lab, patient))
        client.get(invitation_path(invitation))
    assert invitation.survey.questions.filter(text__contains=VENDOR_PLACEHOLDER).count() == 1
