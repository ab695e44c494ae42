"""The patient's download page: nothing on GET, the records on POST, every download audited."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from core.models import AuditEvent
from records.services import download_token, records_request_fulfil, records_request_log

pytestmark = pytest.mark.django_db


@pytest.fixture
def fulfilled(patient, front_desk, manager):
    request = records_request_log(patient=patient, channel="phone", user=front_desk)
    return records_request_fulfil(records_request=request, user=manager)


def test_get_shows_the_page_without_patient_data(client, fulfilled):
    url = reverse("records:download", args=[download_token(fulfilled)])
    page = client.get(url)
    body = page.content.decode()
    assert page.status_code == 200
    assert "Your records from Maple Street Dental" in body and "Whitfield" not in body
    assert not AuditEvent.objects.filter(object_type="records_download").exists()


def test_post_downloads_the_bundle_and_audits_it(client, fulfilled):
    url = reverse("records:download", args=[download_token(fulfilled)])
    response = client.post(url)
    bundle = json.loads(response.content)
    assert response["Content-Type"] == "application/fhir+json"
    assert response["Cache-Control"] == "no-store"
    assert "attachment" in response["Content-Disposition"]
    assert bundle["entry"][0]["resource"]["name"][0]["family"] == "Whitfield"
    event = AuditEvent.objects.get(object_type="records_download")
    assert (event.patient_id, event.ip_address) == (fulfilled.patient_id, "127.0.0.1")


@pytest.mark.parametrize("token", ["forged:token:x", "a" * 3000, "%2e%2e%2f"])
def test_forged_links_get_a_friendly_page(client, fulfilled, token):
    response = client.post(reverse("records:download", args=[token]))
    assert response.status_code == 410
    assert "couldn't open this link" in response.content.decode()
    assert not AuditEvent.objects.filter(object_type="records_download").exists()
