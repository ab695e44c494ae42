"""How fast ``import_appointments_csv`` stores rows, against the database's own ceiling.

    .venv/bin/python bench/bench_import.py --rows 20000

For each database the script runs a child process on a fresh database (SQLite in a temporary
RAPPORT_VAR_DIR; PostgreSQL in a scratch database ``rapport_bench`` created and dropped here,
when the server at RAPPORT_BENCH_PG_URL answers). The child migrates, creates a practice and
its patients, writes an appointments CSV of N rows and times the import. It then times the
ceiling in the same run: the rows the import stored, read back, inserted into an equivalent
table (same columns, indexes and constraints) with a bare ``sqlite3`` ``executemany``, or with
psycopg ``COPY`` on PostgreSQL. The import's time includes reading, checking and converting
the CSV; the ceiling's does not.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
BENCH_DB = "rapport_bench"
PROVIDERS = ["Dr Chen", "Dr Patel", "Dr Okafor", "Sam Rivera (hygiene)", "Jo Park (hygiene)"]
KINDS = ["Cleaning", "Check-up", "Filling", "Crown", "X-rays", "Whitening", "Extraction"]
STATUSES = ["completed", "completed", "completed", "cancelled", "no_show", "scheduled"]
COLUMNS = (
    "practice_id", "patient_id", "provider_id", "external_id", "starts_at",
    "duration_minutes", "kind", "status", "fee", "created_at",
)  # fmt: skip


def write_appointments_csv(path: Path, rows: int, patients: int, seed: int = 7) -> None:
    """N appointments on weekdays in opening hours (never in a DST gap), 2015 onwards."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            ["external_id", "patient_external_id", "provider", "starts_at",
             "duration_minutes", "type", "status", "fee"]
        )  # fmt: skip
        for n in range(rows):
            day = 16436 + rng.randrange(3650)  # days since 1970-01-01: 2015-01-01 + 10 years
            year, month, date = time.gmtime(day * 86400)[:3]
            writer.writerow(
                [
                    f"A{n}",
                    f"P{rng.randrange(patients)}",
                    rng.choice(PROVIDERS),
                    f"{year:04d}-{month:02d}-{date:02d}T{rng.randrange(8, 17):02d}:"
                    f"{rng.choice((0, 15, 30, 45)):02d}",
                    rng.choice((15, 30, 45, 60, 90)),
                    rng.choice(KINDS),
                    rng.choice(STATUSES),
                    f"{rng.randrange(0, 2000)}.{rng.randrange(100):02d}",
                ]
            )


# --- The child: one database ------------------------------------------------------------


def child(rows: int, patients: int) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from core.models import Organisation, Practice
    from patients.imports.csv import import_appointments_csv
    from patients.models import Appointment, Patient

    call_command("migrate", verbosity=0)
    organisation = Organisation.objects.create(name="Bench Group", slug="bench")
    practice = Practice.objects.create(organisation=organisation, name="Bench", slug="bench")
    Patient.objects.bulk_create(
        Patient(practice=practice, external_id=f"P{n}", first_name="Pat", last_name=f"Bench{n}")
        for n in range(patients)
    )
    path = Path(tempfile.mkdtemp(prefix="rapport-bench-")) / "appointments.csv"
    write_appointments_csv(path, rows, patients)

    started = time.perf_counter()
    result = import_appointments_csv(path, practice=practice)
    import_seconds = time.perf_counter() - started
    assert result.created["appointments"] == rows, result.summary()
    assert Appointment.objects.filter(practice=practice).count() == rows

    parse_seconds = time_csv_parse(path)
    if connection.vendor == "sqlite":
        ceiling_seconds = sqlite_ceiling(connection.settings_dict["NAME"])
        ceiling = "sqlite3 executemany"
    else:
        ceiling_seconds = postgresql_ceiling(connection)
        ceiling = "psycopg COPY"
    return {
        "database": connection.vendor,
        "rows": rows,
        "import_seconds": import_seconds,
        "ceiling": ceiling,
        "ceiling_seconds": ceiling_seconds,
        "parse_seconds": parse_seconds,
    }


def time_csv_parse(path: Path) -> float:
    """Only reading the CSV with the csv module: the floor under any CSV importer."""
    started = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as source:
        for _ in csv.reader(source):
            pass
    return time.perf_counter() - started


def sqlite_ceiling(database: str) -> float:
    import sqlite3

    db = sqlite3.connect(database, isolation_level=None)
    db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
    # The same DDL as the real table, indexes and constraints included, under other names.
    for kind, name, sql in db.execute(
        "SELECT type, name, sql FROM sqlite_master"
        " WHERE tbl_name = 'patients_appointment' AND sql IS NOT NULL"
        " ORDER BY type DESC"  # the table before its indexes
    ).fetchall():
        sql = sql.replace('"patients_appointment"', '"bench_ceiling"')
        if kind == "index":
            sql = sql.replace(f'"{name}"', f'"bench_{name}"', 1)
        db.execute(sql)
    indexes = "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
    assert (
        db.execute(indexes, ("bench_ceiling",)).fetchone()
        == db.execute(indexes, ("patients_appointment",)).fetchone()
    )
    columns = ", ".join(COLUMNS)
    stored = db.execute(f"SELECT {columns} FROM patients_appointment").fetchall()
    placeholders = ", ".join("?" for _ in COLUMNS)
    started = time.perf_counter()
    db.execute("BEGIN IMMEDIATE")
    db.executemany(f"INSERT INTO bench_ceiling ({columns}) VALUES ({placeholders})", stored)
    db.execute("COMMIT")
    seconds = time.perf_counter() - started
    db.close()
    return seconds


def postgresql_ceiling(connection) -> float:
    columns = ", ".join(COLUMNS)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's own cursor, under Django's wrapper
        raw.execute("CREATE TABLE bench_ceiling (LIKE patients_appointment INCLUDING ALL)")
        raw.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'patients_appointment'::regclass AND contype = 'f'"
        )
        for (definition,) in raw.fetchall():
            raw.execute(f"ALTER TABLE bench_ceiling ADD {definition}")
        raw.execute(f"SELECT {columns} FROM patients_appointment")
        stored = raw.fetchall()
        connection.commit()
        started = time.perf_counter()
        with raw.copy(f"COPY bench_ceiling ({columns}) FROM STDIN") as copy:
            for row in stored:
                copy.write_row(row)
        connection.commit()
        return time.perf_counter() - started


# --- The parent: one child per database ---------------------------------------------------


def run_child(rows: int, patients: int, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", "--rows", str(rows), "--patients", str(patients)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"benchmark child failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def postgresql_server(url: str):
    """A psycopg connection to the server, or None when it does not answer."""
    try:
        import psycopg

        return psycopg.connect(url, autocommit=True, connect_timeout=3)
    except Exception as exc:  # any failure to connect means: no PostgreSQL run
        print(f"PostgreSQL at {url} not reachable ({exc.__class__.__name__}): skipped")
        return None


def with_database(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def best_of(runs: list[dict]) -> dict:
    """The fastest of each timing: the machine's noise only ever adds time."""
    timings = ("import_seconds", "ceiling_seconds", "parse_seconds")
    return {**runs[0], **{key: min(run[key] for run in runs) for key in timings}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--patients", type=int, help="default: rows / 10, at least 100")
    parser.add_argument("--repeat", type=int, default=3, help="fresh runs per database (best)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    patients = args.patients or max(100, args.rows // 10)
    if args.child:
        print(json.dumps(child(args.rows, patients)))
        return

    base = {**os.environ, "DJANGO_SETTINGS_MODULE": "rapport.settings"}
    base["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PROJECT / "src"), base.get("PYTHONPATH")])
    )
    base.pop("RAPPORT_DATABASE_URL", None)
    results = []
    sqlite_runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="rapport-bench-var-") as var_dir:
            sqlite_runs.append(run_child(args.rows, patients, {**base, "RAPPORT_VAR_DIR": var_dir}))
    results.append(best_of(sqlite_runs))
    pg_url = os.environ.get("RAPPORT_BENCH_PG_URL", DEFAULT_PG_URL)
    server = postgresql_server(pg_url)
    if server is not None:
        with server, tempfile.TemporaryDirectory(prefix="rapport-bench-var-") as var_dir:
            env = {**base, "RAPPORT_VAR_DIR": var_dir,
                   "RAPPORT_DATABASE_URL": with_database(pg_url, BENCH_DB)}  # fmt: skip
            results.append(best_of([postgresql_run(server, args.rows, patients, env)
                                    for _ in range(args.repeat)]))  # fmt: skip
    report(results)


def postgresql_run(server, rows: int, patients: int, env: dict[str, str]) -> dict:
    """One child on a scratch database, dropped afterwards whatever happens."""
    server.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    server.execute(f"CREATE DATABASE {BENCH_DB}")
    try:
        return run_child(rows, patients, env)
    finally:
        server.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


def report(results: list[dict]) -> None:
    print(f"{'database':<11}{'rows':>8}{'import rows/s':>15}{'ceiling':>22}"
          f"{'ceiling rows/s':>16}{'ratio':>8}{'csv parse rows/s':>18}")  # fmt: skip
    for r in results:
        rate = r["rows"] / r["import_seconds"]
        ceiling = r["rows"] / r["ceiling_seconds"]
        print(
            f"{r['database']:<11}{r['rows']:>8,}{rate:>15,.0f}{r['ceiling']:>22}"
            f"{ceiling:>16,.0f}{rate / ceiling:>8.0%}{r['rows'] / r['parse_seconds']:>18,.0f}"
        )


if __name__ == "__main__":
    main()
