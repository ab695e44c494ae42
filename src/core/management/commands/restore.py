"""``rapport restore FILE``: check a backup, restore it, and prove every table came back."""

from __future__ import annotations

import functools
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.backups import (
    BackupError,
    backup_key,
    backup_restore,
    configured_database,
    migrations_behind,
)
from core.progress import progress_bar


class Command(BaseCommand):
    help = (
        "Restore a backup made by `rapport backup` into the configured database, which must be "
        "empty (or --force to replace it). The file's authentication code is checked first; "
        "afterwards every table's row count and checksum must equal the backup's. Stop the web "
        "server and the worker first. See docs/operations.md."
    )
    requires_system_checks = []  # the database may be empty or from another version

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, help="a file written by `rapport backup`")
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace what the database holds (everything in it is dropped first)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args, file: Path, force: bool, no_progress: bool, **options) -> None:
        started = time.monotonic()
        database = configured_database()
        try:
            manifest = backup_restore(
                path=file,
                database=database,
                key=backup_key(),
                force=force,
                steps=functools.partial(progress_bar, disabled=no_progress),
            )
        except BackupError as exc:
            raise CommandError(f"restore: {exc}") from exc
        to_apply, unknown = migrations_behind(manifest)
        if to_apply:
            self.stderr.write(
                f"restore: the backup predates {len(to_apply)} migrations of this version "
                f"({to_apply[0]}, …): run `rapport migrate` before starting the app"
            )
        if unknown:
            self.stderr.write(
                f"restore: the backup has {len(unknown)} migrations this version does not know "
                f"({unknown[0]}, …): it was made by a newer Rapport; upgrade before starting"
            )
        tables = manifest["tables"]
        rows = sum(table["rows"] for table in tables.values())
        self.stdout.write(
            f"restore: {file} (made {manifest['created_at']}) into {database.vendor} "
            f"{database.label}: {len(tables)} tables, {rows} rows, counts and checksums equal "
            f"in {time.monotonic() - started:.1f} s"
        )
