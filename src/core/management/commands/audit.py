"""``rapport audit verify|export``: check the audit log's hash chain, or export its rows."""

from __future__ import annotations

import csv
import datetime as dt
import os
import sys
import zoneinfo

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from core.audit import (
    EXPORT_HEADER,
    audit_chain_check,
    audit_export_record,
    audit_export_rows,
    audit_rows_between,
)
from core.management.practice_option import add_practice_argument, resolve_practice
from core.models import Practice
from core.progress import progress_bar
from core.spreadsheets import safe_cell

ACTOR = "command line"


def _date(option: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise CommandError(f"{option} {value}: write the date as YYYY-MM-DD") from None


class _Lines:
    """What ``csv.writer`` needs from the command's stdout: ``write`` with no added newline."""

    def __init__(self, out) -> None:
        self.out = out

    def write(self, text: str) -> None:
        self.out.write(text, ending="")


class Command(BaseCommand):
    help = (
        "verify: read every audit row in order and recompute the hash chain; exits 1 at the"
        " first row that was changed, removed or moved. export: audit rows of a period as"
        " CSV on standard output (the export is audited)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="verify|export")
        verify = actions.add_parser("verify", help="check the hash chain of the audit log")
        verify.add_argument("--no-progress", action="store_true", help="no progress bar")
        export = actions.add_parser("export", help="audit rows of a period as CSV")
        export.add_argument("--since", required=True, help="first day, YYYY-MM-DD")
        export.add_argument("--until", required=True, help="last day (included), YYYY-MM-DD")
        add_practice_argument(export)

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"_{action}")(**options)

    def _verify(self, *, no_progress: bool, **_options) -> None:
        with progress_bar("audit verify", disabled=no_progress) as progress:
            found = audit_chain_check(progress=progress)
        if found.broken_at is None:
            self.stdout.write(
                f"audit: {_rows(found.rows)}, chain intact (last hash {found.last_hash})"
            )
            return
        self.stdout.write(
            f"audit: chain broken at row {found.broken_at} ({found.problem});"
            f" {_rows(found.rows)} before it verified"
        )
        raise SystemExit(1)

    def _export(self, *, since: str, until: str, practice: str | None, **_options) -> None:
        first, last = _date("--since", since), _date("--until", until)
        if last < first:
            raise CommandError(f"--until {until} is before --since {since}")
        chosen = resolve_practice(practice) if practice else None
        # Days are the practice's own; without one, the installation's time zone.
        zone = chosen.zone if chosen else timezone.get_default_timezone()
        start = _midnight(first, zone)
        end = _midnight(last + dt.timedelta(days=1), zone)
        practices = Practice.objects.filter(pk=chosen.pk) if chosen else None
        rows = audit_rows_between(since=start, until=end, practices=practices)
        writer = csv.writer(_Lines(self.stdout))
        count = 0
        try:
            writer.writerow(EXPORT_HEADER)
            for cells in audit_export_rows(rows):
                writer.writerow([safe_cell(cell) for cell in cells])
                count += 1
        except BrokenPipeError:
            # The reader went away (`rapport audit export … | head`): what it read was
            # still exported. Keep Python's final flush of stdout from failing again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            self._record(chosen, count, first, last)
            raise SystemExit(1) from None
        self._record(chosen, count, first, last)
        where = f"{chosen.organisation.slug}/{chosen.slug}" if chosen else "all practices"
        self.stderr.write(f"audit: {_rows(count)} exported ({where}, {first} to {last})")

    def _record(self, chosen: Practice | None, count: int, first: dt.date, last: dt.date) -> None:
        audit_export_record(
            practice=chosen,
            rows=count,
            actor_label=ACTOR,
            since=first.isoformat(),
            until=last.isoformat(),
        )


def _rows(count: int) -> str:
    return f"{count:,} row{'' if count == 1 else 's'}"


def _midnight(day: dt.date, zone: zoneinfo.ZoneInfo | dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=zone)
