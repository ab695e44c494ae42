"""``rapport report``: a practice's monthly report as a PDF file, or queued to its managers."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from analytics.report import month_label
from analytics.services import (
    monthly_report_prepare,
    monthly_report_send,
    report_filename,
    report_recipients,
)
from core.management.practice_option import add_practice_argument, resolve_practice

MONTH = re.compile(r"(\d{4})-(\d{2})")


def _month(value: str) -> dt.date:
    found = MONTH.fullmatch(value.strip())
    if found is None or not 1 <= int(found[2]) <= 12 or int(found[1]) < 1:
        raise CommandError(f"--month {value}: write the month as YYYY-MM, like 2026-09")
    return dt.date(int(found[1]), int(found[2]), 1)


class Command(BaseCommand):
    help = (
        "Write one practice's report for a month (its local calendar month) as a PDF, or"
        " with --send queue it by email to the practice's active managers. The worker sends"
        " last month's report on the 1st from 06:00 local; --send never sends a manager the"
        " same month twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_practice_argument(parser)
        parser.add_argument("--month", required=True, help="the month, YYYY-MM")
        parser.add_argument(
            "--out", help="the PDF file to write (default: SLUG-YYYY-MM-report.pdf here)"
        )
        parser.add_argument(
            "--send",
            action="store_true",
            help="queue it to the managers instead (and write --out only when given)",
        )

    def handle(self, *args, practice: str | None, month: str, **options) -> None:
        chosen = resolve_practice(practice)
        first = _month(month)
        local_today = timezone.now().astimezone(chosen.zone).date()
        if first > local_today:
            raise CommandError(
                f"--month {month}: {month_label(first)} has not begun at {chosen.name}"
            )
        label = f"{chosen.name}, {month_label(first)}"
        if options["send"]:
            recipients = report_recipients(chosen)
            if not recipients:
                raise CommandError(
                    f"{chosen.name} has no active manager with an email address: nothing queued"
                )
            queued = monthly_report_send(practice=chosen, month=first)
            had = len(recipients) - queued
            self.stdout.write(
                f"report: {label} queued for {queued} of {len(recipients)} managers"
                + (f" ({had} had it already)" if had else "")
            )
        if options["out"] or not options["send"]:
            path = Path(options["out"] or report_filename(chosen, first))
            pdf = monthly_report_prepare(practice=chosen, month=first)
            try:
                path.write_bytes(pdf)
            except OSError as problem:
                raise CommandError(f"--out {path}: {problem.strerror or problem}") from None
            self.stdout.write(f"report: {label} written to {path} ({len(pdf) / 1024:.0f} KB)")
