"""Vendors for tests, made through the services so every rule runs."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from patients.tests.factories import AppointmentFactory
from vendors.services import contact_add, involvement_create, vendor_create


def crestline(practice, **fields):
    values = {
        "name": "Crestline Dental Lab",
        "kind": "lab",
        "aliases": ["Crestline"],
        "touchpoints": ["third_party"],
    }
    return vendor_create(practice=practice, **(values | fields))


def northside(practice, **fields):
    values = {"name": "Northside Oral Surgery", "kind": "specialist", "aliases": ["Northside"]}
    return vendor_create(practice=practice, **(values | fields))


def lab_contact(vendor, **fields):
    values = {"name": "Marcus Hale", "role": "Lab manager", "email": "marcus@crestline.example"}
    return contact_add(vendor=vendor, **(values | fields))


def shade_visit(vendor, patient, *, days_ago: int = 3):
    """A completed visit at the vendor, as an appointment with a visit involvement."""
    appointment = AppointmentFactory(
        patient=patient,
        kind="Crown shade match",
        starts_at=timezone.now() - dt.timedelta(days=days_ago),
    )
    involvement_create(vendor=vendor, patient=patient, kind="visit", appointment=appointment)
    return appointment
