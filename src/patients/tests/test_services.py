import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from core.models import AuditEvent
from patients.models import Appointment, Patient
from patients.services import PatientError, patient_figures_refresh, patient_profile_update
from patients.tests.factories import AppointmentFactory, PatientFactory


def test_figures_refresh_counts_completed_visits_value_and_referrals(practice):
    dana = PatientFactory(practice=practice)
    friend = PatientFactory(practice=practice, referred_by=dana)
    AppointmentFactory(patient=dana, fee=Decimal("100.00"))
    AppointmentFactory(patient=dana, fee=Decimal("250.50"))
    AppointmentFactory(patient=dana, status=Appointment.Status.CANCELLED, fee=Decimal("999"))
    future = AppointmentFactory(
        patient=dana,
        status=Appointment.Status.SCHEDULED,
        starts_at=timezone.now() + dt.timedelta(days=10),
    )
    AppointmentFactory(patient=friend, fee=Decimal("80.00"))

    assert patient_figures_refresh() == 2

    dana.refresh_from_db()
    assert dana.visit_count == 2
    assert dana.lifetime_value == Decimal("350.50")
    assert dana.next_visit_at == future.starts_at
    assert dana.referral_count == 1
    assert dana.referral_value == Decimal("80.00")


def test_figures_refresh_is_scoped_to_the_given_practices(practice, other_practice):
    mine = PatientFactory(practice=practice)
    theirs = PatientFactory(practice=other_practice)
    AppointmentFactory(patient=mine)
    AppointmentFactory(patient=theirs)

    patient_figures_refresh(practices=[practice])

    assert Patient.objects.get(pk=mine.pk).visit_count == 1
    assert Patient.objects.get(pk=theirs.pk).visit_count == 0


def test_profile_update_audits_the_changed_fields(patient, manager):
    patient_profile_update(patient=patient, user=manager, goals="Keep my own teeth", anxieties="")

    event = AuditEvent.objects.get(action="update", patient_id=patient.pk)
    assert event.detail == {"fields": ["goals"]}
    assert event.actor == manager
    assert Patient.objects.get(pk=patient.pk).goals == "Keep my own teeth"


def test_profile_update_rejects_nul_and_stores_nothing(patient, manager):
    with pytest.raises(PatientError, match="NUL"):
        patient_profile_update(patient=patient, user=manager, goals="a\x00b")
    assert Patient.objects.get(pk=patient.pk).goals == ""
    assert not AuditEvent.objects.exists()


def test_search_ignores_case_and_accents(practice):
    PatientFactory(practice=practice, first_name="Jose\u0301", last_name="Núñez")
    assert Patient.objects.search("jose nunez").count() == 1
    assert Patient.objects.search("JOSÉ").count() == 1


def test_a_minor_is_reached_through_the_guardian_and_a_shared_phone_merges_nobody(practice):
    mum = PatientFactory(practice=practice, first_name="Anna", phone="+12025550150")
    leo = PatientFactory(
        practice=practice,
        first_name="Leo",
        guardian=mum,
        phone="+12025550150",
        email=mum.email,
        date_of_birth=dt.date.today() - dt.timedelta(days=8 * 365),
    )
    assert leo.is_minor and leo.contact_person == mum
    assert mum.contact_person == mum
    assert Patient.objects.filter(phone="+12025550150").count() == 2
