"""INSERTs of many new rows without the ORM's per-field work, for the appointments import."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from django.db import connection, models


class NewRows:
    """INSERTs of new rows as plain tuples: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

    ``bulk_create`` adapts every field of every row through the ORM and, on SQLite, sends at
    most 999 parameters a statement; for appointments that was most of an import's time
    (bench/RESULTS.md). Values come in the driver's form, except datetimes, adapted here.
    Model fields a row does not name get their default, computed once, so a field added
    later with a default needs no change here.
    """

    def __init__(self, model: type, columns: tuple[str, ...]):
        self.connection = connection  # the one transaction.atomic() wraps
        self.copy = self.connection.vendor == "postgresql"
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        named = {f.attname: f for f in fields}
        self.columns = columns
        self.defaults = {name: named[name].get_default() for name in columns}
        self.moments = [n for n in columns if isinstance(named[n], models.DateTimeField)]
        self.pick = itemgetter(*columns)
        rest = [f for f in fields if f.attname not in columns]
        # What bulk_create would store: pre_save gives the default, or now for auto_now(_add).
        blank = model()
        self.tail = tuple(
            f.get_db_prep_save(f.pre_save(blank, True), self.connection) for f in rest
        )
        quote = self.connection.ops.quote_name
        names = ", ".join(quote(f.column) for f in [*(named[c] for c in columns), *rest])
        table = quote(model._meta.db_table)
        if self.copy:
            self.sql = f"COPY {table} ({names}) FROM STDIN"
        else:
            marks = ", ".join(["%s"] * (len(columns) + len(rest)))
            self.sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608

    def row(self, values: dict[str, Any]) -> tuple:
        """One new row in column order, in the driver's form."""
        merged = {**self.defaults, **values}
        for name in self.moments:
            merged[name] = self.connection.ops.adapt_datetimefield_value(merged[name])
        return self.pick(merged) + self.tail

    def insert(self, rows: list[tuple]) -> None:
        with self.connection.cursor() as cursor:
            if not self.copy:
                cursor.executemany(self.sql, rows)
                return
            with cursor.cursor.copy(self.sql) as copy:
                for row in rows:
                    copy.write_row(row)
