"""Reading a CSV file: up-front file checks, the text encoding, the header, and records with
the physical line where each one starts."""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from patients.imports.common import ImportFailed, ImportProblem, display_path

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


def failed(name: str, line: int | None, reason: str) -> ImportFailed:
    return ImportFailed([ImportProblem(name, line, reason)])


def show(value: str) -> str:
    """A value quoted for a message: escaped, so no control character reaches a terminal."""
    return repr(value if len(value) <= 40 else value[:39] + "…")


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
        raise failed(name, None, "no such file") from None
    except OSError as exc:
        raise failed(name, None, f"cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise failed(name, None, "is not a regular file")
    if info.st_size == 0:
        raise failed(name, None, "is empty (0 bytes)")
    limit = settings.RAPPORT_IMPORT_MAX_BYTES
    if info.st_size > limit:
        raise failed(
            name,
            None,
            f"is {_size(info.st_size)}, over the import limit of {_size(limit)} "
            "(RAPPORT_IMPORT_MAX_BYTES): split it into smaller files",
        )
    try:
        return open(path, "rb")  # noqa: SIM115 - closed by CsvSource.open
    except OSError as exc:
        raise failed(name, None, f"cannot be read: {exc.strerror}") from None


def _encoding(head: bytes, name: str) -> str:
    """The text encoding, from a byte-order mark; refuse well-known binary formats."""
    for magic, what in NOT_CSV:
        if head.startswith(magic):
            raise failed(name, None, f"is {what}, not CSV text: save it as CSV UTF-8")
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


class CsvSource:
    """A CSV file that passed the up-front checks. Its records may be read more than once."""

    def __init__(self, name: str, handle: BinaryIO, encoding: str):
        self.name = name
        self.handle = handle
        self.encoding = encoding
        self.columns: dict[str, int] = {}
        self.stamp = self._stamp()

    @classmethod
    @contextmanager
    def open(cls, path: str | Path, columns: Columns) -> Iterator[CsvSource]:
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
            raise failed(self.name, None, "the file changed while it was being imported")

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
            raise failed(self.name, start, _csv_error_reason(exc)) from None
        except UnicodeDecodeError:
            raise failed(
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
        raise failed(self.name, None, "has no header row")


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
        shown = ", ".join(show(name) for name in unknown[:10])
        more = f" and {len(unknown) - 10:,} more" if len(unknown) > 10 else ""
        problems.append(f"unknown columns {shown}{more} (known: {', '.join(columns.known)})")
    problems += [f"missing column {name}" for name in columns.required if name not in seen]
    return problems


def cells_problem(cells: list[str], width: int) -> str | None:
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
