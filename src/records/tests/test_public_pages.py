"""The public records request page, step by step, as a patient's browser sees it."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from messaging.models import OutboundMessage
from records.identity import MAX_ATTEMPTS
from records.models import IdentityCheck, RecordsRequest

pytestmark = pytest.mark.django_db
DANA = {
    "first_name": "Dana",
    "last_name": "Whitfield",
    "date_of_birth": "1980-05-17",
    "channel": "email",
}


def _url(practice, step="request"):
    return reverse(
        f"records:public-{step}",
        kwargs={"org": practice.organisation.slug, "practice": practice.slug},
    )


def _code() -> str:
    body = OutboundMessage.objects.get(kind="records_identity_code").body
    return re.search(r"\b(\d{6})\b", body).group(1)


def test_the_page_explains_the_right_and_the_deadline(client, practice):
    page = client.get(_url(practice)).content.decode()
    assert "Request a copy of your records" in page and practice.name in page
    assert "within 30 days at the very latest" in page  # the practice's US rule
    assert 'autocomplete="bday"' in page


def test_unknown_practice_is_404(client, practice):
    url = reverse("records:public-request", kwargs={"org": "nope", "practice": practice.slug})
    assert client.get(url).status_code == 404


def test_a_patient_requests_records_from_start_to_finish(client, practice, patient):
    response = client.post(_url(practice), DANA)
    assert response.status_code == 302 and response["Location"] == _url(practice, "verify")
    assert "Dana" not in response["Location"]

    verify = client.get(_url(practice, "verify")).content.decode()
    assert "If the details match our records" in verify

    response = client.post(_url(practice, "verify"), {"code": _code()})
    assert response["Location"] == _url(practice, "details")

    details = client.get(_url(practice, "details")).content.decode()
    masked = f"{patient.email[0]}***@example.com"
    assert masked in details and patient.email not in details

    response = client.post(
        _url(practice, "details"),
        {"send_copy_to": "records@newdentist.example", "representative_name": ""},
    )
    assert response["Location"] == _url(practice, "done")
    logged = RecordsRequest.objects.get()
    assert (logged.patient, logged.channel) == (patient, "online")
    assert logged.send_to_email == patient.email
    assert logged.acknowledged_at is not None

    done = client.get(_url(practice, "done")).content.decode()
    assert logged.due_on.isoformat() in done and masked in done
    # The session step is spent: going back cannot log a second request.
    assert client.post(_url(practice, "details"), {})["Location"] == _url(practice)
    assert RecordsRequest.objects.count() == 1


def test_details_that_match_nobody_get_the_same_answer(client, practice, patient):
    response = client.post(_url(practice), {**DANA, "last_name": "Whitman"})
    assert response["Location"] == _url(practice, "verify")
    assert (
        "If the details match our records" in client.get(_url(practice, "verify")).content.decode()
    )
    assert not OutboundMessage.objects.filter(kind="records_identity_code").exists()


def test_the_page_locks_after_repeated_wrong_codes(client, practice, patient):
    client.post(_url(practice), DANA)
    right = _code()
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(MAX_ATTEMPTS - 1):
        response = client.post(_url(practice, "verify"), {"code": wrong})
        assert response.status_code == 400 and "not right" in response.content.decode()
    response = client.post(_url(practice, "verify"), {"code": wrong})
    assert "paused after too many tries" in response.content.decode()
    response = client.post(_url(practice, "verify"), {"code": right})
    assert response.status_code == 400 and "paused" in response.content.decode()
    assert client.get(_url(practice, "details"))["Location"] == _url(practice)
    assert IdentityCheck.objects.get().locked_at is not None
    assert not RecordsRequest.objects.exists()


def test_steps_cannot_be_skipped(client, practice, patient):
    assert client.get(_url(practice, "verify"))["Location"] == _url(practice)
    assert client.get(_url(practice, "details"))["Location"] == _url(practice)
    assert client.get(_url(practice, "done"))["Location"] == _url(practice)
    client.post(_url(practice), DANA)  # started, not verified
    assert client.post(_url(practice, "details"), {})["Location"] == _url(practice)


def test_a_check_started_at_one_practice_does_not_work_at_another(
    client, practice, sister_practice, patient
):
    client.post(_url(practice), DANA)
    client.post(_url(practice, "verify"), {"code": _code()})
    assert client.get(_url(sister_practice, "details"))["Location"] == _url(sister_practice)
    assert client.get(_url(sister_practice, "verify"))["Location"] == _url(sister_practice)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("first_name", "Da\x00na", "First name"),
        ("last_name", "W" * 5000, "Last name"),
        ("date_of_birth", "<script>alert(1)</script>", "year-month-day"),
        ("channel", "'; DROP TABLE patients_patient; --", "where we should send"),
    ],
)
def test_hostile_input_gets_a_friendly_error(client, practice, patient, field, value, message):
    response = client.post(_url(practice), {**DANA, field: value})
    page = response.content.decode()
    assert response.status_code == 400 and message in page
    assert "<script>alert(1)</script>" not in page
    assert not IdentityCheck.objects.exists()


def test_a_bad_copy_address_is_explained_and_nothing_is_logged(client, practice, patient):
    client.post(_url(practice), DANA)
    client.post(_url(practice, "verify"), {"code": _code()})
    response = client.post(_url(practice, "details"), {"send_copy_to": "not an email"})
    assert response.status_code == 400 and "not a valid email" in response.content.decode()
    assert not RecordsRequest.objects.exists()


def test_posting_details_is_rate_limited(client, practice, patient):
    statuses = [
        client.post(_url(practice), {**DANA, "first_name": ""}).status_code for _ in range(11)
    ]
    assert statuses[:10] == [400] * 10 and statuses[10] == 429
