"""A patient's record as a FHIR R4 Bundle: valid, audited, and read back by the importer."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from core.models import AuditEvent
from core.tests.factories import PracticeFactory
from feedback.services import response_submit
from feedback.tests.factories import InvitationFactory, answers_for
from patients.exports.fhir import patient_bundle
from patients.models import Appointment, Patient
from patients.tests.factories import AppointmentFactory, PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def dana(practice):
    dana = PatientFactory(
        practice=practice,
        first_name="Dana",
        last_name="Whitfield",
        preferred_name="Dee",
        date_of_birth=dt.date(1971, 4, 2),
        address="12 Maple Street",
        city="Springfield",
        postal_code="01101",
    )
    now = timezone.now().replace(microsecond=0)
    AppointmentFactory(patient=dana, starts_at=now - dt.timedelta(days=400), kind="Crown",
                       status="completed", duration_minutes=90)  # fmt: skip
    AppointmentFactory(patient=dana, starts_at=now - dt.timedelta(days=30), status="no_show")
    AppointmentFactory(patient=dana, starts_at=now + dt.timedelta(days=20), status="scheduled")
    invitation = InvitationFactory(patient=dana)
    response_submit(invitation=invitation, answers=answers_for(invitation.survey, nps=6))
    return dana


def test_bundle_validates_and_holds_the_whole_record(dana):
    bundle = patient_bundle(dana)
    Bundle.model_validate(bundle)
    kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert kinds == [
        "Patient",
        "Appointment",
        "Appointment",
        "Appointment",
        "QuestionnaireResponse",
    ]
    patient = bundle["entry"][0]["resource"]
    assert patient["name"][0] == {"use": "official", "family": "Whitfield", "given": ["Dana"]}
    assert patient["birthDate"] == "1971-04-02"
    statuses = [e["resource"]["status"] for e in bundle["entry"][1:4]]
    assert statuses == ["fulfilled", "noshow", "booked"]
    answers = bundle["entry"][4]["resource"]["item"]
    assert any(item["answer"] == [{"valueInteger": 6}] for item in answers)


def test_command_prints_the_bundle_and_audits_the_export(dana):
    out = StringIO()
    call_command("export", "fhir", "--patient", str(dana.pk), stdout=out)
    bundle = json.loads(out.getvalue())
    assert bundle["entry"][0]["resource"]["name"][0]["family"] == "Whitfield"
    event = AuditEvent.objects.get(action="export", patient_id=dana.pk)
    assert event.detail == {"format": "fhir-r4-bundle", "entries": 5}


def test_unknown_patient_is_a_clear_error(db):
    with pytest.raises(CommandError, match="--patient 999999: no such patient"):
        call_command("export", "fhir", "--patient", "999999")


def test_export_round_trips_through_the_importer(dana, tmp_path, other_practice):
    path = tmp_path / "dana.json"
    out = StringIO()
    call_command("export", "fhir", "--patient", str(dana.pk), stdout=out)
    path.write_text(out.getvalue(), encoding="utf-8")
    before = list(
        dana.appointments.order_by("starts_at").values_list("starts_at", "status", "kind")
    )
    # Into a practice that has never seen her: the new practice she moves to.
    new_practice = PracticeFactory(name="Elm Dental", slug="elm")
    call_command("import", "fhir", str(path), "--practice", str(new_practice.pk), stdout=StringIO())
    moved = Patient.objects.get(practice=new_practice)
    assert (moved.first_name, moved.last_name, moved.date_of_birth) == (
        "Dana",
        "Whitfield",
        dt.date(1971, 4, 2),
    )
    assert (moved.email, moved.phone, moved.city) == (dana.email, dana.phone, "Springfield")
    after = list(
        Appointment.objects.filter(patient=moved)
        .order_by("starts_at")
        .values_list("starts_at", "status", "kind")
    )
    assert after == before
    # Importing the same Bundle again changes nothing.
    call_command("import", "fhir", str(path), "--practice", str(new_practice.pk), stdout=StringIO())
    assert Patient.objects.filter(practice=new_practice).count() == 1
    assert Appointment.objects.filter(patient=moved).count() == 3
