"""Writes for recovery cases: open, join, complete steps, pause, close.

Deadlines and escalation live in ``recovery.deadlines``; gestures, alerts, messages and
follow-up surveys in ``recovery.actions``.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.business_hours import BusinessCalendar
from core.models import Membership, Practice
from core.services import audit_record
from feedback.models import FeedbackItem, SurveyResponse
from feedback.touchpoints import TOUCHPOINTS
from loyalty.tasks import rescore_on_commit
from patients.models import Patient
from recovery.errors import RecoveryError
from recovery.models import (
    STEP_ORDER,
    CaseEvent,
    CaseStep,
    RecoveryCase,
    RecoveryPolicy,
    Severity,
    StepKind,
)
from recovery.policy import deadline, recovery_policy_for

MAX_NOTES = 5000
SEVERITY_RANK = {value: rank for rank, value in enumerate(Severity.values)}
# Steps whose clocks start when the case opens; the others wait for the step before them.
STARTS_AT_OPENING = {StepKind.ACKNOWLEDGE, StepKind.LISTEN, StepKind.THANK, StepKind.PLAN}
# A feedback item older than this is history (an imported review), not a case to work.
AUTO_OPEN_WINDOW = dt.timedelta(days=14)
GENERAL_TOPIC = "general"

__all__ = [
    "RecoveryError",
    "case_assign",
    "case_close",
    "case_open",
    "case_open_from_feedback",
    "case_pause",
    "case_resume",
    "case_step_complete",
]


def _event(case: RecoveryCase, text: str, *, user=None, at: dt.datetime | None = None) -> None:
    actor = user if user is not None and user.is_authenticated else None
    CaseEvent.objects.create(case=case, at=at or timezone.now(), actor=actor, text=text[:300])


def _audit(case: RecoveryCase, action: str, *, user=None, request=None, **detail) -> None:
    audit_record(
        action=action,
        object_type="recovery_case",
        object_id=case.pk,
        patient_id=case.patient_id,
        practice=case.practice,
        user=user,
        request=request,
        actor_label="" if user else "recovery rules",
        detail=detail,
    )


def _clean_text(value: str, *, field: str, limit: int) -> str:
    value = (value or "").strip()
    if "\x00" in value:
        raise RecoveryError(f"{field}: contains a character we cannot store.")
    if len(value) > limit:
        raise RecoveryError(f"{field}: please keep it under {limit} characters.")
    return value


# --- Who owns a case, and which cases come first -----------------------------------------


def priority_reasons(patient: Patient | None, policy: RecoveryPolicy) -> list[str]:
    """Why a patient's case comes first: long-standing, high value or referring others."""
    if patient is None:
        return []
    reasons = []
    tenure = patient.tenure_years
    if tenure is not None and tenure >= policy.priority_tenure_years:
        reasons.append(f"patient for {tenure:g} years")
    if patient.lifetime_value >= policy.priority_lifetime_value:
        reasons.append(f"lifetime value ${patient.lifetime_value:,.0f}")
    if patient.referral_count >= policy.priority_referrals:
        reasons.append(f"referred {patient.referral_count} patients")
    return reasons


def practice_managers(practice: Practice) -> list[AbstractBaseUser]:
    memberships = Membership.objects.filter(
        practice=practice, role=Membership.Role.MANAGER, user__is_active=True
    ).select_related("user")
    return [m.user for m in memberships.order_by("id")]


def default_owner(practice: Practice, *, is_priority: bool) -> AbstractBaseUser | None:
    """The owner-dentist for priority cases, else the practice's first manager."""
    if is_priority and practice.owner_dentist_id and practice.owner_dentist.is_active:
        return practice.owner_dentist
    managers = practice_managers(practice)
    return managers[0] if managers else None


def satisfaction_before(patient: Patient | None, *, before: dt.datetime) -> int | None:
    """The patient's last 0–10 answer before the case: the baseline recovery is measured on."""
    if patient is None:
        return None
    return (
        SurveyResponse.objects.filter(patient=patient, nps__isnull=False, submitted_at__lte=before)
        .order_by("-submitted_at")
        .values_list("nps", flat=True)
        .first()
    )


def _previous_recovered_case(patient: Patient | None) -> RecoveryCase | None:
    if patient is None:
        return None
    return (
        RecoveryCase.objects.filter(
            patient=patient,
            status=RecoveryCase.Status.CLOSED,
            outcome__in=[RecoveryCase.Outcome.RECOVERED, RecoveryCase.Outcome.PARTLY],
        )
        .order_by("-closed_at")
        .first()
    )


# --- Opening ------------------------------------------------------------------------------


@transaction.atomic
def case_open(
    *,
    practice: Practice,
    summary: str,
    severity: str = Severity.NORMAL,
    patient: Patient | None = None,
    contact_name: str = "",
    touchpoints: list[str] | tuple[str, ...] = (),
    feedback_items: list[FeedbackItem] | tuple[FeedbackItem, ...] = (),
    owner: AbstractBaseUser | None = None,
    because: str = "",
    user: AbstractBaseUser | None = None,
    request=None,
    now: dt.datetime | None = None,
) -> RecoveryCase:
    """Open a case with its six steps and their deadlines, or join the patient's open one.

    One open case per patient and topic: new feedback on the same topic joins the case
    already being worked rather than starting a second clock.
    """
    now = now or timezone.now()
    summary = _clean_text(summary, field="Summary", limit=200)
    if not summary:
        raise RecoveryError("Summary: say in a few words what went wrong.")
    if severity not in Severity.values:
        raise RecoveryError("Severity: choose low, normal, high or urgent.")
    if patient is not None and patient.practice_id != practice.pk:
        raise RecoveryError("That patient belongs to another practice.")
    unknown = [t for t in touchpoints if t not in TOUCHPOINTS]
    if unknown:
        raise RecoveryError(f"Unknown touchpoint: {', '.join(unknown)}.")
    touchpoints = list(dict.fromkeys(touchpoints))
    topic = touchpoints[0] if touchpoints else GENERAL_TOPIC
    existing = _open_case_for(patient, topic)
    if existing is not None:
        return case_join(
            case=existing,
            feedback_items=feedback_items,
            severity=severity,
            touchpoints=touchpoints,
            user=user,
        )
    try:
        with transaction.atomic():
            case = _create_case(
                survey_score=_survey_score(feedback_items),
                practice=practice,
                summary=summary,
                severity=severity,
                patient=patient,
                contact_name=_clean_text(contact_name, field="Name", limit=120),
                touchpoints=touchpoints,
                topic=topic,
                owner=owner,
                because=because,
                user=user,
                now=now,
            )
    except IntegrityError:
        # Another request opened the same patient's case on this topic a moment ago.
        existing = _open_case_for(patient, topic)
        if existing is None:
            raise
        return case_join(
            case=existing,
            feedback_items=feedback_items,
            severity=severity,
            touchpoints=touchpoints,
            user=user,
        )
    if feedback_items:
        case.feedback_items.add(*feedback_items)
    _audit(case, "create", user=user, request=request, because=because[:200])
    rescore_on_commit(case.patient_id)
    if case.severity == Severity.URGENT:
        from recovery.deadlines import notify_urgent_case

        notify_urgent_case(case)
    return case


def _open_case_for(patient: Patient | None, topic: str) -> RecoveryCase | None:
    if patient is None:
        return None
    cases = RecoveryCase.objects.open().filter(patient=patient).select_for_update()
    if topic == GENERAL_TOPIC:
        # Feedback with no clear topic belongs with whatever is already being worked.
        return cases.order_by("-opened_at").first()
    return cases.filter(topic=topic).first()


def _survey_score(items) -> int | None:
    """The 0–10 score of a survey answer among the items: the baseline a case starts from."""
    return next(
        (i.score for i in items if i.source == FeedbackItem.Source.SURVEY and i.score is not None),
        None,
    )


def _create_case(
    *,
    survey_score,
    practice,
    summary,
    severity,
    patient,
    contact_name,
    touchpoints,
    topic,
    owner,
    because,
    user,
    now,
) -> RecoveryCase:
    policy = recovery_policy_for(practice.organisation)
    reasons = priority_reasons(patient, policy)
    previous = _previous_recovered_case(patient)
    case = RecoveryCase.objects.create(
        practice=practice,
        patient=patient,
        contact_name=contact_name,
        summary=summary,
        topic=topic,
        touchpoints=touchpoints,
        severity=severity,
        is_priority=bool(reasons),
        priority_reasons=reasons,
        owner=owner or default_owner(practice, is_priority=bool(reasons)),
        opened_at=now,
        opened_by=user if user is not None and user.is_authenticated else None,
        opened_because=because[:200],
        follows_case=previous,
        satisfaction_before=(
            survey_score if survey_score is not None else satisfaction_before(patient, before=now)
        ),
    )
    calendar = BusinessCalendar.for_practice(practice)
    CaseStep.objects.bulk_create(
        CaseStep(
            case=case,
            kind=kind,
            position=position,
            due_at=_due(case, kind, now, policy, calendar) if kind in STARTS_AT_OPENING else None,
        )
        for position, kind in enumerate(STEP_ORDER)
    )
    opened = f"Opened: {because}" if because else "Opened"
    if reasons:
        opened += f" · priority ({', '.join(reasons)})"
    if previous is not None:
        opened += f" · second failure after case #{previous.pk}"
    _event(case, opened, user=user, at=now)
    return case


def _due(case, kind, start, policy=None, calendar=None) -> dt.datetime:
    return deadline(
        policy=policy or recovery_policy_for(case.practice.organisation),
        calendar=calendar or BusinessCalendar.for_practice(case.practice),
        severity=case.severity,
        step=kind,
        start=start,
        is_priority=case.is_priority,
    )


@transaction.atomic
def case_join(
    *,
    case: RecoveryCase,
    feedback_items=(),
    severity: str = Severity.LOW,
    touchpoints=(),
    user=None,
) -> RecoveryCase:
    """Add new feedback to an open case; a graver report raises its severity."""
    new_items = [item for item in feedback_items if not case.feedback_items.filter(pk=item.pk)]
    if new_items:
        case.feedback_items.add(*new_items)
        _event(case, f"{len(new_items)} more feedback joined the case", user=user)
        score = _survey_score(new_items)
        if case.satisfaction_before is None and score is not None:
            # A survey answer after a complaint at the desk is still the "before" score.
            case.satisfaction_before = score
            case.save(update_fields=["satisfaction_before"])
    added = [t for t in touchpoints if t not in case.touchpoints]
    if added:
        case.touchpoints = [*case.touchpoints, *added]
        case.save(update_fields=["touchpoints"])
    if SEVERITY_RANK.get(severity, 0) > SEVERITY_RANK[case.severity]:
        case_set_severity(case=case, severity=severity, user=user)
    return case


@transaction.atomic
def case_set_severity(*, case: RecoveryCase, severity: str, user=None, request=None) -> None:
    """Change severity; clocks of steps not yet done restart from the case's opening."""
    if severity not in Severity.values:
        raise RecoveryError("Severity: choose low, normal, high or urgent.")
    if severity == case.severity:
        return
    was = case.get_severity_display()
    case.severity = severity
    case.save(update_fields=["severity"])
    for step in case.steps.filter(completed_at__isnull=True, due_at__isnull=False):
        start = case.opened_at if step.kind in STARTS_AT_OPENING else _previous_done_at(step)
        step.due_at = _due(case, step.kind, start)
        step.save(update_fields=["due_at"])
    _event(case, f"Severity {was} → {case.get_severity_display()}", user=user)
    _audit(case, "update", user=user, request=request, severity=severity)
    if severity == Severity.URGENT:
        from recovery.deadlines import notify_urgent_case

        notify_urgent_case(case)


def _previous_done_at(step: CaseStep) -> dt.datetime:
    previous = CaseStep.objects.get(case_id=step.case_id, position=step.position - 1)
    return previous.completed_at or timezone.now()


def auto_open_reasons(item: FeedbackItem, policy: RecoveryPolicy) -> tuple[list[str], list[str]]:
    """Why an item should open a case by the organisation's rules, and its low touchpoints."""
    reasons = []
    if policy.open_on_urgent_text and item.is_urgent:
        reasons.append("urgent")
    if (
        policy.open_on_detractor
        and item.source == FeedbackItem.Source.SURVEY
        and item.score is not None
        and item.score <= 6
    ):
        reasons.append(f"detractor score {item.score}/10")
    if policy.open_on_negative_text and item.text and item.label == FeedbackItem.Label.NEGATIVE:
        reasons.append("negative comment")
    low = []
    if policy.low_rating_max and item.response_id:
        low = list(
            item.response.answers.filter(question__kind="rating", number__lte=policy.low_rating_max)
            .exclude(question__touchpoint="")
            .values_list("question__touchpoint", flat=True)
        )
        if low:
            reasons.append("low rating: " + ", ".join(TOUCHPOINTS.get(t, t) for t in low))
    return reasons, low


def _severity_of(item: FeedbackItem, reasons: list[str]) -> str:
    if item.is_urgent:
        return Severity.URGENT
    if (item.score is not None and item.score <= 3) or item.sentiment <= -0.6:
        return Severity.HIGH
    if reasons and all(reason.startswith("low rating") for reason in reasons):
        return Severity.LOW
    return Severity.NORMAL


def _summary_of(item: FeedbackItem, touchpoints: list[str]) -> str:
    first_line = " ".join(item.text.split())
    if first_line:
        return first_line if len(first_line) <= 120 else first_line[:117].rstrip() + "…"
    if touchpoints:
        return f"Unhappy with {TOUCHPOINTS[touchpoints[0]].lower()}"
    return f"Score {item.score}/10 without a comment"


def case_open_from_feedback(*, item: FeedbackItem, now: dt.datetime | None = None):
    """Open or join a case when feedback meets the organisation's rules; ``None`` otherwise.

    Called by the feedback services in the transaction that stores the item, so a
    complaint cannot be stored without its case.
    """
    now = now or timezone.now()
    if item.received_at < now - AUTO_OPEN_WINDOW:
        return None
    if item.response_id and _is_follow_up_answer(item):
        from recovery.actions import case_follow_up_answered

        case_follow_up_answered(response=item.response)
        return None
    practice = item.practice
    policy = recovery_policy_for(practice.organisation)
    reasons, low = auto_open_reasons(item, policy)
    if not reasons:
        return None
    touchpoints = list(dict.fromkeys([*item.touchpoints, *low]))
    # An edited survey answer is the same feedback: it stays with the case it already
    # belongs to, even when the edit moved it onto another topic.
    linked = RecoveryCase.objects.open().filter(feedback_items=item).first() if item.pk else None
    if linked is not None:
        case = case_join(
            case=linked,
            feedback_items=[item],
            severity=_severity_of(item, reasons),
            touchpoints=[t for t in touchpoints if t in TOUCHPOINTS],
        )
    else:
        case = case_open(
            practice=practice,
            patient=item.patient,
            contact_name=item.author_name,
            summary=_summary_of(item, touchpoints),
            severity=_severity_of(item, reasons),
            touchpoints=[t for t in touchpoints if t in TOUCHPOINTS],
            feedback_items=[item],
            because="; ".join(reasons),
            now=now,
        )
    from vendors.services import case_vendor_from_feedback

    # Feedback about a lab or specialist makes them the case's third party.
    return case_vendor_from_feedback(case=case, item=item, now=now)


def _is_follow_up_answer(item: FeedbackItem) -> bool:
    return RecoveryCase.objects.filter(follow_up_invitation_id=item.response.invitation_id).exists()


# --- Working the case --------------------------------------------------------------------


@transaction.atomic
def case_step_complete(
    *,
    case: RecoveryCase,
    kind: str,
    method: str,
    notes: str,
    user: AbstractBaseUser,
    request=None,
    score: int | None = None,
    now: dt.datetime | None = None,
) -> CaseStep:
    """Record one playbook step: who, when, how and what was said; start the next clock."""
    now = now or timezone.now()
    case = RecoveryCase.objects.select_for_update().get(pk=case.pk)
    if case.status == RecoveryCase.Status.CLOSED:
        raise RecoveryError("This case is closed.")
    steps = {step.kind: step for step in case.steps.all()}
    step = steps.get(kind)
    if step is None:
        raise RecoveryError("Unknown step.")
    if step.is_done:
        raise RecoveryError(f"“{step.get_kind_display()}” is already recorded.")
    earlier = [s for s in steps.values() if s.position < step.position and not s.is_done]
    if earlier:
        raise RecoveryError(f"Record “{earlier[0].get_kind_display()}” first.")
    if method not in CaseStep.Method.values:
        raise RecoveryError("How: choose call, in person, email, letter, text or within the team.")
    notes = _clean_text(notes, field="What was said", limit=MAX_NOTES)
    if not notes:
        raise RecoveryError("What was said: write it down in their words.")
    if score is not None and not 0 <= score <= 10:
        raise RecoveryError("Score: 0 to 10.")
    if case.is_paused:
        # Restart the clocks before recording: the time spent waiting must not count
        # against this step, nor stretch the deadline of the step it starts.
        _resume(case, user=user, now=now)
        step.refresh_from_db(fields=["due_at"])
    step.completed_at, step.completed_by, step.method, step.notes = now, user, method, notes
    step.save(update_fields=["completed_at", "completed_by", "method", "notes"])
    following = next((s for s in steps.values() if s.position == step.position + 1), None)
    if following is not None and following.due_at is None:
        following.due_at = _due(case, following.kind, now)
        following.save(update_fields=["due_at"])
    if kind == StepKind.FOLLOW_UP and score is not None:
        case.satisfaction_after = score
        case.save(update_fields=["satisfaction_after"])
    late = " (late)" if step.due_at and now > step.due_at else ""
    _event(
        case, f"{step.get_kind_display()} · {step.get_method_display()}{late}", user=user, at=now
    )
    _audit(case, "update", user=user, request=request, step=kind)
    return step


@transaction.atomic
def case_assign(*, case: RecoveryCase, owner: AbstractBaseUser, user, request=None) -> None:
    from core.selectors import CASE_ROLES, roles_at

    if not roles_at(owner, case.practice) & CASE_ROLES:
        raise RecoveryError("The owner must be a dentist, hygienist or manager of the practice.")
    case.owner = owner
    case.save(update_fields=["owner"])
    _event(case, f"Owner: {owner.get_full_name() or owner.get_username()}", user=user)
    _audit(case, "update", user=user, request=request, owner=owner.pk)


@transaction.atomic
def case_pause(
    *, case: RecoveryCase, waiting_on: str, user, request=None, now: dt.datetime | None = None
) -> None:
    """Stop the clocks while the patient or a third party has to answer."""
    now = now or timezone.now()
    case = RecoveryCase.objects.select_for_update().get(pk=case.pk)
    statuses = {
        "patient": RecoveryCase.Status.WAITING_PATIENT,
        "third_party": RecoveryCase.Status.WAITING_THIRD_PARTY,
    }
    if waiting_on not in statuses:
        raise RecoveryError("Waiting on: the patient or a third party.")
    if case.status != RecoveryCase.Status.OPEN:
        raise RecoveryError("Only an open case can wait.")
    case.status, case.paused_at = statuses[waiting_on], now
    case.save(update_fields=["status", "paused_at"])
    _event(case, f"Clock stopped: {case.get_status_display().lower()}", user=user, at=now)
    _audit(case, "update", user=user, request=request, status=case.status)


@transaction.atomic
def case_resume(*, case: RecoveryCase, user, request=None, now: dt.datetime | None = None) -> None:
    now = now or timezone.now()
    case = RecoveryCase.objects.select_for_update().get(pk=case.pk)
    if not case.is_paused:
        raise RecoveryError("The case is not waiting.")
    _resume(case, user=user, now=now)
    _audit(case, "update", user=user, request=request, status=case.status)


def _resume(case: RecoveryCase, *, user, now: dt.datetime) -> None:
    """Restart the clocks with the time that was left when they stopped."""
    calendar = BusinessCalendar.for_practice(case.practice)
    for step in case.steps.filter(completed_at__isnull=True, due_at__isnull=False):
        if step.due_at <= case.paused_at:
            continue  # overdue before the pause: waiting does not buy back lost time
        left = max(0, calendar.minutes_between(case.paused_at, step.due_at))
        step.due_at = calendar.add_minutes(now, left)
        step.save(update_fields=["due_at"])
    case.status, case.paused_at = RecoveryCase.Status.OPEN, None
    case.save(update_fields=["status", "paused_at"])
    _event(case, "Clock running again", user=user, at=now)


@transaction.atomic
def case_close(
    *, case: RecoveryCase, outcome: str, user, request=None, now: dt.datetime | None = None
) -> RecoveryCase:
    """Close with an outcome; "recovered" needs the follow-up to have been done."""
    now = now or timezone.now()
    case = RecoveryCase.objects.select_for_update().get(pk=case.pk)
    if case.status == RecoveryCase.Status.CLOSED:
        raise RecoveryError("This case is already closed.")
    if outcome not in RecoveryCase.Outcome.values:
        raise RecoveryError("Outcome: recovered, partly recovered, not recovered or unreachable.")
    follow_up_done = case.steps.filter(kind=StepKind.FOLLOW_UP, completed_at__isnull=False)
    needs_follow_up = {RecoveryCase.Outcome.RECOVERED, RecoveryCase.Outcome.PARTLY}
    if outcome in needs_follow_up and not follow_up_done.exists():
        raise RecoveryError("Follow up with the patient before calling the case recovered.")
    case.status, case.outcome, case.closed_at = RecoveryCase.Status.CLOSED, outcome, now
    case.paused_at = None
    case.save(update_fields=["status", "outcome", "closed_at", "paused_at"])
    _event(case, f"Closed: {case.get_outcome_display().lower()}", user=user, at=now)
    _audit(case, "update", user=user, request=request, outcome=outcome)
    rescore_on_commit(case.patient_id)
    return case
