"""Background jobs for the outbox. The outbox table is the source of truth, not the queue.

A kick after each commit delivers at once; the sweep every minute delivers whatever a
lost kick left behind (Huey deletes a task before running it, so a killed worker loses
the tasks it held: TRUST.md F1), including rows whose sender died mid-send once their
lease runs out.
"""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, on_startup

from messaging.delivery import deliver_pending

logger = logging.getLogger(__name__)

# Below the sweep's one-minute period, so sweeps rarely overlap (overlap is harmless).
TIME_BUDGET_SECONDS = 50.0


def _deliver() -> int:
    report = deliver_pending(time_budget=TIME_BUDGET_SECONDS)
    if report.claimed or report.failed:
        logger.info("outbox: %s", report.summary())
    return report.sent


@db_task()
def deliver_outbox() -> int:
    """Kicked when a transaction that queued messages commits."""
    return _deliver()


@db_periodic_task(crontab(minute="*"))
def sweep_outbox() -> int:
    return _deliver()


@on_startup()
def resume_outbox_on_start() -> None:
    # A restarted worker delivers what is due at once instead of at the next sweep.
    try:
        deliver_outbox()
    except Exception:  # the queue itself is down: the sweep will run once it is back
        logger.exception("outbox: could not queue the start-up delivery")
