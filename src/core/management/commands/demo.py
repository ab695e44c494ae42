"""``rapport demo``: migrate the embedded database, seed the demo practice, run web + worker."""

from __future__ import annotations

import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from core.progress import progress_bar


class Command(BaseCommand):
    help = "Set up the demo practice and run the web server and background worker."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument(
            "--no-serve", action="store_true", help="set up the data, print the logins and stop"
        )

    def handle(self, *args, bind: str, no_serve: bool, **options) -> None:
        from patients.seeding import seed_demo

        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        with progress_bar("seeding the demo practice", unit="patients") as progress:
            logins = seed_demo(progress=progress)
        self.stdout.write(f"\nRapport demo: http://{bind}/")
        for role, username, password in logins:
            self.stdout.write(f"  {role:<16} {username:<12} password: {password}")
        self.stdout.flush()
        if no_serve:
            return
        self._run_web_and_worker(bind)

    def _run_web_and_worker(self, bind: str) -> None:
        rapport = [sys.executable, "-m", "rapport.cli"]
        worker = subprocess.Popen([*rapport, "worker"])
        web = subprocess.Popen([*rapport, "serve", "--bind", bind])
        try:
            web.wait()
        except KeyboardInterrupt:
            pass
        finally:
            for process in (web, worker):
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in (web, worker):
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
