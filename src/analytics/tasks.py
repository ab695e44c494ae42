"""Background jobs for analytics: keep the rollups of today, and of the recent past, fresh;
send each practice's monthly report."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from analytics.rollups import NIGHTLY_DAYS, rollups_refresh_recent
from analytics.services import monthly_reports_send

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*/15"))
def rollups_refresh_today() -> int:
    """Every practice's today and yesterday: dashboards lag the raw rows by 15 minutes at
    most, and each practice's yesterday is complete soon after its own midnight."""
    result = rollups_refresh_recent(days_back=1)
    logger.info("%s", result.summary())
    return result.rows


@db_periodic_task(crontab(hour="3", minute="30"))
def rollups_refresh_nightly() -> int:
    # After the 02:45 loyalty scoring, whose scores today's snapshot reads; the last
    # NIGHTLY_DAYS days catch figures that settle after their day (rollups.NIGHTLY_DAYS).
    result = rollups_refresh_recent(days_back=NIGHTLY_DAYS)
    logger.info("%s", result.summary())
    return result.rows


@db_periodic_task(crontab(minute="10"))
def monthly_reports() -> int:
    """Last month's report to each practice's managers, from 06:00 local on the 1st: hourly
    all month, so a missed run is caught up, and the outbox keys make repeats send nothing."""
    queued = monthly_reports_send()
    logger.info("monthly reports queued: %d", queued)
    return queued
