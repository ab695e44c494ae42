"""API keys: shown once, stored as a digest, refused when revoked, forged or malformed."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import time_machine

from api.models import ApiKey
from api.services import (
    ApiKeyError,
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
)
from core.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_a_new_key_is_shown_once_and_only_its_digest_is_stored(practice, manager):
    api_key, plaintext = api_key_create(practice=practice, name="PMS sync", user=manager)
    assert plaintext.startswith(f"rk_{api_key.prefix}_")
    secret = plaintext.split("_", 2)[2]
    assert len(secret) >= 43
    stored = ApiKey.objects.get()
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiKey.objects.values().get())
    assert (stored.practice, stored.created_by, stored.revoked_at) == (practice, manager, None)
    audit = AuditEvent.objects.get(object_type="api_key", action="create")
    assert (audit.actor, audit.practice) == (manager, practice)
    assert audit.detail == {"prefix": api_key.prefix, "name": "PMS sync"}
    assert secret not in str(audit.detail)


def test_the_key_authenticates_to_its_practice(practice, key):
    found = api_key_authenticate(key)
    assert found is not None and found.practice == practice


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),  # one character of the secret
        lambda k: k.replace("rk_", "rk_0", 1)[:-1],  # another prefix
        lambda k: k[:-2],  # truncated
        lambda k: k + "x",
        lambda k: k.upper(),
        lambda k: "",
        lambda k: "rk_",
        lambda k: k.replace("_", "\x00", 1),
        lambda k: k + "\x00",
        lambda k: " " + k,
        lambda k: "rk_" + "0" * 10 + "_" + "A" * 43,
    ],
)
def test_forged_and_malformed_keys_are_refused(key, mangle):
    assert api_key_authenticate(mangle(key)) is None


def test_a_revoked_key_stops_working_and_the_revocation_is_audited(practice, key, manager):
    api_key = api_key_authenticate(key)
    api_key_revoke(api_key=api_key, user=manager)
    assert api_key_authenticate(key) is None
    audit = AuditEvent.objects.get(object_type="api_key", action="update")
    assert (audit.actor, audit.detail) == (manager, {"prefix": api_key.prefix, "revoked": True})
    with pytest.raises(ApiKeyError, match="already revoked"):
        api_key_revoke(api_key=api_key, user=manager)


def test_last_used_is_written_at_most_once_a_minute(key):
    start = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        api_key_authenticate(key)
    assert ApiKey.objects.get().last_used_at == start
    with time_machine.travel(start + dt.timedelta(seconds=59), tick=False):
        api_key_authenticate(key)
    assert ApiKey.objects.get().last_used_at == start
    later = start + dt.timedelta(seconds=61)
    with time_machine.travel(later, tick=False):
        api_key_authenticate(key)
    assert ApiKey.objects.get().last_used_at == later


@pytest.mark.parametrize("name", ["", "   ", "x" * 81, "PMS\x00sync", "PMS\u202esync"])
def test_a_key_needs_a_plain_short_name(practice, name):
    with pytest.raises(ApiKeyError, match="name"):
        api_key_create(practice=practice, name=name)
    assert not ApiKey.objects.exists()


def test_command_line_keys_are_audited_as_the_command_line(practice):
    api_key_create(practice=practice, name="Script", actor_label="command line")
    audit = AuditEvent.objects.get(object_type="api_key")
    assert (audit.actor, audit.actor_label) == (None, "command line")


def test_keys_are_scoped_like_every_practice_row(practice, other_practice, manager, key, other_key):
    assert list(ApiKey.objects.for_user(manager).values_list("practice", flat=True)) == [
        practice.pk
    ]
