import datetime as dt
import zoneinfo

import time_machine
from django.urls import reverse

from core.models import AuditEvent
from patients.models import Patient
from patients.tests.factories import AppointmentFactory, PatientFactory


def test_patient_page_view_writes_one_audit_row(client, front_desk, patient):
    client.force_login(front_desk)
    response = client.get(
        reverse("patients:patient-detail", args=[patient.pk]), REMOTE_ADDR="10.1.2.3"
    )

    assert "Dana Whitfield" in response.content.decode()
    event = AuditEvent.objects.get()
    assert (event.action, event.object_type, event.patient_id) == ("view", "patient", patient.pk)
    assert event.actor == front_desk
    assert event.ip_address == "10.1.2.3"
    assert event.practice_id == patient.practice_id


def test_patient_page_shows_profile_household_and_history(client, clinician, practice):
    mum = PatientFactory(practice=practice, first_name="Anna", last_name="Brandt")
    leo = PatientFactory(
        practice=practice,
        first_name="Leo",
        last_name="Brandt",
        guardian=mum,
        date_of_birth=dt.date(2018, 4, 2),
        anxieties="Gags easily; anxious child",
    )
    AppointmentFactory(patient=leo, kind="Child cleaning")
    client.force_login(clinician)

    page = client.get(reverse("patients:patient-detail", args=[leo.pk])).content.decode()

    assert "Gags easily; anxious child" in page
    assert "Anna Brandt" in page and "receives all contact" in page
    assert "Child cleaning" in page


def test_profile_edit_in_place_with_htmx(client, clinician, patient):
    client.force_login(clinician)
    url = reverse("patients:patient-profile-edit", args=[patient.pk])

    form = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<form" in form and "<html" not in form

    response = client.post(
        url,
        {
            "goals": "Keep my own teeth, look natural",
            "greatest_concern": "Cost surprises",
            "preferred_channel": "sms",
        },
        headers={"HX-Request": "true"},
    )
    fragment = response.content.decode()
    assert response.status_code == 200
    assert "Keep my own teeth, look natural" in fragment and "<html" not in fragment
    patient.refresh_from_db()
    assert patient.greatest_concern == "Cost surprises"
    assert patient.preferred_channel == "sms"
    assert AuditEvent.objects.filter(action="update", patient_id=patient.pk).count() == 1


def test_profile_edit_with_bad_input_changes_nothing(client, clinician, patient):
    client.force_login(clinician)
    url = reverse("patients:patient-profile-edit", args=[patient.pk])

    response = client.post(url, {"goals": "x\x00y", "preferred_channel": "pigeon"})

    assert response.status_code == 400
    body = response.content.decode()
    assert "Null characters are not allowed" in body
    assert "Select a valid choice" in body
    assert Patient.objects.get(pk=patient.pk).goals == ""
    assert not AuditEvent.objects.filter(action="update").exists()


def test_profile_text_is_escaped(client, clinician, patient):
    patient.goals = '<script>alert(1)</script><div hx-get="/admin/" hx-trigger="load">'
    patient.save()
    client.force_login(clinician)
    page = client.get(reverse("patients:patient-detail", args=[patient.pk])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'hx-get="/admin/"' not in page


def test_patient_list_searches_name_and_phone(client, front_desk, practice):
    PatientFactory(practice=practice, first_name="Sam", last_name="Ortega", phone="+12025550142")
    PatientFactory(practice=practice, first_name="Priya", last_name="Nair", phone="+12025550199")
    client.force_login(front_desk)
    url = reverse("patients:patient-list")

    by_name = client.get(url, {"q": "orteg"}).content.decode()
    by_phone = client.get(url, {"q": "555-0199"}).content.decode()

    assert "Ortega" in by_name and "Nair" not in by_name
    assert "Nair" in by_phone and "Ortega" not in by_phone
    listed = AuditEvent.objects.filter(action="list", object_type="patient").first()
    assert listed.detail["searched"] is True


def test_patient_list_htmx_returns_only_results(client, front_desk, patient):
    client.force_login(front_desk)
    response = client.get(
        reverse("patients:patient-list"), {"q": "whit"}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="results"')
    assert "Whitfield" in body


def test_empty_patient_list_says_what_to_do(client, front_desk):
    client.force_login(front_desk)
    page = client.get(reverse("patients:patient-list")).content.decode()
    assert "No patients yet" in page and "rapport import patients" in page


def test_day_sheet_uses_the_practice_time_zone(client, front_desk, practice):
    sam = PatientFactory(practice=practice, first_name="Sam", greatest_concern="Cost surprises")
    new_york = zoneinfo.ZoneInfo("America/New_York")
    # 23:30 in New York is already tomorrow in UTC: it must still be on today's sheet.
    AppointmentFactory(
        patient=sam,
        status="scheduled",
        kind="Crown prep",
        starts_at=dt.datetime(2026, 11, 24, 23, 30, tzinfo=new_york),
    )
    AppointmentFactory(
        patient=sam,
        status="scheduled",
        kind="Tomorrow visit",
        starts_at=dt.datetime(2026, 11, 25, 9, 0, tzinfo=new_york),
    )
    client.force_login(front_desk)
    with time_machine.travel(dt.datetime(2026, 11, 24, 15, 0, tzinfo=new_york), tick=False):
        page = client.get(reverse("patients:day-sheet")).content.decode()

    assert "Crown prep" in page and "11:30 p.m." in page
    assert "Tomorrow visit" not in page
    assert "Cost surprises" in page


def test_day_sheet_with_a_bad_day_falls_back_to_today(client, front_desk):
    client.force_login(front_desk)
    page = client.get(reverse("patients:day-sheet"), {"day": "2024-02-30"}).content.decode()
    assert "No appointments on this day" in page


def test_unknown_page_is_friendly(client, front_desk):
    client.force_login(front_desk)
    response = client.get("/patients/999999/")
    assert response.status_code == 404
    assert "We couldn't find that page" in response.content.decode()


def test_login_page_signs_in(client, front_desk):
    from core.tests.factories import PASSWORD

    response = client.post(
        reverse("login"), {"username": "frank", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("patients:day-sheet")
    assert "Day sheet" in response.content.decode()

    bad = client.post(reverse("login"), {"username": "frank", "password": "wrong"})
    assert "did not match" in bad.content.decode()
