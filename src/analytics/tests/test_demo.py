"""The demo group's dashboards: rollups built by the demo equal the raw rows, and a
manager and the director find a year of figures, ranked where the samples allow."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse

from analytics.tests.oracle import (
    expected_days,
    expected_touchpoints,
    rollup_days,
    rollup_touchpoints,
)
from core.models import Practice
from patients.seeding.demo import seed_demo

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
TUESDAY = dt.datetime(2026, 11, 24, 10, 30, tzinfo=NEW_YORK)


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        from django.db import transaction

        with time_machine.travel(TUESDAY, tick=False), transaction.atomic():
            seed_demo()
            yield list(Practice.objects.filter(organisation__slug="bright-smiles"))
            transaction.set_rollback(True)


def _within(rows: dict, first: dt.date, last: dt.date) -> dict:
    return {key: value for key, value in rows.items() if first <= key[1] <= last}


@pytest.mark.django_db
def test_the_demo_rollups_equal_its_raw_rows(demo):
    # The last 60 days: every source has rows there (surveys, cases, calls, records).
    first, last = dt.date(2026, 9, 25), dt.date(2026, 11, 24)
    now = TUESDAY.astimezone(dt.UTC)
    expected = expected_days(demo, first=first, last=last, now=now)
    assert sum(row["responses"] for row in expected.values()) > 50
    assert sum(row["calls_inbound"] for row in expected.values()) > 100
    assert _within(rollup_days(), first, last) == expected
    assert _within(rollup_touchpoints(), first, last) == expected_touchpoints(
        demo, first=first, last=last
    )


@pytest.mark.django_db
def test_the_demo_manager_reads_a_year_of_maple(demo, client):
    client.force_login(get_user_model().objects.get(username="manager"))
    with time_machine.travel(TUESDAY, tick=False):
        text = client.get(reverse("analytics:practice")).content.decode()
    assert "Maple Street Dental · Dec 1, 2025 – Nov 24, 2026" in text
    nps = re.search(r'<p class="big-figure( greyed)?" id="figure-nps">', text)
    assert nps and not nps.group(1), "a year of Maple's answers is enough to read alone"
    assert "Crestline Dental Lab" in text
    assert 'id="staff-table"' in text


@pytest.mark.django_db
def test_the_demo_director_compares_both_practices(demo, client):
    client.force_login(get_user_model().objects.get(username="director"))
    with time_machine.travel(TUESDAY, tick=False):
        text = client.get(reverse("analytics:group")).content.decode()
    table = text.split('id="benchmark-table"', 1)[1].split("</table>", 1)[0]
    assert "Maple Street Dental" in table and "Harbor Dental" in table
    assert re.search(r'<td class="num">1</td>', table), "at least one practice is ranked"
