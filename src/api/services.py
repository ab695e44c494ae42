"""Writes for API keys: create (the secret is shown once), revoke, authenticate."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone

from api.models import ApiKey
from core.models import Practice
from core.services import audit_record

KEY_PREFIX = "rk_"
PREFIX_BYTES = 5  # 10 hex characters: public, only needs to be unique
SECRET_BYTES = 32  # 256 bits: a fast hash is enough, nobody brute-forces this
# rk_<10 hex>_<43 url-safe base64 characters>; anything else is refused before a query.
KEY_PATTERN = re.compile(r"rk_([0-9a-f]{10})_([A-Za-z0-9_-]{43})")
# Writing last_used_at on every call would make each read a write; once a minute is plenty.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class ApiKeyError(Exception):
    """A problem with an API key that can be shown to the person."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ApiKeyError("name: say what will use the key, e.g. 'PMS sync'.")
    if len(name) > 80 or not name.isprintable():
        raise ApiKeyError("name: plain text, at most 80 characters.")
    return name


def api_key_create(
    *, practice: Practice, name: str, user=None, actor_label: str = ""
) -> tuple[ApiKey, str]:
    """A new key for one practice; returns it with the plaintext, which is never stored."""
    name = _clean_name(name)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    for _attempt in range(5):
        prefix = secrets.token_hex(PREFIX_BYTES)
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.create(
                    practice=practice,
                    name=name,
                    prefix=prefix,
                    secret_hash=_digest(secret),
                    created_by=user,
                )
                audit_record(
                    action="create",
                    object_type="api_key",
                    object_id=api_key.pk,
                    practice=practice,
                    user=user,
                    actor_label=actor_label,
                    detail={"prefix": prefix, "name": name},
                )
        except IntegrityError:
            continue  # the same 40-bit prefix twice: draw another
        return api_key, f"{KEY_PREFIX}{prefix}_{secret}"
    raise ApiKeyError("could not draw a unique key prefix; try again.")


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, user=None, actor_label: str = "") -> ApiKey:
    """Stop a key working at once. The row stays, so audit rows still say whose it was."""
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if api_key.is_revoked:
        raise ApiKeyError(
            f"key {api_key.prefix} was already revoked on {api_key.revoked_at:%Y-%m-%d}."
        )
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    audit_record(
        action="update",
        object_type="api_key",
        object_id=api_key.pk,
        practice=api_key.practice,
        user=user,
        actor_label=actor_label,
        detail={"prefix": api_key.prefix, "revoked": True},
    )
    return api_key


def api_key_authenticate(raw: str, *, now: dt.datetime | None = None) -> ApiKey | None:
    """The live key behind ``rk_<prefix>_<secret>``, or ``None`` (malformed, unknown, wrong
    secret, revoked)."""
    match = KEY_PATTERN.fullmatch(raw or "")
    if match is None:
        return None
    prefix, secret = match.groups()
    api_key = (
        ApiKey.objects.select_related("practice__organisation")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .first()
    )
    if api_key is None or not hmac.compare_digest(api_key.secret_hash, _digest(secret)):
        return None
    now = now or timezone.now()
    if api_key.last_used_at is None or api_key.last_used_at <= now - LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key
