"""Writes for patients and appointments. Views, commands and jobs call these, never save()."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, DecimalField, F, IntegerField, Max, Min, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.models import Practice
from core.services import audit_record
from patients.models import Appointment, Patient

PROFILE_FIELDS = (
    "preferred_name",
    "goals",
    "greatest_concern",
    "previous_experiences",
    "preferences",
    "anxieties",
    "trust_notes",
    "preferred_channel",
)


class PatientError(Exception):
    """A problem with patient data that a person can act on."""


def _reject_nul(values: dict) -> None:
    for name, value in values.items():
        if isinstance(value, str) and "\x00" in value:
            raise PatientError(f"{name}: contains a NUL character")


@transaction.atomic
def patient_profile_update(*, patient: Patient, user, request=None, **changes) -> Patient:
    """Change the relationship profile; writes one audit row naming the fields changed."""
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise PatientError(f"not profile fields: {', '.join(sorted(unknown))}")
    _reject_nul(changes)
    changed = [name for name, value in changes.items() if getattr(patient, name) != value]
    for name in changed:
        setattr(patient, name, changes[name])
    if not changed:
        return patient
    try:
        patient.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise PatientError("; ".join(exc.messages)) from exc
    patient.save(update_fields=[*changed, "updated_at"])
    audit_record(
        action="update",
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk,
        practice=patient.practice,
        user=user,
        request=request,
        detail={"fields": changed},
    )
    return patient


def patient_figures_refresh(*, practices=None) -> int:
    """Recompute visits, lifetime value, last/next visit and referrals in a few UPDATEs.

    Set-based on purpose: one statement per figure for a whole practice or group, so a
    thousand practices refresh in minutes rather than hours. Returns patients updated.
    """
    now = timezone.now()
    patients = Patient.objects.all()
    if practices is not None:
        patients = patients.filter(practice__in=practices)
    completed = Appointment.objects.filter(
        patient=OuterRef("pk"), status=Appointment.Status.COMPLETED
    ).values("patient")
    money = DecimalField(max_digits=12, decimal_places=2)
    with transaction.atomic():
        updated = patients.update(
            visit_count=Coalesce(
                Subquery(
                    completed.annotate(n=Count("id")).values("n"), output_field=IntegerField()
                ),
                0,
            ),
            lifetime_value=Coalesce(
                Subquery(completed.annotate(total=Sum("fee")).values("total"), output_field=money),
                Decimal("0"),
                output_field=money,
            ),
            last_visit_at=Subquery(completed.annotate(last=Max("starts_at")).values("last")),
            next_visit_at=Subquery(
                Appointment.objects.filter(
                    patient=OuterRef("pk"),
                    status=Appointment.Status.SCHEDULED,
                    starts_at__gte=now,
                )
                .values("patient")
                .annotate(first=Min("starts_at"))
                .values("first")
            ),
            figures_refreshed_at=now,
        )
        referred = Patient.objects.filter(referred_by=OuterRef("pk")).values("referred_by")
        patients.update(
            referral_count=Coalesce(
                Subquery(referred.annotate(n=Count("id")).values("n"), output_field=IntegerField()),
                0,
            ),
            referral_value=Coalesce(
                Subquery(
                    referred.annotate(total=Sum(F("lifetime_value"))).values("total"),
                    output_field=money,
                ),
                Decimal("0"),
                output_field=money,
            ),
        )
    return updated


def practice_figures_refresh(*, practice: Practice) -> int:
    return patient_figures_refresh(practices=Practice.objects.filter(pk=practice.pk))
