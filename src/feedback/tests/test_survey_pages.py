"""The public survey page: signed links, one response per invitation, friendly failures."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from feedback.models import FeedbackItem, SurveyResponse
from feedback.services import invitation_path
from feedback.tests.factories import InvitationFactory, answers_for


def _answer(client, invitation, **answers):
    data = answers_for(invitation.survey, **answers)
    text_question = invitation.survey.questions.filter(kind="text").first()
    if "comment" in answers:
        data[f"q{text_question.pk}"] = answers["comment"]
    return client.post(invitation_path(invitation), data)


def test_link_carries_no_patient_data(patient):
    invitation = InvitationFactory(patient=patient)
    path = invitation_path(invitation)
    assert patient.last_name not in path
    assert path.startswith(f"/s/{invitation.public_id}:")


def test_survey_page_opens_without_login_and_names_the_practice(client, patient):
    invitation = InvitationFactory(patient=patient)
    page = client.get(invitation_path(invitation)).content.decode()
    assert "How likely are you to recommend Maple Street Dental" in page
    assert patient.last_name not in page  # a forwarded link shows nobody's name
    invitation.refresh_from_db()
    assert invitation.opened_at is not None


def test_answer_lands_in_the_inbox_and_on_the_patient(client, patient, front_desk):
    invitation = InvitationFactory(patient=patient)
    response = _answer(client, invitation, nps=3, rating=2, comment="The wait was over an hour.")
    assert response.status_code == 302
    stored = SurveyResponse.objects.get()
    assert stored.nps == 3 and stored.patient == patient
    item = FeedbackItem.objects.get()
    assert item.patient == patient and item.score == 3 and item.label == "negative"
    assert "The wait was over an hour." in item.text
    client.force_login(front_desk)
    assert "The wait was over an hour." in client.get(reverse("feedback:inbox")).content.decode()
    detail = client.get(reverse("patients:patient-detail", args=[patient.pk])).content.decode()
    assert "The wait was over an hour." in detail


def test_second_submission_edits_the_same_response(client, patient):
    invitation = InvitationFactory(patient=patient)
    _answer(client, invitation, nps=6, comment="first")
    _answer(client, invitation, nps=9, comment="second thoughts")
    assert SurveyResponse.objects.count() == 1
    assert SurveyResponse.objects.get().nps == 9
    assert list(FeedbackItem.objects.values_list("text", flat=True)) == ["second thoughts"]
    page = client.get(invitation_path(invitation)).content.decode()
    assert "You have answered already" in page and "second thoughts" in page


def test_every_respondent_is_offered_the_review_whatever_the_score(client, patient):
    from feedback.services import feedback_policy_for

    policy = feedback_policy_for(patient.practice)
    policy.review_url = "https://reviews.example.org/maple"
    policy.save()
    for score in (2, 10):
        invitation = InvitationFactory(patient=patient)
        response = _answer(client, invitation, nps=score)
        thanks = client.get(response["Location"]).content.decode()
        assert "https://reviews.example.org/maple" in thanks, score
    assert SurveyResponse.objects.filter(review_offered_at__isnull=False).count() == 2


def test_missing_required_answer_keeps_what_was_typed(client, patient):
    invitation = InvitationFactory(patient=patient)
    response = _answer(client, invitation, comment="I forgot the score")
    assert response.status_code == 400
    page = response.content.decode()
    assert "please choose an answer" in page and "I forgot the score" in page
    assert not SurveyResponse.objects.exists()


def test_out_of_range_and_hostile_answers_are_refused(client, patient):
    invitation = InvitationFactory(patient=patient)
    data = answers_for(invitation.survey, nps=11)
    assert client.post(invitation_path(invitation), data).status_code == 400
    data = answers_for(invitation.survey, nps="7 OR 1=1")
    assert client.post(invitation_path(invitation), data).status_code == 400
    data = answers_for(invitation.survey, nps=8, text="nul\x00byte")
    assert client.post(invitation_path(invitation), data).status_code == 400
    assert not SurveyResponse.objects.exists()


def test_comment_with_markup_is_shown_as_text(client, patient, front_desk):
    invitation = InvitationFactory(patient=patient)
    _answer(
        client, invitation, nps=8, comment="<script>alert(1)</script><img src=x onerror=alert(1)>"
    )
    client.force_login(front_desk)
    inbox = client.get(reverse("feedback:inbox")).content.decode()
    assert "<script>alert(1)</script>" not in inbox
    assert "&lt;script&gt;" in inbox


def test_expired_link_is_a_friendly_page(client, patient):
    invitation = InvitationFactory(
        patient=patient, expires_at=timezone.now() + dt.timedelta(days=1)
    )
    with time_machine.travel(timezone.now() + dt.timedelta(days=2)):
        response = client.get(invitation_path(invitation))
    assert response.status_code == 410
    assert "This survey has closed" in response.content.decode()


def test_forged_and_mangled_links_are_friendly_pages(client, patient):
    invitation = InvitationFactory(patient=patient)
    good = invitation_path(invitation).strip("/").split("/")[-1]
    other_purpose = signing.TimestampSigner(salt="records").sign(invitation.public_id)
    for token in (
        good[:-1] + ("A" if good[-1] != "A" else "B"),
        good.split(":")[0],
        other_purpose,
        "x" * 5000,
        "%00",
        "..%2f..%2fetc%2fpasswd",
    ):
        response = client.get(f"/s/{token}/")
        assert response.status_code in (404, 410), token
        assert "Traceback" not in response.content.decode()
    forged = client.post(f"/s/{good.split(':')[0]}:AAAA:BBBB/", {"q1": "10"})
    assert forged.status_code == 410
    assert not SurveyResponse.objects.exists()


def test_response_is_audited_without_a_user(client, patient):
    invitation = InvitationFactory(patient=patient)
    _answer(client, invitation, nps=10)
    event = AuditEvent.objects.get(object_type="survey_response")
    assert event.actor is None and event.actor_label == "patient (survey link)"
    assert event.patient_id == patient.pk


def test_talk_to_us_accepts_anonymous_feedback(client, practice):
    url = reverse("feedback:talk-to-us", args=[practice.organisation.slug, practice.slug])
    page = client.get(url).content.decode()
    assert "Talk to us" in page and practice.name in page
    response = client.post(url, {"text": "Lovely new waiting room!", "name": "", "contact": ""})
    assert "Thank you for telling us" in response.content.decode()
    item = FeedbackItem.objects.get()
    assert item.source == "web" and item.patient is None and item.label == "positive"


def test_talk_to_us_refuses_empty_and_oversized_messages(client, practice):
    url = reverse("feedback:talk-to-us", args=[practice.organisation.slug, practice.slug])
    assert client.post(url, {"text": "   "}).status_code == 400
    assert client.post(url, {"text": "x" * 5001}).status_code == 400
    assert not FeedbackItem.objects.exists()


def test_staff_note_from_the_patient_page(client, front_desk, patient):
    client.force_login(front_desk)
    url = reverse("feedback:staff-note") + f"?patient={patient.pk}"
    response = client.post(
        url,
        {
            "text": "Mrs Lee said nobody explained the 40 minute wait.",
            "heard_via": "at the desk",
            "patient": patient.pk,
        },
    )
    assert response.status_code == 302
    item = FeedbackItem.objects.get()
    assert (
        item.source == "staff" and item.patient == patient and item.source_detail == "at the desk"
    )
    assert "waiting" in item.touchpoints


def test_staff_note_for_another_practices_patient_is_404(client, front_desk, other_patient):
    client.force_login(front_desk)
    response = client.post(
        reverse("feedback:staff-note"), {"text": "x", "patient": other_patient.pk}
    )
    assert response.status_code == 404
    assert not FeedbackItem.objects.exists()


def test_inbox_filters_and_status(client, manager, practice, patient):
    from feedback.services import feedback_item_create

    bad = feedback_item_create(
        practice=practice, source="web", text="The hygienist was rude and it hurt."
    )
    feedback_item_create(
        practice=practice, source="web", text="Wonderful, gentle dentist. Thank you!"
    )
    client.force_login(manager)
    negative = client.get(reverse("feedback:inbox"), {"label": "negative"}).content.decode()
    assert "rude" in negative and "Wonderful" not in negative
    response = client.post(
        reverse("feedback:item-status", args=[bad.pk]),
        {"status": "handled"},
        headers={"HX-Request": "true"},
    )
    assert "Handled" in response.content.decode()
    bad.refresh_from_db()
    assert bad.status == "handled" and bad.handled_at is not None


def test_dashboard_shows_nps_with_margin_and_answers(client, manager, patient):
    for score in (10, 9, 3):
        _answer(client, InvitationFactory(patient=patient), nps=score)
    client.logout()
    client.force_login(manager)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=1)):
        page = client.get(reverse("feedback:dashboard")).content.decode()
    assert "3 answers: 2 promoters, 0 passives, 1 detractors" in page
    assert "Fewer than 30 answers" in page
    assert 'id="nps-chart-data"' in page


def test_talk_to_us_is_rate_limited_per_address(client, practice):
    url = reverse("feedback:talk-to-us", args=[practice.organisation.slug, practice.slug])
    for n in range(5):
        assert client.post(url, {"text": f"Message {n}"}).status_code == 200
    response = client.post(url, {"text": "One too many"}, REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 429
    assert "Please wait a moment" in response.content.decode()
    assert FeedbackItem.objects.count() == 5
    # A spoofed forwarding header is not a way around the limit.
    spoofed = client.post(url, {"text": "Sneaky"}, HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert spoofed.status_code == 429
    # Another address is not affected.
    assert client.post(url, {"text": "Hello"}, REMOTE_ADDR="192.0.2.7").status_code == 200


def test_guessing_survey_links_is_rate_limited(client):
    statuses = [client.get(f"/s/guess{n}:x:y/").status_code for n in range(61)]
    assert statuses[:60] == [410] * 60
    assert statuses[60] == 429


def test_poster_has_a_qr_code_of_the_talk_to_us_link(client, front_desk, practice, settings):
    settings.RAPPORT_BASE_URL = "https://rapport.maple.example"
    client.force_login(front_desk)
    page = client.get(reverse("feedback:talk-poster")).content.decode()
    url = f"https://rapport.maple.example/talk/{practice.organisation.slug}/{practice.slug}/"
    assert url in page
    assert "<svg" in page and "<title>Talk to us</title>" in page
