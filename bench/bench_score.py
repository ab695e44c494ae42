"""How long `rapport score` takes on a seeded database, against a bare SQL aggregate.

    # a seeded database (e.g. `rapport seed --practices 1000 --patients 3000 --years 3`)
    RAPPORT_DATABASE_URL=postgresql://…/bench .venv/bin/python bench/bench_score.py
    RAPPORT_VAR_DIR=/path/with/rapport.sqlite3 .venv/bin/python bench/bench_score.py

Runs, in the same process and the same run, each timed ``--repeat`` times (best kept):

* **ceiling**: the bare aggregate the score cannot do without — one GROUP BY pass over
  every appointment (visits, last visit, missed, future), counted on the server, nothing
  written;
* **facts**: the full fact query (appointments, survey answers, feedback, cases, households
  joined to the patients), counted on the server, nothing written;
* **score**: ``scores_compute()`` for every practice, as ``rapport score`` runs it: the facts,
  the rules, one upsert per patient and the monthly snapshot.

Reports seconds, the score/ceiling ratio (aim: within 3×), rows, and peak memory of this
process (the database server's own memory is not included).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "src"))


def _timed(function) -> tuple[float, object]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings")
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from core.models import Practice
    from loyalty.scoring import FACTS, _facts_sql, _ids, _params, scores_compute
    from patients.models import Appointment, Patient

    now = timezone.now()
    params = _params(now, now.date().replace(day=1))
    table = Appointment._meta.db_table
    # Every output column is read, so no database may skip computing it (PostgreSQL drops
    # unused joins and columns of a subquery counted with COUNT(*) alone).
    ceiling_sql = f"""
        SELECT COUNT(*), SUM(visits), MAX(last_visit), SUM(missed), SUM(future) FROM (
          SELECT patient_id,
            SUM(CASE WHEN status = 'completed' AND starts_at <= %(now)s THEN 1 ELSE 0 END)
              AS visits,
            MAX(CASE WHEN status = 'completed' AND starts_at <= %(now)s THEN starts_at END)
              AS last_visit,
            SUM(CASE WHEN status IN ('cancelled', 'no_show') AND starts_at > %(year_ago)s
              THEN 1 ELSE 0 END) AS missed,
            SUM(CASE WHEN status = 'scheduled' AND starts_at > %(now)s THEN 1 ELSE 0 END)
              AS future
          FROM {table} GROUP BY patient_id
        ) aggregate
    """  # noqa: S608 (a table name)
    practices = _ids(Practice.objects.order_by("pk").values_list("pk", flat=True))
    read_all = ", ".join(f"SUM(CASE WHEN {name} IS NULL THEN 0 ELSE 1 END)" for name in FACTS)
    facts_sql = f"SELECT COUNT(*), {read_all} FROM ({_facts_sql(practices, '')}) facts"  # noqa: S608

    def count(sql: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]

    results: dict[str, list[float]] = {"ceiling": [], "facts": [], "score": []}
    rows = {}
    for _ in range(args.repeat):
        for name, run in (
            ("ceiling", lambda: count(ceiling_sql)),
            ("facts", lambda: count(facts_sql)),
            ("score", lambda: scores_compute(now=now)),
        ):
            seconds, result = _timed(run)
            results[name].append(seconds)
            rows[name] = result
    best = {name: min(times) for name, times in results.items()}
    report = {
        "database": connection.vendor,
        "practices": Practice.objects.count(),
        "patients": Patient.objects.count(),
        "appointments": Appointment.objects.count(),
        "seconds": {name: round(value, 2) for name, value in best.items()},
        "all_runs": {name: [round(v, 2) for v in times] for name, times in results.items()},
        "score_over_ceiling": round(best["score"] / best["ceiling"], 2),
        "score_over_facts": round(best["score"] / best["facts"], 2),
        "rows": rows,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
