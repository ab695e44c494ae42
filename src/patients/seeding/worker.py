"""Entry point of a process that builds practices for ``seed_practices``.

Kept free of Django imports at module level: a spawned process unpickles the task before
anything else runs, and models can only be imported once Django is set up.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    seed: int | str
    index: int
    patients: int
    years: int
    now: dt.datetime
    aware: bool


def setup() -> None:
    import django

    django.setup()


def practice_build(task: Task):
    """The practice's ``PracticeBuild``, its people drawn and no visit planned yet."""
    from patients.seeding.build import PracticeBuild, plan_practice, practice_rng

    rng = practice_rng(task.seed, task.index)
    plan = plan_practice(rng)
    return PracticeBuild(
        rng, plan, patients=task.patients, years=task.years, now=task.now, aware=task.aware
    )


def build(task: Task):
    """The practice's ``Blueprint``: the same rows in any process, for the same task."""
    practice = practice_build(task)
    practice.plan_visits()
    return practice.blueprint()
