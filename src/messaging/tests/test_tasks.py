"""The outbox jobs: a kick per committed transaction, a sweep every minute, the command."""

from __future__ import annotations

import datetime as dt

from django.core.management import call_command
from django.db import transaction
from huey.contrib.djhuey import HUEY

from messaging import services, tasks
from messaging.models import OutboundMessage
from messaging.tests.test_delivery import enqueue


def test_one_kick_per_transaction_however_many_messages(
    practice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        enqueue(practice, 3)
    assert callbacks == [services._kick_delivery]


def test_kick_delivers_on_commit(practice, django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=True):
        [message] = enqueue(practice)
    assert [m.extra_headers["Message-ID"] for m in mailoutbox] == [
        f"<rapport.outbox.{message.pk}.{int(message.created_at.timestamp())}@localhost>"
    ]
    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.SENT


def test_rolled_back_savepoint_drops_its_kick(practice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        try:
            with transaction.atomic():
                enqueue(practice)
                raise ValueError
        except ValueError:
            pass
        enqueue(practice, idempotency_key="kept")
    assert callbacks == [services._kick_delivery]
    assert OutboundMessage.objects.get().idempotency_key == "kept"


def test_sweep_runs_every_minute():
    task = tasks.sweep_outbox.task_class()
    assert task.validate_datetime(dt.datetime(2026, 11, 25, 9, 41))
    due = {type(t).__name__ for t in HUEY.read_periodic(dt.datetime(2026, 11, 25, 9, 41))}
    assert type(task).__name__ in due


def test_sweep_delivers_what_a_lost_kick_left(practice, mailoutbox):
    enqueue(practice, 2)  # the test transaction never commits: no kick ran
    assert tasks.sweep_outbox.call_local() == 2
    assert len(mailoutbox) == 2


def test_deliver_command_prints_one_line(smtp_sink, practice, capsys):
    enqueue(practice, 3)
    smtp_sink.data_responses = ["550 5.1.1 No mailbox"]
    call_command("deliver")
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.startswith("deliver: 2 sent, 0 to retry, 1 undeliverable, 0 taken by another")
    assert smtp_sink.count == 2
