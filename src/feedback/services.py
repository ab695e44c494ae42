"""Writes for surveys, invitations, responses and feedback items."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from core.links import absolute_url
from core.models import Organisation, Practice, StaffMember
from core.services import audit_record
from feedback.defaults import DEFAULT_SURVEYS
from feedback.models import (
    Answer,
    FeedbackItem,
    FeedbackPolicy,
    Question,
    Survey,
    SurveyInvitation,
    SurveyResponse,
)
from patients.models import Appointment, Patient

LINK_SALT = "feedback.survey-link"
MAX_TEXT = 5000


class FeedbackError(Exception):
    """A problem with a survey or feedback that can be shown to the person."""


def feedback_policy_for(practice: Practice) -> FeedbackPolicy:
    policy, _ = FeedbackPolicy.objects.get_or_create(practice=practice)
    return policy


@transaction.atomic
def surveys_ensure_defaults(*, organisation: Organisation) -> dict[str, Survey]:
    """The active survey of each default kind, created from the defaults when missing."""
    surveys = {}
    for kind, spec in DEFAULT_SURVEYS.items():
        # The newest active survey of a kind is the one sent, so an edited or imported
        # survey takes over from the default.
        survey = organisation.surveys.filter(kind=kind, is_active=True).order_by("-id").first()
        if survey is None:
            survey = Survey.objects.create(
                organisation=organisation,
                kind=kind,
                title=spec["title"],
                intro=spec["intro"],
                thanks=spec["thanks"],
            )
            Question.objects.bulk_create(
                Question(survey=survey, position=index, **question)
                for index, question in enumerate(spec["questions"])
            )
        surveys[kind] = survey
    return surveys


# --- Signed links ---------------------------------------------------------------------


def invitation_token(invitation: SurveyInvitation) -> str:
    """The link's token: the invitation's random id, signed and timestamped (no patient data)."""
    return signing.TimestampSigner(salt=LINK_SALT).sign(invitation.public_id)


def invitation_path(invitation: SurveyInvitation) -> str:
    return reverse("feedback:survey-answer", args=[invitation_token(invitation)])


def invitation_from_token(
    token: str, *, now: dt.datetime | None = None, allow_closed: bool = False
) -> SurveyInvitation:
    """The invitation behind a link, or ``FeedbackError`` for a forged or expired one.

    ``allow_closed`` accepts a link whose survey has closed: unsubscribing must work
    from an old message too.
    """
    now = now or timezone.now()
    signer = signing.TimestampSigner(salt=LINK_SALT)
    try:
        public_id = signer.unsign(token[:200])
    except signing.BadSignature:
        raise FeedbackError(
            "This link is not valid. Please use the link from your message."
        ) from None
    invitation = (
        SurveyInvitation.objects.select_related("survey", "practice")
        .filter(public_id=public_id)
        .first()
    )
    if invitation is None:
        raise FeedbackError("This link is not valid. Please use the link from your message.")
    if invitation.expires_at <= now and not allow_closed:
        raise FeedbackError("This survey has closed. Thank you for wanting to tell us.")
    return invitation


# --- Invitations ----------------------------------------------------------------------


def is_quiet_time(policy: FeedbackPolicy, moment: dt.datetime) -> bool:
    """Whether a moment falls in the practice's quiet hours, in its own time zone."""
    local = moment.astimezone(policy.practice.zone).time()
    if policy.quiet_from <= policy.quiet_until:
        return policy.quiet_from <= local < policy.quiet_until
    return local >= policy.quiet_from or local < policy.quiet_until


def was_invited_recently(patient: Patient, policy: FeedbackPolicy, now: dt.datetime) -> bool:
    since = now - dt.timedelta(days=policy.throttle_days)
    return patient.survey_invitations.filter(created_at__gt=since).exists()


@transaction.atomic
def invitation_create(
    *,
    patient: Patient,
    survey: Survey,
    appointment: Appointment | None = None,
    now=None,
    message_kind: str = "survey_invitation",
    message_context: Mapping[str, object] | None = None,
) -> SurveyInvitation:
    """Create the invitation and queue its message in the same transaction.

    ``message_context`` adds wording values for another kind of message that carries the
    link (the farewell letter's ``years_with_us``)."""
    now = now or timezone.now()
    policy = feedback_policy_for(patient.practice)
    invitation = SurveyInvitation.objects.create(
        practice=patient.practice,
        patient=patient,
        survey=survey,
        appointment=appointment,
        created_at=now,
        expires_at=now + dt.timedelta(days=policy.link_valid_days),
    )
    _queue_invitation_message(invitation, kind=message_kind, extra=message_context)
    return invitation


def _queue_invitation_message(
    invitation: SurveyInvitation, *, kind: str, extra: Mapping[str, object] | None = None
) -> None:
    from messaging.services import message_enqueue_for_patient

    message_enqueue_for_patient(
        patient=invitation.patient,
        kind=kind,
        context={
            "link": absolute_url(invitation_path(invitation)),
            "unsubscribe_link": absolute_url(
                reverse("feedback:unsubscribe", args=[invitation_token(invitation)])
            ),
            "survey_title": invitation.survey.title,
            **(extra or {}),
        },
        idempotency_key=f"survey-invitation-{invitation.pk}",
    )


def invitations_send_due(*, now: dt.datetime | None = None, lookback_days: int = 7) -> int:
    """Invite patients after completed visits: delay, quiet hours, throttle and opt-out honoured.

    Idempotent: an appointment gets at most one invitation (a unique link), so running
    twice, or on two workers, invites nobody twice.
    """
    now = now or timezone.now()
    candidates = (
        Appointment.objects.filter(
            status=Appointment.Status.COMPLETED,
            starts_at__gte=now - dt.timedelta(days=lookback_days),
            starts_at__lte=now,
            survey_invitation__isnull=True,
            patient__status=Patient.Status.ACTIVE,
        )
        .select_related("practice__organisation", "patient")
        .order_by("starts_at")
    )
    invited = 0
    policies: dict[int, FeedbackPolicy] = {}
    surveys: dict[int, Survey] = {}
    for appointment in candidates.iterator(chunk_size=500):
        practice = appointment.practice
        policy = policies.get(practice.pk) or policies.setdefault(
            practice.pk, feedback_policy_for(practice)
        )
        if not _is_due(appointment, policy, now):
            continue
        org_id = practice.organisation_id
        if org_id not in surveys:
            surveys[org_id] = surveys_ensure_defaults(organisation=practice.organisation)[
                "post_visit"
            ]
        if _invite_once(appointment, surveys[org_id], policy, now):
            invited += 1
    return invited


def _is_due(appointment: Appointment, policy: FeedbackPolicy, now: dt.datetime) -> bool:
    if appointment.ends_at + dt.timedelta(minutes=policy.delay_minutes) > now:
        return False
    return not is_quiet_time(policy, now)


@transaction.atomic
def _invite_once(appointment, survey, policy, now) -> bool:
    patient = Patient.objects.select_for_update().get(pk=appointment.patient_id)
    if was_invited_recently(patient, policy, now):
        return False
    from messaging.selectors import is_opted_out

    contact = patient.contact_person
    if is_opted_out(contact, "email") and is_opted_out(contact, "sms"):
        return False
    invitation_create(patient=patient, survey=survey, appointment=appointment, now=now)
    return True


# --- Responses ------------------------------------------------------------------------


def survey_questions(invitation: SurveyInvitation) -> list[Question]:
    """The questions an invitation asks: a lab or specialist's ``{vendor}`` question only
    when the visit involved one (it then carries ``.vendor``)."""
    from vendors.surveys import survey_questions_for

    return survey_questions_for(invitation)


def _clean_answer(question: Question, raw: str | None) -> tuple[int | None, str]:
    value = (raw or "").strip()
    if "\x00" in value:
        raise FeedbackError(f"“{question.text}”: the answer contains a character we cannot store.")
    if not value:
        if question.is_required:
            raise FeedbackError(f"“{question.text}”: please choose an answer.")
        return None, ""
    if question.kind == Question.Kind.TEXT:
        if len(value) > MAX_TEXT:
            raise FeedbackError(f"“{question.text}”: please keep it under {MAX_TEXT} characters.")
        return None, value
    if question.kind == Question.Kind.CHOICE:
        if value not in question.choices:
            raise FeedbackError(f"“{question.text}”: please choose one of the options.")
        return None, value
    limits = {"nps": (0, 10), "rating": (1, 5), "yes_no": (0, 1)}[question.kind]
    try:
        number = int(value)
    except ValueError:
        raise FeedbackError(f"“{question.text}”: please choose one of the options.") from None
    if not limits[0] <= number <= limits[1]:
        raise FeedbackError(f"“{question.text}”: please choose one of the options.")
    return number, ""


@transaction.atomic
def response_submit(
    *, invitation: SurveyInvitation, answers: Mapping[str, str], now=None
) -> SurveyResponse:
    """Store or update the one response of an invitation and its feedback item."""
    now = now or timezone.now()
    questions = survey_questions(invitation)
    cleaned = {q.pk: _clean_answer(q, answers.get(f"q{q.pk}")) for q in questions}
    about = {q.pk: getattr(q, "vendor", None) for q in questions}
    invitation = SurveyInvitation.objects.select_for_update().get(pk=invitation.pk)
    response, created = SurveyResponse.objects.get_or_create(
        invitation=invitation,
        defaults={
            "practice_id": invitation.practice_id,
            "patient_id": invitation.patient_id,
            "survey_id": invitation.survey_id,
            "review_offered_at": now,
        },
    )
    response.answers.all().delete()
    Answer.objects.bulk_create(
        Answer(response=response, question_id=pk, number=number, text=text, vendor=about[pk])
        for pk, (number, text) in cleaned.items()
        if number is not None or text
    )
    nps_question = next((q for q in questions if q.kind == Question.Kind.NPS), None)
    response.nps = cleaned[nps_question.pk][0] if nps_question else None
    response.save(update_fields=["nps", "updated_at"])
    _response_feedback_item(response, questions, cleaned, now)
    if invitation.survey.kind == Survey.Kind.EXIT:
        from records.departures import departure_reason_from_exit_answers

        # A departed patient's answer fills in the reason staff left blank.
        chosen = [cleaned[q.pk][1] for q in questions if q.kind == Question.Kind.CHOICE]
        departure_reason_from_exit_answers(patient_id=response.patient_id, answers=chosen)
    audit_record(
        action="create" if created else "update",
        object_type="survey_response",
        object_id=response.pk,
        patient_id=response.patient_id,
        practice=invitation.practice,
        actor_label="patient (survey link)",
    )
    return response


def _response_feedback_item(response, questions, cleaned, now) -> None:
    """One inbox item per response, carrying its free text and score."""
    texts = [
        cleaned[q.pk][1] for q in questions if q.kind == Question.Kind.TEXT and cleaned[q.pk][1]
    ]
    low = [q.touchpoint for q in questions if q.kind == "rating" and (cleaned[q.pk][0] or 5) <= 2]
    # Updated in place when the patient edits their answers: a case may already link to it.
    item = response.items.first() or FeedbackItem(
        practice_id=response.practice_id,
        patient_id=response.patient_id,
        response=response,
        source=FeedbackItem.Source.SURVEY,
    )
    item.text, item.score, item.received_at = "\n\n".join(texts), response.nps, now
    _analyse_into(item, extra_touchpoints=[t for t in low if t])
    item.save()
    _open_case_if_needed(item, now=now)


def _open_case_if_needed(item: FeedbackItem, *, now: dt.datetime | None = None) -> None:
    """Negative, urgent or detractor feedback opens (or joins) a recovery case; the
    patient's loyalty score is brought up to date either way."""
    from loyalty.tasks import rescore_on_commit
    from recovery.services import case_open_from_feedback

    case_open_from_feedback(item=item, now=now)
    rescore_on_commit(item.patient_id)


# --- Feedback items -------------------------------------------------------------------


def _people_of(practice_id: int) -> list[str]:
    return list(
        StaffMember.objects.filter(practice_id=practice_id, is_active=True).values_list(
            "name", flat=True
        )
    )


def _analyse_into(item: FeedbackItem, *, extra_touchpoints: list[str] = ()) -> None:
    from feedback.analysis import analyze

    result = analyze(item.text, people=_people_of(item.practice_id))
    item.sentiment = result.sentiment
    item.label = result.label
    item.touchpoints = list(dict.fromkeys([*result.touchpoints, *extra_touchpoints]))
    item.is_urgent = result.urgent
    item.reasons = list(result.reasons)
    item.people = list(result.people)
    is_survey = item.source == FeedbackItem.Source.SURVEY
    if is_survey and item.score is not None and item.score <= 6 and item.label == "neutral":
        # A detractor's score says more than a short, flat comment.
        item.label = FeedbackItem.Label.NEGATIVE
        item.reasons.append(f"score {item.score} of 10 (detractor)")
    from vendors.services import feedback_attribute_vendor

    feedback_attribute_vendor(item)  # the lab or specialist the text names


@transaction.atomic
def feedback_item_create(
    *,
    practice: Practice,
    source: str,
    text: str,
    patient: Patient | None = None,
    author_name: str = "",
    contact: str = "",
    score: int | None = None,
    source_detail: str = "",
    external_id: str = "",
    received_at: dt.datetime | None = None,
    user=None,
    request=None,
) -> FeedbackItem:
    text = (text or "").strip()
    if not text:
        raise FeedbackError("Please write something first.")
    if "\x00" in text or "\x00" in author_name or "\x00" in contact:
        raise FeedbackError("The text contains a character we cannot store.")
    if len(text) > MAX_TEXT:
        raise FeedbackError(f"Please keep it under {MAX_TEXT} characters.")
    if patient is not None and patient.practice_id != practice.pk:
        raise FeedbackError("That patient belongs to another practice.")
    item = FeedbackItem(
        practice=practice,
        patient=patient,
        source=source,
        source_detail=source_detail[:80],
        external_id=external_id,
        author_name=author_name.strip()[:120],
        contact=contact.strip()[:200],
        text=text,
        score=score,
        received_at=received_at or timezone.now(),
    )
    _analyse_into(item)
    item.save()
    audit_record(
        action="create",
        object_type="feedback_item",
        object_id=item.pk,
        patient_id=patient.pk if patient else None,
        practice=practice,
        user=user,
        request=request,
        actor_label="" if user else f"{source} channel",
    )
    _open_case_if_needed(item)
    return item


@transaction.atomic
def feedback_item_set_status(
    *, item: FeedbackItem, status: str, user, request=None
) -> FeedbackItem:
    if status not in FeedbackItem.Status.values:
        raise FeedbackError("Unknown status.")
    item.status = status
    item.handled_at = timezone.now() if status == FeedbackItem.Status.HANDLED else None
    item.save(update_fields=["status", "handled_at"])
    audit_record(
        action="update",
        object_type="feedback_item",
        object_id=item.pk,
        patient_id=item.patient_id,
        practice=item.practice,
        user=user,
        request=request,
        detail={"status": status},
    )
    return item


@transaction.atomic
def unsubscribe_from_link(*, invitation: SurveyInvitation) -> Patient:
    """Stop survey messages on every channel to whoever receives this patient's messages."""
    from messaging.services import opt_out

    contact = invitation.patient.contact_person
    for channel in ("email", "sms"):
        opt_out(contact, channel, source="unsubscribe link")
    return contact
