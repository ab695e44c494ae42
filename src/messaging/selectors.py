"""Reads of the outbox, templates and contact preferences, scoped to the person asking."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from core.models import Practice
from core.selectors import managed_practices_for_user
from messaging.errors import MessagingError
from messaging.models import ContactPreference, MessageTemplate, OutboundMessage
from messaging.rendering import DEFAULT_TEMPLATES


def messages_for_patient(patient) -> QuerySet[OutboundMessage]:
    """The patient's communication log, newest first. ``patient`` comes from a scoped read."""
    return (
        OutboundMessage.objects.filter(practice_id=patient.practice_id, patient=patient)
        .defer("body", "html_body")
        .order_by("-created_at", "-id")
    )


def is_opted_out(patient, channel: str) -> bool:
    """Whether this person asked not to be contacted on the channel."""
    return ContactPreference.objects.filter(patient=patient, channel=channel).exists()


def undeliverable_messages(*, user, practice: Practice) -> QuerySet[OutboundMessage]:
    """Messages that will not arrive, for a practice the person manages; newest first."""
    return (
        OutboundMessage.objects.undeliverable()
        .filter(practice__in=managed_practices_for_user(user))
        .filter(practice=practice)
        .select_related("patient")
        .defer("body", "html_body")
        .order_by("-failed_at", "-id")
    )


def message_template_for(*, practice: Practice, kind: str, channel: str) -> tuple[str, str]:
    """The wording to use: the practice's own, else the default row, else the built-in text."""
    rows = {
        row.practice_id: row
        for row in MessageTemplate.objects.filter(kind=kind, channel=channel).filter(
            Q(practice=practice) | Q(practice__isnull=True)
        )
    }
    row = rows.get(practice.pk) or rows.get(None)
    if row is not None:
        return row.subject, row.body
    try:
        return DEFAULT_TEMPLATES[(kind, channel)]
    except KeyError:
        raise MessagingError(f"no wording for {kind!r} messages by {channel}") from None
