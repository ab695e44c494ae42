"""Staff pages: the front desk logs a request, managers extend, charge lawfully and fulfil."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.models import AuditEvent
from messaging.models import OutboundMessage
from records.models import RecordsRequest

pytestmark = pytest.mark.django_db


def _log(client, patient, **data):
    form = {"channel": "phone", "send_to_email": patient.email, **data}
    return client.post(reverse("records:request-new", args=[patient.pk]), form)


def test_front_desk_logs_a_request_that_is_acknowledged_and_listed(client, front_desk, patient):
    client.force_login(front_desk)
    form = client.get(reverse("records:request-new", args=[patient.pk])).content.decode()
    assert "HIPAA right of access" in form and patient.email in form
    response = _log(client, patient, send_copy_to="records@newpractice.example")
    request = RecordsRequest.objects.get()
    assert response["Location"] == reverse("records:request-detail", args=[request.pk])
    assert OutboundMessage.objects.filter(kind="records_acknowledgement").exists()
    listing = client.get(reverse("records:request-list")).content.decode()
    assert "Whitfield" in listing and "30 days left" in listing
    detail = client.get(reverse("records:request-detail", args=[request.pk])).content.decode()
    assert "Send the records" not in detail  # fulfilling is for managers
    assert AuditEvent.objects.filter(object_type="records_request", action="view").exists()


def test_bad_input_is_explained_and_nothing_stored(client, front_desk, patient):
    client.force_login(front_desk)
    response = _log(client, patient, send_to_email="nobody@")
    assert response.status_code == 400
    assert "not a valid email" in response.content.decode()
    assert not RecordsRequest.objects.exists()


def test_only_managers_fulfil(client, front_desk, manager, patient):
    client.force_login(front_desk)
    _log(client, patient)
    request = RecordsRequest.objects.get()
    refused = client.post(reverse("records:request-fulfil", args=[request.pk]))
    assert refused.status_code == 403 and "Only a manager" in refused.content.decode()
    request.refresh_from_db()
    assert request.status == "received"
    client.force_login(manager)
    client.post(reverse("records:request-fulfil", args=[request.pk]))
    request.refresh_from_db()
    assert request.status == "fulfilled"
    assert OutboundMessage.objects.filter(kind="records_ready").count() == 1
    listing = client.get(reverse("records:request-list")).content.decode()
    assert 'id="median-hours"' in listing


def test_an_unlawful_fee_is_refused_on_the_page(client, manager, patient):
    client.force_login(manager)
    _log(client, patient)
    request = RecordsRequest.objects.get()
    response = client.post(reverse("records:request-fee", args=[request.pk]), {"fee": "25"})
    assert response.status_code == 400
    assert "itemised cost" in response.content.decode()
    request.refresh_from_db()
    assert request.fee == 0
