"""Every API operation × every caller × another practice's objects: 404 and no canary.

``CASES`` says how to call each named API route against a foreign object;
``test_every_api_route_is_in_the_tenancy_matrix`` fails when an operation is missing here.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from api.services import api_key_create
from api.tests.conftest import bearer, log_request
from conftest import OTHER_CANARY
from core.models import AuditEvent
from records.models import RecordsRequest


def _create(client, headers, foreign):
    return client.post(
        reverse("api:records-request-create"),
        {"patient_id": foreign["patient"].pk, "channel": "phone"},
        content_type="application/json",
        headers=headers,
    )


def _detail(client, headers, foreign):
    return client.get(
        reverse("api:records-request-detail", args=[foreign["request"].pk]), headers=headers
    )


def _list(client, headers, foreign):
    return client.get(reverse("api:records-request-list"), headers=headers)


# route name -> (call, expected status when aimed at another practice's object)
CASES = {
    "api:records-request-create": (_create, 404),
    "api:records-request-detail": (_detail, 404),
    "api:records-request-list": (_list, 200),
}
CALLERS = ["key", "front_desk", "clinician", "manager", "director"]


@pytest.mark.django_db
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("foreign_patient", ["other_patient", "sister_patient"])
def test_no_caller_reaches_another_practices_objects(
    client, request, caller, foreign_patient, practice, patient
):
    if caller == "director" and foreign_patient == "sister_patient":
        pytest.skip("a group admin may see every practice of the organisation")
    headers = {}
    if caller == "key":
        headers = bearer(api_key_create(practice=practice, name="PMS sync")[1])
    else:
        client.force_login(request.getfixturevalue(caller))
    theirs = request.getfixturevalue(foreign_patient)
    foreign = {"patient": theirs, "request": log_request(theirs)}
    log_request(patient)
    before = RecordsRequest.objects.count()
    for name, (call, expected) in CASES.items():
        response = call(client, headers, foreign)
        assert response.status_code == expected, name
        body = response.content.decode()
        assert OTHER_CANARY not in body, name
        if expected == 404:
            assert response.json() == {"detail": "Not Found"}, name
        else:
            shown = {item["id"] for item in response.json()["items"]}
            assert foreign["request"].pk not in shown and shown, name
    assert RecordsRequest.objects.count() == before
    assert not AuditEvent.objects.filter(action__in=["view", "list"], patient_id=theirs.pk).exists()
    for row in AuditEvent.objects.filter(action="list"):
        assert foreign["request"].pk not in row.detail["ids"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(CASES))
def test_anonymous_gets_401_on_every_api_route(client, name, patient):
    foreign = {"patient": patient, "request": log_request(patient)}
    call, _ = CASES[name]
    response = call(client, {}, foreign)
    assert response.status_code == 401
    assert response.json()["detail"]
    assert "Whitfield" not in response.content.decode()
