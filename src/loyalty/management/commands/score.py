"""``rapport score``: compute every patient's loyalty risk, value and priority now."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from core.management.practice_option import resolve_practice
from core.models import Practice
from core.progress import progress_bar
from loyalty.scoring import scores_compute


class Command(BaseCommand):
    help = (
        "Score the loyalty risk of every active patient (all practices, or one with "
        "--practice). The worker does this every night; running it again only refreshes."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--practice", help="practice id, slug or ORG/PRACTICE slugs (default: all)"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, practice: str | None, no_progress: bool, **options) -> None:
        chosen = [resolve_practice(practice)] if practice else None
        total = 1 if chosen else Practice.objects.count()
        done = 0
        started = time.monotonic()
        with progress_bar("score", unit="practices", disabled=no_progress) as progress:

            def advance(practices: int) -> None:
                nonlocal done
                done += practices
                progress(done, total)

            scored = scores_compute(practices=chosen, progress=advance)
        elapsed = time.monotonic() - started
        where = chosen[0].name if chosen else f"{total} practice{'s' if total != 1 else ''}"
        people = "patient" if scored == 1 else "patients"
        self.stdout.write(f"score: {scored} {people} scored in {where} in {elapsed:.1f} s")
