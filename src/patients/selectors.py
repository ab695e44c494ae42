"""Reads of patients and appointments, always scoped to the person asking."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from core.models import Practice
from patients.models import Appointment, Patient


def get_patient_for_user(user, pk) -> Patient:
    """The patient, or 404 alike for "missing" and "another practice's"."""
    try:
        return (
            Patient.objects.for_user(user)
            .select_related("practice", "household", "guardian", "referred_by")
            .get(pk=pk)
        )
    except (Patient.DoesNotExist, ValueError, TypeError):
        raise Http404("No such patient") from None


def patient_list(*, user, practice: Practice, search: str = "") -> QuerySet[Patient]:
    return Patient.objects.for_user(user).filter(practice=practice).search(search)


def patient_appointments(patient: Patient) -> QuerySet[Appointment]:
    return patient.appointments.select_related("provider").order_by("-starts_at")


def patient_household_members(patient: Patient) -> QuerySet[Patient]:
    if patient.household_id is None:
        return Patient.objects.none()
    return patient.household.members.exclude(pk=patient.pk).order_by("first_name")


def day_sheet(*, user, practice: Practice, day: dt.date) -> OrderedDict:
    """The day's appointments grouped by provider, in the practice's own time zone."""
    zone = practice.zone
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    end = start + dt.timedelta(days=1)
    appointments = (
        Appointment.objects.for_user(user)
        .filter(practice=practice, starts_at__gte=start, starts_at__lt=end)
        .exclude(status=Appointment.Status.CANCELLED)
        .select_related("patient", "provider")
        .prefetch_related(Prefetch("patient__guardian"))
        .order_by("provider__name", "starts_at")
    )
    by_provider: OrderedDict = OrderedDict()
    for appointment in appointments:
        name = appointment.provider.name if appointment.provider else "Unassigned"
        by_provider.setdefault(name, []).append(appointment)
    return by_provider


def practice_today(practice: Practice) -> dt.date:
    return timezone.now().astimezone(practice.zone).date()
