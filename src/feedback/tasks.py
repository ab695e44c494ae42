"""Background jobs for feedback: invite patients after their visits."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from feedback.services import invitations_send_due

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*/5"))
def send_due_survey_invitations() -> int:
    invited = invitations_send_due()
    logger.info("survey invitations created: %d", invited)
    return invited
