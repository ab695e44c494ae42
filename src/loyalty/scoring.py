"""Score every patient of a practice or a whole group in one set-based statement.

One ``INSERT … SELECT … ON CONFLICT`` per organisation: grouped aggregates over
appointments, survey answers, feedback and cases are joined to the patients, the rules'
points are summed in SQL, and each patient's row is written once. The same SQL runs on
SQLite (3.35+) and PostgreSQL; only date arithmetic differs, through ``_days``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from django.db import connection, transaction
from django.utils import timezone

from core.models import Practice
from feedback.models import FeedbackItem, SurveyResponse
from loyalty.models import LoyaltyPolicy, PatientScore, ScoreSnapshot
from loyalty.rules import DISTANCE_WORDS, EQUIPMENT_WORDS, RULES, points_for
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
]
RESULTS = ["risk", "value", "priority"]
# Enough practices per statement to stay set-based, few enough to keep each transaction
# short and to show progress at group scale.
PRACTICES_PER_STATEMENT = 50
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
      COALESCE(i.distance_mentions, 0) AS distance_mentions
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


def _statement(points: dict[str, int], practices: str, scope: str) -> str:
    facts = ", ".join(f"g.{name}" for name in FACTS)
    updates = ", ".join(f"{name} = excluded.{name}" for name in COLUMNS if name != "patient_id")
    return f"""
    INSERT INTO {PatientScore._meta.db_table} ({", ".join(COLUMNS)})
    SELECT g.patient_id, g.practice_id, %(now)s, {facts}, g.risk, g.value,
      g.risk * g.value / 100
    FROM (
      SELECT f.*, {_risk_sql(points)} AS risk, {_value_sql()} AS value
      FROM ({_facts_sql(practices, scope)}) f
    ) g
    WHERE 1 = 1
    ON CONFLICT (patient_id) DO UPDATE SET {updates}
    """  # noqa: S608


def _snapshot_statement(practices: str, scope: str) -> str:
    return f"""
    INSERT INTO {ScoreSnapshot._meta.db_table} (patient_id, month, risk, value, priority)
    SELECT patient_id, %(month)s, risk, value, priority FROM {PatientScore._meta.db_table}
    WHERE practice_id IN {practices} {scope.replace("p.id", "patient_id")}
    ON CONFLICT (patient_id, month) DO UPDATE SET
      risk = excluded.risk, value = excluded.value, priority = excluded.priority
    """  # noqa: S608


def _params(now: dt.datetime, month: dt.date) -> dict:
    adapt = connection.ops.adapt_datetimefield_value
    return {
        "now": adapt(now),
        "year_ago": adapt(now - dt.timedelta(days=365)),
        "half_year_ago": adapt(now - dt.timedelta(days=182)),
        "two_years_ago": adapt(now - dt.timedelta(days=730)),
        "month": month,
    }


def scores_compute(
    *,
    practices: Iterable[Practice] | None = None,
    patient_ids: Iterable[int] | None = None,
    now: dt.datetime | None = None,
    batch: int = PRACTICES_PER_STATEMENT,
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
            scored += _score_batch(points, chunk, ids, scope, params)
            if progress:
                progress(len(chunk))
    return scored


@transaction.atomic
def _score_batch(
    points: dict[str, int], chunk: list[int], ids: list[int] | None, scope: str, params: dict
) -> int:
    practices = _ids(chunk)
    with connection.cursor() as cursor:
        cursor.execute(_statement(points, practices, scope), params)
        scored = cursor.rowcount
        # Before the snapshots, which copy every row left: none for a departed patient.
        _forget_departed(chunk, ids)
        cursor.execute(_snapshot_statement(practices, scope), params)
    return scored


def _weights(organisation_id: int) -> dict[str, int]:
    policy = LoyaltyPolicy.objects.filter(organisation_id=organisation_id).first()
    return policy.weights if policy else {}


def _forget_departed(practice_ids: list[int], ids: list[int] | None) -> None:
    leftover = PatientScore.objects.filter(practice_id__in=practice_ids).exclude(
        patient__status=Patient.Status.ACTIVE
    )
    if ids is not None:
        leftover = leftover.filter(patient_id__in=ids)
    leftover.delete()
