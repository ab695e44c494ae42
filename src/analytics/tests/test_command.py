"""``rapport rollup`` and the periodic jobs that keep the rollups fresh."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import time_machine
from django.core.management import CommandError, call_command

from analytics import tasks
from analytics.models import PracticeDay, PracticeSnapshot
from analytics.tests.story import NOW, d

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("rollup", "--no-progress", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def days_of(practice) -> list[dt.date]:
    return sorted(PracticeDay.objects.filter(practice=practice).values_list("day", flat=True))


def test_rollup_defaults_to_yesterday_and_today(history, maple, harbor):
    out = run()

    # New York's today is the 12th, Sydney's the 13th: the 11th to the 13th for both.
    assert re.fullmatch(
        r"rollup: 2 practices × 3 days refreshed: 3 practice-days \(3 changed\), 3 touchpoint rows,"
        r" 0 departure rows, 2 staff rows, 1 vendor rows, 2 snapshots in \d+\.\d s\n",
        out,
    ), out
    assert days_of(maple) == [d(11), d(12)]
    assert days_of(harbor) == [d(11)]


def test_rollup_one_practice_over_chosen_days(history, maple, harbor):
    out = run("--practice", "maple", "--since", "2026-03-01", "--until", "2026-03-10")

    assert out.startswith("rollup: 1 practice × 10 days refreshed: 2 practice-days (2 changed),")
    assert days_of(maple) == [d(9), d(10)]
    assert days_of(harbor) == []


def test_rollup_rebuild(history, maple, harbor):
    out = run("--rebuild")
    again = run("--rebuild")

    assert out.startswith("rollup: 2 practices × 5 days refreshed: 6 practice-days (6 changed),")
    assert again.startswith("rollup: 2 practices × 5 days refreshed: 6 practice-days (0 changed),")
    assert days_of(maple) == [d(9), d(10), d(11), d(12)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "10/03/2026"], "--since 10/03/2026: write the date as YYYY-MM-DD"),
        (["--since", "2026-03-10", "--until", "2026-03-09"], "--until 2026-03-09 is before"),
        (["--rebuild", "--since", "2026-03-01"], "--rebuild covers every day"),
        (["--practice", "nowhere"], "--practice nowhere: no such practice"),
    ],
)
def test_rollup_refuses_bad_options(maple, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        run(*args)


def test_the_periodic_jobs_refresh_today_and_the_recent_past(history, maple):
    with time_machine.travel(NOW, tick=False):
        tasks.rollups_refresh_today.call_local()
    assert days_of(maple) == [d(11), d(12)]
    assert PracticeSnapshot.objects.filter(practice=maple, day=d(12)).exists()

    with time_machine.travel(NOW, tick=False):
        tasks.rollups_refresh_nightly.call_local()
    assert days_of(maple) == [d(9), d(10), d(11), d(12)]
