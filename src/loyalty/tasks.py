"""Background jobs for loyalty: score everyone nightly, re-score a patient after an event."""

from __future__ import annotations

import logging

from django.db import transaction
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from core.models import Practice
from loyalty.scoring import scores_compute
from patients.models import Patient

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(hour="2", minute="45"))
def score_everyone_nightly() -> int:
    # After the 02:15 refresh of patient figures, whose lifetime values it reads.
    scored = scores_compute()
    logger.info("loyalty: %d patients scored", scored)
    return scored


@db_task()
def rescore_patients(patient_ids: list[int]) -> int:
    practice_ids = Patient.objects.filter(pk__in=patient_ids).values("practice_id")
    return scores_compute(
        practices=Practice.objects.filter(pk__in=practice_ids), patient_ids=patient_ids
    )


def rescore_on_commit(*patient_ids: int | None) -> None:
    """Re-score patients once the change that concerns them (an answer, a case) commits."""
    ids = sorted({pk for pk in patient_ids if pk is not None})
    if ids:
        # robust: a queue that is down must not undo the change; the nightly run catches up.
        transaction.on_commit(lambda: rescore_patients(ids), robust=True)
