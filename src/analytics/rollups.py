"""Keep the daily rollups equal to the raw rows: refresh some practices' days, or rebuild.

A refresh recomputes the rollup rows of the chosen practices and local days from the raw
rows, set-based: one ``SELECT`` per rollup table (``analytics.sources``) into a temporary
table, then the rows that differ are deleted, updated or inserted, inside one transaction
per batch. Running it twice gives the same rows, and every other practice and day is left
alone. When the days include a practice's today, its loyalty snapshot is taken too.

Large refreshes (a rebuild) go in batches of days, each batch its own transaction: readers
see every day either before or after its refresh, never half-written.
"""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from analytics.models import (
    PracticeDay,
    PracticeDayDeparture,
    PracticeDayPerson,
    PracticeDayTouchpoint,
    PracticeDayVendor,
    PracticeMonth,
    PracticeMonthDeparture,
    PracticeMonthPerson,
    PracticeMonthTouchpoint,
    PracticeMonthVendor,
    PracticeSnapshot,
)
from analytics.sources import (
    Target,
    departure_target,
    effort_question_ids,
    ids_sql,
    month_start,
    person_target,
    practice_day_target,
    register_functions,
    select_sql,
    snapshot_sql,
    touchpoint_target,
    vendor_target,
)
from analytics.versions import rollups_changed
from calls.models import Call
from core.models import Practice
from feedback.models import FeedbackItem, SurveyInvitation, SurveyResponse
from patients.models import Appointment, Patient
from records.models import RecordsRequest
from recovery.models import RecoveryCase
from vendors.models import VendorDefect

# One transaction covers at most this many days: a year of a thousand practices (366,000
# practice-days) groups in memory, and a rebuild of three years shows progress four times.
DAYS_PER_BATCH = 366
# The nightly job rewrites this many days back: figures that settle after their day (an
# invitation answered within its link's life, a deadline passing, a booking within 7 days,
# an edited answer, an exit survey filling in a departure's reason) are caught up.
NIGHTLY_DAYS = 35
# Serialises refreshes on PostgreSQL (an arbitrary constant: "rollups").
LOCK_KEY = 0x726F6C6C

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DayRange:
    """Local days ``first`` to ``last``, both included."""

    first: dt.date
    last: dt.date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"the last day {self.last} is before the first {self.first}")

    @classmethod
    def of(cls, days: DayRange | tuple[dt.date, dt.date]) -> DayRange:
        return days if isinstance(days, DayRange) else cls(*days)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def chunks(self, size: int) -> Iterator[DayRange]:
        first = self.first
        while first <= self.last:
            last = min(self.last, first + dt.timedelta(days=size - 1))
            yield DayRange(first, last)
            first = last + dt.timedelta(days=1)

    def bounds(self, zones: Iterable[str]) -> tuple[dt.datetime, dt.datetime]:
        """The UTC moments from the first local midnight of ``first`` to the last local
        midnight ending ``last``, over the zones: every moment of those days in any zone."""
        starts, ends = [], []
        for name in set(zones):
            zone = zoneinfo.ZoneInfo(name)
            starts.append(dt.datetime.combine(self.first, dt.time(), tzinfo=zone))
            after = self.last + dt.timedelta(days=1)
            ends.append(dt.datetime.combine(after, dt.time(), tzinfo=zone))
        return min(starts).astimezone(dt.UTC), max(ends).astimezone(dt.UTC)


@dataclass
class RefreshResult:
    """What a refresh wrote."""

    practices: int = 0
    days: int = 0
    rows: int = 0  # PracticeDay rows of the practices and days, after the refresh
    changed: int = 0  # of which the refresh inserted or updated (or deleted)
    touchpoint_rows: int = 0
    departure_rows: int = 0
    person_rows: int = 0
    vendor_rows: int = 0
    snapshots: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        practices = f"{self.practices:,} practice{'s' if self.practices != 1 else ''}"
        days = f"{self.days:,} day{'s' if self.days != 1 else ''}"
        return (
            f"rollup: {practices} × {days} refreshed: {self.rows:,} practice-days"
            f" ({self.changed:,} changed),"
            f" {self.touchpoint_rows:,} touchpoint rows, {self.departure_rows:,} departure rows,"
            f" {self.person_rows:,} staff rows, {self.vendor_rows:,} vendor rows,"
            f" {self.snapshots:,} snapshots in {self.seconds:.1f} s"
        )


def _chosen(practices: Iterable[Practice | int] | None) -> list[tuple[int, str]]:
    """(id, time zone) of the practices, all by default, by id."""
    rows = Practice.objects.order_by("pk")
    if practices is not None:
        ids = {p if isinstance(p, int) else p.pk for p in practices}
        rows = rows.filter(pk__in=ids)
    return list(rows.values_list("pk", "timezone"))


def local_today(zone: str, now: dt.datetime) -> dt.date:
    return now.astimezone(zoneinfo.ZoneInfo(zone)).date()


def rollups_refresh(
    *,
    practices: Iterable[Practice | int] | None = None,
    days: DayRange | tuple[dt.date, dt.date],
    now: dt.datetime | None = None,
    progress: Progress | None = None,
    days_per_batch: int = DAYS_PER_BATCH,
) -> RefreshResult:
    """Rewrite the rollups of ``practices`` (all by default) for their local ``days`` from
    the raw rows; take the loyalty snapshot of each practice whose today is among them.

    ``progress(done, total)`` is told the practice-days finished after each batch.
    """
    started = time.perf_counter()
    now = now or timezone.now()
    days = DayRange.of(days)
    chosen = _chosen(practices)
    result = RefreshResult(practices=len(chosen), days=days.days)
    if not chosen:
        return result
    targets = [
        practice_day_target(effort_question_ids()),
        touchpoint_target(),
        departure_target(),
        person_target(),
        vendor_target(),
    ]
    total, done = len(chosen) * days.days, 0
    if progress:
        progress(0, total)
    for batch in days.chunks(days_per_batch):
        written, snapshots = _refresh_batch(chosen, batch, targets, now)
        (rows, changed), touchpoints, departures, people, vendors = written
        result.rows += rows
        result.changed += changed
        result.touchpoint_rows += touchpoints[0]
        result.departure_rows += departures[0]
        result.person_rows += people[0]
        result.vendor_rows += vendors[0]
        result.snapshots += snapshots
        done += len(chosen) * batch.days
        if progress:
            progress(done, total)
    rollups_changed()
    result.seconds = time.perf_counter() - started
    return result


@transaction.atomic
def _refresh_batch(
    practices: list[tuple[int, str]], days: DayRange, targets: list[Target], now: dt.datetime
) -> tuple[list[tuple[int, int]], int]:
    """Rewrite one batch; returns (rows, rows changed) per target, and the snapshots."""
    ids = ids_sql(pk for pk, _zone in practices)
    lo, hi = days.bounds(zone for _pk, zone in practices)
    adapt = connection.ops.adapt_datetimefield_value
    params = {
        "lo": adapt(lo),
        "hi": adapt(hi),
        "first": _adapt_date(days.first),
        "last": _adapt_date(days.last),
        "now": adapt(now),
    }
    written = []
    register_functions()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Two refreshes of the same rows would each insert what the other had not seen.
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
            # The grouped aggregates of a batch fit in memory instead of spilling to disk.
            cursor.execute("SET LOCAL work_mem = '128MB'")
        for target in targets:
            written.append(_write_target(cursor, target, ids, params))
            _write_months(cursor, target, ids, days)
        snapshots = _snapshot(cursor, practices, days, now)
    return written, snapshots


# The batch's new rows of one rollup table, in a temporary table of the connection.
NEW_ROWS = "analytics_new_rows"


def _write_target(cursor, target: Target, ids: str, params: dict) -> tuple[int, int]:
    """Make the batch's rows of ``target`` equal its new rows, writing only the rows that
    differ: deleting and inserting every row would leave a dead copy of each behind, and
    PostgreSQL then checks each insert's unique key against it (four times slower)."""
    table = target.table
    cursor.execute(f"DROP TABLE IF EXISTS {NEW_ROWS}")
    cursor.execute(f"CREATE TEMPORARY TABLE {NEW_ROWS} AS {select_sql(target, ids)}", params)
    cursor.execute(f"CREATE INDEX {NEW_ROWS}_keys ON {NEW_ROWS} ({', '.join(target.keys)})")
    cursor.execute(f"ANALYZE {NEW_ROWS}")
    cursor.execute(f"SELECT COUNT(*) FROM {NEW_ROWS}")  # noqa: S608
    rows = cursor.fetchone()[0]
    same_key = " AND ".join(f"n.{key} = {table}.{key}" for key in target.keys)
    cursor.execute(
        f"DELETE FROM {table} WHERE practice_id IN {ids}"  # noqa: S608
        " AND day >= %(first)s AND day <= %(last)s"
        f" AND NOT EXISTS (SELECT 1 FROM {NEW_ROWS} n WHERE {same_key})",
        params,
    )
    changed = max(cursor.rowcount, 0)
    for statement in _write_changed(target):
        cursor.execute(statement, params)
        changed += max(cursor.rowcount, 0)
    cursor.execute(f"DROP TABLE {NEW_ROWS}")
    return rows, changed


def _write_changed(target: Target) -> list[str]:
    """Statements that update the rows whose figures changed and insert the new ones:
    one ``MERGE`` on PostgreSQL, an ``UPDATE … FROM`` and an ``INSERT`` on SQLite."""
    table, columns = target.table, target.columns
    stamp = [target.stamp] if target.stamp else []
    current = ", ".join(f"{table}.{name}" for name in columns)
    incoming = ", ".join(f"n.{name}" for name in columns)
    differs = f"({current}) <> ({incoming})"
    assignments = ", ".join(
        [f"{name} = n.{name}" for name in columns] + [f"{name} = %(now)s" for name in stamp]
    )
    inserted = ", ".join(target.keys + stamp + columns)
    values = ", ".join(
        [f"n.{key}" for key in target.keys]
        + ["%(now)s" for _ in stamp]
        + [f"n.{c}" for c in columns]
    )
    same_key = " AND ".join(f"n.{key} = {table}.{key}" for key in target.keys)
    if connection.vendor == "postgresql":
        return [
            f"""
            MERGE INTO {table} USING {NEW_ROWS} n ON {same_key}
            WHEN MATCHED AND {differs} THEN UPDATE SET {assignments}
            WHEN NOT MATCHED THEN INSERT ({inserted}) VALUES ({values})
            """  # noqa: S608
        ]
    existing = " AND ".join(f"e.{key} = n.{key}" for key in target.keys)
    return [
        f"UPDATE {table} SET {assignments} FROM {NEW_ROWS} n"  # noqa: S608
        f" WHERE {same_key} AND {differs}",
        f"INSERT INTO {table} ({inserted}) SELECT {values} FROM {NEW_ROWS} n"  # noqa: S608
        f" WHERE NOT EXISTS (SELECT 1 FROM {table} e WHERE {existing})",
    ]


def _month_bounds(days: DayRange) -> tuple[dt.date, dt.date]:
    """The first day of the first month of ``days`` and the last day of its last month."""
    after = (days.last.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return days.first.replace(day=1), after - dt.timedelta(days=1)


def _write_months(cursor, target: Target, ids: str, days: DayRange) -> None:
    """Make the month rows of every month the batch touched the sums of their day rows."""
    months = MONTH_TABLES[target.table]
    first, last = _month_bounds(days)
    params = {"first": _adapt_date(first), "last": _adapt_date(last)}
    key = [target.key] if target.key else []
    sums = [f"SUM({name})" for name in target.columns]
    cursor.execute(
        f"DELETE FROM {months} WHERE practice_id IN {ids}"  # noqa: S608
        " AND month >= %(first)s AND month <= %(last)s",
        params,
    )
    cursor.execute(
        f"INSERT INTO {months} (practice_id, month, {', '.join(key + target.columns)})"  # noqa: S608
        f" SELECT practice_id, {month_start('day')}, {', '.join(key + sums)}"
        f" FROM {target.table} WHERE practice_id IN {ids}"
        " AND day >= %(first)s AND day <= %(last)s"
        f" GROUP BY {', '.join(['practice_id', month_start('day'), *key])}",
        params,
    )


def _snapshot(cursor, practices: list[tuple[int, str]], days: DayRange, now) -> int:
    """Take today's loyalty snapshot of the practices whose local today is in ``days``."""
    by_day: dict[dt.date, list[int]] = {}
    for pk, zone in practices:
        today = local_today(zone, now)
        if days.first <= today <= days.last:
            by_day.setdefault(today, []).append(pk)
    taken = 0
    table = PracticeSnapshot._meta.db_table
    for day, pks in by_day.items():
        ids = ids_sql(pks)
        params = {"day": _adapt_date(day), "now": connection.ops.adapt_datetimefield_value(now)}
        cursor.execute(
            f"DELETE FROM {table} WHERE practice_id IN {ids} AND day = %(day)s",  # noqa: S608
            params,
        )
        cursor.execute(snapshot_sql(ids), params)
        taken += max(cursor.rowcount, 0)
    return taken


def _adapt_date(day: dt.date):
    # Dates as SQLite stores them (text); PostgreSQL takes the date itself.
    return day if connection.vendor == "postgresql" else day.isoformat()


def rollups_refresh_recent(
    *, days_back: int = 1, now: dt.datetime | None = None, progress: Progress | None = None
) -> RefreshResult:
    """Every practice's today and the ``days_back`` days before it (the periodic jobs)."""
    now = now or timezone.now()
    zones = set(Practice.objects.values_list("timezone", flat=True).distinct())
    if not zones:
        return RefreshResult()
    todays = [local_today(zone, now) for zone in zones]
    first = min(todays) - dt.timedelta(days=days_back)
    return rollups_refresh(days=DayRange(first, max(todays)), now=now, progress=progress)


# Each daily rollup and its sums per month.
MONTHS = {
    PracticeDay: PracticeMonth,
    PracticeDayTouchpoint: PracticeMonthTouchpoint,
    PracticeDayDeparture: PracticeMonthDeparture,
    PracticeDayPerson: PracticeMonthPerson,
    PracticeDayVendor: PracticeMonthVendor,
}
MONTH_TABLES = {day._meta.db_table: month._meta.db_table for day, month in MONTHS.items()}
ROLLUP_MODELS = (*MONTHS, *MONTHS.values())

# Each raw table's moments, earliest to latest, bound the days a rebuild covers (a
# gesture follows its case's opening, a call-back its call).
_MOMENTS = [
    (SurveyInvitation, "created_at", Q()),
    (SurveyResponse, "submitted_at", Q()),
    (FeedbackItem, "received_at", Q()),
    (RecoveryCase, "opened_at", Q()),
    (RecoveryCase, "closed_at", Q()),
    (RecordsRequest, "received_at", Q()),
    (RecordsRequest, "fulfilled_at", Q()),
    (Patient, "departed_at", Q()),
    (Patient, "returned_at", Q()),
    (Call, "started_at", Q()),
    (VendorDefect, "detected_at", Q()),
    (Appointment, "starts_at", Q(status=Appointment.Status.COMPLETED)),
]


def data_span(
    practices: list[tuple[int, str]], *, now: dt.datetime | None = None
) -> DayRange | None:
    """The local days from the earliest raw moment of the practices to today (or to a
    later moment, should one be dated ahead); None for practices without any."""
    now = now or timezone.now()
    ids = [pk for pk, _zone in practices]
    earliest, latest = [], [now]
    for model, column, condition in _MOMENTS:
        found = model.objects.filter(condition, practice_id__in=ids).aggregate(
            first=Min(column), last=Max(column)
        )
        if found["first"] is not None:
            earliest.append(found["first"])
            latest.append(found["last"])
    if not earliest:
        return None
    zones = {zone for _pk, zone in practices}
    first = min(local_today(zone, min(earliest)) for zone in zones)
    last = max(local_today(zone, max(latest)) for zone in zones)
    return DayRange(first, last)


def rollups_rebuild(
    *,
    practices: Iterable[Practice | int] | None = None,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> RefreshResult:
    """Recompute every rollup row of the practices (all by default) from their raw rows:
    the days from their earliest raw row to today, and no row outside them.

    Loyalty snapshots of past days stay: they cannot be recomputed.
    """
    started = time.perf_counter()
    now = now or timezone.now()
    chosen = _chosen(practices)
    span = data_span(chosen, now=now) if chosen else None
    with transaction.atomic():
        for day_model, month_model in MONTHS.items():
            ids = [pk for pk, _zone in chosen]
            stale_days = day_model.objects.filter(practice_id__in=ids)
            stale_months = month_model.objects.filter(practice_id__in=ids)
            if span is not None:
                stale_days = stale_days.exclude(day__range=(span.first, span.last))
                stale_months = stale_months.exclude(month__range=_month_bounds(span))
            stale_days.delete()
            stale_months.delete()
    if span is None:
        return RefreshResult(practices=len(chosen), seconds=time.perf_counter() - started)
    result = rollups_refresh(
        practices=[pk for pk, _zone in chosen], days=span, now=now, progress=progress
    )
    result.seconds = time.perf_counter() - started
    return result
