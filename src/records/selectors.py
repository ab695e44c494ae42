"""Reads of records requests, scoped to the practices the person works at."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from core.models import Practice
from records.models import RecordsRequest


def open_requests(*, user, practice: Practice) -> QuerySet[RecordsRequest]:
    return (
        RecordsRequest.objects.for_user(user)
        .filter(practice=practice, status=RecordsRequest.Status.RECEIVED)
        .select_related("patient")
        .order_by("due_on", "received_at")
    )


def recent_fulfilled(*, user, practice: Practice, limit: int = 20) -> QuerySet[RecordsRequest]:
    return (
        RecordsRequest.objects.for_user(user)
        .filter(practice=practice, status=RecordsRequest.Status.FULFILLED)
        .select_related("patient")
        .order_by("-fulfilled_at")[:limit]
    )


def get_request_for_user(user, pk) -> RecordsRequest:
    try:
        return (
            RecordsRequest.objects.for_user(user)
            .select_related("patient", "practice__organisation", "logged_by", "fulfilled_by")
            .get(pk=pk)
        )
    except (RecordsRequest.DoesNotExist, ValueError, TypeError):
        raise Http404("No such request") from None


def patient_requests(*, user, patient) -> QuerySet[RecordsRequest]:
    return RecordsRequest.objects.for_user(user).filter(patient=patient).order_by("-received_at")
