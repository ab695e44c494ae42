"""Bad input gets a 4xx JSON ``{"detail": ...}``, never a 500, and stores nothing.

Runs on SQLite and PostgreSQL alike: NUL bytes pass SQLite but break PostgreSQL
(TRUST.md F8), so they must be refused before the database.
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from api.tests.conftest import bearer, log_request
from records.models import RecordsRequest

pytestmark = pytest.mark.django_db

CREATE = reverse("api:records-request-create")
LIST = reverse("api:records-request-list")


def _post_raw(client, key, raw: str | bytes, content_type="application/json"):
    return client.post(CREATE, raw, content_type=content_type, headers=bearer(key))


def _assert_refused(response, *codes):
    assert response.status_code in codes, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()
    assert not RecordsRequest.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("send_to_email", "a\x00@example.com"),
        ("send_copy_to", "copy@example.com\x00"),
        ("representative_name", "Mum\x00"),
        ("representative_relation", "\x00"),
        ("channel", "phone\x00"),
        ("received_at", "2026-03-02T10:00:00\x00-05:00"),
    ],
)
def test_nul_bytes_are_refused_in_every_string(client, key, patient, field, value):
    body = {"patient_id": patient.pk, "channel": "phone", field: value}
    _assert_refused(_post_raw(client, key, json.dumps(body)), 400, 422)


def test_nul_and_lone_surrogates_in_raw_json_are_refused(client, key, patient):
    for escaped in ("\\u0000", "\\ud800", "Mum\\udfff"):
        raw = (
            f'{{"patient_id": {patient.pk}, "channel": "phone", '
            f'"representative_name": "{escaped}"}}'
        )
        _assert_refused(_post_raw(client, key, raw), 422)


@pytest.mark.parametrize(
    ("field", "length"),
    [
        ("send_to_email", 255),
        ("send_copy_to", 10_000),
        ("representative_name", 121),
        ("representative_relation", 61),
        ("representative_name", 1_000_000),
    ],
)
def test_oversized_strings_are_refused(client, key, patient, field, length):
    body = {"patient_id": patient.pk, "channel": "phone", field: "x" * length}
    _assert_refused(_post_raw(client, key, json.dumps(body)), 413, 422)


@pytest.mark.parametrize(
    "body",
    [
        {"channel": "phone"},
        {"patient_id": "1 OR 1=1", "channel": "phone"},
        {"patient_id": 0, "channel": "phone"},
        {"patient_id": -1, "channel": "phone"},
        {"patient_id": 2**63, "channel": "phone"},
        {"patient_id": 10**400, "channel": "phone"},
        {"patient_id": [1, 2], "channel": "phone"},
        {"patient_id": 1, "channel": "carrier pigeon"},
        {"patient_id": 1, "channel": ["phone"]},
        {"patient_id": 1, "channel": "phone", "received_at": "2026-03-02T10:00:00"},
        {"patient_id": 1, "channel": "phone", "received_at": "2026-02-30T10:00:00Z"},
        {"patient_id": 1, "channel": "phone", "received_at": "0001-01-01T00:00:00+14:00"},
        {"patient_id": 1, "channel": "phone", "received_at": "1999-12-31T00:00:00Z"},
        {"patient_id": 1, "channel": "phone", "practice": "canary"},
        {"patient_id": 1, "channel": "phone", "send_to_email": {"$ne": ""}},
    ],
)
def test_malformed_bodies_get_422(client, key, patient, body):
    if body.get("patient_id") == 1:
        body["patient_id"] = patient.pk
    _assert_refused(_post_raw(client, key, json.dumps(body)), 422)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"send_to_email": "nobody@"}, "not a valid email"),
        ({"send_copy_to": "<script>@x"}, "not a valid email"),
        ({"send_to_email": "a@b.example\r\nBcc: x@evil.example"}, "not a valid email"),
        ({"received_at": "2999-01-01T00:00:00Z"}, "future"),
    ],
)
def test_what_the_records_service_refuses_is_a_400_with_its_reason(
    client, key, patient, fields, message
):
    body = {"patient_id": patient.pk, "channel": "email", **fields}
    response = _post_raw(client, key, json.dumps(body))
    _assert_refused(response, 400)
    assert message in response.json()["detail"]


def test_a_patient_with_no_email_needs_an_address(client, key, patient):
    patient.email = ""
    patient.save()
    response = _post_raw(client, key, json.dumps({"patient_id": patient.pk, "channel": "phone"}))
    _assert_refused(response, 400)
    assert "where should the records go" in response.json()["detail"]


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        ("{not json", "application/json"),
        ("", "application/json"),
        ("[]", "application/json"),
        ('"text"', "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        ("patient_id=1&channel=phone", "application/x-www-form-urlencoded"),
    ],
)
def test_unreadable_bodies_get_a_4xx(client, key, raw, content_type):
    _assert_refused(_post_raw(client, key, raw, content_type), 400, 422)


def test_a_body_over_the_upload_limit_gets_413(client, key, patient, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = {"patient_id": patient.pk, "channel": "phone", "representative_name": "x" * 2000}
    _assert_refused(_post_raw(client, key, json.dumps(body)), 413)


@pytest.mark.parametrize("pk", ["0", "-1", "abc", str(2**63), "9e999", "1%00", "1 OR 1=1"])
def test_hostile_ids_in_the_path_get_a_4xx(client, key, patient, pk):
    log_request(patient)
    response = client.get(f"/api/v1/records-requests/{pk}", headers=bearer(key))
    assert response.status_code in (404, 422), (pk, response.status_code)
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "query",
    ["status=received%00", "limit=1e3", "limit=-5", "offset=99999999999999999999", "status=x"],
)
def test_hostile_query_strings_get_422(client, key, query):
    response = client.get(f"{LIST}?{query}", headers=bearer(key))
    assert response.status_code == 422, query
    assert "detail" in response.json()


def test_a_nul_in_the_bearer_token_is_a_401_not_a_500(client, patient):
    response = client.get(LIST, headers={"Authorization": "Bearer rk_\x00" + "a" * 60})
    assert response.status_code == 401


def test_an_unexpected_failure_is_a_json_500_and_is_logged(
    client, key, patient, monkeypatch, caplog
):
    def broken(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("api.records.records_request_log", broken)
    body = {"patient_id": patient.pk, "channel": "phone", "representative_name": "Mum"}
    response = _post_raw(client, key, json.dumps(body))
    assert response.status_code == 500
    assert response.json() == {"detail": "Server error."}
    assert "Internal Server Error: POST /api/v1/records-requests" in caplog.text
    assert "Mum" not in caplog.text  # the body is never logged
