"""Records figures on the practice dashboard: median time to fulfil, on time, overdue."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from patients.tests.factories import PatientFactory
from records.metrics import records_metrics
from records.services import records_request_fulfil, records_request_log

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 6, 15, 16, 0, tzinfo=dt.UTC)


def _request(practice, manager, *, received_hours_ago: float, fulfil_after_hours=None):
    patient = PatientFactory(practice=practice)
    received = NOW - dt.timedelta(hours=received_hours_ago)
    with time_machine.travel(received, tick=False):
        logged = records_request_log(patient=patient, channel="phone", user=manager)
    if fulfil_after_hours is not None:
        records_request_fulfil(
            records_request=logged,
            user=manager,
            now=received + dt.timedelta(hours=fulfil_after_hours),
        )
    return logged


@pytest.fixture
def requests(practice, other_practice, manager):
    _request(practice, manager, received_hours_ago=100, fulfil_after_hours=2)
    _request(practice, manager, received_hours_ago=90, fulfil_after_hours=20)
    _request(practice, manager, received_hours_ago=80, fulfil_after_hours=5)
    _request(practice, manager, received_hours_ago=24 * 45)  # open and overdue
    _request(practice, manager, received_hours_ago=3)  # open, on time
    _request(other_practice, manager, received_hours_ago=50, fulfil_after_hours=200)


def test_median_on_time_and_overdue(practice, requests):
    with time_machine.travel(NOW, tick=False):
        metrics = records_metrics(practice, since=NOW - dt.timedelta(days=365))
    assert metrics.received == 5 and metrics.fulfilled == 3
    assert metrics.median_hours_to_fulfil == 5.0
    assert metrics.fulfilled_on_time == 3
    assert (metrics.open_now, metrics.overdue_now) == (2, 1)


def test_a_request_fulfilled_after_its_deadline_is_not_on_time(practice, manager):
    _request(practice, manager, received_hours_ago=24 * 40, fulfil_after_hours=24 * 35)
    with time_machine.travel(NOW, tick=False):
        metrics = records_metrics(practice, since=NOW - dt.timedelta(days=365))
    assert (metrics.fulfilled, metrics.fulfilled_on_time) == (1, 0)


def test_the_dashboard_shows_the_median_time_to_fulfil(client, manager, practice, requests):
    client.force_login(manager)
    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("feedback:dashboard")).content.decode()
    assert 'id="metric-records-median">5.0 h' in page
    assert "3 of 3 within the legal deadline" in page
    assert "1 past the deadline" in page


def test_the_dashboard_says_when_there_are_no_requests(client, manager, practice):
    client.force_login(manager)
    page = client.get(reverse("feedback:dashboard")).content.decode()
    assert "No records requests in the last 12 months." in page
