"""``rapport import calls FILE --format asterisk|generic``: call records from a telephone system.

Both formats follow the contract of the other CSV imports (docs/import-csv.md): the same
file checks (size, encoding, byte-order mark, NUL bytes, binary files, oversized fields),
every bad record reported as ``FILE:LINE: reason``, and one bad record stores nothing. The
records are stored through ``calls.services.CallsRecorder``, so a re-import or an
overlapping export adds nothing. docs/calls.md describes both formats.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils import timezone

from calls.callerid import Kind, classify, own_numbers_of
from calls.merging import CallIn
from calls.models import Call
from calls.services import CallsRecorder
from core.models import Practice
from patients.imports.common import ImportFailed, ImportResult, Progress
from patients.imports.csv.fields import ISO_MOMENT, Invalid, Row, moment_parser
from patients.imports.csv.reading import Columns, CsvSource, cells_problem, failed, show
from patients.imports.csv.writing import BATCH_SIZE, atomic_import, problem_list, report_progress

FORMATS = ("asterisk", "generic")

# Asterisk's cdr_csv writes these 18 columns, in this order, with no header row.
ASTERISK_DEFAULT = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp",
    "lastdata", "start", "answer", "end", "duration", "billsec", "disposition", "amaflags",
    "uniqueid", "userfield",
)  # fmt: skip
# With cdr_csv's newcdrcolumns, and in other layouts people configure.
ASTERISK_KNOWN = (*ASTERISK_DEFAULT, "peeraccount", "linkedid", "sequence")
ASTERISK_REQUIRED = ("src", "dst", "start", "duration", "billsec", "disposition", "uniqueid")
ASTERISK_MISSED = {"NO ANSWER", "BUSY", "FAILED", "CONGESTION"}
# A call longer than a day is a clock or export error, not a call.
MAX_SECONDS = 24 * 60 * 60
EARLIEST = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
FUTURE_SLACK = dt.timedelta(days=1)
CLID = re.compile(r'\s*(?:"(?P<quoted>.*)"|(?P<plain>[^<]*?))\s*<(?P<number>[^>]*)>\s*')

GENERIC_COLUMNS = Columns(
    known=(
        "id", "direction", "from", "to", "caller_name", "started_at", "ring_seconds",
        "talk_seconds", "disposition", "extension",
    ),
    required=("id", "direction", "from", "to", "started_at", "disposition"),
)  # fmt: skip
MAX_ID = Call._meta.get_field("external_id").max_length
MAX_PARTY = 200  # cut to 40 when stored; longer than this is not a caller id
# Caller names are cut to 80 characters when stored; a webhook body is at most 256 KB anyway.
MAX_NAME_INPUT = 300_000


class ColumnsError(ValueError):
    """The ``--columns`` option cannot describe an Asterisk file."""


def asterisk_columns(option: str | None) -> tuple[str, ...]:
    """The column order of an Asterisk file: the default, or the ``--columns`` list.

    An empty name skips a column (``clid,src,,dst``).
    """
    if not option:
        return ASTERISK_DEFAULT
    names = tuple(name.strip().lower() for name in option.split(","))
    unknown = [name for name in names if name and name not in ASTERISK_KNOWN]
    if unknown:
        raise ColumnsError(
            f"--columns: unknown column {', '.join(map(show, unknown))} "
            f"(known: {', '.join(ASTERISK_KNOWN)})"
        )
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        raise ColumnsError(f"--columns: {', '.join(repeated)} given twice")
    missing = [name for name in ASTERISK_REQUIRED if name not in names]
    if missing:
        raise ColumnsError(f"--columns: missing {', '.join(missing)}")
    return names


def import_calls(
    path: str | Path,
    *,
    practice: Practice,
    file_format: str,
    columns: str | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Import a file of call records into the practice; all or nothing."""
    if file_format not in FORMATS:
        raise ValueError(f"file_format must be one of {', '.join(FORMATS)}, not {file_format!r}")
    name = str(path)
    if file_format == "generic":
        if columns:
            raise failed(name, None, "--columns is for --format asterisk only")
        opened = CsvSource.open(path, GENERIC_COLUMNS)
        parse: Callable[[Row, _Context], CallIn | None] = _generic_row
    else:
        try:
            order = asterisk_columns(columns)
        except ColumnsError as exc:
            raise failed(name, None, str(exc)) from None
        opened = _HeaderlessSource.open(path, Columns(known=order, required=()))
        parse = _asterisk_row
    with opened as source, atomic_import(source):
        context = _Context.load(practice)
        recorder = CallsRecorder(practice)
        reasons = _read(source, parse, context, recorder, progress)
        if reasons:
            raise ImportFailed(problem_list(source, reasons))  # rolls the transaction back
        recorded = recorder.finish()
    result = ImportResult()
    for counter, kind, count in (
        (result.created, "calls", recorded.created),
        (result.updated, "calls", recorded.updated),
        (result.unchanged, "calls", recorded.unchanged),
        (result.created, "call-backs", recorded.tasks_created),
        (result.updated, "call-backs closed (got through)", recorded.tasks_closed),
        (result.updated, "call-backs reopened", recorded.tasks_reopened),
    ):
        if count:
            counter[kind] += count
    return result


@dataclass(frozen=True)
class _Context:
    practice: Practice
    region: str
    own_numbers: frozenset[str]
    parse_local: Callable[[str], dt.datetime]
    now: dt.datetime

    @classmethod
    def load(cls, practice: Practice) -> _Context:
        return cls(
            practice=practice,
            region=practice.region,
            own_numbers=own_numbers_of(practice.phone, region=practice.region),
            # The PBX writes its local time, which is the practice's.
            parse_local=moment_parser(practice.zone),
            now=timezone.now(),
        )


def _read(
    source: CsvSource,
    parse: Callable[[Row, _Context], CallIn | None],
    context: _Context,
    recorder: CallsRecorder,
    progress: Progress | None,
) -> dict[int, list[str]]:
    """Check every record; store batches while no record has failed; the reasons by line."""
    reasons: dict[int, list[str]] = {}
    batch: list[CallIn] = []
    first_line: dict[str, int] = {}
    rows = 0
    for line, cells in source.records():
        rows += 1
        row = Row(cells, source.columns)
        call = None
        problem = _cells_problem(source, cells)
        if problem:
            row.fail(problem)
        else:
            call = parse(row, context)
        if call is not None and parse is _generic_row:
            # One row per call in a generic file: a second one is a mistake, not a leg.
            first = first_line.setdefault(call.external_id, line)
            if first != line:
                row.fail(f"id {show(call.external_id)} is also on line {first}")
        if row.reasons:
            reasons[line] = row.reasons
        elif call is not None and not reasons:
            batch.append(call)
        if len(batch) == BATCH_SIZE:
            recorder.add(batch)
            batch = []
            report_progress(progress, rows)
    if batch and not reasons:
        recorder.add(batch)
    report_progress(progress, rows, rows)
    return reasons


def _cells_problem(source: CsvSource, cells: list[str]) -> str | None:
    if not isinstance(source, _HeaderlessSource):
        return cells_problem(cells, source.width)
    if len(cells) != source.layout_width:
        return (
            f"has {len(cells)} values but the column layout has {source.layout_width} "
            "(give the file's column order with --columns)"
        )
    return cells_problem(cells, len(cells))


class _HeaderlessSource(CsvSource):
    """An Asterisk Master.csv: no header row; the columns come from the layout instead."""

    layout_width = 0
    skip_first = False

    def _read_header(self, columns: Columns) -> None:
        self.layout_width = len(columns.known)
        self.columns = {name: index for index, name in enumerate(columns.known) if name}
        for line, cells in self._rows():
            # Checked once for the whole file: otherwise every line says the same thing.
            joined = "".join(cells)
            if "\x00" in joined:
                raise failed(
                    self.name, line, "contains NUL bytes: is it UTF-16 without a byte-order mark?"
                )
            if len(cells) == 1 and (";" in cells[0] or "\t" in cells[0]):
                raise failed(self.name, line, "the columns are not separated by commas")
            # Some people add a header row of their own: recognise it and skip it.
            names = [cell.strip().lower() for cell in cells]
            self.skip_first = len(names) == len(columns.known) and all(
                not name or name == found for name, found in zip(columns.known, names, strict=True)
            )
            return
        raise failed(self.name, None, "has no call records")

    def records(self) -> Iterator[tuple[int, list[str]]]:
        rows = self._rows()
        if self.skip_first:
            next(rows)
        yield from rows


# --- Asterisk CDR ---------------------------------------------------------------------


def _seconds(row: Row, column: str) -> int | None:
    value = row.value(column)
    if not value.isascii() or not value.isdigit():
        row.fail(f"{column} {show(value)} is not a whole number of seconds")
        return None
    if int(value) > MAX_SECONDS:
        row.fail(f"{column} {show(value)} is longer than a day")
        return None
    return int(value)


def _moment(row: Row, column: str, context: _Context, *, required: bool) -> dt.datetime | None:
    moment = row.parsed(column, context.parse_local, required=required)
    if moment is not None and not EARLIEST <= moment <= context.now + FUTURE_SLACK:
        row.fail(f"{column} {show(row.value(column))} is not a plausible time for a call")
        return None
    return moment


def _peer(channel: str) -> str:
    """The device of a channel: ``SIP/101-0000000a`` → ``101``."""
    _tech, _, rest = channel.partition("/")
    return rest.rsplit("-", 1)[0] if "-" in rest else rest


def _caller_id(clid: str, src: str) -> tuple[str, str]:
    """(name, number) from clid (``"Dana" <5551234567>``); src wins for the number."""
    match = CLID.fullmatch(clid)
    if match:
        name = match["quoted"] if match["quoted"] is not None else match["plain"]
        return name.replace('""', '"'), src or match["number"]
    # No angle brackets: clid is a bare name, or the number again.
    return ("" if clid == src else clid), src


def _asterisk_row(row: Row, context: _Context) -> CallIn | None:
    key_column = "linkedid" if row.value("linkedid") else "uniqueid"
    external_id = row.value(key_column)
    if not external_id:
        row.fail("uniqueid is blank")
    elif len(external_id) > MAX_ID:
        row.fail(f"{key_column} is longer than {MAX_ID} characters")
    name, src = _caller_id(row.value("clid"), row.value("src"))
    dst = row.value("dst")
    for column, value in (("src", src), ("dst", dst)):
        if len(value) > MAX_PARTY:
            row.fail(f"{column} is longer than {MAX_PARTY} characters")
    start = _moment(row, "start", context, required=True)
    answer = _moment(row, "answer", context, required=False)
    end = _moment(row, "end", context, required=False)
    duration = _seconds(row, "duration")
    billsec = _seconds(row, "billsec")
    raw_disposition = row.value("disposition").upper()
    if raw_disposition != "ANSWERED" and raw_disposition not in ASTERISK_MISSED:
        row.fail(
            f"disposition {show(row.value('disposition'))} is not one of ANSWERED, NO ANSWER, "
            "BUSY, FAILED, CONGESTION"
        )
    if start is not None:
        if answer is not None and answer < start:
            row.fail("answer is before start")
        if end is not None and end < start:
            row.fail("end is before start")
        if answer is not None and end is not None and end < answer:
            row.fail("end is before answer")
    if row.reasons:
        return None
    region, own = context.region, context.own_numbers
    caller = classify(src, region=region, own_numbers=own)
    called = classify(dst, region=region, own_numbers=own)
    if caller.kind.is_outside:
        direction = Call.Direction.INBOUND
    elif called.kind.is_outside:
        direction = Call.Direction.OUTBOUND
    else:
        direction = Call.Direction.INTERNAL
    lastapp = row.value("lastapp").lower()
    dstchannel = row.value("dstchannel")
    if raw_disposition in ASTERISK_MISSED:
        disposition = Call.Disposition.MISSED
    elif lastapp == "voicemail":
        disposition = Call.Disposition.VOICEMAIL
    elif direction == Call.Direction.INBOUND and "dstchannel" in row and not dstchannel:
        # The PBX itself answered (a menu, a queue, an announcement) and the call never
        # reached anyone's phone: the caller gave up or was cut off before a person spoke.
        disposition = Call.Disposition.ABANDONED
    else:
        disposition = Call.Disposition.ANSWERED
    ring = int((answer - start).total_seconds()) if answer is not None else duration
    if direction == Call.Direction.OUTBOUND:
        extension = _peer(row.value("channel")) or src
    else:
        extension = _peer(dstchannel) or (dst if called.kind is Kind.EXTENSION else "")
    return CallIn(
        source=Call.Source.ASTERISK,
        external_id=external_id,
        direction=direction,
        caller=src,
        called=dst,
        caller_name=name,
        started_at=start,
        ring_seconds=min(ring, MAX_SECONDS),
        talk_seconds=billsec if disposition != Call.Disposition.MISSED else 0,
        disposition=disposition,
        extension=extension,
    )


# --- Generic CSV and the webhook's call object -----------------------------------------


def _generic_row(row: Row, context: _Context) -> CallIn | None:
    values = {column: row.value(column) for column in GENERIC_COLUMNS.known if column in row}
    call, reasons = generic_call(values, source=Call.Source.GENERIC, now=context.now)
    for reason in reasons:
        row.fail(reason)
    return call


def _text(values: Mapping[str, Any], name: str, reasons: list[str], *, limit: int) -> str:
    value = values.get(name)
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and name == "id":
        value = str(value)  # many telephone systems number their calls
    if not isinstance(value, str):
        reasons.append(f"{name} must be text")
        return ""
    value = value.strip()
    if "\x00" in value:
        reasons.append(f"{name} contains a NUL byte")
        return ""
    if len(value) > limit:
        reasons.append(f"{name} is longer than {limit:,} characters")
        return ""
    return value


def _required_text(values: Mapping[str, Any], name: str, reasons: list[str], *, limit: int) -> str:
    before = len(reasons)
    value = _text(values, name, reasons, limit=limit)
    if not value and len(reasons) == before:
        reasons.append(f"{name} is blank")
    return value


def _whole_seconds(values: Mapping[str, Any], name: str, reasons: list[str]) -> int:
    value = values.get(name)
    if value is None or value == "":
        return 0
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        reasons.append(f"{name} {show(str(value))} is not a whole number of seconds")
        return 0
    if value > MAX_SECONDS:
        reasons.append(f"{name} {show(str(value))} is longer than a day")
        return 0
    return value


def _aware_moment(value: str) -> dt.datetime:
    if not ISO_MOMENT.fullmatch(value):
        raise Invalid("is not a date and time written YYYY-MM-DDTHH:MM:SS±HH:MM (ISO 8601)")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("is not a real date and time") from None
    if moment.tzinfo is None:
        raise Invalid("has no UTC offset: write it like 2026-03-02T09:15:00-05:00 or …Z")
    return moment.astimezone(dt.UTC)


def _choice(values: Mapping[str, Any], name: str, choices: type, reasons: list[str]) -> str:
    value = _required_text(values, name, reasons, limit=40).lower()
    if not value:
        return ""
    if value not in choices.values:
        reasons.append(f"{name} {show(value)} is not one of {', '.join(choices.values)}")
    else:
        return value
    return ""


def generic_call(
    values: Mapping[str, Any], *, source: str, now: dt.datetime
) -> tuple[CallIn | None, list[str]]:
    """A call from the generic fields (a CSV row or a webhook's ``call`` object), or the
    reasons it is not one. See docs/calls.md for the fields."""
    reasons: list[str] = []
    external_id = _required_text(values, "id", reasons, limit=MAX_ID)
    direction = _choice(values, "direction", Call.Direction, reasons)
    disposition = _choice(values, "disposition", Call.Disposition, reasons)
    caller = _text(values, "from", reasons, limit=MAX_PARTY)
    called = _text(values, "to", reasons, limit=MAX_PARTY)
    caller_name = _text(values, "caller_name", reasons, limit=MAX_NAME_INPUT)
    extension = _text(values, "extension", reasons, limit=40)
    started_at = None
    raw_start = _required_text(values, "started_at", reasons, limit=60)
    if raw_start:
        try:
            started_at = _aware_moment(raw_start)
        except Invalid as exc:
            reasons.append(f"started_at {show(raw_start)} {exc}")
        else:
            if not EARLIEST <= started_at <= now + FUTURE_SLACK:
                reasons.append(f"started_at {show(raw_start)} is not a plausible time for a call")
    ring = _whole_seconds(values, "ring_seconds", reasons)
    talk = _whole_seconds(values, "talk_seconds", reasons)
    if reasons or started_at is None:
        return None, reasons
    return (
        CallIn(
            source=source,
            external_id=external_id,
            direction=direction,
            caller=caller,
            called=called,
            caller_name=caller_name,
            started_at=started_at,
            ring_seconds=ring,
            talk_seconds=talk,
            disposition=disposition,
            extension=extension,
        ),
        [],
    )
