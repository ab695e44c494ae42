"""Background jobs for recovery: escalate overdue steps, send follow-up surveys."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from recovery.actions import follow_up_surveys_send_due
from recovery.deadlines import cases_escalate_overdue

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*/5"))
def escalate_overdue_case_steps() -> int:
    sent = cases_escalate_overdue()
    logger.info("recovery escalations sent: %d", sent)
    return sent


@db_periodic_task(crontab(minute="*/15"))
def send_due_follow_up_surveys() -> int:
    sent = follow_up_surveys_send_due()
    logger.info("follow-up surveys sent: %d", sent)
    return sent
