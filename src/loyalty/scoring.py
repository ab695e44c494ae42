"""Score every patient of a practice or a whole group in one set-based statement.

One ``INSERT … SELECT … ON CONFLICT`` per organisation: grouped aggregates over
appointments, survey answers, feedback, cases and call-backs are joined to the patients, the
rules' points are summed in SQL, and each patient's row is written once. The same SQL runs on
SQLite (3.35+) and PostgreSQL; only date arithmetic differs, through ``_days``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from django.db import connection, transaction
from django.utils import timezone

from calls.models import Call, CallbackTask
from core.models import Practice
from feedback.models import FeedbackItem, SurveyResponse
from loyalty.models import LoyaltyPolicy, PatientScore, ScoreSnapshot
from loyalty.rules import (
    DISTANCE_WORDS,
    EQUIPMENT_WORDS,
    RULES,
    UNRETURNED_CALL_DAYS,
    points_for,
)
from patients.models import Appointment, Patient
from recovery.models import RecoveryCase

FACTS = [
    "tenure_days",
    "lifetime_value",
    "referral_count",
    "referral_value",
    "household_size",
    "last_nps",
    "previous_nps",
    "last_nps_at",
    "open_cases",
    "unrecovered_cases",
    "recent_defects",
    "visits",
    "missed_recent",
    "booked_recent",
    "missed_before",
    "booked_before",
    "has_future_visit",
    "days_since_visit",
    "rhythm_days",
    "equipment_mentions",
    "distance_mentions",
    "unreturned_calls",
]
RESULTS = ["risk", "value", "priority"]
# Enough practices per batch for the aggregates to scan tables rather than hop through
# indexes, few enough to keep each transaction bounded and to show progress at group scale.
PRACTICES_PER_BATCH = 250
COLUMNS = ["patient_id", "practice_id", "scored_at", *FACTS, *RESULTS]


def _days(later: str, earlier: str) -> str:
    """Whole days between two timestamps (or dates), as SQL for the database in use."""
    if connection.vendor == "postgresql":
        span = f"CAST({later} AS TIMESTAMPTZ) - CAST({earlier} AS TIMESTAMPTZ)"
        return f"CAST(FLOOR(EXTRACT(EPOCH FROM ({span})) / 86400) AS INTEGER)"
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


def _ids(values: Iterable[int]) -> str:
    """An SQL list of ids; ``int()`` makes each one safe to write into the statement."""
    return "(" + ", ".join(str(int(value)) for value in values) + ")"


def _timestamp(name: str) -> str:
    # PostgreSQL needs the parameter's type spelled out inside arithmetic.
    if connection.vendor == "postgresql":
        return f"CAST(%({name})s AS TIMESTAMPTZ)"
    return f"%({name})s"


def _mentions(words: Iterable[str]) -> str:
    return " OR ".join(f"LOWER(fi.text) LIKE '%%{word}%%'" for word in words)


def _facts_sql(practices: str, scope: str) -> str:
    """One row of facts per active patient of ``practices``; ``scope`` filters ``p`` more."""
    now = _timestamp("now")
    appointment = Appointment._meta.db_table
    response = SurveyResponse._meta.db_table
    item = FeedbackItem._meta.db_table
    case = RecoveryCase._meta.db_table
    patient = Patient._meta.db_table
    callback = CallbackTask._meta.db_table
    call = Call._meta.db_table
    # Only table names, constant SQL and int() ids are interpolated; values are parameters.
    return f"""
    SELECT p.id AS patient_id, p.practice_id AS practice_id,
      {_days(now, "p.first_visit_on")} AS tenure_days,
      p.lifetime_value AS lifetime_value, p.referral_count AS referral_count,
      p.referral_value AS referral_value,
      COALESCE(h.members, 1) - 1 AS household_size,
      s.last_nps AS last_nps, s.previous_nps AS previous_nps, s.last_nps_at AS last_nps_at,
      COALESCE(c.open_cases, 0) AS open_cases,
      COALESCE(c.unrecovered_cases, 0) AS unrecovered_cases,
      COALESCE(i.recent_defects, 0) AS recent_defects,
      COALESCE(a.visits, 0) AS visits,
      COALESCE(a.missed_recent, 0) AS missed_recent,
      COALESCE(a.booked_recent, 0) AS booked_recent,
      COALESCE(a.missed_before, 0) AS missed_before,
      COALESCE(a.booked_before, 0) AS booked_before,
      CASE WHEN COALESCE(a.future, 0) > 0 THEN TRUE ELSE FALSE END AS has_future_visit,
      {_days(now, "a.last_visit")} AS days_since_visit,
      CASE WHEN a.visits >= 2 THEN {_days("a.last_visit", "a.first_visit")} / (a.visits - 1)
      END AS rhythm_days,
      COALESCE(i.equipment_mentions, 0) AS equipment_mentions,
      COALESCE(i.distance_mentions, 0) AS distance_mentions,
      COALESCE(k.unreturned_calls, 0) AS unreturned_calls
    FROM {patient} p
    LEFT JOIN (
      SELECT household_id, COUNT(*) AS members FROM {patient}
      WHERE household_id IS NOT NULL AND status = 'active' AND practice_id IN {practices}
      GROUP BY household_id
    ) h ON h.household_id = p.household_id
    LEFT JOIN (
      SELECT patient_id,
        SUM(CASE WHEN status = 'completed' AND starts_at <= {now} THEN 1 ELSE 0 END) AS visits,
        MAX(CASE WHEN status = 'completed' AND starts_at <= {now} THEN starts_at END)
          AS last_visit,
        MIN(CASE WHEN status = 'completed' AND starts_at <= {now} THEN starts_at END)
          AS first_visit,
        SUM(CASE WHEN status IN ('cancelled', 'no_show') AND starts_at > %(year_ago)s
          AND starts_at <= {now} THEN 1 ELSE 0 END) AS missed_recent,
        SUM(CASE WHEN status <> 'scheduled' AND starts_at > %(year_ago)s
          AND starts_at <= {now} THEN 1 ELSE 0 END) AS booked_recent,
        SUM(CASE WHEN status IN ('cancelled', 'no_show') AND starts_at <= %(year_ago)s
          THEN 1 ELSE 0 END) AS missed_before,
        SUM(CASE WHEN status <> 'scheduled' AND starts_at <= %(year_ago)s THEN 1 ELSE 0 END)
          AS booked_before,
        SUM(CASE WHEN status = 'scheduled' AND starts_at > {now} THEN 1 ELSE 0 END) AS future
      FROM {appointment} WHERE practice_id IN {practices} GROUP BY patient_id
    ) a ON a.patient_id = p.id
    LEFT JOIN (
      SELECT patient_id,
        MAX(CASE WHEN recency = 1 THEN nps END) AS last_nps,
        MAX(CASE WHEN recency IN (2, 3) THEN nps END) AS previous_nps,
        MAX(CASE WHEN recency = 1 THEN submitted_at END) AS last_nps_at
      FROM (
        SELECT patient_id, nps, submitted_at, ROW_NUMBER() OVER (
          PARTITION BY patient_id ORDER BY submitted_at DESC, id DESC) AS recency
        FROM {response}
        WHERE practice_id IN {practices} AND nps IS NOT NULL AND submitted_at <= {now}
      ) ranked WHERE recency <= 3 GROUP BY patient_id
    ) s ON s.patient_id = p.id
    LEFT JOIN (
      SELECT fi.patient_id AS patient_id,
        SUM(CASE WHEN fi.label = 'negative' AND fi.received_at > %(half_year_ago)s
          THEN 1 ELSE 0 END) AS recent_defects,
        SUM(CASE WHEN fi.label = 'negative' AND ({_mentions(EQUIPMENT_WORDS)})
          THEN 1 ELSE 0 END) AS equipment_mentions,
        SUM(CASE WHEN fi.label = 'negative' AND ({_mentions(DISTANCE_WORDS)})
          THEN 1 ELSE 0 END) AS distance_mentions
      FROM {item} fi
      WHERE fi.practice_id IN {practices} AND fi.patient_id IS NOT NULL
        AND fi.received_at > %(two_years_ago)s AND fi.received_at <= {now}
      GROUP BY fi.patient_id
    ) i ON i.patient_id = p.id
    LEFT JOIN (
      SELECT patient_id,
        SUM(CASE WHEN status <> 'closed' OR closed_at > {now} THEN 1 ELSE 0 END) AS open_cases,
        SUM(CASE WHEN status = 'closed' AND outcome IN ('not_recovered', 'partly')
          AND closed_at > %(year_ago)s AND closed_at <= {now} THEN 1 ELSE 0 END)
          AS unrecovered_cases
      FROM {case} WHERE practice_id IN {practices} AND patient_id IS NOT NULL
        AND opened_at <= {now}
      GROUP BY patient_id
    ) c ON c.patient_id = p.id
    LEFT JOIN (
      SELECT t.patient_id AS patient_id,
        SUM(CASE WHEN t.due_at <= {now} AND (t.done_at IS NULL OR t.done_at > t.due_at)
          THEN 1 ELSE 0 END) AS unreturned_calls
      FROM {callback} t JOIN {call} cl ON cl.id = t.call_id
      WHERE t.practice_id IN {practices} AND t.patient_id IS NOT NULL
        AND cl.started_at > %(quarter_ago)s AND cl.started_at <= {now}
      GROUP BY t.patient_id
    ) k ON k.patient_id = p.id
    WHERE p.practice_id IN {practices} AND p.status = 'active' {scope}
    """  # noqa: S608


def _risk_sql(points: dict[str, int]) -> str:
    terms = [f"CASE WHEN {rule.sql} THEN {points[name]} ELSE 0 END" for name, rule in RULES.items()]
    return (
        f"LEAST(100, {' + '.join(terms)})"
        if connection.vendor == "postgresql"
        else (f"MIN(100, {' + '.join(terms)})")
    )


def _least(*parts: str) -> str:
    function = "LEAST" if connection.vendor == "postgresql" else "MIN"
    return f"{function}({', '.join(parts)})"


def _value_sql() -> str:
    """0–100: tenure (2 a year, up to 30), lifetime value (30 at $10,000), referrals (5 each,
    up to 25) and household members at the practice (5 each, up to 15)."""
    # A first visit after ``now`` (booked ahead, or scoring as of the past) is no tenure.
    tenure = "CASE WHEN f.tenure_days > 0 THEN f.tenure_days ELSE 0 END"
    # Whole dollars on both databases (PostgreSQL's CAST rounds, SQLite's truncates),
    # capped first so that ``* 30`` cannot overflow an integer.
    dollars = f"CAST(FLOOR({_least('f.lifetime_value', '10000')}) AS INTEGER)"
    return _least(
        "100",
        "CAST("
        + " + ".join(
            [
                _least("30", f"{tenure} * 2 / 365"),
                _least("30", f"{dollars} * 30 / 10000"),
                _least("25", "f.referral_count * 5"),
                _least("15", "f.household_size * 5"),
            ]
        )
        + " AS INTEGER)",
    )


# Facts that grow by themselves every day. A row whose other facts and results are unchanged
# is left as it is, with these as of its ``scored_at``: it stays consistent (the rules give
# the same risk from it) and a nightly run writes only the patients whose score moved.
AGEING = {"tenure_days", "days_since_visit"}
# Each batch's scores first land in a temporary table of the connection, so that only the
# changed rows are then written: an upsert would lock (and so write) every row it meets.
BATCH_TABLE = "loyalty_batch"


def _distinct() -> str:
    return "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"


def _scored_select(points: dict[str, int], practices: str, scope: str) -> str:
    """Every active patient in scope with their facts, risk, value and priority."""
    facts = ", ".join(f"g.{name}" for name in FACTS)
    return f"""
    SELECT g.patient_id, g.practice_id, {_timestamp("now")} AS scored_at, {facts},
      g.risk, g.value, g.risk * g.value / 100 AS priority
    FROM (
      SELECT f.*, {_risk_sql(points)} AS risk, {_value_sql()} AS value
      FROM ({_facts_sql(practices, scope)}) f
    ) g
    """  # noqa: S608


def _write_changed() -> list[str]:
    """Statements that write the batch's rows that changed, and its new patients.

    PostgreSQL does both in one ``MERGE`` pass; SQLite (no MERGE) in an ``UPDATE … FROM``
    and an ``INSERT`` of the patients not scored before.
    """
    table = PatientScore._meta.db_table
    columns = [name for name in COLUMNS if name != "patient_id"]
    compared = [name for name in [*FACTS, *RESULTS] if name not in AGEING]
    current = ", ".join(f"{table}.{name}" for name in compared)
    incoming = ", ".join(f"b.{name}" for name in compared)
    changed = f"({current}) {_distinct()} ({incoming})"
    assignments = ", ".join(f"{name} = b.{name}" for name in columns)
    values = ", ".join(f"b.{name}" for name in COLUMNS)
    if connection.vendor == "postgresql":
        return [
            f"""
            MERGE INTO {table} USING {BATCH_TABLE} b ON {table}.patient_id = b.patient_id
            WHEN MATCHED AND {changed} THEN UPDATE SET {assignments}
            WHEN NOT MATCHED THEN INSERT ({", ".join(COLUMNS)}) VALUES ({values})
            """  # noqa: S608
        ]
    return [
        f"""
        UPDATE {table} SET {assignments} FROM {BATCH_TABLE} b
        WHERE {table}.patient_id = b.patient_id AND {changed}
        """,  # noqa: S608
        f"""
        INSERT INTO {table} ({", ".join(COLUMNS)}) SELECT {values} FROM {BATCH_TABLE} b
        WHERE NOT EXISTS (SELECT 1 FROM {table} s WHERE s.patient_id = b.patient_id)
        """,  # noqa: S608
    ]


def _forget_departed(practices: str, scope: str) -> str:
    """Rows of the batch's practices whose patient was not scored: departed since."""
    table = PatientScore._meta.db_table
    return f"""
    DELETE FROM {table} WHERE practice_id IN {practices}
      {scope.replace("p.id", "patient_id")}
      AND NOT EXISTS (SELECT 1 FROM {BATCH_TABLE} b WHERE b.patient_id = {table}.patient_id)
    """  # noqa: S608


def _snapshot_changed(practices: str, scope: str) -> str:
    """This month's snapshot of every row this run wrote (scored_at = now): an unchanged
    score keeps the snapshot it had, and the trend carries it forward."""
    table = ScoreSnapshot._meta.db_table
    return f"""
    INSERT INTO {table} (patient_id, month, risk, value, priority)
    SELECT patient_id, %(month)s, risk, value, priority FROM {PatientScore._meta.db_table}
    WHERE practice_id IN {practices} AND scored_at = %(now)s
      {scope.replace("p.id", "patient_id")}
    ON CONFLICT (patient_id, month) DO UPDATE SET
      risk = excluded.risk, value = excluded.value, priority = excluded.priority
    """  # noqa: S608


def _params(now: dt.datetime, month: dt.date) -> dict:
    adapt = connection.ops.adapt_datetimefield_value
    return {
        "now": adapt(now),
        "year_ago": adapt(now - dt.timedelta(days=365)),
        "half_year_ago": adapt(now - dt.timedelta(days=182)),
        "quarter_ago": adapt(now - dt.timedelta(days=UNRETURNED_CALL_DAYS)),
        "two_years_ago": adapt(now - dt.timedelta(days=730)),
        "month": month,
    }


def scores_compute(
    *,
    practices: Iterable[Practice] | None = None,
    patient_ids: Iterable[int] | None = None,
    now: dt.datetime | None = None,
    batch: int = PRACTICES_PER_BATCH,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Score the active patients of the given practices (all by default); returns how many.

    ``patient_ids`` limits it to those patients (an event re-scores one). Departed
    patients lose their row: they are no longer at risk of leaving. Practices are scored
    ``batch`` at a time, each batch in its own short transaction; ``progress`` is told how
    many practices each batch finished.
    """
    now = now or timezone.now()
    chosen = Practice.objects.all()
    if practices is not None:
        chosen = chosen.filter(pk__in=[p.pk for p in practices])
    by_organisation: dict[int, list[int]] = {}
    for practice_id, organisation_id in chosen.order_by("pk").values_list("pk", "organisation_id"):
        by_organisation.setdefault(organisation_id, []).append(practice_id)
    ids = None if patient_ids is None else sorted({int(pk) for pk in patient_ids})
    if ids == []:
        return 0
    scope = "" if ids is None else f"AND p.id IN {_ids(ids)}"
    params = _params(now, now.date().replace(day=1))
    scored = 0
    for organisation_id, practice_ids in by_organisation.items():
        points = points_for(_weights(organisation_id))
        for start in range(0, len(practice_ids), batch):
            chunk = practice_ids[start : start + batch]
            scored += _score_batch(points, chunk, scope, params)
            if progress:
                progress(len(chunk))
    return scored


@transaction.atomic
def _score_batch(points: dict[str, int], chunk: list[int], scope: str, params: dict) -> int:
    practices = _ids(chunk)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The grouped aggregates of a batch fit in memory instead of spilling to disk.
            cursor.execute("SET LOCAL work_mem = '128MB'")
        cursor.execute(f"DROP TABLE IF EXISTS {BATCH_TABLE}")
        select = _scored_select(points, practices, scope)
        cursor.execute(f"CREATE TEMPORARY TABLE {BATCH_TABLE} AS {select}", params)
        # An index and statistics, so the joins below look patients up rather than scan.
        cursor.execute(f"CREATE INDEX {BATCH_TABLE}_patient ON {BATCH_TABLE} (patient_id)")
        cursor.execute(f"ANALYZE {BATCH_TABLE}")
        cursor.execute(f"SELECT COUNT(*) FROM {BATCH_TABLE}")  # noqa: S608
        scored = cursor.fetchone()[0]
        for statement in _write_changed():
            cursor.execute(statement)
        # Before the snapshots: a departed patient keeps no row to copy.
        cursor.execute(_forget_departed(practices, scope))
        cursor.execute(f"DROP TABLE {BATCH_TABLE}")
        cursor.execute(_snapshot_changed(practices, scope), params)
    return scored


def _weights(organisation_id: int) -> dict[str, int]:
    policy = LoyaltyPolicy.objects.filter(organisation_id=organisation_id).first()
    return policy.weights if policy else {}
