"""The background pipeline end to end: enqueue, store in the real queue, run as a worker does."""

from __future__ import annotations

import datetime as dt

import pytest
import redis
from huey import RedisHuey, SqliteHuey
from huey.contrib.djhuey import HUEY

from patients import tasks
from patients.tests.factories import AppointmentFactory


def _redis_available() -> bool:
    try:
        return redis.Redis.from_url("redis://127.0.0.1:6379/15", socket_timeout=1).ping()
    except redis.RedisError:
        return False


def _queues(tmp_path):
    yield "sqlite", SqliteHuey("rapport-test", filename=str(tmp_path / "huey.sqlite3"))
    if _redis_available():
        yield "redis", RedisHuey("rapport-test", url="redis://127.0.0.1:6379/15")


@pytest.mark.django_db(transaction=True)
def test_figures_job_runs_through_a_real_queue(tmp_path, practice, monkeypatch):
    appointment = AppointmentFactory(practice=practice, patient__practice=practice)
    for backend, queue in _queues(tmp_path):
        queue.flush()
        # Register the task on this queue exactly as the worker's HUEY registers it.
        job = queue.task()(tasks.refresh_practice_figures.func)
        job(practice.pk)
        assert queue.pending_count() == 1, backend

        result = queue.execute(queue.dequeue())

        assert result == 1, backend
        appointment.patient.refresh_from_db()
        assert appointment.patient.visit_count == 1, backend
        assert queue.pending_count() == 0, backend
        appointment.patient.visit_count = 0
        appointment.patient.save()


def test_nightly_refresh_is_scheduled_at_2_15():
    task = tasks.refresh_patient_figures_nightly.task_class()
    assert task.validate_datetime(dt.datetime(2026, 11, 25, 2, 15))
    assert not task.validate_datetime(dt.datetime(2026, 11, 25, 2, 16))
    due = {type(t).__name__ for t in HUEY.read_periodic(dt.datetime(2026, 11, 25, 2, 15))}
    assert type(task).__name__ in due


def test_nightly_refresh_in_immediate_mode(practice):
    appointment = AppointmentFactory(practice=practice, patient__practice=practice)
    assert tasks.refresh_patient_figures_nightly() is not None
    appointment.patient.refresh_from_db()
    assert appointment.patient.visit_count == 1
