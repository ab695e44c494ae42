"""R9: `rapport backup` and `rapport restore` on the test run's database vendor.

Every test runs on SQLite and, when the suite runs with RAPPORT_DATABASE_URL, on
PostgreSQL. The source is a seeded database whose rows are visible to another connection:
on SQLite a file copied from the test database, on PostgreSQL the test database itself
with committed rows (``transactional_db``). Restores go into databases made for the test.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import sqlite3
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from calls.tests.factories import CallFactory
from core.backups import (
    DUMPS,
    BackupError,
    Database,
    archive_write,
    backup_create,
    backup_key,
    backup_restore,
    database_from_settings,
    pg_dump_command,
    pg_environment,
    pg_restore_command,
    table_checksums,
)
from core.models import AuditEvent, Membership
from core.services import audit_record
from core.tests.factories import OrganisationFactory, PracticeFactory, member
from messaging.tests.factories import OutboundMessageFactory
from patients.tests.factories import AppointmentFactory, PatientFactory

ON_POSTGRES = connection.vendor == "postgresql"
# PostgreSQL: the backup's own connections must see the seeded rows, so they are committed.
with_database = pytest.mark.django_db(transaction=ON_POSTGRES)
KEY = secrets.token_urlsafe(32)
PATIENTS_PER_PRACTICE = 6


def _seed() -> None:
    """Three practices in two organisations, with the kinds of rows a practice writes."""
    group = OrganisationFactory(name="Sonrisa Dental Group — Ünïcode ☕")
    for n in range(3):
        practice = PracticeFactory(organisation=group if n < 2 else OrganisationFactory())
        manager = member(practice, Membership.Role.MANAGER)
        for patient in PatientFactory.create_batch(PATIENTS_PER_PRACTICE, practice=practice):
            AppointmentFactory(patient=patient)
            audit_record(
                action=AuditEvent.Action.VIEW,
                object_type="patient",
                object_id=patient.pk,
                practice=practice,
                patient_id=patient.pk,
                user=manager,
                detail={"fields": ["name", "naïve"], "score": 1.5},
            )
        CallFactory.create_batch(2, practice=practice)
        OutboundMessageFactory.create_batch(2, practice=practice)


def _sqlite(path: Path) -> Database:
    return Database("sqlite", {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)})


def _pg_params(database: Database, dbname: str | None = None) -> dict:
    entry = database.settings
    params = {
        "dbname": dbname or entry["NAME"],
        "host": entry.get("HOST"),
        "port": entry.get("PORT"),
        "user": entry.get("USER"),
        "password": entry.get("PASSWORD"),
    }
    return {name: value for name, value in params.items() if value}


def _execute(database: Database, *statements: str) -> None:
    if database.vendor == "sqlite":
        with contextlib.closing(sqlite3.connect(database.settings["NAME"])) as conn, conn:
            for statement in statements:
                conn.execute(statement)
    else:
        with psycopg.connect(**_pg_params(database), autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)


@contextlib.contextmanager
def _scratch_postgres():
    """An empty database beside the test database, dropped afterwards."""
    test_database = database_from_settings(connection.settings_dict)
    name = f"{test_database.settings['NAME']}_restore_{uuid.uuid4().hex[:8]}"
    admin = _pg_params(test_database, dbname="postgres")
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Database("postgresql", {**test_database.settings, "NAME": name})
    finally:
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def source(tmp_path) -> Database:
    """A seeded database whose rows another connection (the backup's) can see."""
    _seed()
    if ON_POSTGRES:
        return database_from_settings(connection.settings_dict)
    connection.ensure_connection()
    # serialize() includes this test's uncommitted rows; the file is what the app runs on.
    memory = sqlite3.connect(":memory:")
    memory.deserialize(connection.connection.serialize())
    path = tmp_path / "source" / "rapport.sqlite3"
    path.parent.mkdir()
    with contextlib.closing(sqlite3.connect(path)) as file:
        memory.backup(file)
        file.execute("PRAGMA journal_mode=WAL")
    memory.close()
    return _sqlite(path)


@pytest.fixture
def empty_target(tmp_path):
    if ON_POSTGRES:
        with _scratch_postgres() as database:
            yield database
    else:
        yield _sqlite(tmp_path / "restored" / "rapport.sqlite3")  # a fresh RAPPORT_VAR_DIR


@pytest.fixture
def occupied_target(empty_target) -> Database:
    """A database that already holds something worth keeping."""
    if empty_target.vendor == "sqlite":
        Path(empty_target.settings["NAME"]).parent.mkdir()
    _execute(
        empty_target,
        "CREATE TABLE keep_me (note text)",
        "INSERT INTO keep_me VALUES ('precious')",
    )
    return empty_target


def _fingerprint(database: Database) -> tuple:
    """Everything a failed restore must leave as it was."""
    checksums = table_checksums(database)
    if database.vendor == "sqlite":
        return checksums, hashlib.sha256(Path(database.settings["NAME"]).read_bytes()).digest()
    return (checksums,)


# --- Round trip -----------------------------------------------------------------------------


@with_database
def test_round_trip_restores_every_table_with_equal_counts_and_checksums(
    source, empty_target, tmp_path
):
    file = tmp_path / "rapport.backup"

    manifest = backup_create(path=file, database=source, key=KEY)

    assert set(connection.introspection.table_names()) <= set(manifest["tables"])
    assert manifest["tables"] == table_checksums(source)
    assert manifest["tables"]["patients_patient"]["rows"] == 3 * PATIENTS_PER_PRACTICE
    assert manifest["tables"]["core_auditevent"]["rows"] == 3 * PATIENTS_PER_PRACTICE
    assert manifest["vendor"] == source.vendor and manifest["format"] == 1
    assert "0001_initial" in manifest["migrations"]["core"]
    assert file.stat().st_mode & 0o777 == 0o600
    assert b"Sonrisa" not in file.read_bytes()  # encrypted, not just signed

    assert backup_restore(path=file, database=empty_target, key=KEY) == manifest
    assert table_checksums(empty_target) == manifest["tables"]


@with_database
def test_checksums_change_with_one_changed_value_and_only_for_its_table(
    source, empty_target, tmp_path
):
    file = tmp_path / "rapport.backup"
    manifest = backup_create(path=file, database=source, key=KEY)
    backup_restore(path=file, database=empty_target, key=KEY)

    _execute(
        empty_target,
        "UPDATE patients_patient SET first_name = 'Dana' "
        "WHERE id = (SELECT min(id) FROM patients_patient)",
    )

    after = table_checksums(empty_target)
    changed = {name for name in after if after[name] != manifest["tables"][name]}
    assert changed == {"patients_patient"}
    assert after["patients_patient"]["rows"] == manifest["tables"]["patients_patient"]["rows"]


@with_database
def test_the_commands_round_trip_the_configured_database(source, empty_target, tmp_path):
    """`rapport backup` and `rapport restore` as an operator runs them, in real processes."""
    file = tmp_path / "rapport.backup"
    backup = subprocess.run(
        [sys.executable, "-m", "rapport.cli", "backup", str(file), "--no-progress"],
        env=_environment(source),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert backup.returncode == 0, backup.stderr[-2000:]
    assert backup.stdout.startswith(f"backup: {file}")

    again = subprocess.run(
        [sys.executable, "-m", "rapport.cli", "backup", str(file), "--no-progress"],
        env=_environment(source),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 1 and "already exists" in again.stderr

    restore = subprocess.run(
        [sys.executable, "-m", "rapport.cli", "restore", str(file), "--no-progress"],
        env=_environment(empty_target),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert restore.returncode == 0, restore.stderr[-2000:]
    assert "counts and checksums equal" in restore.stdout
    assert table_checksums(empty_target) == table_checksums(source)


def _environment(database: Database) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("RAPPORT_")}
    env["RAPPORT_BACKUP_KEY"] = KEY
    if database.vendor == "sqlite":
        env["RAPPORT_VAR_DIR"] = str(Path(database.settings["NAME"]).parent)
    else:
        params = _pg_params(database)
        password = f":{params['password']}" if params.get("password") else ""
        host = (
            f"{params.get('user', '')}{password}@{params.get('host', '')}:{params.get('port', '')}"
        )
        env["RAPPORT_DATABASE_URL"] = f"postgresql://{host}/{params['dbname']}"
    return env


# --- Consistency while the app writes --------------------------------------------------------


def _writer(database: Database, written: list[int], stop: threading.Event) -> None:
    """Commit organisation + practice pairs until stopped: a torn snapshot shows as a mismatch."""
    organisation = "INSERT INTO core_organisation (name, slug, created_at) VALUES ({0}, {0}, {1})"
    practice = (
        "INSERT INTO core_practice (name, slug, timezone, region, phone, created_at, "
        "organisation_id) VALUES ({0}, {0}, 'UTC', 'US', '', {1}, {2})"
    )
    if database.vendor == "sqlite":
        conn = sqlite3.connect(database.settings["NAME"], isolation_level=None, timeout=10)
        while not stop.is_set():
            slug = f"writer-{len(written)}"
            conn.execute("BEGIN IMMEDIATE")
            cursor = conn.execute(organisation.format("?", "datetime('now')"), [slug, slug])
            conn.execute(
                practice.format("?", "datetime('now')", "?"), [slug, slug, cursor.lastrowid]
            )
            conn.execute("COMMIT")
            written.append(1)
        conn.close()
        return
    with psycopg.connect(**_pg_params(database), autocommit=True) as conn:
        while not stop.is_set():
            slug = f"writer-{len(written)}"
            with conn.transaction():
                row = conn.execute(
                    organisation.format("%s", "now()") + " RETURNING id", [slug, slug]
                )
                conn.execute(practice.format("%s", "now()", "%s"), [slug, slug, row.fetchone()[0]])
            written.append(1)


@with_database
def test_a_backup_taken_while_writers_commit_is_one_consistent_snapshot(
    source, empty_target, tmp_path
):
    before = table_checksums(source)
    written: list[int] = []
    stop = threading.Event()
    during: list[str] = []
    reports: list[int] = []

    def wait_for_a_commit(*_):
        reports.append(1)
        if len(reports) > 2000:
            raise AssertionError("the backup keeps starting over while the writer commits")
        seen = len(written)
        for _ in range(500):
            if len(written) > seen:
                return
            stop.wait(0.01)
        raise AssertionError("the writer is stuck: the backup blocks writers")

    @contextlib.contextmanager
    def interleaved(label, *, unit="rows"):
        """Let the writer commit before the step and at every progress report of it."""
        if label.startswith(("copying", "pg_dump", "checksumming")):
            during.append(label)
            wait_for_a_commit()
            yield wait_for_a_commit
        else:
            yield lambda *_: None

    thread = threading.Thread(target=_writer, args=(source, written, stop))
    thread.start()
    try:
        for _ in range(3):
            wait_for_a_commit()  # rows before the snapshot, to be in the backup
        manifest = backup_create(
            path=tmp_path / "rapport.backup", database=source, key=KEY, steps=interleaved
        )
    finally:
        stop.set()
        thread.join(timeout=30)
    backup_restore(path=tmp_path / "rapport.backup", database=empty_target, key=KEY)

    new_organisations = (
        manifest["tables"]["core_organisation"]["rows"] - before["core_organisation"]["rows"]
    )
    new_practices = manifest["tables"]["core_practice"]["rows"] - before["core_practice"]["rows"]
    assert during  # the writer committed while the copy or dump and the checksums ran
    assert new_organisations == new_practices  # no pair torn in half
    assert 0 < new_organisations < len(written)  # rows committed after the snapshot are absent
    assert table_checksums(empty_target) == manifest["tables"]


# --- Refusals -------------------------------------------------------------------------------


def _damage(kind: str, file: Path, tmp_path: Path) -> tuple[Path, str]:
    data = file.read_bytes()
    damaged = tmp_path / f"{kind.replace(' ', '-')}.backup"
    if kind == "truncated":
        damaged.write_bytes(data[: len(data) // 2])
    elif kind == "last byte cut":
        damaged.write_bytes(data[:-1])
    elif kind == "one byte changed":
        middle = len(data) // 2
        damaged.write_bytes(data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :])
    elif kind == "empty":
        damaged.write_bytes(b"")
    elif kind == "not a backup":
        damaged.write_bytes(b"PGDMP" + data[5:200])
    else:
        damaged = file
    return damaged, (KEY if kind != "wrong key" else secrets.token_urlsafe(32))


@with_database
@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("truncated", "is incomplete"),
        ("last byte cut", "is incomplete"),
        ("one byte changed", "was altered"),
        ("wrong key", "made with another RAPPORT_BACKUP_KEY"),
        ("not a backup", "is not a Rapport backup file"),
        ("empty", "is empty"),
    ],
)
def test_a_damaged_backup_fails_and_leaves_the_database_untouched(
    source, occupied_target, tmp_path, kind, message
):
    file = tmp_path / "rapport.backup"
    backup_create(path=file, database=source, key=KEY)
    damaged, key = _damage(kind, file, tmp_path)
    untouched = _fingerprint(occupied_target)

    with pytest.raises(BackupError, match=message):
        backup_restore(path=damaged, database=occupied_target, key=key, force=True)

    assert _fingerprint(occupied_target) == untouched


@with_database
def test_a_backup_of_the_other_vendor_is_refused(source, occupied_target, tmp_path):
    manifest = backup_create(path=tmp_path / "rapport.backup", database=source, key=KEY)
    other = "sqlite" if ON_POSTGRES else "postgresql"
    dump = tmp_path / DUMPS[other]
    dump.write_bytes(b"a dump of the other kind")
    foreign = tmp_path / "foreign.backup"
    # Well formed and sealed with the right key: only the vendor is wrong.
    archive_write(
        foreign,
        key=KEY,
        manifest={
            **manifest,
            "vendor": other,
            "dump": {
                "name": dump.name,
                "bytes": dump.stat().st_size,
                "sha256": hashlib.sha256(dump.read_bytes()).hexdigest(),
            },
        },
        dump=dump,
    )
    untouched = _fingerprint(occupied_target)

    with pytest.raises(BackupError, match="restores only into the same kind of database"):
        backup_restore(path=foreign, database=occupied_target, key=KEY, force=True)

    assert _fingerprint(occupied_target) == untouched


@with_database
def test_restore_refuses_a_database_that_is_not_empty_unless_forced(
    source, occupied_target, tmp_path
):
    file = tmp_path / "rapport.backup"
    manifest = backup_create(path=file, database=source, key=KEY)
    untouched = _fingerprint(occupied_target)

    with pytest.raises(BackupError, match=r"is not empty \(1 table: keep_me\).*--force"):
        backup_restore(path=file, database=occupied_target, key=KEY)
    assert _fingerprint(occupied_target) == untouched

    backup_restore(path=file, database=occupied_target, key=KEY, force=True)
    assert table_checksums(occupied_target) == manifest["tables"]  # keep_me is gone


@with_database
def test_backup_refuses_to_overwrite_a_file_unless_forced(source, tmp_path):
    file = tmp_path / "rapport.backup"
    file.write_text("last night's backup")

    with pytest.raises(BackupError, match="already exists.*--force"):
        backup_create(path=file, database=source, key=KEY)
    assert file.read_text() == "last night's backup"
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []

    backup_create(path=file, database=source, key=KEY, force=True)
    assert file.read_bytes().startswith(b"RAPPORT BACKUP\n")


@with_database
@pytest.mark.skipif(
    not ON_POSTGRES,
    reason="!!! PostgreSQL only: run the suite with RAPPORT_DATABASE_URL=postgresql://… "
    "(make test-postgres) to cover backups on PostgreSQL !!!",
)
def test_forced_postgres_restore_leaves_nothing_of_the_old_database(
    source, occupied_target, tmp_path
):
    _execute(
        occupied_target,
        "CREATE SCHEMA legacy",
        "CREATE TABLE legacy.old_rows (id int PRIMARY KEY)",
        "CREATE VIEW old_view AS SELECT 1 AS one",
    )
    file = tmp_path / "rapport.backup"
    manifest = backup_create(path=file, database=source, key=KEY)

    backup_restore(path=file, database=occupied_target, key=KEY, force=True)

    assert table_checksums(occupied_target) == manifest["tables"]
    with psycopg.connect(**_pg_params(occupied_target)) as conn:
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
            "AND nspname <> 'information_schema'"
        ).fetchall()
        views = conn.execute("SELECT count(*) FROM pg_views WHERE viewname = 'old_view'")
        assert schemas == [("public",)] and views.fetchone()[0] == 0


# --- Keys and command lines (no database) ----------------------------------------------------


def test_the_backup_key_is_required_and_must_be_long(monkeypatch, tmp_path):
    monkeypatch.delenv("RAPPORT_BACKUP_KEY", raising=False)
    monkeypatch.delenv("RAPPORT_BACKUP_KEY_FILE", raising=False)
    with pytest.raises(BackupError, match="RAPPORT_BACKUP_KEY is not set: generate one"):
        backup_key()
    monkeypatch.setenv("RAPPORT_BACKUP_KEY", "hunter2")
    with pytest.raises(BackupError, match="at least 32"):
        backup_key()
    monkeypatch.setenv("RAPPORT_BACKUP_KEY", KEY)
    assert backup_key() == KEY
    monkeypatch.delenv("RAPPORT_BACKUP_KEY")
    key_file = tmp_path / "backup.key"
    key_file.write_text(KEY + "\n")
    monkeypatch.setenv("RAPPORT_BACKUP_KEY_FILE", str(key_file))
    assert backup_key() == KEY


def test_the_postgres_password_goes_in_the_environment_never_on_a_command_line(monkeypatch):
    monkeypatch.setattr("core.backups.pg_tool", lambda name: name)  # no client needed here
    database = Database(
        "postgresql",
        {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "rapport",
            "USER": "rapport",
            "PASSWORD": "s3cret pa'ss",
            "HOST": "db.internal",
            "PORT": "5432",
            "OPTIONS": {"sslmode": "require", "pool": True},
        },
    )
    commands = [
        pg_dump_command(database, snapshot="00000003-0000001B-1", dump=Path("x")),
        pg_restore_command(database, dump=Path("x")),
    ]
    for command in commands:
        assert not any("s3cret" in argument for argument in command)
        assert any("sslmode=require" in argument for argument in command)
        assert not any("pool" in argument for argument in command)
    assert pg_environment(database)["PGPASSWORD"] == "s3cret pa'ss"
