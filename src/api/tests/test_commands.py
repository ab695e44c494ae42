"""``rapport apikey create|list|revoke``: the key printed once, never listed, revoked at once."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from api.models import ApiKey
from api.services import api_key_authenticate
from core.models import AuditEvent

pytestmark = pytest.mark.django_db


def _run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("apikey", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_prints_the_key_once_with_a_warning(practice):
    out, err = _run("create", "--practice", "maple", "--name", "PMS sync")
    plaintext = out.strip()
    assert plaintext.startswith("rk_") and "\n" not in plaintext
    assert "will not be shown again" in err and plaintext not in err
    api_key = api_key_authenticate(plaintext)
    assert api_key is not None and (api_key.practice, api_key.name) == (practice, "PMS sync")
    audit = AuditEvent.objects.get(object_type="api_key", action="create")
    assert audit.actor_label == "command line"
    assert plaintext.split("_", 2)[2] not in str(audit.detail)


def test_list_shows_keys_but_never_a_secret(practice, sister_practice):
    first, _ = _run("create", "--practice", "maple", "--name", "PMS sync")
    _run("create", "--practice", "harbor", "--name", "Harbor phones")
    out, _ = _run("list", "--practice", "maple")
    api_key = ApiKey.objects.get(practice=practice)
    assert api_key.prefix in out and "PMS sync" in out and "never" in out
    assert "Harbor phones" not in out
    assert first.strip().split("_", 2)[2] not in out and api_key.secret_hash not in out
    assert out.strip().splitlines()[-1] == "smiles-group/maple: 1 API key(s), 1 active"


def test_revoke_stops_the_key_and_refuses_twice(practice):
    plaintext = _run("create", "--practice", "maple", "--name", "PMS sync")[0].strip()
    prefix = ApiKey.objects.get().prefix
    out, _ = _run("revoke", prefix)
    assert f"revoked API key {prefix}" in out
    assert api_key_authenticate(plaintext) is None
    assert "revoked" in _run("list", "--practice", "maple")[0]
    with pytest.raises(CommandError, match="already revoked"):
        _run("revoke", prefix)
    assert AuditEvent.objects.filter(object_type="api_key", action="update").count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "--practice", "nowhere", "--name", "x"), "no such practice"),
        (("create", "--practice", "maple", "--name", "  "), "name"),
        (("create", "--practice", "maple", "--name", "x" * 81), "name"),
        (("revoke", "0123456789"), "no API key has that prefix"),
        (("list", "--practice", "nowhere"), "no such practice"),
    ],
)
def test_bad_input_is_a_clean_error(practice, args, message):
    with pytest.raises(CommandError, match=message):
        _run(*args)
    assert not ApiKey.objects.exists()


def test_create_needs_a_practice_when_there_are_several(practice, sister_practice):
    with pytest.raises(CommandError, match="several practices"):
        _run("create", "--name", "x")
