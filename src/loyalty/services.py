"""Writes for loyalty: scoring runs, and check-ins with valuable patients at risk."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from core.models import Organisation
from core.selectors import CASE_ROLES, can_manage, roles_at
from core.services import audit_record
from loyalty.models import CheckIn, LoyaltyPolicy, PatientScore
from loyalty.rules import reasons_for
from loyalty.scoring import scores_compute
from patients.models import Patient

MAX_NOTES = 5000

__all__ = ["LoyaltyError", "checkin_complete", "checkin_plan", "scores_compute"]


class LoyaltyError(Exception):
    """A problem with a check-in that can be shown to the person."""


def loyalty_policy_for(organisation: Organisation) -> LoyaltyPolicy:
    policy, _ = LoyaltyPolicy.objects.get_or_create(organisation=organisation)
    return policy


def _audit(check_in: CheckIn, action: str, *, user, request=None, **detail) -> None:
    audit_record(
        action=action,
        object_type="check_in",
        object_id=check_in.pk,
        patient_id=check_in.patient_id,
        practice=check_in.practice,
        user=user,
        request=request,
        detail=detail,
    )


@transaction.atomic
def checkin_plan(
    *,
    patient: Patient,
    kind: str,
    owner: AbstractBaseUser,
    due_on: dt.date,
    user: AbstractBaseUser,
    request=None,
) -> CheckIn:
    """A manager asks someone to reach out; the reasons of the day are kept with the task."""
    practice = patient.practice
    if not can_manage(user, practice):
        raise LoyaltyError("Only a manager plans check-ins.")
    if kind not in CheckIn.Kind.values:
        raise LoyaltyError("Choose a call, a call from the dentist, a letter or a survey.")
    if not roles_at(owner, practice) & CASE_ROLES:
        raise LoyaltyError("The owner must be a dentist, hygienist or manager of the practice.")
    today = timezone.now().astimezone(practice.zone).date()
    if not today <= due_on <= today + dt.timedelta(days=366):
        raise LoyaltyError("Due date: from today to a year ahead.")
    score = PatientScore.objects.filter(patient=patient).first()
    weights = loyalty_policy_for(practice.organisation).weights
    check_in = CheckIn.objects.create(
        practice=practice,
        patient=patient,
        kind=kind,
        owner=owner,
        due_on=due_on,
        reasons=reasons_for(score, weights) if score else [],
        created_at=timezone.now(),
        created_by=user,
    )
    _audit(check_in, "create", user=user, request=request, kind=kind)
    if kind == CheckIn.Kind.SURVEY:
        _send_relationship_survey(patient, check_in)
    return check_in


def _send_relationship_survey(patient: Patient, check_in: CheckIn) -> None:
    from feedback.services import invitation_create, surveys_ensure_defaults

    survey = surveys_ensure_defaults(organisation=patient.practice.organisation)["relationship"]
    invitation_create(patient=patient, survey=survey)


@transaction.atomic
def checkin_complete(
    *, check_in: CheckIn, outcome: str, notes: str, user: AbstractBaseUser, request=None
) -> CheckIn:
    """Log what came of it. A concern raised opens a recovery case, so it is not lost."""
    check_in = CheckIn.objects.select_for_update().select_related("patient").get(pk=check_in.pk)
    if check_in.done_at is not None:
        raise LoyaltyError("This check-in is already logged.")
    if user.pk != check_in.owner_id and not can_manage(user, check_in.practice):
        raise LoyaltyError("Only its owner or a manager logs a check-in.")
    if outcome not in CheckIn.Outcome.values:
        raise LoyaltyError("Choose what came of it.")
    notes = (notes or "").strip()
    if "\x00" in notes or len(notes) > MAX_NOTES:
        raise LoyaltyError(f"Notes: plain text under {MAX_NOTES} characters.")
    if outcome == CheckIn.Outcome.CONCERN and not notes:
        raise LoyaltyError("Notes: write down the concern in their words.")
    if outcome == CheckIn.Outcome.RETURNED and check_in.kind != CheckIn.Kind.WINBACK:
        raise LoyaltyError("“Came back” is for win-back check-ins with patients who left.")
    check_in.outcome, check_in.notes, check_in.done_at = outcome, notes, timezone.now()
    check_in.save(update_fields=["outcome", "notes", "done_at"])
    _audit(check_in, "update", user=user, request=request, outcome=outcome)
    if outcome == CheckIn.Outcome.RETURNED and check_in.patient.status == Patient.Status.DEPARTED:
        from records.departures import patient_return

        # Counted as redeemed, and any other open win-back check-in is closed with it.
        patient_return(patient=check_in.patient, user=user, now=check_in.done_at, request=request)
    if outcome == CheckIn.Outcome.CONCERN:
        from recovery.services import case_open

        case_open(
            practice=check_in.practice,
            patient=check_in.patient,
            summary=" ".join(notes.split())[:120],
            because="raised at a loyalty check-in",
            user=user,
            request=request,
        )
    return check_in
