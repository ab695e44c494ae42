"""Writes for analytics: the monthly report, sent to each practice's managers.

On the 1st of a month, from 06:00 in the practice's own time zone, last month's report is
queued in the outbox for every active manager with an email address, as a PDF attachment.
The hourly job (``analytics.tasks.monthly_reports``) runs all month, so a run missed on the
1st is caught up later that month; the outbox's idempotency key (practice, month, person)
makes every later run, or a second scheduler, send nothing more.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from analytics.report import month_days, month_label, monthly_report_pdf
from analytics.rollups import rollups_refresh
from core.models import Practice
from messaging.errors import MessagingError
from messaging.models import OutboundMessage
from messaging.services import message_enqueue
from recovery.services import practice_managers

logger = logging.getLogger(__name__)

REPORT_KIND = "analytics_monthly_report"
# Local time on the 1st from which last month's report goes out: after the nightly jobs
# have settled the month's last day, before the office opens.
SEND_FROM = dt.time(6, 0)


def report_due_month(practice: Practice, now: dt.datetime) -> dt.date | None:
    """The month whose report is due at the practice at ``now``: last month, from 06:00
    local on the 1st to the end of this month; None before 06:00 on the 1st."""
    local = now.astimezone(practice.zone)
    if local.day == 1 and local.time() < SEND_FROM:
        return None
    return month_days(local.date().replace(day=1) - dt.timedelta(days=1))[0]


def report_recipients(practice: Practice) -> list[AbstractBaseUser]:
    """The practice's active managers (as recovery escalates to them) with an address.

    An address that is not one is left out here, or every hourly run would draw the report
    again for the one person it can never be queued for."""
    return [user for user in practice_managers(practice) if _is_address(user.email)]


def _is_address(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def report_key(practice: Practice, month: dt.date, user: AbstractBaseUser) -> str:
    return f"analytics-monthly:{practice.pk}:{month:%Y-%m}:{user.pk}"


def report_filename(practice: Practice, month: dt.date) -> str:
    # A slug is letters, digits, - and _: a safe file name.
    return f"{practice.slug}-{month:%Y-%m}-report.pdf"


def monthly_report_prepare(
    *, practice: Practice, month: dt.date, now: dt.datetime | None = None
) -> bytes:
    """Bring the month's rollups of the practice up to date with the raw rows, then
    render its report (figures that settle after their day are settled now)."""
    now = now or timezone.now()
    first, last = month_days(month)
    rollups_refresh(practices=[practice], days=(first, last), now=now)
    return monthly_report_pdf(practice, first, now=now)


def monthly_report_send(
    *, practice: Practice, month: dt.date, now: dt.datetime | None = None
) -> int:
    """Queue the month's report to each recipient who has not had it; returns how many
    were queued. Nothing is refreshed or rendered when everyone has had it."""
    month = month_days(month)[0]
    recipients = report_recipients(practice)
    keys = {user.pk: report_key(practice, month, user) for user in recipients}
    queued_before = set(
        OutboundMessage.objects.filter(
            practice=practice, idempotency_key__in=keys.values()
        ).values_list("idempotency_key", flat=True)
    )
    waiting = [user for user in recipients if keys[user.pk] not in queued_before]
    if not waiting:
        return 0
    # Rendered before the transaction: the outbox rows are written in a short one.
    pdf = monthly_report_prepare(practice=practice, month=month, now=now)
    attachment = (report_filename(practice, month), "application/pdf", pdf)
    subject = f"{' '.join(practice.name.split())} — {month_label(month)} report"
    queued = 0
    with transaction.atomic():
        for user in waiting:
            greeting = user.first_name or user.get_username()
            body = (
                f"Hello {greeting},\n\n"
                f"Attached is {practice.name}'s report for {month_label(month)}: NPS and its "
                "trend, surveys, touchpoints, service recovery, loyalty, records, the phone "
                "and the case mix.\n\n"
                "Figures printed in grey rest on fewer than 30 answers: read them with care.\n"
            )
            try:
                message_enqueue(
                    practice=practice,
                    channel="email",
                    to_address=user.email,
                    subject=subject,
                    body=body,
                    kind=REPORT_KIND,
                    idempotency_key=keys[user.pk],
                    attachments=[attachment],
                )
            except MessagingError as problem:
                # One person's message refused must not keep the report from the others.
                logger.warning(
                    "monthly report %s %s: not queued for user %s: %s",
                    practice.pk,
                    f"{month:%Y-%m}",
                    user.pk,
                    problem,
                )
                continue
            queued += 1
    return queued


def monthly_reports_send(*, now: dt.datetime | None = None) -> int:
    """Queue last month's report at every practice where it is due (06:00 local on the 1st
    or later in the month) to each manager who has not had it; returns how many were
    queued."""
    now = now or timezone.now()
    queued = 0
    for practice in Practice.objects.select_related("organisation").order_by("pk"):
        month = report_due_month(practice, now)
        if month is None:
            continue
        try:
            queued += monthly_report_send(practice=practice, month=month, now=now)
        except Exception:  # one practice's failure must not stop the others' reports
            logger.exception("monthly report %s %s failed", practice.pk, f"{month:%Y-%m}")
    return queued
