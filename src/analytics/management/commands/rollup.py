"""``rapport rollup``: refresh the daily rollups the dashboards read, or rebuild them all."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from analytics.rollups import DayRange, local_today, rollups_rebuild, rollups_refresh
from core.management.practice_option import resolve_practice
from core.models import Practice
from core.progress import progress_bar


def _date(option: str, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} {value}: write the date as YYYY-MM-DD") from None


class Command(BaseCommand):
    help = (
        "Refresh the daily rollups of every practice (or one with --practice) from the raw"
        " rows: yesterday and today by default, the days from --since to --until, or"
        " everything with --rebuild. The worker refreshes today every 15 minutes and the last"
        " weeks nightly; running it again gives the same rows."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--practice", help="practice id, slug or ORG/PRACTICE slugs (default: all)"
        )
        parser.add_argument("--since", help="first local day, YYYY-MM-DD (default: yesterday)")
        parser.add_argument("--until", help="last local day, YYYY-MM-DD (default: today)")
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="every day from the earliest raw row to today, and no rollup row outside them",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options) -> None:
        since = _date("--since", options["since"])
        until = _date("--until", options["until"])
        chosen = [resolve_practice(options["practice"])] if options["practice"] else None
        if options["rebuild"] and (since or until):
            raise CommandError("--rebuild covers every day: leave out --since and --until")
        with progress_bar(
            "rollup", unit="practice-days", disabled=options["no_progress"]
        ) as progress:
            if options["rebuild"]:
                result = rollups_rebuild(practices=chosen, progress=progress)
            else:
                days = self._days(chosen, since, until)
                result = rollups_refresh(practices=chosen, days=days, progress=progress)
        self.stdout.write(result.summary())

    def _days(self, chosen, since: dt.date | None, until: dt.date | None) -> DayRange:
        now = timezone.now()
        zones = (
            {p.timezone for p in chosen}
            if chosen
            else set(Practice.objects.values_list("timezone", flat=True))
        )
        todays = [local_today(zone, now) for zone in zones] or [now.date()]
        first = since or min(todays) - dt.timedelta(days=1)
        last = until or max(todays)
        if last < first:
            raise CommandError(f"--until {last} is before --since {first}")
        return DayRange(first, last)
