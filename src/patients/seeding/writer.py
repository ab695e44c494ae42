"""Fast inserts of rows already computed in Python: COPY on PostgreSQL, executemany on SQLite.

The ORM's ``bulk_create`` builds a model instance and adapts every field of every row, and
on SQLite it sends 999 parameters a statement; at tens of millions of appointments that
costs more than the database's own work. Rows here are plain tuples in a declared column
order with values as text the database parses (dates, decimals, and UTC times: naive as
Django stores them in SQLite, with ``+00:00`` for PostgreSQL; see
``PracticeCalendar.moment``), which also pickles fast between processes. Every column not declared
gets its model default, adapted once, so a field added later with a default needs no
change here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db import connection as default_connection
from django.db import models

from core.models import ClosedDay, Practice, StaffMember
from patients.models import Appointment, Household, Patient
from patients.seeding.build import (
    GUARDIAN_AT,
    HOUSEHOLD_AT,
    PATIENT_COLUMNS,
    REFERRER_AT,
    Blueprint,
)

APPOINTMENT_COLUMNS = (
    "practice_id", "patient_id", "provider_id", "external_id", "starts_at",
    "duration_minutes", "kind", "status", "fee",
)  # fmt: skip
BATCH = 20_000


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    tail: tuple
    sql: str


class RowWriter:
    def __init__(self, *, now: dt.datetime, connection=None) -> None:
        self.connection = connection or default_connection
        self.postgres = self.connection.vendor == "postgresql"
        # SQLite stores UTC wall-clock text; PostgreSQL gets an explicit offset.
        self.aware = self.postgres
        self.now = now
        self._tables: dict[tuple, Table] = {}

    def table(self, model: type[models.Model], columns: Sequence[str]) -> Table:
        key = (model, tuple(columns))
        if key in self._tables:
            return self._tables[key]
        by_attname = {field.attname: field for field in model._meta.concrete_fields}
        unknown = set(columns) - set(by_attname)
        if unknown:
            raise ValueError(f"{model.__name__} has no columns {sorted(unknown)}")
        declared = [by_attname[name] for name in columns]
        rest = [
            field
            for field in model._meta.concrete_fields
            if field.attname not in columns and not field.primary_key
        ]
        quote = self.connection.ops.quote_name
        names = ", ".join(quote(field.column) for field in [*declared, *rest])
        table_name = quote(model._meta.db_table)
        if self.postgres:
            sql = f"COPY {table_name} ({names}) FROM STDIN"
        else:
            marks = ", ".join(["%s"] * (len(declared) + len(rest)))
            sql = f"INSERT INTO {table_name} ({names}) VALUES ({marks})"  # noqa: S608
        table = Table(tuple(columns), tuple(self._default(field) for field in rest), sql)
        self._tables[key] = table
        return table

    def _default(self, field: models.Field):
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = self.now if isinstance(field, models.DateTimeField) else self.now.date()
        else:
            value = field.get_default()
        return field.get_db_prep_save(value, self.connection)

    def insert(self, table: Table, rows: Iterable[tuple]) -> int:
        tail = table.tail
        count = 0
        with self.connection.cursor() as cursor:
            if self.postgres:
                with cursor.cursor.copy(table.sql) as copy:
                    write = copy.write_row
                    for row in rows:
                        write(row + tail)
                        count += 1
                return count
            batch: list[tuple] = []
            for row in rows:
                batch.append(row + tail)
                if len(batch) >= BATCH:
                    cursor.executemany(table.sql, batch)
                    count += len(batch)
                    batch = []
            if batch:
                cursor.executemany(table.sql, batch)
                count += len(batch)
        return count


def ids_by_external_id(model: type[models.Model], practice_id: int) -> dict[str, int]:
    return dict(
        model.objects.filter(practice_id=practice_id)
        .exclude(external_id="")
        .values_list("external_id", "id")
    )


@dataclass
class Written:
    practice: Practice
    staff: list[StaffMember]
    patients: int
    appointments: int


def blueprint_write(blueprint: Blueprint, *, practice: Practice, writer: RowWriter) -> Written:
    """Write a practice's rows into ``practice`` (created by the caller, with its hours).

    Rows that point at other rows go in after them: households, then patients layer by
    layer (referrers and guardians first), then appointments; each step reads the new ids
    back with one query.
    """
    pid = practice.pk
    ClosedDay.objects.bulk_create(
        ClosedDay(practice=practice, date=day, reason="Public holiday")
        for day in blueprint.closed_days
    )
    staff = StaffMember.objects.bulk_create(
        StaffMember(practice=practice, kind=kind, name=name, external_id=external_id)
        for kind, name, external_id in blueprint.staff
    )
    writer.insert(
        writer.table(Household, ("practice_id", "external_id", "name")),
        ((pid, external_id, name) for external_id, name in blueprint.households),
    )
    households = ids_by_external_id(Household, pid)
    table = writer.table(Patient, ("practice_id", *PATIENT_COLUMNS))
    patients: dict[str, int] = {}
    for layer in blueprint.patient_layers:
        rows = []
        for values in layer:
            row = [pid, *values]
            if row[HOUSEHOLD_AT + 1] is not None:
                row[HOUSEHOLD_AT + 1] = households[row[HOUSEHOLD_AT + 1]]
            if row[GUARDIAN_AT + 1] is not None:
                row[GUARDIAN_AT + 1] = patients[row[GUARDIAN_AT + 1]]
            if row[REFERRER_AT + 1] is not None:
                row[REFERRER_AT + 1] = patients[row[REFERRER_AT + 1]]
            rows.append(tuple(row))
        writer.insert(table, rows)
        patients = ids_by_external_id(Patient, pid)
    by_ref = [patients[external_id] for external_id in blueprint.patient_refs]
    staff_ids = [member.pk for member in staff]
    appointments = writer.insert(
        writer.table(Appointment, APPOINTMENT_COLUMNS),
        (
            (pid, by_ref[person], staff_ids[provider], f"A{number:07d}", starts_at, minutes,
             kind, status, fee)
            for number, (starts_at, person, provider, minutes, kind, status, fee)
            in enumerate(blueprint.appointments, start=1)
        ),
    )  # fmt: skip
    return Written(practice=practice, staff=staff, patients=len(by_ref), appointments=appointments)
