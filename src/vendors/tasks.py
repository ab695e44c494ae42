"""Background jobs for vendors: find late lab cases and unscheduled referrals."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from vendors.services import defects_detect

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="20"))
def detect_vendor_defects() -> int:
    # Hourly: a lab case not back when its appointment starts shows within the hour.
    found = defects_detect()
    logger.info("vendors: %d new defects", found)
    return found
