"""Reads of feedback: the inbox, NPS with its margin of error, and dashboard figures."""

from __future__ import annotations

import datetime as dt
import json

from django.db import connection
from django.db.models import Avg, Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.http import Http404

from analytics.stats import Nps
from core.models import Practice
from core.periods import day_bounds
from feedback.models import Answer, FeedbackItem, Question, SurveyResponse
from feedback.touchpoints import TOUCHPOINTS


def nps_from_counts(scores: QuerySet) -> Nps:
    counts = scores.aggregate(
        promoters=Count("pk", filter=Q(nps__gte=9)),
        passives=Count("pk", filter=Q(nps__in=[7, 8])),
        detractors=Count("pk", filter=Q(nps__lte=6)),
    )
    return Nps(**counts)


def practice_nps(practice: Practice, *, since: dt.datetime | None = None) -> Nps:
    responses = SurveyResponse.objects.filter(practice=practice, nps__isnull=False)
    if since is not None:
        responses = responses.filter(submitted_at__gte=since)
    return nps_from_counts(responses)


def nps_by_month(practice: Practice, *, since: dt.datetime) -> list[tuple[dt.date, Nps]]:
    rows = (
        SurveyResponse.objects.filter(practice=practice, nps__isnull=False, submitted_at__gte=since)
        .annotate(month=TruncMonth("submitted_at", tzinfo=practice.zone))
        .values("month")
        .annotate(
            promoters=Count("pk", filter=Q(nps__gte=9)),
            passives=Count("pk", filter=Q(nps__in=[7, 8])),
            detractors=Count("pk", filter=Q(nps__lte=6)),
        )
        .order_by("month")
    )
    return [
        (
            row["month"].date() if hasattr(row["month"], "date") else row["month"],
            Nps(row["promoters"], row["passives"], row["detractors"]),
        )
        for row in rows
    ]


def touchpoint_satisfaction(
    practice: Practice, *, since: dt.datetime
) -> list[tuple[str, float, int]]:
    rows = (
        Answer.objects.filter(
            response__practice=practice,
            response__submitted_at__gte=since,
            question__kind=Question.Kind.RATING,
            number__isnull=False,
        )
        .values("question__touchpoint")
        .annotate(average=Avg("number"), answers=Count("pk"))
        .order_by("question__touchpoint")
    )
    return [
        (TOUCHPOINTS.get(row["question__touchpoint"], "Other"), row["average"], row["answers"])
        for row in rows
    ]


def inbox(*, user, practice: Practice, filters: dict[str, str]) -> QuerySet[FeedbackItem]:
    items = (
        FeedbackItem.objects.for_user(user)
        .filter(practice=practice)
        .select_related("patient")
        .prefetch_related("recovery_cases")
        .order_by("-received_at", "-id")
    )
    if filters.get("label") in FeedbackItem.Label.values:
        items = items.filter(label=filters["label"])
    if filters.get("status") in FeedbackItem.Status.values:
        items = items.filter(status=filters["status"])
    if filters.get("source") in FeedbackItem.Source.values:
        items = items.filter(source=filters["source"])
    if filters.get("urgent") == "1":
        items = items.filter(is_urgent=True)
    touchpoint = filters.get("touchpoint")
    if touchpoint in TOUCHPOINTS:
        # JSON "contains" is not portable to SQLite; a quoted-slug match is exact enough.
        items = items.filter(touchpoints__icontains=f'"{touchpoint}"')
    if person := filters.get("person", "").strip():
        items = items.filter(_names(person))
    since, until = day_bounds(filters.get("from", ""), filters.get("to", ""), practice.zone)
    if since:
        items = items.filter(received_at__gte=since)
    if until:
        items = items.filter(received_at__lt=until)
    return items


def _names(person: str) -> Q:
    """Items whose ``people`` list holds the name exactly."""
    if connection.vendor == "postgresql":
        return Q(people__contains=[person])
    # SQLite has no JSON containment lookup: match the name as stored, JSON-encoded.
    return Q(people__icontains=json.dumps(person))


def get_item_for_user(user, pk) -> FeedbackItem:
    try:
        return FeedbackItem.objects.for_user(user).select_related("patient", "practice").get(pk=pk)
    except (FeedbackItem.DoesNotExist, ValueError, TypeError):
        raise Http404("No such feedback") from None


def patient_feedback(patient) -> QuerySet[FeedbackItem]:
    return patient.feedback_items.order_by("-received_at")[:20]


def latest_detractor_comments(practice: Practice, *, limit: int = 8) -> QuerySet[FeedbackItem]:
    return (
        FeedbackItem.objects.filter(
            practice=practice, source=FeedbackItem.Source.SURVEY, score__lte=6
        )
        .exclude(text="")
        .select_related("patient")
        .order_by("-received_at")[:limit]
    )


def response_rate(practice: Practice, *, since: dt.datetime) -> tuple[int, int]:
    from feedback.models import SurveyInvitation

    invited = SurveyInvitation.objects.filter(practice=practice, created_at__gte=since)
    return invited.filter(response__isnull=False).count(), invited.count()
