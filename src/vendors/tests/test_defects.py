"""Defects found from the dates: late lab cases and referrals the specialist sat on."""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO

import pytest
from django.core.management import call_command

from patients.tests.factories import AppointmentFactory
from recovery.tests.factories import local
from vendors.models import VendorDefect
from vendors.services import (
    VendorError,
    defects_detect,
    involvement_create,
    involvement_record,
    standards_update,
)
from vendors.tests.factories import crestline, northside

pytestmark = pytest.mark.django_db
# Wednesday March 11, 2026, 10:00 in New York: the crown seat.
SEAT = local("2026-03-11 10:00")


@pytest.fixture
def lab(practice):
    return crestline(practice)


@pytest.fixture
def seat(patient):
    return AppointmentFactory(
        patient=patient, kind="Crown seat", starts_at=SEAT, status="scheduled"
    )


def _lab_case(lab, patient, seat, *, returned_on=None, now):
    return involvement_create(
        vendor=lab,
        patient=patient,
        kind="lab_case",
        appointment=seat,
        sent_on=dt.date(2026, 2, 24),
        due_back_on=dt.date(2026, 3, 9),
        returned_on=returned_on,
        now=now,
    )


def test_lab_case_back_after_the_appointment_is_late(lab, patient, seat):
    case = _lab_case(
        lab, patient, seat, returned_on=dt.date(2026, 3, 12), now=SEAT + dt.timedelta(days=2)
    )
    (defect,) = VendorDefect.objects.filter(involvement=case)
    assert defect.kind == "lab_case_late" and defect.vendor == lab
    assert defect.detected_at == SEAT
    assert defect.resolved_at == local("2026-03-12 00:00")
    assert defect.detail == "Came back Mar 12, after the Crown seat on Mar 11."


def test_lab_case_back_in_time_is_not_a_defect(lab, patient, seat):
    _lab_case(lab, patient, seat, returned_on=dt.date(2026, 3, 10), now=SEAT + dt.timedelta(days=5))
    # The morning of the appointment still counts as in time.
    other = AppointmentFactory(patient=patient, kind="Crown seat", starts_at=SEAT)
    _lab_case(
        lab, patient, other, returned_on=dt.date(2026, 3, 11), now=SEAT + dt.timedelta(days=5)
    )
    assert defects_detect(practice=lab.practice, now=SEAT + dt.timedelta(days=30)) == 0
    assert not VendorDefect.objects.exists()


def test_lab_case_not_back_when_the_appointment_starts_is_late_then_resolved(
    lab, patient, seat, manager
):
    case = _lab_case(lab, patient, seat, now=local("2026-03-10 12:00"))
    assert defects_detect(practice=lab.practice, now=SEAT - dt.timedelta(minutes=1)) == 0
    assert defects_detect(practice=lab.practice, now=SEAT + dt.timedelta(minutes=5)) == 1
    defect = VendorDefect.objects.get(involvement=case)
    assert defect.resolved_at is None and "Not back in time" in defect.detail
    involvement_record(
        involvement=case,
        returned_on=dt.date(2026, 3, 13),
        user=manager,
        now=local("2026-03-13 09:00"),
    )
    defect.refresh_from_db()
    assert defect.resolved_at == local("2026-03-13 00:00") and "Came back Mar 13" in defect.detail
    assert VendorDefect.objects.count() == 1


def test_a_corrected_return_date_takes_back_the_defect(lab, patient, seat, manager):
    case = _lab_case(lab, patient, seat, now=SEAT + dt.timedelta(hours=1))
    assert VendorDefect.objects.filter(involvement=case).exists()
    # It had come back the day before; nobody wrote it down in time.
    involvement_record(
        involvement=case,
        returned_on=dt.date(2026, 3, 10),
        user=manager,
        now=SEAT + dt.timedelta(hours=2),
    )
    assert not VendorDefect.objects.exists()


def test_cancelled_appointment_is_not_held_against_the_lab(lab, patient, seat):
    seat.status = "cancelled"
    seat.save()
    _lab_case(lab, patient, seat, now=SEAT + dt.timedelta(days=3))
    assert not VendorDefect.objects.exists()


def test_lab_case_without_an_appointment_is_late_after_its_due_date(lab, patient):
    involvement_create(
        vendor=lab,
        patient=patient,
        kind="lab_case",
        sent_on=dt.date(2026, 3, 1),
        due_back_on=dt.date(2026, 3, 9),
        now=local("2026-03-09 17:00"),
    )
    assert not VendorDefect.objects.exists()
    assert defects_detect(practice=lab.practice, today=dt.date(2026, 3, 10)) == 1
    assert VendorDefect.objects.get().detected_at == local("2026-03-10 00:00")


def test_referral_not_scheduled_after_n_days_is_late(practice, patient):
    surgeon = northside(practice)
    referral = involvement_create(
        vendor=surgeon,
        patient=patient,
        kind="referral",
        referred_on=dt.date(2026, 3, 2),
        now=local("2026-03-02 11:00"),
    )
    # Fourteen days by default: the 16th is still in time, the 17th is not.
    assert defects_detect(practice=practice, today=dt.date(2026, 3, 16)) == 0
    assert defects_detect(practice=practice, today=dt.date(2026, 3, 17)) == 1
    defect = VendorDefect.objects.get(involvement=referral)
    assert defect.kind == "referral_not_scheduled" and defect.resolved_at is None
    assert defect.detected_at == local("2026-03-17 00:00")
    assert defect.detail == "Referred Mar 2, not scheduled after 14 days."


def test_referral_scheduled_late_is_a_resolved_defect_and_in_time_is_none(practice, patient):
    surgeon = northside(practice)
    for referred, scheduled in (
        (dt.date(2026, 1, 5), dt.date(2026, 1, 30)),
        (dt.date(2026, 2, 2), dt.date(2026, 2, 16)),
    ):
        involvement_create(
            vendor=surgeon,
            patient=patient,
            kind="referral",
            referred_on=referred,
            scheduled_on=scheduled,
            now=local("2026-03-02 11:00"),
        )
    (defect,) = VendorDefect.objects.all()
    assert defect.detail == "Referred Jan 5, scheduled after 25 days."
    assert defect.resolved_at == local("2026-01-30 00:00")


def test_the_practice_sets_its_own_days_for_a_referral(practice, patient, manager):
    standards_update(
        practice=practice, subject="Our standards", letter="Be kind.", referral_days=7, user=manager
    )
    involvement_create(
        vendor=northside(practice),
        patient=patient,
        kind="referral",
        referred_on=dt.date(2026, 3, 2),
        now=local("2026-03-02 11:00"),
    )
    assert defects_detect(practice=practice, today=dt.date(2026, 3, 9)) == 0
    assert defects_detect(practice=practice, today=dt.date(2026, 3, 10)) == 1


def test_detection_is_idempotent(lab, patient, seat, practice):
    _lab_case(lab, patient, seat, now=local("2026-03-01 09:00"))
    involvement_create(
        vendor=northside(practice),
        patient=patient,
        kind="referral",
        referred_on=dt.date(2026, 2, 1),
        now=local("2026-02-01 09:00"),
    )
    later = local("2026-03-20 09:00")
    assert defects_detect(now=later) == 2
    assert defects_detect(now=later) == 0
    assert defects_detect(practice=practice, now=later + dt.timedelta(days=3)) == 0
    assert VendorDefect.objects.count() == 2


def test_rapport_vendors_check_prints_a_one_line_summary(lab, patient, seat, practice):
    _lab_case(lab, patient, seat, now=local("2026-03-01 09:00"))
    out = StringIO()
    call_command("vendors", "check", "--practice", practice.slug, "--no-progress", stdout=out)
    assert re.fullmatch(
        r"vendors check: 1 new defect, 1 open, in Maple Street Dental in \d+\.\d s\n",
        out.getvalue(),
    )
    out = StringIO()
    call_command("vendors", "check", "--no-progress", stdout=out)
    assert out.getvalue().startswith("vendors check: 0 new defects, 1 open, in 1 practice in ")


def test_dates_that_cannot_be_are_refused(lab, patient, seat):
    now = local("2026-03-05 09:00")
    bad = [
        {"kind": "lab_case"},  # no sent date
        {"kind": "lab_case", "sent_on": dt.date(2026, 3, 6)},  # tomorrow
        {"kind": "lab_case", "sent_on": dt.date(2026, 3, 1), "returned_on": dt.date(2026, 2, 1)},
        {"kind": "lab_case", "sent_on": dt.date(2026, 3, 1), "returned_on": dt.date(2026, 3, 9)},
        {"kind": "referral"},
        {
            "kind": "referral",
            "referred_on": dt.date(2026, 3, 1),
            "scheduled_on": dt.date(2026, 2, 1),
        },
        {"kind": "nonsense"},
    ]
    for fields in bad:
        with pytest.raises(VendorError):
            involvement_create(vendor=lab, patient=patient, now=now, **fields)
    assert not lab.involvements.exists()


def test_a_patient_of_another_practice_is_refused(lab, other_patient):
    with pytest.raises(VendorError):
        involvement_create(vendor=lab, patient=other_patient, kind="visit")
