"""The demo practice's week of calls: something on every call page, written once."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse

from calls.conversion import Period, call_figures
from calls.models import Call, CallbackTask
from calls.seeding import calls_seed
from core.models import Practice
from loyalty.models import PatientScore
from patients.seeding.demo import seed_demo

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
# A Tuesday morning in New York: the practice is open.
TUESDAY = dt.datetime(2026, 11, 24, 10, 30, tzinfo=NEW_YORK)


@pytest.fixture(scope="module")
def maple(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        from django.db import transaction

        with time_machine.travel(TUESDAY, tick=False), transaction.atomic():
            seed_demo()
            yield Practice.objects.get(organisation__slug="bright-smiles", slug="maple")
            transaction.set_rollback(True)


@pytest.mark.django_db
def test_a_week_of_calls_with_call_backs_open_done_and_overdue(maple):
    calls = Call.objects.filter(practice=maple)
    assert calls.filter(direction="inbound").count() > 150
    assert calls.filter(started_at__lt=TUESDAY - dt.timedelta(days=6)).exists()
    assert not calls.filter(started_at__gt=TUESDAY).exists()
    # Answered calls are filed under the person whose extension answered.
    answered = calls.filter(direction="inbound", disposition="answered")
    assert answered.filter(staff__isnull=True).count() == 0

    tasks = CallbackTask.objects.filter(practice=maple)
    open_tasks = tasks.filter(done_at__isnull=True)
    assert 1 <= open_tasks.count() <= 3
    assert open_tasks.filter(due_at__lt=TUESDAY).count() == 1  # the overdue one
    assert open_tasks.filter(due_at__gt=TUESDAY).exists()  # the one that just rang
    done = tasks.filter(done_at__isnull=False).exclude(outcome="got_through")
    assert done.count() >= 10
    assert set(done.values_list("outcome", flat=True)) >= {"booked", "reached", "voicemail"}
    # Missed after hours too, returned at the opening.
    after_hours = [
        t
        for t in tasks.select_related("call")
        if t.due_at - t.call.started_at > dt.timedelta(hours=2)
    ]
    assert after_hours


@pytest.mark.django_db
def test_the_figures_show_new_callers_who_booked_and_a_heatmap(maple):
    today = TUESDAY.date()
    figures = call_figures(practice=maple, period=Period.ending(today), now=TUESDAY)

    assert 0 < figures.new_callers.count < figures.new_callers.total
    assert 0 < figures.existing_patients.count < figures.existing_patients.total
    assert 60 < figures.answer_rate.percent < 95
    assert figures.heatmap.hours and 8 in figures.heatmap.hours
    assert figures.callback_time.completed >= 10
    assert figures.callback_time.median_minutes is not None
    assert {row.name for row in figures.staff if row.answered} and any(
        row.callbacks_done for row in figures.staff
    )


@pytest.mark.django_db
def test_the_unreturned_call_reaches_the_loyalty_scores(maple):
    overdue = CallbackTask.objects.get(practice=maple, done_at__isnull=True, due_at__lt=TUESDAY)
    assert overdue.patient is not None
    assert PatientScore.objects.get(patient=overdue.patient).unreturned_calls >= 1


@pytest.mark.django_db
def test_the_pages_show_the_demo_calls(client, maple):
    client.force_login(get_user_model().objects.get(username="frontdesk"))
    with time_machine.travel(TUESDAY, tick=False):
        listing = client.get(reverse("calls:callback-list")).content.decode()
        dashboard = client.get(reverse("calls:dashboard")).content.decode()
    assert "overdue by" in listing and 'id="done-callbacks"' in listing
    assert 'id="heatmap"' in dashboard and 'id="calls-chart"' in dashboard


@pytest.mark.django_db
def test_seeding_again_adds_nothing(maple):
    before = Call.objects.count(), CallbackTask.objects.count()
    assert calls_seed(practice=maple, now=TUESDAY) == 0
    assert (Call.objects.count(), CallbackTask.objects.count()) == before
