"""The admin: managers see and rotate their practice's webhook secret; calls are read-only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from calls.models import PhoneSystem
from calls.services import phone_system_for
from calls.tests.factories import CallFactory
from core.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_managers_see_the_webhook_address_and_secret(client, manager, practice):
    phone_system = phone_system_for(practice)
    client.force_login(manager)
    page = client.get(reverse("admin:calls_phonesystem_change", args=[phone_system.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert phone_system.webhook_secret in text
    assert f"/hooks/calls/{phone_system.webhook_id}/twilio/" in text
    assert AuditEvent.objects.filter(action="view", object_type="phone_system").exists()


def test_rotate_and_end_rotation_actions(client, manager, practice, other_practice):
    mine, theirs = phone_system_for(practice), phone_system_for(other_practice)
    client.force_login(manager)
    changelist = reverse("admin:calls_phonesystem_changelist")
    response = client.post(
        changelist, {"action": "rotate_secret", "_selected_action": [mine.pk, theirs.pk]}
    )
    assert response.status_code == 302
    rotated = PhoneSystem.objects.get(pk=mine.pk)
    assert rotated.previous_webhook_secret == mine.webhook_secret
    assert rotated.webhook_secret != mine.webhook_secret
    # Another practice's phone system is not even selectable.
    assert PhoneSystem.objects.get(pk=theirs.pk).webhook_secret == theirs.webhook_secret
    client.post(changelist, {"action": "end_rotation", "_selected_action": [mine.pk]})
    assert PhoneSystem.objects.get(pk=mine.pk).previous_webhook_secret == ""


def test_the_secret_cannot_be_typed_in(client, manager, practice):
    phone_system = phone_system_for(practice)
    client.force_login(manager)
    client.post(
        reverse("admin:calls_phonesystem_change", args=[phone_system.pk]),
        {"webhook_secret": "whsec_chosen", "twilio_auth_token": "tok", "callback_minutes": "30"},
    )
    saved = PhoneSystem.objects.get(pk=phone_system.pk)
    assert saved.webhook_secret == phone_system.webhook_secret
    assert (saved.twilio_auth_token, saved.callback_minutes) == ("tok", 30)


@pytest.mark.parametrize("role", ["front_desk", "clinician"])
def test_only_managers_open_the_phone_system(client, request, role, practice):
    phone_system = phone_system_for(practice)
    client.force_login(request.getfixturevalue(role))
    response = client.get(reverse("admin:calls_phonesystem_change", args=[phone_system.pk]))
    assert response.status_code == 302


def test_calls_are_read_only_and_their_views_audited(client, manager, practice, patient):
    call = CallFactory(practice=practice, patient=patient)
    client.force_login(manager)
    url = reverse("admin:calls_call_change", args=[call.pk])
    assert client.get(url).status_code == 200
    assert AuditEvent.objects.get(object_type="call", action="view").patient_id == patient.pk
    client.post(url, {"caller_name": "Changed"})
    call.refresh_from_db()
    assert call.caller_name == ""
    assert client.get(reverse("admin:calls_call_add")).status_code == 403
    assert client.get(reverse("admin:calls_call_changelist")).status_code == 200
