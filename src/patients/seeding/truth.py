"""The hidden truth of ``rapport seed``: which patients leave in the year after the seed.

For benchmarks only. ``seed_practices`` gives every patient a propensity to leave
(``Person.flight``) and draws from it whether they leave in the year after the seed's day
(``Person.leaves``) and, once their visits are planned, on which day (``Person.leaves_on``).
None of it is ever written to the database, where only behaviour shows the propensity
(``people.drift``), so a score can be checked against what it could not see. This module
rebuilds the same practices with the same code as the seed (``worker.practice_build``)
and reads them. People, their external ids and whether they leave are drawn before any
visit is planned, so ``leavers`` skips the visits; the day itself needs them, and the
seed's exact moment (``practice_truth``).

Keys are (practice index, external id). The index is the practice's position in the run
(0, 1, ...); each seeded practice's audit event (``object_type="seed"``) records it with
everything else needed to rebuild the practice (``seed_truth_of``). Everything here is
simulated: a benchmark built on it measures how well a score finds leavers in synthetic
data whose behaviour rules we wrote ourselves.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from django.utils import timezone

from core.models import AuditEvent, Practice
from patients.seeding.worker import Task, practice_build


class Fate(NamedTuple):
    """One patient's hidden truth: propensity to leave, and the day they leave (or None:
    they stay the year, or have already departed)."""

    flight: float
    leaves_on: dt.date | None


def practice_truth(
    seed: int | str, index: int, *, patients: int, years: int, now: dt.datetime
) -> dict[str, Fate]:
    """Every patient ``seed_practices`` writes for practice ``index`` of a run with these
    arguments, by external id. ``now`` must be the seed's moment to the minute (it is in
    the practice's seed audit event): the day sheet's statuses depend on the time of day,
    and the visits after them on those. About 0.25 s for 3,000 patients."""
    build = practice_build(Task(seed, index, patients, years, now, aware=False))
    build.plan_visits()
    return {
        person.external_id: Fate(
            person.flight,
            None if person.leaves_on is None else dt.date.fromordinal(person.leaves_on),
        )
        for person in build.people
    }


def practice_leavers(
    seed: int | str, index: int, *, patients: int, years: int, now: dt.datetime
) -> dict[str, bool]:
    """Whether each patient of practice ``index`` leaves in the year after the seed, by
    external id. Only the date of ``now`` in the practice's time zone matters: no visit is
    planned (about 0.07 s for 3,000 patients)."""
    build = practice_build(Task(seed, index, patients, years, now, aware=False))
    return {person.external_id: person.leaves for person in build.people}


def truth(
    seed: int | str,
    practices: int,
    patients: int,
    years: int,
    *,
    now: dt.datetime,
) -> dict[tuple[int, str], Fate]:
    """``practice_truth`` for every practice of a run, by (practice index, external id);
    ``now`` as there."""
    return {
        (index, external_id): fate
        for index in range(practices)
        for external_id, fate in practice_truth(
            seed, index, patients=patients, years=years, now=now
        ).items()
    }


def leavers(
    seed: int | str,
    practices: int,
    patients: int,
    years: int,
    *,
    now: dt.datetime | None = None,
) -> dict[tuple[int, str], bool]:
    """Whether each patient of the run leaves in the year after the seed, by (practice
    index, external id). Departed patients (``status="departed"``) have already left and
    are False; a benchmark should leave them out. Without ``now``, today's: right for a
    seed taken today (in every practice's zone)."""
    now = now or timezone.now()
    return {
        (index, external_id): leaves
        for index in range(practices)
        for external_id, leaves in practice_leavers(
            seed, index, patients=patients, years=years, now=now
        ).items()
    }


def seed_truth_of(practice: Practice) -> dict[str, Fate]:
    """The truth of a practice written by ``seed_practices``, from its seed audit event;
    empty for a practice that was not seeded (or seeded before the event said enough)."""
    event = (
        AuditEvent.objects.filter(practice=practice, object_type="seed", action="import")
        .order_by("pk")
        .first()
    )
    detail = event.detail if event else {}
    if not {"seed", "practice", "patients", "years", "now"} <= set(detail):
        return {}
    return practice_truth(
        detail["seed"],
        detail["practice"],
        patients=detail["patients"],
        years=detail["years"],
        now=dt.datetime.fromisoformat(detail["now"]),
    )
