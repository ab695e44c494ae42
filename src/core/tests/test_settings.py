"""Settings: strict environment helpers and the embedded database's concurrency."""

from __future__ import annotations

import copy
import subprocess
import sys
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connections, transaction

from rapport import settings as rapport_settings


def test_bad_boolean_names_the_variable(monkeypatch):
    monkeypatch.setenv("RAPPORT_DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="RAPPORT_DEBUG: expected true or false"):
        rapport_settings.env_bool("RAPPORT_DEBUG", False)


def test_bad_number_names_the_variable(monkeypatch):
    monkeypatch.setenv("RAPPORT_EMAIL_PORT", "twenty-five")
    with pytest.raises(ImproperlyConfigured, match="RAPPORT_EMAIL_PORT: expected a whole number"):
        rapport_settings.env_int("RAPPORT_EMAIL_PORT", 25)


def test_secret_from_file(monkeypatch, tmp_path):
    secret = tmp_path / "key"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("RAPPORT_SECRET_KEY_FILE", str(secret))
    assert rapport_settings.env_str("RAPPORT_SECRET_KEY") == "from-a-file"
    monkeypatch.setenv("RAPPORT_SECRET_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="RAPPORT_SECRET_KEY_FILE: cannot read"):
        rapport_settings.env_str("RAPPORT_SECRET_KEY")


def test_start_up_stops_on_a_bad_database_url(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "rapport.cli", "check"],
        env={"RAPPORT_DATABASE_URL": "nosuchdb://x", "RAPPORT_VAR_DIR": str(tmp_path), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "RAPPORT_DATABASE_URL" in result.stderr


@pytest.mark.skipif(
    connections["default"].vendor != "sqlite", reason="the embedded preset is SQLite"
)
def test_concurrent_read_then_write_never_hits_database_is_locked(tmp_path, django_db_blocker):
    """8 threads × 150 read-then-write transactions on a file database: 0 failures.

    With Django's default DEFERRED transactions this fails hundreds of times (the lock
    upgrade from reader to writer fails at once); IMMEDIATE makes writers queue.
    """
    # A database of its own, outside the test database, so real file locking is exercised.
    django_db_blocker.unblock()
    alias = "concurrency"
    config = copy.deepcopy(connections.settings["default"])
    config["NAME"] = str(tmp_path / "concurrency.sqlite3")
    connections.settings[alias] = config
    with connections[alias].cursor() as cursor:
        cursor.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)")
        cursor.execute("INSERT INTO counter VALUES (1, 0)")
    failures: list[str] = []

    def worker() -> None:
        try:
            for _ in range(150):
                try:
                    with transaction.atomic(using=alias), connections[alias].cursor() as cur:
                        cur.execute("SELECT n FROM counter WHERE id = 1")
                        (n,) = cur.fetchone()
                        cur.execute("UPDATE counter SET n = %s WHERE id = 1", [n + 1])
                except OperationalError as exc:
                    failures.append(str(exc))
        finally:
            connections[alias].close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT n FROM counter WHERE id = 1")
            total = cursor.fetchone()[0]
    finally:
        connections[alias].close()
        del connections.settings[alias]
        django_db_blocker.restore()
    assert failures == []
    assert total == 8 * 150
