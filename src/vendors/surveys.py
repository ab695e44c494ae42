"""The post-visit survey asks about a lab or specialist only when the visit involved one.

A question whose text holds ``{vendor}`` is a vendor question: it is shown to a patient
whose visit involved a vendor owning the question's touchpoint (an ``Involvement`` of a
kind the patient experiences in person, linked to the survey's appointment), with the
vendor's name filled in, and its answer is stored with that vendor. Other patients never
see it. When a visit needs one and the survey has none, the default question is added
before the survey's free-text questions, once.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from feedback.models import Question, Survey, SurveyInvitation
from vendors.models import Involvement, Vendor

VENDOR_PLACEHOLDER = "{vendor}"
VENDOR_QUESTION = "How was your visit to {vendor}?"
# What patients go through themselves: a lab case or a billing run is not a visit to rate.
SURVEYED_KINDS = (Involvement.Kind.VISIT, Involvement.Kind.IMAGING)


def involved_vendors(invitation: SurveyInvitation) -> list[Vendor]:
    """Active vendors with a touchpoint that the invitation's visit involved, first first."""
    if invitation.appointment_id is None:
        return []
    involvements = (
        Involvement.objects.filter(
            appointment_id=invitation.appointment_id,
            kind__in=SURVEYED_KINDS,
            vendor__is_active=True,
        )
        .select_related("vendor")
        .order_by("pk")
    )
    vendors = {}
    for involvement in involvements:
        if involvement.vendor.touchpoints:
            vendors.setdefault(involvement.vendor_id, involvement.vendor)
    return list(vendors.values())


def _vendor_question(survey: Survey, touchpoint: str) -> Question | None:
    return (
        survey.questions.filter(text__contains=VENDOR_PLACEHOLDER, touchpoint=touchpoint)
        .order_by("pk")
        .first()
    )


def vendor_question_ensure(survey: Survey, touchpoint: str) -> Question:
    """The survey's vendor question for a touchpoint, added before its free texts if missing."""
    return _vendor_question(survey, touchpoint) or _vendor_question_add(survey, touchpoint)


@transaction.atomic
def _vendor_question_add(survey: Survey, touchpoint: str) -> Question:
    # One at a time per survey, so two patients opening their links add one question.
    Survey.objects.select_for_update().filter(pk=survey.pk).first()
    existing = _vendor_question(survey, touchpoint)
    if existing is not None:
        return existing
    questions = list(survey.questions.order_by("position", "pk"))
    first_text = next((q for q in questions if q.kind == Question.Kind.TEXT), None)
    if first_text is not None:
        position = first_text.position
        survey.questions.filter(position__gte=position).update(position=F("position") + 1)
    else:
        position = max((q.position for q in questions), default=-1) + 1
    return Question.objects.create(
        survey=survey,
        position=position,
        kind=Question.Kind.RATING,
        text=VENDOR_QUESTION,
        touchpoint=touchpoint,
    )


def survey_questions_for(invitation: SurveyInvitation) -> list[Question]:
    """The questions this invitation asks; a vendor question carries ``.vendor``."""
    survey = invitation.survey
    vendors = involved_vendors(invitation) if survey.kind == Survey.Kind.POST_VISIT else []
    # One question per vendor, about the first touchpoint it owns.
    by_touchpoint: dict[str, Vendor] = {}
    for vendor in vendors:
        by_touchpoint.setdefault(vendor.touchpoints[0], vendor)
    for touchpoint in by_touchpoint:
        vendor_question_ensure(survey, touchpoint)
    questions, asked = [], set()
    for question in survey.questions.all():
        if VENDOR_PLACEHOLDER not in question.text:
            questions.append(question)
            continue
        touchpoint = question.touchpoint or next(iter(by_touchpoint), "")
        vendor = by_touchpoint.get(touchpoint)
        if vendor is None or touchpoint in asked:
            continue
        asked.add(touchpoint)
        question.vendor = vendor
        questions.append(question)
    return questions


def question_text(question: Question) -> str:
    """A vendor question's words with the vendor's name; others as they are."""
    vendor = getattr(question, "vendor", None)
    return question.text.replace(VENDOR_PLACEHOLDER, vendor.name) if vendor else question.text
