"""``rapport serve``: the web server (gunicorn) with Rapport's settings."""

import os
import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the web server on --bind (default 127.0.0.1:8000)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args, bind: str, workers: int, **options) -> None:
        self.stdout.write(f"serving Rapport on http://{bind}/")
        self.stdout.flush()
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "rapport.wsgi:application",
            "--bind",
            bind,
            "--workers",
            str(workers),
            "--graceful-timeout",
            "30",
            "--access-logformat",
            '%(h)s "%(m)s %(U)s" %(s)s %(L)ss',
            "--access-logfile",
            "-",
        ]
        # exec, so signals from the terminal or a service manager reach gunicorn directly.
        os.execv(sys.executable, argv)  # noqa: S606 (fixed argv, no shell)
