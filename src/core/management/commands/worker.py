"""``rapport worker``: the background worker (Huey consumer) with Rapport's settings."""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the background worker: periodic jobs and queued tasks."

    def handle(self, *args, **options) -> None:
        from django.conf import settings

        backend = "Redis" if settings.REDIS_URL else f"SQLite ({settings.HUEY['filename']})"
        self.stdout.write(f"worker: queue on {backend}; stop with Ctrl-C or SIGTERM")
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        call_command("run_huey")
