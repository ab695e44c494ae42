"""``rapport analyze``: feedback texts on stdin, one a line → one JSON object a line on stdout."""

from __future__ import annotations

import os
import sys
import time

from django.core.management.base import BaseCommand

from feedback.analysis.stream import analyze_stream


class Command(BaseCommand):
    help = (
        "Analyse feedback texts read from stdin, one a line, and write one JSON object a line "
        "to stdout: sentiment (-1..1), label, touchpoints, urgent, reasons. Input is read as "
        "UTF-8 (bad bytes become U+FFFD); lines longer than 20,000 characters are truncated. "
        "A one-line summary goes to stderr (none with -v 0)."
    )
    requires_system_checks: list[str] = []  # no database, no checks: start fast, stream
    stealth_options = ("stdin",)  # call_command(..., stdin=BytesIO(...)) in tests

    def handle(self, *args, **options) -> None:
        stdin = options.get("stdin") or sys.stdin
        source = getattr(stdin, "buffer", stdin)
        binary = getattr(self.stdout, "buffer", None)  # OutputWrapper passes on to its stream
        if binary is not None:

            def write(text: str) -> None:
                binary.write(text.encode("utf-8"))

            flush = binary.flush
        else:

            def write(text: str) -> None:
                self.stdout.write(text, ending="")

            flush = self.stdout.flush
        started = time.perf_counter()
        try:
            count = analyze_stream(source, write, flush)
        except BrokenPipeError:
            # The reader went away (`rapport analyze | head`): stop without a traceback, and
            # keep Python's final flush of stdout from failing again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise SystemExit(1) from None
        elapsed = time.perf_counter() - started
        if options["verbosity"] > 0:
            rate = f" ({count / elapsed:,.0f} lines/s)" if elapsed > 0 and count else ""
            self.stderr.write(f"analyzed {count:,} lines in {elapsed:.2f} s{rate}")
