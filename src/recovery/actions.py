"""Writes around a case: gestures, next-visit alerts, messages and the follow-up survey."""

from __future__ import annotations

import calendar as month_calendar
import datetime as dt
import hashlib
from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core.models import Practice
from core.selectors import can_manage
from recovery.errors import RecoveryError
from recovery.models import (
    CaseStep,
    Gesture,
    GestureKind,
    NextVisitAlert,
    RecoveryCase,
    StepKind,
)
from recovery.policy import recovery_policy_for
from recovery.services import _audit, _clean_text, _event

MAX_GESTURE_COST = Decimal("10000")
CASE_MESSAGE_KINDS = {
    "case_acknowledgement": "Acknowledgement",
    "case_apology": "Apology letter",
}
FOLLOW_UP_LEAD = dt.timedelta(days=1)

# --- Gestures ------------------------------------------------------------------------------


def _month_bounds(practice: Practice, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    first = dt.datetime.combine(day.replace(day=1), dt.time.min, tzinfo=practice.zone)
    days = month_calendar.monthrange(day.year, day.month)[1]
    return first, first + dt.timedelta(days=days)


def gesture_spend(practice: Practice, *, day: dt.date | None = None) -> Decimal:
    """What approved and given gestures cost the practice in the month of ``day``."""
    day = day or timezone.now().astimezone(practice.zone).date()
    start, end = _month_bounds(practice, day)
    total = Gesture.objects.filter(
        case__practice=practice,
        status__in=[Gesture.Status.APPROVED, Gesture.Status.GIVEN],
        proposed_at__gte=start,
        proposed_at__lt=end,
    ).aggregate(total=Sum("cost"))["total"]
    return total or Decimal("0")


def _parse_cost(raw, default: Decimal) -> Decimal:
    if raw in (None, ""):
        return default
    try:
        cost = Decimal(str(raw).strip().lstrip("$")).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise RecoveryError("Cost: a number of dollars, like 35 or 35.50.") from None
    if not cost.is_finite() or cost < 0 or cost > MAX_GESTURE_COST:
        raise RecoveryError(f"Cost: between $0 and ${MAX_GESTURE_COST:,.0f}.")
    return cost


@transaction.atomic
def gesture_propose(
    *,
    case: RecoveryCase,
    kind: GestureKind,
    user: AbstractBaseUser,
    cost=None,
    description: str = "",
    request=None,
    now: dt.datetime | None = None,
) -> Gesture:
    """Offer a gesture; above the limit, or past the month's budget, a manager approves it."""
    now = now or timezone.now()
    if kind.organisation_id != case.practice.organisation_id or not kind.is_active:
        raise RecoveryError("Choose a gesture from your organisation's catalogue.")
    if case.status == RecoveryCase.Status.CLOSED:
        raise RecoveryError("This case is closed.")
    cost = _parse_cost(cost, kind.usual_cost)
    description = _clean_text(description, field="Description", limit=200)
    policy = recovery_policy_for(case.practice.organisation)
    within_limit = cost <= policy.gesture_approval_limit
    day = now.astimezone(case.practice.zone).date()
    within_budget = gesture_spend(case.practice, day=day) + cost <= policy.monthly_gesture_budget
    approved = can_manage(user, case.practice) or (within_limit and within_budget)
    gesture = Gesture.objects.create(
        case=case,
        kind=kind,
        description=description,
        cost=cost,
        status=Gesture.Status.APPROVED if approved else Gesture.Status.PENDING,
        proposed_by=user,
        proposed_at=now,
        decided_by=user if approved else None,
        decided_at=now if approved else None,
    )
    why = (
        ""
        if approved
        else (
            " · needs a manager's approval"
            + ("" if within_budget else " (over this month's budget)")
        )
    )
    _event(case, f"Gesture: {kind.name} (${cost:,.2f}){why}", user=user, at=now)
    _audit(case, "update", user=user, request=request, gesture=gesture.pk)
    return gesture


@transaction.atomic
def gesture_decide(
    *, gesture: Gesture, approve: bool, user, request=None, now: dt.datetime | None = None
) -> Gesture:
    gesture = (
        Gesture.objects.select_for_update().select_related("case__practice").get(pk=gesture.pk)
    )
    if not can_manage(user, gesture.case.practice):
        raise RecoveryError("Only a manager can approve gestures above the limit.")
    if gesture.status != Gesture.Status.PENDING:
        raise RecoveryError("This gesture has already been decided.")
    gesture.status = Gesture.Status.APPROVED if approve else Gesture.Status.DECLINED
    gesture.decided_by, gesture.decided_at = user, now or timezone.now()
    gesture.save(update_fields=["status", "decided_by", "decided_at"])
    verdict = "approved" if approve else "declined"
    _event(gesture.case, f"Gesture {verdict}: {gesture.kind.name}", user=user, at=now)
    _audit(gesture.case, "update", user=user, request=request, gesture=gesture.pk, verdict=verdict)
    return gesture


@transaction.atomic
def gesture_mark_given(
    *, gesture: Gesture, user, request=None, now: dt.datetime | None = None
) -> Gesture:
    gesture = Gesture.objects.select_for_update().get(pk=gesture.pk)
    if gesture.status != Gesture.Status.APPROVED:
        raise RecoveryError("Only an approved gesture can be given.")
    gesture.status = Gesture.Status.GIVEN
    gesture.save(update_fields=["status"])
    _event(gesture.case, f"Gesture given: {gesture.kind.name}", user=user, at=now)
    _audit(gesture.case, "update", user=user, request=request, gesture=gesture.pk, given=True)
    return gesture


# --- Next-visit alerts ---------------------------------------------------------------------


@transaction.atomic
def alert_leave(
    *, case: RecoveryCase, text: str, user, request=None, now: dt.datetime | None = None
) -> NextVisitAlert:
    """A note for the patient's next visit: "greet her by name, apologise again for March"."""
    if case.patient_id is None:
        raise RecoveryError("An alert needs a patient: link the case to one first.")
    text = _clean_text(text, field="Alert", limit=300)
    if not text:
        raise RecoveryError("Alert: write what the team should do at the next visit.")
    alert = NextVisitAlert.objects.create(
        practice=case.practice,
        patient=case.patient,
        case=case,
        text=text,
        created_by=user,
        created_at=now or timezone.now(),
    )
    _event(case, "Next-visit alert left for the front desk", user=user, at=now)
    _audit(case, "update", user=user, request=request, alert=alert.pk)
    return alert


@transaction.atomic
def alert_mark_done(*, alert: NextVisitAlert, user, request=None) -> NextVisitAlert:
    alert = NextVisitAlert.objects.select_for_update().get(pk=alert.pk)
    if alert.done_at is not None:
        return alert
    alert.done_at, alert.done_by = timezone.now(), user
    alert.save(update_fields=["done_at", "done_by"])
    if alert.case_id:
        _event(alert.case, "Next-visit alert done at the visit", user=user)
    from core.services import audit_record

    audit_record(
        action="update",
        object_type="next_visit_alert",
        object_id=alert.pk,
        patient_id=alert.patient_id,
        practice=alert.practice,
        user=user,
        request=request,
        detail={"done": True},
    )
    return alert


# --- Messages to the patient ---------------------------------------------------------------


def _staff_name(user: AbstractBaseUser) -> str:
    return user.get_full_name() or user.get_username()


def case_message_draft(*, case: RecoveryCase, kind: str, user):
    """The suggested wording for an acknowledgement or apology, to edit before sending."""
    from messaging.services import message_draft

    if kind not in CASE_MESSAGE_KINDS:
        raise RecoveryError("Unknown message.")
    if case.patient is None:
        return None
    return message_draft(patient=case.patient, kind=kind, context={"staff_name": _staff_name(user)})


@transaction.atomic
def case_message_send(
    *, case: RecoveryCase, kind: str, subject: str, body: str, user, request=None
):
    """Send the owner's edited wording through the outbox, once per distinct text."""
    from messaging.errors import MessagingError
    from messaging.models import OutboundMessage
    from messaging.services import message_send_written

    if kind not in CASE_MESSAGE_KINDS:
        raise RecoveryError("Unknown message.")
    if case.patient is None:
        raise RecoveryError("This case has no patient to write to.")
    digest = hashlib.sha256(f"{subject}\x1f{body}".encode()).hexdigest()[:20]
    key = f"case-{case.pk}-{kind}-{digest}"
    already = OutboundMessage.objects.filter(practice=case.practice, idempotency_key=key).first()
    if already is not None:
        return already  # a double click: the same words are not sent or logged twice
    try:
        message = message_send_written(
            patient=case.patient,
            kind=kind,
            subject=subject,
            body=body,
            idempotency_key=key,
            user=user,
        )
    except MessagingError as problem:
        raise RecoveryError(str(problem)) from None
    _event(case, f"{CASE_MESSAGE_KINDS[kind]} sent by {message.get_channel_display()}", user=user)
    return message


# --- Follow-up survey ----------------------------------------------------------------------


@transaction.atomic
def case_follow_up_survey_send(*, case: RecoveryCase, user=None, now: dt.datetime | None = None):
    """Ask the patient, with a two-question survey, whether the practice put it right."""
    from feedback.services import invitation_create, surveys_ensure_defaults

    now = now or timezone.now()
    case = RecoveryCase.objects.select_for_update().get(pk=case.pk)
    if case.patient is None:
        raise RecoveryError("This case has no patient to ask.")
    if case.follow_up_invitation_id is not None:
        return case.follow_up_invitation
    implemented = case.steps.filter(kind=StepKind.IMPLEMENT, completed_at__isnull=False)
    if not implemented.exists():
        raise RecoveryError("Record what was done before asking whether it worked.")
    survey = surveys_ensure_defaults(organisation=case.practice.organisation)["follow_up"]
    invitation = invitation_create(
        patient=case.patient, survey=survey, now=now, message_kind="case_follow_up_survey"
    )
    case.follow_up_invitation = invitation
    case.save(update_fields=["follow_up_invitation"])
    _event(case, "Follow-up survey sent", user=user, at=now)
    return invitation


def follow_up_surveys_send_due(*, now: dt.datetime | None = None) -> int:
    """Send the follow-up survey a day before each follow-up is due; idempotent."""
    from feedback.services import feedback_policy_for, is_quiet_time

    now = now or timezone.now()
    due = RecoveryCase.objects.filter(
        status=RecoveryCase.Status.OPEN,
        patient__isnull=False,
        follow_up_invitation__isnull=True,
        steps__kind=StepKind.FOLLOW_UP,
        steps__completed_at__isnull=True,
        steps__due_at__lte=now + FOLLOW_UP_LEAD,
    ).select_related("practice")
    sent = 0
    for case in due:
        if is_quiet_time(feedback_policy_for(case.practice), now):
            continue
        case_follow_up_survey_send(case=case, now=now)
        sent += 1
    return sent


def case_follow_up_answered(*, response) -> None:
    """Store the score after recovery; the answer itself completes the follow-up step."""
    case = (
        RecoveryCase.objects.select_for_update()
        .filter(follow_up_invitation_id=response.invitation_id)
        .first()
    )
    if case is None or response.nps is None:
        return
    case.satisfaction_after = response.nps
    case.save(update_fields=["satisfaction_after"])
    step = case.steps.get(kind=StepKind.FOLLOW_UP)
    if step.completed_at is None and case.status != RecoveryCase.Status.CLOSED:
        step.completed_at = timezone.now()
        step.method = CaseStep.Method.EMAIL
        step.notes = f"Answered the follow-up survey: {response.nps}/10."
        step.save(update_fields=["completed_at", "method", "notes"])
    _event(case, f"Follow-up survey answered: {response.nps}/10")
