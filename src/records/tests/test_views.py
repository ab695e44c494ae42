"""The patient's download page: nothing on GET, the records on POST, every download audited."""

from __future__ import annotations

import io
import json

import pytest
from django.urls import reverse
from pypdf import PdfReader

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
    assert 'name="format" value="pdf"' in body and 'name="format" value="fhir"' in body
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
    assert event.detail == {"format": "fhir-r4-bundle"}


def test_post_pdf_downloads_the_readable_summary_and_audits_it(client, fulfilled):
    url = reverse("records:download", args=[download_token(fulfilled)])
    response = client.post(url, {"format": "pdf"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"] == (
        f'attachment; filename="records-maple-{fulfilled.pk}.pdf"'
    )
    assert response.content.startswith(b"%PDF")
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "Dana Whitfield" in text
    event = AuditEvent.objects.get(object_type="records_download")
    assert (event.patient_id, event.detail) == (fulfilled.patient_id, {"format": "pdf-summary"})
    fulfilled.refresh_from_db()
    assert fulfilled.downloads == 1


@pytest.mark.parametrize("format", ["docx", "", "PDF", "pdf\x00"])
def test_an_unknown_format_is_refused_and_nothing_counted(client, fulfilled, format):
    url = reverse("records:download", args=[download_token(fulfilled)])
    response = client.post(url, {"format": format})
    assert response.status_code == 400
    assert "Choose the PDF summary or the FHIR file" in response.content.decode()
    assert not AuditEvent.objects.filter(object_type="records_download").exists()
    fulfilled.refresh_from_db()
    assert fulfilled.downloads == 0


@pytest.mark.parametrize("token", ["forged:token:x", "a" * 3000, "%2e%2e%2f"])
def test_forged_links_get_a_friendly_page(client, fulfilled, token):
    response = client.post(reverse("records:download", args=[token]))
    assert response.status_code == 410
    assert "couldn't open this link" in response.content.decode()
    assert not AuditEvent.objects.filter(object_type="records_download").exists()
