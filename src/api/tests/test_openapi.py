"""The OpenAPI description loads without signing in and documents every error we answer."""

from __future__ import annotations

import pytest
from django.urls import get_resolver, reverse

from core.tests.test_tenancy import API_ROUTES, PUBLIC, _names

pytestmark = pytest.mark.django_db

OPERATIONS = {
    ("post", "/api/v1/records-requests"),
    ("get", "/api/v1/records-requests"),
    ("get", "/api/v1/records-requests/{id}"),
}


def _schema(client):
    response = client.get(reverse("api:openapi-json"))
    assert response.status_code == 200
    return response.json()


def test_openapi_lists_the_operations_with_their_error_answers(client):
    schema = _schema(client)
    assert schema["info"]["title"] == "Rapport API"
    found = {(m, path) for path, ops in schema["paths"].items() for m in ops}
    assert found == OPERATIONS
    for method, path in OPERATIONS:
        responses = schema["paths"][path][method]["responses"]
        assert {"400", "401", "404", "422"} <= set(responses), (method, path)
        assert schema["paths"][path][method]["security"]  # no anonymous operation
    post = schema["paths"]["/api/v1/records-requests"]["post"]["responses"]
    assert {"201", "403", "413"} <= set(post)
    schemes = schema["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}


def test_openapi_is_the_only_public_api_route_and_there_is_no_cdn_docs_page(client):
    assert client.get("/api/v1/docs").status_code == 404
    api_names = {n for n in _names(get_resolver().url_patterns) if n.startswith("api:")}
    assert api_names & PUBLIC == {"api:openapi-json", "api:api-root"}
    assert client.get("/api/v1/").status_code == 404


def test_every_api_route_is_in_the_tenancy_matrix():
    """A new operation must be added to API_ROUTES and to the cases in test_api_tenancy."""
    from api.tests.test_api_tenancy import CASES

    api_names = {n for n in _names(get_resolver().url_patterns) if n.startswith("api:")}
    assert api_names - PUBLIC == API_ROUTES
    assert set(CASES) == API_ROUTES


def test_the_input_schema_refuses_unknown_fields_and_bounds_strings(client):
    body = _schema(client)["components"]["schemas"]["RecordsRequestIn"]
    assert body["additionalProperties"] is False
    assert body["required"] == ["patient_id", "channel"]
    from records.models import RecordsRequest

    assert body["properties"]["channel"]["enum"] == RecordsRequest.Channel.values
    for name in ("send_to_email", "send_copy_to", "representative_name"):
        assert body["properties"][name]["anyOf"][0]["maxLength"] <= 254
