"""API keys and helpers for calling the API the way an integration does."""

from __future__ import annotations

import pytest

from api.services import api_key_create
from records.services import records_request_log


@pytest.fixture
def key(practice):
    """The plaintext of a live key for Maple Street Dental."""
    return api_key_create(practice=practice, name="PMS sync")[1]


@pytest.fixture
def other_key(other_practice):
    return api_key_create(practice=other_practice, name="Canary sync")[1]


def bearer(plaintext: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plaintext}"}


def log_request(patient, **fields):
    """A records request logged at the desk, outside the API."""
    return records_request_log(
        patient=patient, channel=fields.pop("channel", "phone"), user=None, **fields
    )
