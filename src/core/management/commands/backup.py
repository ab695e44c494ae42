"""``rapport backup FILE``: a consistent, encrypted and authenticated backup of the database."""

from __future__ import annotations

import functools
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.backups import BackupError, backup_create, backup_key, configured_database
from core.progress import progress_bar


class Command(BaseCommand):
    help = (
        "Write a backup of the configured database (SQLite or PostgreSQL) to FILE while the "
        "app keeps running: the dump and a manifest of every table's row count and checksum, "
        "encrypted and authenticated with RAPPORT_BACKUP_KEY. See docs/operations.md."
    )
    requires_system_checks = []  # a backup must not depend on the app's checks passing

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, help="the backup file to write")
        parser.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args, file: Path, force: bool, no_progress: bool, **options) -> None:
        started = time.monotonic()
        database = configured_database()
        try:
            manifest = backup_create(
                path=file,
                database=database,
                key=backup_key(),
                force=force,
                steps=functools.partial(progress_bar, disabled=no_progress),
            )
        except BackupError as exc:
            raise CommandError(f"backup: {exc}") from exc
        tables = manifest["tables"]
        rows = sum(table["rows"] for table in tables.values())
        self.stdout.write(
            f"backup: {file} ({file.stat().st_size / 1e6:.1f} MB): {len(tables)} tables, "
            f"{rows} rows of {database.vendor} {database.label} "
            f"in {time.monotonic() - started:.1f} s"
        )
