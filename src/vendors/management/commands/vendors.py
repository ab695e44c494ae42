"""``rapport vendors check``: find late lab cases and referrals not scheduled in time."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from core.management.practice_option import resolve_practice
from core.models import Practice
from core.progress import progress_bar
from vendors.models import VendorDefect
from vendors.services import DETECTED_KINDS, defects_detect


class Command(BaseCommand):
    help = (
        "check: find lab cases back later than the appointment they were for and referrals "
        "the specialist has not scheduled in time (all practices, or one with --practice). "
        "The worker does this every hour; running it again adds nothing twice."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", choices=["check"])
        parser.add_argument(
            "--practice", help="practice id, slug or ORG/PRACTICE slugs (default: all)"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, action: str, practice: str | None, no_progress: bool, **options):
        chosen = resolve_practice(practice) if practice else None
        total = 1 if chosen else Practice.objects.count()
        started = time.monotonic()
        with progress_bar("vendors check", unit="practices", disabled=no_progress) as progress:
            found = defects_detect(practice=chosen, progress=progress)
        still_open = VendorDefect.objects.filter(kind__in=DETECTED_KINDS, resolved_at__isnull=True)
        if chosen:
            still_open = still_open.filter(practice=chosen)
        where = chosen.name if chosen else f"{total} practice{'s' if total != 1 else ''}"
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"vendors check: {found} new defect{'s' if found != 1 else ''}, "
            f"{still_open.count()} open, in {where} in {elapsed:.1f} s"
        )
