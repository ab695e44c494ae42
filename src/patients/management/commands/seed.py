"""``rapport seed``: realistic synthetic practices, patients and appointments at any scale."""

from __future__ import annotations

import os
from argparse import ArgumentTypeError

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.progress import progress_bar
from patients.seeding import seed_practices


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


class Command(BaseCommand):
    help = (
        "Create realistic synthetic organisations, practices, staff, patients and appointments."
        " The same --seed gives the same data."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--practices", type=_positive, default=1, help="practices to create")
        parser.add_argument(
            "--patients", type=_positive, default=1000, help="patients per practice"
        )
        parser.add_argument(
            "--years", type=_positive, default=3, help="years of appointment history"
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument(
            "--organisations",
            type=_positive,
            default=1,
            help="groups sharing the practices round-robin (default 1)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="processes building practices while this one writes (default: one per spare"
            " CPU, at most 4; 0 builds in this process)",
        )
        parser.add_argument(
            "--surveys",
            action="store_true",
            help="also a year of post-visit survey answers, as in the demo (about 3x slower)",
        )
        parser.add_argument("--no-progress", action="store_true", help="do not draw a progress bar")

    def handle(self, *args, **options) -> None:
        if options["organisations"] > options["practices"]:
            raise CommandError("--organisations cannot exceed --practices")
        workers = options["workers"]
        if workers is None:
            # Starting a worker costs about a second: only worth it for a big run.
            big = options["practices"] * options["patients"] >= 20_000
            workers = min(4, (os.cpu_count() or 1) - 1, options["practices"] - 1) if big else 0
        with progress_bar("seed", disabled=options["no_progress"], unit="patients") as progress:
            result = seed_practices(
                practices=options["practices"],
                patients=options["patients"],
                years=options["years"],
                seed=options["seed"],
                organisations=options["organisations"],
                workers=max(0, workers),
                surveys=options["surveys"],
                progress=progress,
            )
        self.stdout.write(result.summary())
