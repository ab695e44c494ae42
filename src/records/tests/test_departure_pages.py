"""Departure pages: anyone at the practice records a departure; the departures page shows
why patients left, the value lost, and who came back."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from loyalty.models import CheckIn
from messaging.models import OutboundMessage
from patients.models import Patient
from patients.tests.factories import PatientFactory
from records.departures import patient_depart, patient_return

pytestmark = pytest.mark.django_db


def _depart_url(patient):
    return reverse("records:patient-depart", args=[patient.pk])


def _post(client, patient, **data):
    form = {"reason": "moved", "note": "", "months": "6", "send_farewell": "on", **data}
    return client.post(_depart_url(patient), form)


def test_the_form_offers_the_reasons_the_staff_and_a_letter_preview(
    client, front_desk, clinician, patient
):
    client.force_login(front_desk)
    page = client.get(_depart_url(patient)).content.decode()
    for label in ("Moved", "Equipment or technology", "A lab, specialist or other third party"):
        assert label in page
    assert f'<option value="{clinician.pk}"' in page
    assert 'name="send_farewell" checked' in page and 'value="6"' in page
    assert 'id="letter-preview"' in page and "Dear Dana" in page
    assert "[the link to the one-question exit survey]" in page
    assert AuditEvent.objects.filter(
        object_type="patient", action="view", patient_id=patient.pk
    ).exists()


def test_the_front_desk_records_a_departure(client, front_desk, clinician, patient):
    client.force_login(front_desk)
    response = _post(client, patient, reason="equipment", owner=clinician.pk, note="Dated kit")
    assert response.status_code == 302
    assert response["Location"] == reverse("patients:patient-detail", args=[patient.pk])
    patient.refresh_from_db()
    assert (patient.status, patient.departure_reason) == ("departed", "equipment")
    assert patient.departure_note == "Dated kit"
    check_in = CheckIn.objects.get(patient=patient)
    assert check_in.owner == clinician and check_in.kind == "winback"
    assert OutboundMessage.objects.filter(kind="farewell_letter").count() == 1
    detail = client.get(response["Location"]).content.decode()
    assert "recorded as departed" in detail
    assert "Departed on " in detail
    assert "Equipment or technology" in detail and "Welcome back" in detail


def test_months_and_the_letter_checkbox_are_honoured(client, clinician, patient):
    client.force_login(clinician)
    data = {"reason": "cost", "months": "3", "owner": clinician.pk}  # checkbox left unticked
    response = client.post(_depart_url(patient), data)
    assert response.status_code == 302
    check_in = CheckIn.objects.get(patient=patient)
    departed_on = Patient.objects.get(pk=patient.pk).departed_at.astimezone(patient.practice.zone)
    assert check_in.due_on == departed_on.date() + dt.timedelta(days=91)
    assert not OutboundMessage.objects.exists()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"reason": ""}, "Reason: choose why"),
        ({"reason": "whim"}, "Reason: choose why"),
        ({"months": "0"}, "1 to 24 months"),
        ({"months": "six"}, "1 to 24 months"),
        ({"months": "60"}, "1 to 24 months"),
        ({"owner": "999999"}, "choose who reaches out"),
        ({"note": "x" * 600}, "Note: plain text"),
    ],
)
def test_bad_input_is_explained_with_400_and_nothing_stored(
    client, front_desk, clinician, patient, data, message
):
    client.force_login(front_desk)
    response = _post(client, patient, **{"owner": clinician.pk, **data})
    assert response.status_code == 400
    assert message in response.content.decode()
    patient.refresh_from_db()
    assert patient.status == "active" and patient.departure_reason == ""
    assert not CheckIn.objects.exists() and not OutboundMessage.objects.exists()
    assert not AuditEvent.objects.filter(action="update").exists()


def test_departing_twice_is_a_400(client, clinician, patient):
    client.force_login(clinician)
    _post(client, patient)
    response = _post(client, patient, reason="cost")
    assert response.status_code == 400
    assert "already recorded as departed" in response.content.decode()
    assert CheckIn.objects.count() == 1


def test_welcome_back(client, front_desk, clinician, patient):
    patient_depart(patient=patient, reason="insurance", user=clinician)
    client.force_login(front_desk)
    response = client.post(reverse("records:patient-return", args=[patient.pk]))
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.status == "active" and patient.returned_at is not None
    assert CheckIn.objects.get().outcome == "returned"
    detail = client.get(response["Location"]).content.decode()
    assert "Came back on" in detail and "Record a departure" in detail


def test_welcoming_back_an_active_patient_is_a_400(client, front_desk, patient):
    client.force_login(front_desk)
    response = client.post(reverse("records:patient-return", args=[patient.pk]))
    assert response.status_code == 400
    assert "not recorded as departed" in response.content.decode()


def test_return_is_post_only(client, front_desk, patient):
    client.force_login(front_desk)
    assert client.get(reverse("records:patient-return", args=[patient.pk])).status_code == 405


@pytest.fixture
def departures(practice, clinician, manager):
    now = timezone.now()
    leavers = {}
    for name, reason, value, days_ago in (
        ("Ava", "moved", "1200", 20),
        ("Ben", "moved", "800", 40),
        ("Cy", "third_party", "5000", 60),
        ("Dee", "cost", "300", 200),
    ):
        patient = PatientFactory(practice=practice, first_name=name, lifetime_value=Decimal(value))
        patient_depart(
            patient=patient,
            reason=reason,
            user=manager,
            winback_owner=clinician,
            send_farewell=False,
            now=now - dt.timedelta(days=days_ago),
        )
        leavers[name] = patient
    patient_return(patient=leavers["Dee"], user=manager, now=now - dt.timedelta(days=2))
    return leavers


def test_the_departures_page_shows_the_chart_data_the_table_and_the_list(
    client, front_desk, departures
):
    client.force_login(front_desk)
    response = client.get(reverse("records:departures"))
    assert response.status_code == 200
    page = response.content.decode()
    data = json.loads(
        page.split('id="departures-chart-data" type="application/json">')[1].split("<")[0]
    )
    assert data["labels"] == ["Moved", "A lab, specialist or other third party", "Cost"]
    assert data["series"][0]["values"] == [2, 1, 1]
    assert 'src="/static/chart.js/chart.umd.min.js"' in page
    assert 'src="/static/rapport/charts.js"' in page
    assert 'data-chart="departures-chart-data"' in page
    table = page.split('id="departures-table"')[1].split("</table>")[0]
    assert '<td>Moved</td><td class="num">2</td><td class="num">$2,000</td>' in table
    assert '<p class="big-figure" id="departed-count">4</p>' in page
    assert '<p class="big-figure" id="value-lost">$7,000</p>' in page
    assert '<p class="big-figure" id="redeemed-count">1</p>' in page
    listing = page.split('class="list departures"')[1]
    assert "Ava" in listing and "came back" in listing
    due = departures["Ava"].check_ins.get().due_on
    assert f"due {due:%b} {due.day}, {due.year} · " in listing
    audit = AuditEvent.objects.get(object_type="patient", action="list")
    assert sorted(audit.detail["patient_ids"]) == sorted(p.pk for p in departures.values())


def test_the_period_filter(client, manager, departures):
    client.force_login(manager)
    today = timezone.localdate()
    since = (today - dt.timedelta(days=30)).isoformat()
    page = client.get(reverse("records:departures"), {"since": since, "until": today})
    text = page.content.decode()
    assert '<p class="big-figure" id="departed-count">1</p>' in text
    # Dee left 200 days ago, but came back in this period.
    assert '<p class="big-figure" id="redeemed-count">1</p>' in text


@pytest.mark.parametrize(
    "query", [{"since": "yesterday"}, {"since": "2026-12-01", "until": "2026-01-01"}]
)
def test_a_bad_period_is_explained(client, manager, departures, query):
    client.force_login(manager)
    response = client.get(reverse("records:departures"), query)
    assert response.status_code == 400
    assert "Period:" in response.content.decode()


def test_the_records_list_links_to_departures(client, front_desk):
    client.force_login(front_desk)
    page = client.get(reverse("records:request-list")).content.decode()
    assert f'href="{reverse("records:departures")}"' in page


def test_another_practice_s_departures_are_not_shown(client, outsider, departures):
    client.force_login(outsider)
    page = client.get(reverse("records:departures")).content.decode()
    assert '<p class="big-figure" id="departed-count">0</p>' in page
    assert "Ava" not in page


@pytest.mark.parametrize("who", ["front_desk", "clinician", "manager", "director"])
def test_a_foreign_patient_is_404_on_depart_and_return(request, client, other_patient, who):
    client.force_login(request.getfixturevalue(who))
    _assert_404_and_nothing_changed(client, other_patient)


def test_another_practice_s_staff_get_404_for_ours(client, outsider, patient):
    client.force_login(outsider)
    _assert_404_and_nothing_changed(client, patient)


def _assert_404_and_nothing_changed(client, foreign):
    assert client.get(_depart_url(foreign)).status_code == 404
    assert _post(client, foreign).status_code == 404
    Patient.objects.filter(pk=foreign.pk).update(status="departed")
    url = reverse("records:patient-return", args=[foreign.pk])
    assert client.post(url).status_code == 404
    foreign.refresh_from_db()
    assert foreign.status == "departed" and foreign.departure_reason == ""
    assert foreign.returned_at is None
    assert not CheckIn.objects.exists() and not OutboundMessage.objects.exists()
