"""Background jobs for records requests."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from records.identity import identity_checks_purge

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="17", hour="3"))
def purge_old_identity_checks() -> int:
    deleted = identity_checks_purge()
    logger.info("identity checks purged: %d", deleted)
    return deleted
