"""The undeliverable list and the communication log: roles, tenancy, audit, no bodies."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from conftest import OTHER_CANARY
from core.models import AuditEvent
from messaging.models import OutboundMessage
from messaging.selectors import messages_for_patient
from messaging.tests.factories import OutboundMessageFactory

pytestmark = pytest.mark.urls("messaging.tests.urls")
URL = "messaging:undeliverable"


def failed(practice, patient=None, **fields):
    return OutboundMessageFactory(
        practice=practice,
        patient=patient,
        status=OutboundMessage.Status.FAILED,
        failed_at=timezone.now(),
        attempts=1,
        **fields,
    )


@pytest.fixture
def failures(practice, patient, other_practice, other_patient, sister_practice, sister_patient):
    return {
        "ours": failed(
            practice, patient, to_address="dana@example.com", last_error="550 5.1.1 No mailbox"
        ),
        "other": failed(
            other_practice,
            other_patient,
            to_address=f"{OTHER_CANARY.lower()}@example.com",
            last_error=f"550 {OTHER_CANARY} refused",
        ),
        "sister": failed(
            sister_practice,
            sister_patient,
            to_address="sister@example.com",
            last_error=f"550 {OTHER_CANARY} sister refused",
        ),
    }


@pytest.mark.parametrize("role", ["manager", "director"])
def test_managers_see_their_practices_undeliverable_messages_only(
    client, request, role, practice, failures
):
    OutboundMessageFactory(practice=practice, status=OutboundMessage.Status.SENT)
    user = request.getfixturevalue(role)
    client.force_login(user)
    # A group admin works in one practice at a time: the list follows the switcher.
    client.post(reverse("core:practice-switch"), {"practice": practice.pk})

    response = client.get(reverse(URL))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Dana Whitfield" in page and "dana@example.com" in page
    assert "550 5.1.1 No mailbox" in page
    assert OTHER_CANARY not in page
    event = AuditEvent.objects.get(object_type="message", action="list")
    assert event.actor == user
    assert event.detail["message_ids"] == [failures["ours"].pk]
    assert event.detail["patient_ids"] == [failures["ours"].patient_id]


def test_group_admin_sees_the_sister_practice_after_switching(
    client, director, sister_practice, failures
):
    client.force_login(director)
    client.post(reverse("core:practice-switch"), {"practice": sister_practice.pk})
    page = client.get(reverse(URL)).content.decode()
    assert "sister@example.com" in page and "dana@example.com" not in page


def test_outsider_manager_never_sees_our_messages(client, outsider, failures):
    client.force_login(outsider)
    page = client.get(reverse(URL)).content.decode()
    assert "dana@example.com" not in page
    assert "Dana Whitfield" not in page


@pytest.mark.parametrize("role", ["front_desk", "clinician"])
def test_staff_who_do_not_manage_are_refused(client, request, role, failures):
    client.force_login(request.getfixturevalue(role))
    response = client.get(reverse(URL))
    assert response.status_code == 403
    assert "dana@example.com" not in response.content.decode()
    assert not AuditEvent.objects.filter(object_type="message").exists()


def test_anonymous_goes_to_login(client, failures):
    response = client.get(reverse(URL))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_empty_list_says_so(client, manager):
    client.force_login(manager)
    assert "Nothing undeliverable" in client.get(reverse(URL)).content.decode()


def test_list_query_count_does_not_grow_with_rows(
    client, manager, practice, patient, django_assert_max_num_queries
):
    for _ in range(30):
        failed(practice, patient)
    client.force_login(manager)
    with django_assert_max_num_queries(15):
        assert client.get(reverse(URL)).status_code == 200


def test_communication_log_is_the_patients_own_newest_first(practice, patient, other_patient):
    older = OutboundMessageFactory(practice=practice, patient=patient, kind="survey_invitation")
    newer = failed(practice, patient, kind="records_ready", last_error="550 gone")
    OutboundMessageFactory(practice=other_patient.practice, patient=other_patient)
    OutboundMessageFactory(practice=practice, patient=None)

    log = list(messages_for_patient(patient))

    assert [m.pk for m in log] == [newer.pk, older.pk]
    html = render_to_string("messaging/patient_messages.html", {"patient_messages": log})
    assert "Survey invitation" in html and "Records ready" in html
    assert "Undeliverable" in html and "550 gone" in html
    assert "Tell us" not in html  # never the message body


def test_communication_log_shows_retrying(practice, patient):
    OutboundMessageFactory(practice=practice, patient=patient, attempts=2, last_error="451 later")
    html = render_to_string(
        "messaging/patient_messages.html", {"patient_messages": messages_for_patient(patient)}
    )
    assert "Retrying" in html and "451 later" in html


def test_empty_communication_log():
    assert "No messages sent yet" in render_to_string(
        "messaging/patient_messages.html", {"patient_messages": []}
    )
