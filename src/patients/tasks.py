"""Background jobs for patients: the nightly refresh of derived figures."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from patients.services import patient_figures_refresh

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(hour="2", minute="15"))
def refresh_patient_figures_nightly() -> int:
    updated = patient_figures_refresh()
    logger.info("patient figures refreshed for %d patients", updated)
    return updated


@db_task()
def refresh_practice_figures(practice_id: int) -> int:
    from core.models import Practice

    return patient_figures_refresh(practices=Practice.objects.filter(pk=practice_id))
