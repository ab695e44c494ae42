"""How long the analytics rollups take to refresh on a seeded database, against bare
GROUP BY scans of the same raw rows.

    # a seeded database (`rapport seed --practices N --patients N --years 3 --surveys`)
    RAPPORT_DATABASE_URL=postgresql://…/bench .venv/bin/python bench/bench_rollups.py --add-calls

``rapport seed`` writes patients, appointments, departures and a year of surveys, but no
calls: ``--add-calls`` (PostgreSQL) first adds one inbound call for each appointment of
the last year, made five days before it from the patient's number (80% answered, 10%
missed, 10% voicemail; one in 25 from a "new caller"), and a call-back for every call not
answered (two in three done, at 0–39 minutes). It adds them once (keyed ``bench-<id>``).

Then, in one process and one run, each timed ``--repeat`` times (best kept):

* **ceiling, one day**: for every raw table a rollup reads, a bare
  ``SELECT practice_id, COUNT(*) … GROUP BY practice_id`` over the rows whose moment falls
  in yesterday's UTC window (widened to every practice's zone), summed over the tables;
* **ceiling, everything**: the same over every row of those tables;
* **ceiling, local days** (PostgreSQL): every row again, grouped by practice and local day
  (``AT TIME ZONE`` the practice's zone), as the rollups must;
* **one day, cold**: yesterday's rollup rows deleted, then ``rollups_refresh`` of
  yesterday for every practice: every row computed and inserted;
* **one day, warm**: the same refresh again: every row computed, none changed;
* **15-minute job** and **nightly job**: ``rollups_refresh_recent`` with 1 and 35 days back;
* **rebuild, cold**: the rollup tables emptied (``TRUNCATE``: a first build), then
  ``rollups_rebuild()``;
* **rebuild, warm**: ``rollups_rebuild()`` again.

``ANALYZE`` runs first: a freshly seeded database has no planner statistics.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "src"))

ADD_CALLS = """
INSERT INTO calls_call (practice_id, source, external_id, direction, caller, called,
  caller_name, number, started_at, ring_seconds, talk_seconds, disposition, extension,
  staff_id, patient_id, new_caller, created_at)
SELECT a.practice_id, 'generic', 'bench-' || a.id, 'inbound', p.phone, '', '', p.phone,
  a.starts_at - INTERVAL '5 days' + (a.id % 480) * INTERVAL '1 minute', 20,
  CASE WHEN a.id % 10 < 8 THEN 120 ELSE 0 END,
  CASE WHEN a.id % 10 < 8 THEN 'answered' WHEN a.id % 10 = 8 THEN 'missed' ELSE 'voicemail' END,
  '', NULL, p.id, a.id % 25 = 0, now()
FROM patients_appointment a JOIN patients_patient p ON p.id = a.patient_id
WHERE a.starts_at >= now() - INTERVAL '365 days' AND a.starts_at < now() + INTERVAL '5 days'
ON CONFLICT DO NOTHING
"""
ADD_CALLBACKS = """
INSERT INTO calls_callbacktask (practice_id, call_id, patient_id, number, due_at, done_at,
  outcome, notes)
SELECT c.practice_id, c.id, c.patient_id, c.number, c.started_at + INTERVAL '15 minutes',
  CASE WHEN c.id % 3 = 0 THEN NULL ELSE c.started_at + (c.id % 40) * INTERVAL '1 minute' END,
  CASE WHEN c.id % 3 = 0 THEN '' ELSE 'reached' END, ''
FROM calls_call c
WHERE c.external_id LIKE 'bench-%%' AND c.disposition <> 'answered'
ON CONFLICT DO NOTHING
"""


def _timed(function) -> tuple[float, object]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--add-calls", action="store_true", help="add calls first (PostgreSQL)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings")
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from analytics.rollups import (
        MONTHS,
        NIGHTLY_DAYS,
        ROLLUP_MODELS,
        DayRange,
        local_today,
        rollups_rebuild,
        rollups_refresh,
        rollups_refresh_recent,
    )
    from core.models import Practice

    def execute(sql: str, params=None) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    added = {}
    if args.add_calls:
        if connection.vendor != "postgresql":
            parser.error("--add-calls needs PostgreSQL")
        added = {"calls": execute(ADD_CALLS), "call_backs": execute(ADD_CALLBACKS)}
    execute("ANALYZE")

    now = timezone.now()
    zones = set(Practice.objects.values_list("timezone", flat=True))
    yesterday = min(local_today(zone, now) for zone in zones) - dt.timedelta(days=1)
    lo, hi = DayRange(yesterday, yesterday).bounds(zones)
    adapt = connection.ops.adapt_datetimefield_value
    window = {"lo": adapt(lo), "hi": adapt(hi)}
    # (rows, practice column, moment): what the rollups read, each table once per moment.
    raw = [
        ("feedback_surveyinvitation x", "x.practice_id", "x.created_at"),
        ("feedback_surveyresponse x", "x.practice_id", "x.submitted_at"),
        (
            "feedback_answer a JOIN feedback_surveyresponse x ON x.id = a.response_id",
            "x.practice_id",
            "x.submitted_at",
        ),
        ("feedback_feedbackitem x", "x.practice_id", "x.received_at"),
        ("recovery_recoverycase x", "x.practice_id", "x.opened_at"),
        ("records_recordsrequest x", "x.practice_id", "x.received_at"),
        ("patients_patient x", "x.practice_id", "x.departed_at"),
        ("calls_call x", "x.practice_id", "x.started_at"),
        (
            "calls_callbacktask t JOIN calls_call x ON x.id = t.call_id",
            "x.practice_id",
            "x.started_at",
        ),
        ("vendors_vendordefect x", "x.practice_id", "x.detected_at"),
        ("patients_appointment x", "x.practice_id", "x.starts_at"),
    ]

    def ceiling(day_only: bool, local_days: bool = False) -> int:
        groups = 0
        for tables, practice, moment in raw:
            where = f"WHERE {moment} >= %(lo)s AND {moment} < %(hi)s" if day_only else ""
            keys = practice
            if local_days:
                tables = f"{tables} JOIN core_practice pr ON pr.id = {practice}"
                keys = f"{practice}, CAST({moment} AT TIME ZONE pr.timezone AS DATE)"
            # Counted on the server: the groups are not carried to Python.
            sql = (
                f"SELECT COUNT(*), SUM(n) FROM (SELECT {keys}, COUNT(*) AS n"
                f" FROM {tables} {where} GROUP BY {keys}) grouped"
            )
            with connection.cursor() as cursor:
                cursor.execute(sql, window)
                groups += cursor.fetchone()[0]
        return groups

    def cold_day():
        for model in MONTHS:  # the days; their month rows are summed again anyway
            model.objects.filter(day=yesterday).delete()
        return rollups_refresh(days=(yesterday, yesterday)).rows

    def cold_rebuild():
        # A first build: empty tables, as on the day analytics is installed.
        for model in ROLLUP_MODELS:
            table = model._meta.db_table
            execute(
                f"TRUNCATE {table}" if connection.vendor == "postgresql" else f"DELETE FROM {table}"
            )
        return rollups_rebuild().rows

    runs = [
        ("ceiling_day", lambda: ceiling(True)),
        ("ceiling_all", lambda: ceiling(False)),
        ("ceiling_all_local_days", lambda: ceiling(False, local_days=True)),
        ("day_cold", cold_day),
        ("day_warm", lambda: rollups_refresh(days=(yesterday, yesterday)).rows),
        ("job_15_minutes", lambda: rollups_refresh_recent(days_back=1).rows),
        ("job_nightly", lambda: rollups_refresh_recent(days_back=NIGHTLY_DAYS).rows),
        ("rebuild_cold", cold_rebuild),
        ("rebuild_warm", lambda: rollups_rebuild().rows),
    ]
    if connection.vendor != "postgresql":
        runs = [(name, run) for name, run in runs if name != "ceiling_all_local_days"]
    results: dict[str, list[float]] = {name: [] for name, _ in runs}
    rows = {}
    for _ in range(args.repeat):
        for name, run in runs:
            seconds, result = _timed(run)
            results[name].append(seconds)
            rows[name] = result
    best = {name: min(times) for name, times in results.items()}

    def count(table: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            return cursor.fetchone()[0]

    report = {
        "database": connection.vendor,
        "day": yesterday.isoformat(),
        "added": added,
        "raw_rows": {
            table.split()[0]: count(table.split()[0])
            for table in (
                "core_practice",
                "patients_patient",
                "patients_appointment",
                "feedback_surveyinvitation",
                "feedback_surveyresponse",
                "feedback_answer",
                "feedback_feedbackitem",
                "calls_call",
                "calls_callbacktask",
            )
        },
        "seconds": {name: round(value, 2) for name, value in best.items()},
        "all_runs": {name: [round(v, 2) for v in times] for name, times in results.items()},
        "day_over_ceiling": {
            "cold": round(best["day_cold"] / best["ceiling_day"], 1),
            "warm": round(best["day_warm"] / best["ceiling_day"], 1),
        },
        "rebuild_over_ceiling": {
            "cold": round(best["rebuild_cold"] / best["ceiling_all"], 1),
            "warm": round(best["rebuild_warm"] / best["ceiling_all"], 1),
        },
        "rebuild_over_local_day_ceiling": {
            state: round(best[f"rebuild_{state}"] / best["ceiling_all_local_days"], 1)
            for state in ("cold", "warm")
            if "ceiling_all_local_days" in best
        },
        "rows": rows,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
