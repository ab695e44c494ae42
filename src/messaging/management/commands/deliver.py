"""``rapport deliver``: send the due messages of the outbox once, or keep doing it."""

from __future__ import annotations

import signal
import threading
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections

from messaging.delivery import DeliveryReport, deliver_batch, deliver_pending


class Command(BaseCommand):
    help = "Send due messages from the outbox; with --loop keep sending until stopped."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--loop", action="store_true", help="keep running; stop with SIGTERM")
        parser.add_argument(
            "--interval", type=float, default=1.0, help="seconds to wait when nothing is due"
        )
        parser.add_argument("--batch", type=int, default=100, help="messages per claim run")

    def handle(self, *args, loop: bool, interval: float, batch: int, **options) -> None:
        if batch < 1 or interval <= 0:
            raise CommandError("--batch must be at least 1 and --interval above 0")
        started = time.monotonic()
        if loop:
            report = self._loop(interval=interval, batch=batch)
        else:
            report = deliver_pending(batch_size=batch, time_budget=float("inf"))
        elapsed = time.monotonic() - started
        self.stdout.write(f"deliver: {report.summary()} in {elapsed:.1f} s")

    def _loop(self, *, interval: float, batch: int) -> DeliveryReport:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            # Finish the message in hand, claim no more, print the summary.
            signal.signal(signum, lambda *_: stop.set())
        total = DeliveryReport()
        while not stop.is_set():
            try:
                report = deliver_batch(limit=batch, should_stop=stop.is_set)
            except DatabaseError as exc:
                # A restarting database: try again after a pause rather than exit.
                self.stderr.write(f"deliver: database error, retrying: {exc}")
                close_old_connections()
                stop.wait(interval)
                continue
            total += report
            if report.claimed + report.missed < batch:
                stop.wait(interval)
        return total
