"""CSV imports of patients and appointments (``rapport import patients|appointments FILE``).

The file contract lives in docs/import-csv.md. In short: UTF-8, comma-separated, a header row;
every bad record is reported as ``FILE:LINE: reason`` with the physical line where the record
starts; by default one bad record means nothing is stored, with ``skip_invalid`` the good
records are stored in one transaction and the bad ones are listed. Re-imports match on
(practice, external_id), so running the same file twice changes nothing.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import re
import stat
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DataError, IntegrityError, connection, models, transaction
from django.utils import timezone

from core.models import Practice, StaffMember
from core.phones import PhoneError, normalise_phone
from patients.imports.common import (
    ImportFailed,
    ImportProblem,
    ImportResult,
    Progress,
    display_path,
)
from patients.models import Appointment, Household, Patient, fold_for_search

T = TypeVar("T")

BATCH_SIZE = 1000
MAX_FIELD_CHARS = 10_000
MAX_COLUMNS = 100
# Past this the csv module itself stops. It is nearly always a quote that was never closed
# and swallowed the lines after it, so nothing after that point can be trusted.
CSV_FIELD_LIMIT = 10 * MAX_FIELD_CHARS

BYTE_ORDER_MARKS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
NOT_CSV = (
    (b"PK\x03\x04", "a spreadsheet (.xlsx, .ods) or zip archive"),
    (b"PK\x05\x06", "a zip archive"),
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook (.xls)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"%PDF", "a PDF document"),
)
TENANT_COLUMNS = {"practice", "practice_id"}
# Undecodable bytes come through as lone surrogates (errors="surrogateescape"); NUL and
# other control characters would reach the database (PostgreSQL refuses NUL outright).
UNDECODABLE = re.compile("[\udc80-\udcff]")
UNWANTED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\udc80-\udcff]")
FORMULA_START = ("=", "+", "-", "@")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ISO_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
    r"(Z|[+-][0-9]{2}:?[0-9]{2})?"
)
AMOUNT = re.compile(r"([0-9]+)(?:\.([0-9]*))?")


# --- Reading the file -----------------------------------------------------------------


def _failed(name: str, line: int | None, reason: str) -> ImportFailed:
    return ImportFailed([ImportProblem(name, line, reason)])


def _size(n: int) -> str:
    return f"{n:,} bytes" if n < 1024 * 1024 else f"{n / 1024 / 1024:,.1f} MB"


@contextmanager
def _csv_field_limit(limit: int) -> Iterator[None]:
    """The csv module's limit is process-wide: set ours while reading, then put it back."""
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _open_file(path: str | Path, name: str) -> BinaryIO:
    """Open a regular file that is neither empty nor over the size limit."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise _failed(name, None, "no such file") from None
    except OSError as exc:
        raise _failed(name, None, f"cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise _failed(name, None, "is not a regular file")
    if info.st_size == 0:
        raise _failed(name, None, "is empty (0 bytes)")
    limit = settings.RAPPORT_IMPORT_MAX_BYTES
    if info.st_size > limit:
        raise _failed(
            name,
            None,
            f"is {_size(info.st_size)}, over the import limit of {_size(limit)} "
            "(RAPPORT_IMPORT_MAX_BYTES): split it into smaller files",
        )
    try:
        return open(path, "rb")  # noqa: SIM115 - closed by _CsvSource.open
    except OSError as exc:
        raise _failed(name, None, f"cannot be read: {exc.strerror}") from None


def _encoding(head: bytes, name: str) -> str:
    """The text encoding, from a byte-order mark; refuse well-known binary formats."""
    for magic, what in NOT_CSV:
        if head.startswith(magic):
            raise _failed(name, None, f"is {what}, not CSV text: save it as CSV UTF-8")
    for mark, encoding in BYTE_ORDER_MARKS:
        if head.startswith(mark):
            return encoding
    return "utf-8"


def _csv_error_reason(exc: csv.Error) -> str:
    message = str(exc)
    if message.startswith("field larger than field limit"):
        return (
            f"field too long: a value runs past {CSV_FIELD_LIMIT:,} characters "
            "(is a closing quote missing?); nothing after this line was read"
        )
    if message == "unexpected end of data":
        return "unbalanced quotes: a quoted value starts here and is never closed"
    if "expected after" in message:
        return 'unbalanced quotes: write a quote inside a quoted value as two quotes ("")'
    return f"not valid CSV ({message}); nothing after this line was read"


@dataclass(frozen=True)
class Columns:
    """The columns one kind of file may have, and those it must have."""

    known: tuple[str, ...]
    required: tuple[str, ...]


class _CsvSource:
    """A CSV file that passed the up-front checks. Its records may be read more than once."""

    def __init__(self, name: str, handle: BinaryIO, encoding: str):
        self.name = name
        self.handle = handle
        self.encoding = encoding
        self.columns: dict[str, int] = {}
        self.stamp = self._stamp()

    @classmethod
    @contextmanager
    def open(cls, path: str | Path, columns: Columns) -> Iterator[_CsvSource]:
        name = display_path(path)
        with _open_file(path, name) as handle:
            source = cls(name, handle, _encoding(handle.read(4), name))
            source._read_header(columns)
            yield source

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """(line where the record starts, cells) for each data record."""
        rows = self._rows()
        next(rows)  # the header, checked when the file was opened
        yield from rows

    @property
    def width(self) -> int:
        """How many cells a record has, up to the last named column."""
        return max(self.columns.values()) + 1

    def check_unchanged(self) -> None:
        if self._stamp() != self.stamp:
            raise _failed(self.name, None, "the file changed while it was being imported")

    def problem(self, line: int | None, reason: str) -> ImportProblem:
        return ImportProblem(self.name, line, reason)

    def _stamp(self) -> tuple[int, int]:
        info = os.fstat(self.handle.fileno())
        return info.st_size, info.st_mtime_ns

    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        """Every non-blank record, header included, with the line where it starts."""
        self.handle.seek(0)
        errors = "surrogateescape" if self.encoding.startswith("utf-8") else "strict"
        text = io.TextIOWrapper(self.handle, encoding=self.encoding, errors=errors, newline="")
        # csv.reader counts physical lines read so far: a record with quoted newlines ends
        # on a later line than it starts, and people look for it where it starts.
        reader = csv.reader(text, strict=True)
        start = 1
        try:
            with _csv_field_limit(CSV_FIELD_LIMIT):
                for cells in reader:
                    if any(cells):
                        yield start, cells
                    start = reader.line_num + 1
        except csv.Error as exc:
            raise _failed(self.name, start, _csv_error_reason(exc)) from None
        except UnicodeDecodeError:
            raise _failed(
                self.name, reader.line_num + 1, f"not valid {self.encoding.upper()} text"
            ) from None
        finally:
            text.detach()  # keep the file open for a second pass

    def _read_header(self, columns: Columns) -> None:
        for line, cells in self._rows():
            problems = _header_problems(cells, columns)
            if problems:
                raise ImportFailed([self.problem(line, reason) for reason in problems])
            names = [cell.strip().lower() for cell in cells]
            self.columns = {name: index for index, name in enumerate(names) if name}
            return
        raise _failed(self.name, None, "has no header row")


def _header_problems(cells: list[str], columns: Columns) -> list[str]:
    if len(cells) > MAX_COLUMNS:
        return [f"the header has {len(cells):,} columns; at most {MAX_COLUMNS} are allowed"]
    if UNDECODABLE.search("".join(cells)):
        return ["not valid UTF-8 text (save the file as UTF-8)"]
    if "\x00" in "".join(cells):
        return ["contains NUL bytes: save the file as CSV UTF-8 (is it UTF-16 without a BOM?)"]
    if len(cells) == 1:
        for separator, label in ((";", "semicolons"), ("\t", "tabs")):
            if separator in cells[0]:
                return [f"the columns are separated by {label}: save the file as CSV (commas)"]
    names = [cell.strip().lower() for cell in cells]
    while names and not names[-1]:
        names.pop()  # a trailing comma on every line leaves an empty last column
    problems, unknown, seen = [], [], {}
    for position, column in enumerate(names, start=1):
        if not column:
            problems.append(f"column {position} has no name")
        elif column in seen:
            problems.append(
                f"column {column} appears twice (columns {seen[column]} and {position})"
            )
        elif column in TENANT_COLUMNS:
            problems.append(
                f"column {column} is not allowed: the practice is chosen with --practice"
            )
        elif column not in columns.known:
            unknown.append(column)
        seen.setdefault(column, position)
    if unknown:
        shown = ", ".join(_show(name) for name in unknown[:10])
        more = f" and {len(unknown) - 10:,} more" if len(unknown) > 10 else ""
        problems.append(f"unknown columns {shown}{more} (known: {', '.join(columns.known)})")
    problems += [f"missing column {name}" for name in columns.required if name not in seen]
    return problems


# --- Checking values ------------------------------------------------------------------


class Invalid(ValueError):
    """A value is unusable; the message completes "COLUMN 'VALUE' ..."."""


def _show(value: str) -> str:
    """A value quoted for a message: escaped, so no control character reaches a terminal."""
    return repr(value if len(value) <= 40 else value[:39] + "…")


@cache
def _max_length(model: type, name: str) -> int:
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
            self.fail(f"{column} {_show(raw)} looks like a spreadsheet formula")
        elif len(value) > max_length:
            self.fail(f"{column} is longer than {max_length:,} characters")
        elif not multiline and ("\n" in value or "\r" in value):
            # A name or address may end up in an email header or a log line.
            self.fail(f"{column} {_show(value)} contains a line break")
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
            self.fail(f"{column} {_show(value)} {exc}")
            return None


def _cells_problem(cells: list[str], width: int) -> str | None:
    """What makes a record unreadable as a whole, before looking at any one value."""
    if len(cells) != width and (len(cells) < width or any(cells[width:])):
        return f"has {len(cells)} values but the header has {width} columns"
    joined = "".join(cells)
    if UNWANTED.search(joined):  # one search for the common case of none at all
        if UNDECODABLE.search(joined):
            return "not valid UTF-8 text (save the file as UTF-8)"
        return "contains a NUL byte" if "\x00" in joined else "contains a control character"
    if len(joined) > MAX_FIELD_CHARS:
        longest = max(map(len, cells))
        if longest > MAX_FIELD_CHARS:
            return f"field too long: {longest:,} characters, at most {MAX_FIELD_CHARS:,}"
    return None


def _date(value: str) -> dt.date:
    if not ISO_DATE.fullmatch(value):
        raise Invalid("is not written YYYY-MM-DD (dates like 02/03/2024 are ambiguous)")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Invalid("is not a real date") from None


def _moment_in(zone: zoneinfo.ZoneInfo) -> Callable[[str], dt.datetime]:
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


def _choice(choices: type) -> Callable[[str], str]:
    values = set(choices.values)

    def parse(value: str) -> str:
        value = value.lower().replace("-", "_").replace(" ", "_")
        if value not in values:
            raise Invalid(f"is not one of {', '.join(choices.values)}")
        return value

    return parse


def _email(value: str) -> str:
    if value.startswith(FORMULA_START):
        raise Invalid("looks like a spreadsheet formula")
    if len(value) > _max_length(Patient, "email"):
        raise Invalid(f"is longer than {_max_length(Patient, 'email')} characters")
    try:
        validate_email(value)
    except ValidationError:
        raise Invalid("is not an email address") from None
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def _phone_in(region: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        # A leading "+" is how phone numbers are written, so only "=" and "@" count here.
        if value.startswith(("=", "@")):
            raise Invalid("looks like a spreadsheet formula")
        try:
            return normalise_phone(value, region=region)
        except PhoneError as exc:
            raise Invalid(str(exc).removeprefix(f"phone {value!r} ")) from None

    return parse


def _minutes(value: str) -> int:
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= 600:
        raise Invalid("is not a whole number of minutes from 1 to 600")
    return int(value)


def _fee(value: str) -> Decimal:
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


def _past_date(row: Row, column: str, today: dt.date) -> dt.date | None:
    day = row.parsed(column, _date)
    if day is not None and day > today:
        row.fail(f"{column} {day} is in the future")
    elif day is not None and day.year < 1900:
        row.fail(f"{column} {day} is before 1900")
    return day


# --- Shared writing -------------------------------------------------------------------


@contextmanager
def _atomic_import(source: _CsvSource) -> Iterator[None]:
    """One transaction for the whole file; a refused row becomes a problem, not a traceback."""
    try:
        with transaction.atomic():
            yield
            source.check_unchanged()
    except (IntegrityError, DataError) as exc:
        raise _failed(
            source.name,
            None,
            f"nothing was stored: the database refused a row ({exc}); "
            "if another import ran at the same time, run this one again",
        ) from exc


def _report(progress: Progress | None, done: int, total: int | None = None) -> None:
    if progress is not None:
        progress(done, total)


def _problem_list(source: _CsvSource, reasons: dict[int, list[str]]) -> list[ImportProblem]:
    return [source.problem(line, "; ".join(reasons[line])) for line in sorted(reasons)]


def _count(result: ImportResult, kind: str, rows: int, *, created: int, updated: int) -> None:
    # Only non-zero counts: the summary names every key it finds.
    for counter, n in (
        (result.created, created),
        (result.updated, updated),
        (result.unchanged, rows - created - updated),
    ):
        if n:
            counter[kind] += n


def _matched(
    model: type[models.Model], practice: Practice, external_ids: list[str] | None = None
) -> models.QuerySet:
    """The practice's rows of ``model`` that have an external id, optionally only these ids.

    Unordered and excluding "" on purpose: that is what lets the database use the partial
    unique index on (practice, external_id) instead of walking all the practice's rows.
    """
    rows = model.objects.filter(practice=practice).exclude(external_id="").order_by()
    return rows if external_ids is None else rows.filter(external_id__in=external_ids)


def _changed_fields(instance: Any, values: dict[str, Any]) -> list[str]:
    """Set the values that differ and name them."""
    changed = []
    for name, value in values.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.append(name)
    return changed


# --- Patients -------------------------------------------------------------------------

PATIENT_COLUMNS = Columns(
    known=(
        "external_id", "first_name", "last_name", "date_of_birth", "email", "phone",
        "address", "city", "postal_code", "first_visit_on", "status", "preferred_channel",
        "household", "guardian_external_id", "referred_by_external_id", "referral_source",
        "goals", "greatest_concern", "previous_experiences", "preferences", "anxieties",
        "trust_notes",
    ),
    required=("external_id", "first_name", "last_name"),
)  # fmt: skip
PATIENT_TEXT = ("first_name", "last_name", "address", "city", "postal_code", "referral_source")
PATIENT_NOTES = (
    "goals", "greatest_concern", "previous_experiences", "preferences", "anxieties", "trust_notes",
)  # fmt: skip
PATIENT_STATUS = _choice(Patient.Status)
PATIENT_CHANNEL = _choice(Patient.Channel)
PATIENT_LINKS = {"guardian_external_id": "guardian_id", "referred_by_external_id": "referred_by_id"}
NAME_FIELDS = {"first_name", "last_name"}


@dataclass(slots=True)
class PatientRow:
    """A valid patient record: model values for the columns the file has, and its links."""

    external_id: str
    values: dict[str, Any]
    household: str | None  # None when the file has no household column; "" clears it
    links: dict[str, str]  # guardian_id / referred_by_id → external id; "" clears it


@dataclass
class _PatientContext:
    practice: Practice
    today: dt.date
    parse_phone: Callable[[str], str]
    existing_ids: dict[str, int]  # external_id → pk, of the practice's patients before the import

    @classmethod
    def load(cls, practice: Practice) -> _PatientContext:
        existing = _matched(Patient, practice)
        return cls(
            practice=practice,
            today=timezone.localdate(timezone=practice.zone),
            parse_phone=_phone_in(practice.region),
            existing_ids=dict(existing.values_list("external_id", "pk")),
        )


def _patient_row(row: Row, context: _PatientContext) -> PatientRow:
    external_id = row.text(
        "external_id", max_length=_max_length(Patient, "external_id"), required=True
    )
    values: dict[str, Any] = {
        name: row.text(
            name,
            max_length=_max_length(Patient, name),
            required=name in NAME_FIELDS,
            multiline=name in PATIENT_NOTES,
        )
        for name in (*PATIENT_TEXT, *PATIENT_NOTES)
        if name in row
    }
    for name in ("date_of_birth", "first_visit_on"):
        if name in row:
            values[name] = _past_date(row, name, context.today)
    born, first_visit = values.get("date_of_birth"), values.get("first_visit_on")
    if born and first_visit and first_visit < born:
        row.fail(f"first_visit_on {first_visit} is before date_of_birth {born}")
    if "email" in row:
        values["email"] = row.parsed("email", _email) or ""
    if "phone" in row:
        values["phone"] = row.parsed("phone", context.parse_phone) or ""
    if "status" in row:
        values["status"] = row.parsed("status", PATIENT_STATUS) or Patient.Status.ACTIVE
    if "preferred_channel" in row:
        channel = row.parsed("preferred_channel", PATIENT_CHANNEL)
        values["preferred_channel"] = channel or Patient.Channel.EMAIL
    household = None
    if "household" in row:
        household = row.text("household", max_length=_max_length(Household, "external_id"))
    links = {}
    for column, attname in PATIENT_LINKS.items():
        if column in row:
            links[attname] = row.text(column, max_length=_max_length(Patient, "external_id"))
            if external_id and links[attname] == external_id:
                row.fail(f"{column} is the patient's own external_id")
    return PatientRow(external_id, values, household, links)


@dataclass
class _PatientPlan:
    """What the checking pass learnt: every problem, and where each external_id is."""

    reasons: dict[int, list[str]] = field(default_factory=dict)
    first_line: dict[str, int] = field(default_factory=dict)
    # (line, column, external id it refers to) for every non-blank guardian or referrer
    links: list[tuple[int, str, str]] = field(default_factory=list)
    rows: int = 0

    @property
    def good_rows(self) -> int:
        return self.rows - len(self.reasons)

    @property
    def link_targets(self) -> set[str]:
        return {target for _, _, target in self.links}


def _plan_patients(
    source: _CsvSource, context: _PatientContext, progress: Progress | None
) -> _PatientPlan:
    """Check every record without writing, so problems are known before anything is stored."""
    plan = _PatientPlan()
    link_columns = {attname: column for column, attname in PATIENT_LINKS.items()}
    for line, cells in source.records():
        plan.rows += 1
        row = Row(cells, source.columns)
        problem = _cells_problem(cells, source.width)
        if problem:
            row.fail(problem)
            external_id = row.value("external_id") if len(cells) >= source.width else ""
            if external_id:
                plan.first_line.setdefault(external_id, line)
        else:
            patient = _patient_row(row, context)
            external_id = patient.external_id
            if external_id in plan.first_line:
                first = plan.first_line[external_id]
                row.fail(f"external_id {_show(external_id)} is also on line {first}")
            elif external_id:
                plan.first_line[external_id] = line
            for attname, target in patient.links.items():
                if target:
                    plan.links.append((line, link_columns[attname], target))
        if row.reasons:
            plan.reasons[line] = row.reasons
        if plan.rows % BATCH_SIZE == 0:
            _report(progress, plan.rows)
    _reject_broken_links(plan, context.existing_ids)
    return plan


def _reject_broken_links(plan: _PatientPlan, existing_ids: dict[str, int]) -> None:
    """A record whose guardian or referrer is neither stored nor importable is rejected too.

    Importing a minor without their guardian would send the guardian's messages to the child,
    so the dependent record waits for its guardian's record to be fixed. Rejections can
    cascade (a guardian's guardian), hence the loop until nothing changes.
    """
    while True:
        rejected: dict[int, list[str]] = {}
        for line, column, target in plan.links:
            if line in plan.reasons or target in existing_ids:
                continue
            target_line = plan.first_line.get(target)
            if target_line is None:
                reason = f"{column} {_show(target)} is not a patient of this practice or this file"
            elif target_line in plan.reasons:
                reason = f"{column} {_show(target)} is on line {target_line}, which was rejected"
            else:
                continue
            rejected.setdefault(line, []).append(reason)
        if not rejected:
            return
        plan.reasons.update(rejected)


class _Households:
    """The practice's households by key, created the first time a stored row names one."""

    def __init__(self, practice: Practice):
        self.practice = practice
        households = _matched(Household, practice)
        self.ids: dict[str, int] = dict(households.values_list("external_id", "pk"))

    def ensure(self, keys: set[str]) -> None:
        missing = sorted(key for key in keys if key and key not in self.ids)
        created = Household.objects.bulk_create(
            Household(practice=self.practice, external_id=key, name=key) for key in missing
        )
        self.ids.update((household.external_id, household.pk) for household in created)


@dataclass
class _PatientWriter:
    """Stores checked patient rows batch by batch, then links guardians and referrers."""

    context: _PatientContext
    result: ImportResult
    targets: set[str]  # external ids that some row links to
    households: _Households
    target_ids: dict[str, int] = field(default_factory=dict)
    # (patient, link attname, external id of a patient created by this import)
    pending_links: list[tuple[Patient, str, str]] = field(default_factory=list)

    def store(self, batch: list[PatientRow]) -> None:
        practice = self.context.practice
        stored = _matched(Patient, practice, [row.external_id for row in batch])
        existing = {patient.external_id: patient for patient in stored}
        self.households.ensure({row.household for row in batch if row.household})
        created, updated, changed_fields = [], [], set()
        for row in batch:
            patient = existing.get(row.external_id)
            if patient is None:
                patient = Patient(practice=practice, external_id=row.external_id)
                created.append(patient)
            changed = self._apply(patient, row)
            if changed and patient.pk is not None:
                updated.append(patient)
                changed_fields.update(changed)
            if changed & NAME_FIELDS or patient.pk is None:
                patient.search_name = patient.search_text()
        Patient.objects.bulk_create(created)
        if updated:
            now = timezone.now()
            for patient in updated:
                patient.updated_at = now
            fields = sorted(changed_fields | {"search_name", "updated_at"})
            Patient.objects.bulk_update(updated, fields)
        _count(self.result, "patients", len(batch), created=len(created), updated=len(updated))
        self._remember_targets(created + list(existing.values()))

    def link_new_patients(self) -> None:
        """Set the links that point at patients this import created, now they have ids."""
        by_field: dict[str, list[Patient]] = {}
        for patient, attname, target in self.pending_links:
            setattr(patient, attname, self.target_ids[target])
            by_field.setdefault(attname, []).append(patient)
        for attname, patients in by_field.items():
            Patient.objects.bulk_update(patients, [attname.removesuffix("_id")], BATCH_SIZE)

    def _apply(self, patient: Patient, row: PatientRow) -> set[str]:
        changed = set(_changed_fields(patient, row.values))
        if row.household is not None:
            household_id = self.households.ids[row.household] if row.household else None
            changed.update(_changed_fields(patient, {"household_id": household_id}))
        for attname, target in row.links.items():
            if target and target not in self.context.existing_ids:
                # It points at a patient created by this import: link once that one has an id.
                self.pending_links.append((patient, attname, target))
                changed.add(attname)
            else:
                changed.update(
                    _changed_fields(patient, {attname: self.context.existing_ids.get(target)})
                )
        if "status" in row.values:
            changed.update(_changed_fields(patient, {"departed_at": _departed_at(patient)}))
        return {name.removesuffix("_id") for name in changed}

    def _remember_targets(self, patients: list[Patient]) -> None:
        for patient in patients:
            if patient.external_id in self.targets:
                self.target_ids[patient.external_id] = patient.pk


def _departed_at(patient: Patient) -> dt.datetime | None:
    """When we learnt the patient left; cleared if they are back."""
    if patient.status != Patient.Status.DEPARTED:
        return None
    return patient.departed_at or timezone.now()


def _write_patients(
    source: _CsvSource,
    plan: _PatientPlan,
    context: _PatientContext,
    result: ImportResult,
    progress: Progress | None,
) -> None:
    """The second pass: read the file again and store the records that passed the checks."""
    writer = _PatientWriter(context, result, plan.link_targets, _Households(context.practice))
    batch: list[PatientRow] = []
    done = 0
    for line, cells in source.records():
        if line in plan.reasons:
            continue
        row = Row(cells, source.columns)
        patient = None if _cells_problem(cells, source.width) else _patient_row(row, context)
        if patient is None or row.reasons:
            raise _failed(source.name, line, "the file changed while it was being imported")
        batch.append(patient)
        if len(batch) == BATCH_SIZE:
            writer.store(batch)
            done += len(batch)
            batch = []
            _report(progress, done, plan.good_rows)
    if batch:
        writer.store(batch)
    writer.link_new_patients()
    _report(progress, plan.good_rows, plan.good_rows)


def import_patients_csv(
    path: str | Path,
    *,
    practice: Practice,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Create or update the practice's patients from a CSV file (docs/import-csv.md)."""
    with _CsvSource.open(path, PATIENT_COLUMNS) as source:
        context = _PatientContext.load(practice)
        plan = _plan_patients(source, context, progress)
        problems = _problem_list(source, plan.reasons)
        if problems and (not skip_invalid or plan.good_rows == 0):
            raise ImportFailed(problems)
        result = ImportResult(rejected=problems)
        with _atomic_import(source):
            _write_patients(source, plan, context, result, progress)
    return result


# --- Appointments ---------------------------------------------------------------------

APPOINTMENT_COLUMNS = Columns(
    known=(
        "external_id", "patient_external_id", "provider", "provider_id", "starts_at",
        "duration_minutes", "type", "status", "fee",
    ),
    required=("external_id", "patient_external_id", "starts_at"),
)  # fmt: skip


APPOINTMENT_STATUS = _choice(Appointment.Status)
NEW_APPOINTMENT_COLUMNS = (
    "practice_id", "external_id", "patient_id", "provider_id", "starts_at",
    "duration_minutes", "kind", "status", "fee",
)  # fmt: skip


@dataclass(slots=True)
class AppointmentRow:
    """A valid appointment record: model values for the columns the file has."""

    external_id: str
    values: dict[str, Any]
    provider: tuple[str, str] | None  # (provider_id, name); None when the file has neither


class _Providers:
    """The practice's staff by external id and by name; new ones are created as rows need them."""

    def __init__(self, practice: Practice):
        self.practice = practice
        self.by_external_id: dict[str, int] = {}
        self.by_name: dict[str, list[int]] = {}
        self.keys: dict[str, str] = {}  # name as written → folded; a file repeats a few names
        for staff in StaffMember.objects.filter(practice=practice):
            self._remember(staff)

    def check(self, row: Row, provider: tuple[str, str]) -> None:
        provider_id, name = provider
        matches = self.by_name.get(self._key(name), ())
        if not provider_id and len(matches) > 1:
            row.fail(
                f"provider {_show(name)} matches {len(matches)} staff members: "
                "add a provider_id column to say which"
            )

    def ids_for(self, providers: list[tuple[str, str]]) -> dict[tuple[str, str], int | None]:
        """Staff ids for (provider_id, name) pairs, creating each missing person once."""
        new_staff: dict[str, StaffMember] = {}
        for provider_id, name in providers:
            if (provider_id or name) and self._find((provider_id, name)) is None:
                key = provider_id or self._key(name)
                if key not in new_staff or not new_staff[key].name:
                    new_staff[key] = StaffMember(
                        practice=self.practice, name=name, external_id=provider_id
                    )
        for staff in new_staff.values():
            staff.name = staff.name or staff.external_id
        for staff in StaffMember.objects.bulk_create(new_staff.values()):
            self._remember(staff)
        return {provider: self._find(provider) for provider in providers}

    def _key(self, name: str) -> str:
        key = self.keys.get(name)
        if key is None:
            key = self.keys[name] = fold_for_search(name)
        return key

    def _find(self, provider: tuple[str, str]) -> int | None:
        provider_id, name = provider
        if provider_id:
            return self.by_external_id.get(provider_id)
        matches = self.by_name.get(self._key(name))
        return matches[0] if matches else None

    def _remember(self, staff: StaffMember) -> None:
        if staff.external_id:
            self.by_external_id[staff.external_id] = staff.pk
        self.by_name.setdefault(self._key(staff.name), []).append(staff.pk)


class _NewRows:
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


@dataclass
class _AppointmentContext:
    practice: Practice
    patient_ids: dict[str, int]
    parse_moment: Callable[[str], dt.datetime]
    providers: _Providers
    new_rows: _NewRows
    # The practice's appointment external ids before the import: most rows of a first import
    # are new, and those need no look-up at all.
    stored_ids: set[str]

    @classmethod
    def load(cls, practice: Practice) -> _AppointmentContext:
        patients = _matched(Patient, practice)
        return cls(
            practice=practice,
            patient_ids=dict(patients.values_list("external_id", "pk")),
            parse_moment=_moment_in(practice.zone),
            providers=_Providers(practice),
            new_rows=_NewRows(Appointment, NEW_APPOINTMENT_COLUMNS),
            stored_ids=set(_matched(Appointment, practice).values_list("external_id", flat=True)),
        )


def _appointment_row(row: Row, context: _AppointmentContext) -> AppointmentRow:
    external_id = row.text(
        "external_id", max_length=_max_length(Appointment, "external_id"), required=True
    )
    patient = row.text(
        "patient_external_id", max_length=_max_length(Patient, "external_id"), required=True
    )
    values: dict[str, Any] = {"patient_id": context.patient_ids.get(patient)}
    if patient and values["patient_id"] is None:
        row.fail(f"patient_external_id {_show(patient)} is an unknown patient")
    values["starts_at"] = row.parsed("starts_at", context.parse_moment, required=True)
    if "duration_minutes" in row:
        values["duration_minutes"] = row.parsed("duration_minutes", _minutes) or 30
    if "type" in row:
        values["kind"] = row.text("type", max_length=_max_length(Appointment, "kind"))
    if "status" in row:
        status = row.parsed("status", APPOINTMENT_STATUS)
        values["status"] = status or Appointment.Status.SCHEDULED
    if "fee" in row:
        values["fee"] = row.parsed("fee", _fee) or Decimal("0")
    provider = None
    if "provider" in row or "provider_id" in row:
        provider = (
            row.text("provider_id", max_length=_max_length(StaffMember, "external_id")),
            row.text("provider", max_length=_max_length(StaffMember, "name")),
        )
        context.providers.check(row, provider)
    return AppointmentRow(external_id, values, provider)


def _store_appointments(
    batch: list[AppointmentRow], context: _AppointmentContext, result: ImportResult
) -> None:
    practice = context.practice
    providers = dict.fromkeys(row.provider for row in batch if row.provider)
    provider_ids = context.providers.ids_for(list(providers))
    stored = [row.external_id for row in batch if row.external_id in context.stored_ids]
    existing = {a.external_id: a for a in _matched(Appointment, practice, stored)} if stored else {}
    created, updated, changed_fields = [], [], set()
    for row in batch:
        values = row.values
        if row.provider is not None:
            values["provider_id"] = provider_ids[row.provider]
        appointment = existing.get(row.external_id)
        if appointment is None:
            values.update(practice_id=practice.pk, external_id=row.external_id)
            created.append(context.new_rows.row(values))
            continue
        changed = _changed_fields(appointment, values)
        if changed:
            updated.append(appointment)
            changed_fields.update(name.removesuffix("_id") for name in changed)
    context.new_rows.insert(created)
    if updated:
        Appointment.objects.bulk_update(updated, sorted(changed_fields))
    _count(result, "appointments", len(batch), created=len(created), updated=len(updated))


def _import_appointment_rows(
    source: _CsvSource,
    context: _AppointmentContext,
    result: ImportResult,
    *,
    skip_invalid: bool,
    progress: Progress | None,
) -> tuple[dict[int, list[str]], int]:
    """Check and store in one pass; after the first problem only check, unless skipping."""
    reasons: dict[int, list[str]] = {}
    first_line: dict[str, int] = {}
    batch: list[AppointmentRow] = []
    good = 0
    for line, cells in source.records():
        row = Row(cells, source.columns)
        problem = _cells_problem(cells, source.width)
        if problem:
            row.fail(problem)
        else:
            appointment = _appointment_row(row, context)
            external_id = appointment.external_id
            if external_id in first_line:
                first = first_line[external_id]
                row.fail(f"external_id {_show(external_id)} is also on line {first}")
            elif external_id:
                first_line[external_id] = line
        if row.reasons:
            reasons[line] = row.reasons
            continue
        good += 1
        batch.append(appointment)
        if len(batch) == BATCH_SIZE:
            if skip_invalid or not reasons:
                _store_appointments(batch, context, result)
            batch = []
            _report(progress, good + len(reasons))
    if batch and (skip_invalid or not reasons):
        _store_appointments(batch, context, result)
    _report(progress, good + len(reasons), good + len(reasons))
    return reasons, good


def import_appointments_csv(
    path: str | Path,
    *,
    practice: Practice,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Create or update the practice's appointments from a CSV file (docs/import-csv.md).

    Patients must be imported first: a row is matched to its patient by patient_external_id.
    """
    with _CsvSource.open(path, APPOINTMENT_COLUMNS) as source:
        context = _AppointmentContext.load(practice)
        result = ImportResult()
        with _atomic_import(source):
            reasons, good = _import_appointment_rows(
                source, context, result, skip_invalid=skip_invalid, progress=progress
            )
            result.rejected = _problem_list(source, reasons)
            if reasons and (not skip_invalid or good == 0):
                raise ImportFailed(result.rejected)  # inside the transaction: rolls it back
    return result
