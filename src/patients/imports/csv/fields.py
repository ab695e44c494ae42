"""Checking one record's values: a ``Row`` collects every reason a record is invalid, and the
parsers turn a cell into a model value or say why they cannot."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from core.phones import PhoneError, normalise_phone
from patients.imports.csv.reading import MAX_FIELD_CHARS, show
from patients.models import Patient

T = TypeVar("T")

FORMULA_START = ("=", "+", "-", "@")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ISO_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?"
)
AMOUNT = re.compile(r"([0-9]+)(?:\.([0-9]*))?")


class Invalid(ValueError):
    """A value is unusable; the message completes "COLUMN 'VALUE' ..."."""


@cache
def field_max_length(model: type, name: str) -> int:
    return model._meta.get_field(name).max_length or MAX_FIELD_CHARS


class Row:
    """One record's cells by column name, collecting every reason it is invalid."""

    __slots__ = ("cells", "columns", "reasons")

    def __init__(self, cells: list[str], columns: dict[str, int]):
        self.cells = cells
        self.columns = columns
        self.reasons: list[str] = []

    def __contains__(self, column: str) -> bool:
        return column in self.columns

    def fail(self, reason: str) -> None:
        self.reasons.append(reason)

    def value(self, column: str) -> str:
        index = self.columns.get(column)
        return "" if index is None else self.cells[index].strip()

    def text(
        self, column: str, *, max_length: int, required: bool = False, multiline: bool = False
    ) -> str:
        raw = self.cells[self.columns[column]] if column in self.columns else ""
        value = raw.strip()
        if not value:
            if required:
                self.fail(f"{column} is blank")
        elif raw[0] in "\t\r" or value.startswith(FORMULA_START):
            self.fail(f"{column} {show(raw)} looks like a spreadsheet formula")
        elif len(value) > max_length:
            self.fail(f"{column} is longer than {max_length:,} characters")
        elif not multiline and ("\n" in value or "\r" in value):
            # A name or address may end up in an email header or a log line.
            self.fail(f"{column} {show(value)} contains a line break")
        else:
            return value
        return ""

    def parsed(self, column: str, parse: Callable[[str], T], *, required: bool = False) -> T | None:
        value = self.value(column)
        if not value:
            if required:
                self.fail(f"{column} is blank")
            return None
        try:
            return parse(value)
        except Invalid as exc:
            self.fail(f"{column} {show(value)} {exc}")
            return None


def _parse_date(value: str) -> dt.date:
    if not ISO_DATE.fullmatch(value):
        raise Invalid("is not written YYYY-MM-DD (dates like 02/03/2024 are ambiguous)")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Invalid("is not a real date") from None


def past_date(row: Row, column: str, today: dt.date) -> dt.date | None:
    day = row.parsed(column, _parse_date)
    if day is not None and day > today:
        row.fail(f"{column} {day} is in the future")
    elif day is not None and day.year < 1900:
        row.fail(f"{column} {day} is before 1900")
    return day


def moment_parser(zone: zoneinfo.ZoneInfo) -> Callable[[str], dt.datetime]:
    def parse(value: str) -> dt.datetime:
        if not ISO_MOMENT.fullmatch(value):
            raise Invalid("is not a date and time written YYYY-MM-DDTHH:MM (ISO 8601)")
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise Invalid("is not a real date and time") from None
        if moment.tzinfo is not None:
            return moment.astimezone(dt.UTC)
        # In UTC, because Python never finds a time inside a DST overlap equal to another
        # zone's time (PEP 495), and re-imports compare with what the database returns.
        utc = moment.replace(tzinfo=zone).astimezone(dt.UTC)
        # A wall time in the spring-forward gap does not survive the round trip.
        if utc.astimezone(zone).replace(tzinfo=None) != moment:
            raise Invalid(f"does not exist in {zone.key} (the clocks go forward then)")
        return utc

    return parse


def choice_parser(choices: type) -> Callable[[str], str]:
    values = set(choices.values)

    def parse(value: str) -> str:
        value = value.lower().replace("-", "_").replace(" ", "_")
        if value not in values:
            raise Invalid(f"is not one of {', '.join(choices.values)}")
        return value

    return parse


def parse_email(value: str) -> str:
    if value.startswith(FORMULA_START):
        raise Invalid("looks like a spreadsheet formula")
    if len(value) > field_max_length(Patient, "email"):
        raise Invalid(f"is longer than {field_max_length(Patient, 'email')} characters")
    try:
        validate_email(value)
    except ValidationError:
        raise Invalid("is not an email address") from None
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def phone_parser(region: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        # A leading "+" is how phone numbers are written, so only "=" and "@" count here.
        if value.startswith(("=", "@")):
            raise Invalid("looks like a spreadsheet formula")
        try:
            return normalise_phone(value, region=region)
        except PhoneError as exc:
            raise Invalid(str(exc).removeprefix(f"phone {value!r} ")) from None

    return parse


def parse_minutes(value: str) -> int:
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= 600:
        raise Invalid("is not a whole number of minutes from 1 to 600")
    return int(value)


def parse_fee(value: str) -> Decimal:
    match = AMOUNT.fullmatch(value)
    if match is None:
        if value.startswith("-") and AMOUNT.fullmatch(value[1:]):
            raise Invalid("is negative: a fee is 0 or more")
        raise Invalid("is not an amount like 120.50")
    whole, cents = match.groups()
    if cents is not None and len(cents) > 2:
        raise Invalid("has more than 2 decimal places")
    if len(whole.lstrip("0")) > 8:
        raise Invalid("is too large")
    return Decimal(value)
