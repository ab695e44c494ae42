"""The admin lists a manager's own keys, never the secret, and revokes them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from api.models import ApiKey
from api.services import api_key_authenticate, api_key_create
from conftest import OTHER_CANARY

pytestmark = pytest.mark.django_db


def test_managers_see_their_keys_without_secrets_and_cannot_add_or_delete(
    client, manager, practice, other_practice
):
    api_key, plaintext = api_key_create(practice=practice, name="PMS sync")
    api_key_create(practice=other_practice, name=f"{OTHER_CANARY} sync")
    client.force_login(manager)
    listing = client.get(reverse("admin:api_apikey_changelist")).content.decode()
    assert api_key.prefix in listing and OTHER_CANARY not in listing
    page = client.get(reverse("admin:api_apikey_change", args=[api_key.pk])).content.decode()
    secret = plaintext.split("_", 2)[2]
    for hidden in (secret, api_key.secret_hash):
        assert hidden not in listing and hidden not in page
    assert client.get(reverse("admin:api_apikey_add")).status_code == 403
    assert client.get(reverse("admin:api_apikey_delete", args=[api_key.pk])).status_code == 403


def test_revoke_is_an_admin_action_limited_to_own_keys(client, manager, practice, other_practice):
    mine = api_key_create(practice=practice, name="PMS sync")[1]
    theirs_key, theirs = api_key_create(practice=other_practice, name="Other sync")
    client.force_login(manager)
    mine_key = ApiKey.objects.get(practice=practice)
    response = client.post(
        reverse("admin:api_apikey_changelist"),
        {"action": "revoke", "_selected_action": [mine_key.pk, theirs_key.pk]},
    )
    assert response.status_code == 302
    assert api_key_authenticate(mine) is None
    assert api_key_authenticate(theirs) is not None


@pytest.mark.parametrize("role", ["front_desk", "clinician"])
def test_staff_without_a_managing_role_cannot_open_keys(client, request, role, key):
    client.force_login(request.getfixturevalue(role))
    response = client.get(reverse("admin:api_apikey_changelist"))
    assert response.status_code == 302
