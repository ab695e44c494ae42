"""Records requests over the API: log, list, read; keys and sessions; every read audited."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from api.models import ApiKey
from api.services import api_key_create, api_key_revoke
from api.tests.conftest import bearer, log_request
from conftest import OTHER_CANARY
from core.models import AuditEvent
from messaging.models import OutboundMessage
from records.models import RecordsRequest

pytestmark = pytest.mark.django_db

LIST = reverse("api:records-request-list")
CREATE = reverse("api:records-request-create")


def detail_url(pk) -> str:
    return reverse("api:records-request-detail", args=[pk])


def _create(client, headers=None, **body):
    return client.post(CREATE, body, content_type="application/json", headers=headers or {})


def test_an_integration_logs_a_request_and_reads_it_back(client, key, patient):
    response = _create(
        client,
        bearer(key),
        patient_id=patient.pk,
        channel="new_practice",
        send_copy_to="records@newpractice.example",
        received_at="2026-03-02T10:00:00-05:00",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    stored = RecordsRequest.objects.get()
    assert body["id"] == stored.pk and body["patient_id"] == patient.pk
    assert body["practice"] == "maple" and body["channel"] == "new_practice"
    assert body["status"] == "received" and body["fee"] == "0.00"
    assert body["received_at"].startswith("2026-03-02T15:00:00")
    assert body["due_on"] == body["deadline"] == "2026-04-01"
    assert body["extended_to"] is None and body["rule_region"] == "US"
    assert body["acknowledged_at"] is not None and body["downloads"] == 0
    assert stored.logged_by is None and stored.send_to_email == patient.email
    assert OutboundMessage.objects.filter(
        kind="records_acknowledgement", patient=patient, status="queued"
    ).exists()
    assert patient.first_name not in response.content.decode()

    listing = client.get(LIST, headers=bearer(key))
    assert listing.status_code == 200
    assert listing.json()["count"] == 1
    assert listing.json()["items"] == [body]
    assert patient.last_name not in listing.content.decode()

    detail = client.get(detail_url(stored.pk), headers=bearer(key))
    assert detail.status_code == 200 and detail.json() == body


def test_audit_rows_name_the_key(client, key, patient):
    prefix = ApiKey.objects.get().prefix
    created = _create(client, bearer(key), patient_id=patient.pk, channel="phone").json()
    create = AuditEvent.objects.get(object_type="records_request", action="create")
    assert (create.actor, create.actor_label) == (None, f"api key {prefix}")
    assert create.patient_id == patient.pk

    client.get(detail_url(created["id"]), headers=bearer(key))
    view = AuditEvent.objects.get(object_type="records_request", action="view")
    assert (view.actor_label, view.patient_id, view.practice) == (
        f"api key {prefix}",
        patient.pk,
        patient.practice,
    )
    assert view.ip_address == "127.0.0.1"

    client.get(LIST, headers=bearer(key))
    listed = AuditEvent.objects.get(object_type="records_request", action="list")
    assert listed.actor_label == f"api key {prefix}"
    assert listed.detail["ids"] == [created["id"]]
    assert listed.detail["patient_ids"] == [patient.pk]
    # No audit row without someone named: a user or the key.
    assert not AuditEvent.objects.filter(actor__isnull=True, actor_label="").exists()


def test_each_read_writes_exactly_one_audit_row(client, key, patient):
    requests = [log_request(patient) for _ in range(3)]
    before = AuditEvent.objects.count()
    response = client.get(LIST, {"limit": 2}, headers=bearer(key))
    assert AuditEvent.objects.count() == before + 1
    shown = [item["id"] for item in response.json()["items"]]
    assert AuditEvent.objects.latest("id").detail["ids"] == shown
    client.get(detail_url(requests[0].pk), headers=bearer(key))
    assert AuditEvent.objects.count() == before + 2


def test_the_list_filters_by_status_and_pages_at_most_100(client, key, patient, manager):
    from records.services import records_request_fulfil

    open_one = log_request(patient)
    done = records_request_fulfil(records_request=log_request(patient), user=manager)
    received = client.get(LIST, {"status": "received"}, headers=bearer(key)).json()
    assert [item["id"] for item in received["items"]] == [open_one.pk]
    fulfilled = client.get(LIST, {"status": "fulfilled"}, headers=bearer(key)).json()
    assert [item["id"] for item in fulfilled["items"]] == [done.pk]
    assert fulfilled["items"][0]["fulfilled_at"] is not None
    for params in ({"limit": 101}, {"limit": 0}, {"offset": -1}, {"status": "lost"}):
        response = client.get(LIST, params, headers=bearer(key))
        assert response.status_code == 422, params
        assert "detail" in response.json()
    page = client.get(LIST, {"limit": 1, "offset": 1}, headers=bearer(key)).json()
    assert page["count"] == 2 and len(page["items"]) == 1


def test_the_list_costs_the_same_queries_for_one_row_or_many(
    client, key, patient, django_assert_max_num_queries
):
    for _ in range(20):
        log_request(patient)
    # key lookup (+ last_used), count, page, audit insert (+ savepoints, the chain's last
    # link, and on PostgreSQL the chain's lock)
    with django_assert_max_num_queries(9):
        response = client.get(LIST, headers=bearer(key))
    assert len(response.json()["items"]) == 20


# --- Authentication ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer rk_nonsense"},
        {"Authorization": "Bearer rk_0123456789_" + "A" * 43},
        {"Authorization": "Token abc"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_anonymous_and_unknown_keys_get_401_json(client, patient, headers):
    record = log_request(patient)
    for method, url in (
        (client.get, LIST),
        (client.get, detail_url(record.pk)),
        (client.post, CREATE),
    ):
        response = method(url, headers=headers)
        assert response.status_code == 401, (url, headers)
        assert response["Content-Type"].startswith("application/json")
        assert "detail" in response.json()
    assert not AuditEvent.objects.filter(action__in=["view", "list"]).exists()


def test_a_revoked_key_gets_401(client, key, patient):
    assert client.get(LIST, headers=bearer(key)).status_code == 200
    api_key_revoke(api_key=ApiKey.objects.get())
    response = client.get(LIST, headers=bearer(key))
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked API key."}
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert _create(client, bearer(key), patient_id=patient.pk, channel="phone").status_code == 401
    assert not RecordsRequest.objects.exists()


def test_a_forged_secret_for_a_real_prefix_gets_401(client, key):
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert client.get(LIST, headers=bearer(forged)).status_code == 401


def test_a_bad_key_does_not_fall_back_to_the_session(client, manager, patient):
    client.force_login(manager)
    assert client.get(LIST).status_code == 200
    assert client.get(LIST, headers=bearer("rk_nonsense")).status_code == 401


def test_a_key_acts_as_the_key_even_with_a_session_cookie(client, outsider, key, patient):
    log_request(patient)
    client.force_login(outsider)  # another practice's manager, same browser
    listing = client.get(LIST, headers=bearer(key)).json()
    assert listing["count"] == 1 and listing["items"][0]["practice"] == "maple"
    audit = AuditEvent.objects.get(action="list")
    assert audit.actor is None and audit.actor_label.startswith("api key ")


# --- Tenancy ----------------------------------------------------------------------------


def test_a_key_cannot_reach_another_practices_patients_or_requests(
    client, key, other_patient, sister_patient, patient
):
    theirs = [log_request(other_patient), log_request(sister_patient)]
    mine = log_request(patient)
    for foreign_patient in (other_patient, sister_patient):
        response = _create(client, bearer(key), patient_id=foreign_patient.pk, channel="phone")
        assert response.status_code == 404
        assert response.json() == {"detail": "Not Found"}
        assert OTHER_CANARY not in response.content.decode()
    missing = _create(client, bearer(key), patient_id=10**9, channel="phone")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
    for record in theirs:
        response = client.get(detail_url(record.pk), headers=bearer(key))
        assert response.status_code == 404
        assert OTHER_CANARY not in response.content.decode()
        assert response.content == client.get(detail_url(10**9), headers=bearer(key)).content
    listing = client.get(LIST, headers=bearer(key))
    assert [item["id"] for item in listing.json()["items"]] == [mine.pk]
    assert OTHER_CANARY not in listing.content.decode() and "canary" not in listing.content.decode()
    assert RecordsRequest.objects.count() == 3
    foreign_ids = {other_patient.pk, sister_patient.pk}
    assert not AuditEvent.objects.filter(
        action__in=["view", "list"], patient_id__in=foreign_ids
    ).exists()


def test_session_users_see_their_own_practices_only(
    client, manager, director, outsider, patient, sister_patient, other_patient
):
    mine, sister, theirs = (
        log_request(patient),
        log_request(sister_patient),
        log_request(other_patient),
    )

    def ids(user):
        client.force_login(user)
        return {item["id"] for item in client.get(LIST).json()["items"]}

    assert ids(manager) == {mine.pk}
    assert ids(director) == {mine.pk, sister.pk}  # a group admin spans the organisation
    assert ids(outsider) == {theirs.pk}
    client.force_login(manager)
    for record in (sister, theirs):
        response = client.get(detail_url(record.pk))
        assert response.status_code == 404
        assert OTHER_CANARY not in response.content.decode()
    assert client.get(detail_url(mine.pk)).status_code == 200
    view = AuditEvent.objects.get(action="view", object_type="records_request")
    assert (view.actor, view.patient_id) == (manager, patient.pk)


def test_a_user_with_no_practice_sees_nothing(client, django_user_model, patient):
    log_request(patient)
    loner = django_user_model.objects.create_user("loner", password="x" * 12)
    client.force_login(loner)
    assert client.get(LIST).json() == {"items": [], "count": 0}
    assert _create(client, patient_id=patient.pk, channel="phone").status_code == 404


def test_session_writes_need_the_csrf_token(front_desk, patient):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(front_desk)
    refused = _create(browser, patient_id=patient.pk, channel="in_person")
    assert refused.status_code == 403
    assert "detail" in refused.json()
    assert not RecordsRequest.objects.exists()
    token = "a" * 32
    browser.cookies["csrftoken"] = token
    accepted = _create(browser, {"X-CSRFToken": token}, patient_id=patient.pk, channel="in_person")
    assert accepted.status_code == 201
    stored = RecordsRequest.objects.get()
    assert stored.logged_by == front_desk
    create = AuditEvent.objects.get(object_type="records_request", action="create")
    assert create.actor == front_desk
    # Reads are safe methods: no token needed.
    assert browser.get(LIST).status_code == 200


def test_keys_do_not_need_a_csrf_token(key, patient):
    integration = Client(enforce_csrf_checks=True)
    response = _create(integration, bearer(key), patient_id=patient.pk, channel="phone")
    assert response.status_code == 201


def test_a_key_for_a_sister_practice_is_a_different_tenant(client, sister_practice, patient):
    sister_key = api_key_create(practice=sister_practice, name="Harbor sync")[1]
    record = log_request(patient)
    assert client.get(detail_url(record.pk), headers=bearer(sister_key)).status_code == 404


def test_received_at_defaults_to_now_and_keeps_the_offset_given(client, key, patient):
    before = dt.datetime.now(dt.UTC)
    body = _create(client, bearer(key), patient_id=patient.pk, channel="letter").json()
    assert dt.datetime.fromisoformat(body["received_at"]) >= before.replace(microsecond=0)
