"""The audit log's hash chain: linking new rows, checking the chain, exporting rows.

Every audit row stores the SHA-256 of a canonical serialisation of its own fields and of
the previous row's hash, in one chain for the whole installation ordered by ``sequence``.
Changing, removing or reordering a row breaks the chain at that row, so reading every row
once, in order, finds the first one that was touched.

What the chain cannot show on its own: SHA-256 needs no key, so someone able to write to
the database directly (past the triggers) could rewrite every row from the one they
changed to the end, or remove the newest rows. Comparing the last hash that
``rapport audit verify`` prints with one written down earlier, away from the database
(in a backup, a ticket, the monthly review), detects both.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import ipaddress
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from django.db import connections, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from core.models import AuditEvent, Practice
from core.services import audit_record

GENESIS = "0" * 64
FORMAT = 1
# The key of the PostgreSQL advisory lock writers take before linking a row: any constant
# nothing else in the installation uses (the first 8 bytes of sha256("rapport audit chain")).
CHAIN_LOCK = int.from_bytes(hashlib.sha256(b"rapport audit chain").digest()[:8], "big", signed=True)

# The fields the hash covers, as the database returns them for ``.values()``.
CHAINED_FIELDS = (
    "sequence",
    "at",
    "actor_id",
    "actor_label",
    "practice_id",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "ip_address",
    "detail",
)


def _number(value: int | float) -> str:
    """A JSON number by its exact decimal value, as digits and a power of ten.

    Both databases keep JSON numbers by value, not by spelling: PostgreSQL's jsonb gives
    1e20 back as 100000000000000000000, SQLite the text that was stored.
    """
    if isinstance(value, int):
        if value == 0:
            return "0"
        digits = str(abs(value))
        kept = digits.rstrip("0")
        return f"{'-' if value < 0 else ''}{kept}e{len(digits) - len(kept)}"
    number = decimal.Decimal(repr(value))
    if not number.is_finite():
        return str(number)
    sign, digits, exponent = number.as_tuple()
    while len(digits) > 1 and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    if digits == (0,):
        return "0"
    return f"{'-' if sign else ''}{''.join(map(str, digits))}e{exponent}"


_string = json.encoder.encode_basestring_ascii  # what json.dumps does with a str


def canonical_json(value: object) -> str:
    """One spelling for a JSON value: sorted keys, no spaces, ASCII, numbers by value."""
    if isinstance(value, str):
        return _string(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, Mapping):
        items = sorted((str(key), item) for key, item in value.items())
        return "{" + ",".join(f"{_string(k)}:{canonical_json(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(map(canonical_json, value)) + "]"
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _moment(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _address(value: str | None) -> str | None:
    # PostgreSQL's inet and Python versions spell some IPv6 addresses differently; the
    # address's bytes are the same everywhere.
    if value is None:
        return None
    try:
        return ipaddress.ip_address(value).packed.hex()
    except ValueError:
        return str(value)


def row_hash(row: Mapping[str, object], previous_hash: str) -> str:
    """The hex SHA-256 of one row's ``CHAINED_FIELDS`` and the hash of the row before it."""
    payload = {
        "format": FORMAT,
        "previous_hash": previous_hash,
        **{name: row[name] for name in CHAINED_FIELDS},
        "at": _moment(row["at"]),
        "ip_address": _address(row["ip_address"]),
    }
    return hashlib.sha256(canonical_json(payload).encode("ascii")).hexdigest()


def _fields_of(event: AuditEvent) -> dict[str, object]:
    return {name: getattr(event, name) for name in CHAINED_FIELDS}


def _normalise(event: AuditEvent) -> None:
    """Make the values in memory the ones the database will give back, before hashing."""
    event.at = event.at or timezone.now()
    if timezone.is_naive(event.at):
        event.at = timezone.make_aware(event.at, dt.UTC)
    for name in ("actor_label", "action", "object_type", "object_id"):
        setattr(event, name, str(getattr(event, name)))
    for name in ("actor_id", "practice_id", "patient_id"):
        if getattr(event, name) is not None:
            setattr(event, name, int(getattr(event, name)))
    # As the JSON column stores it: tuples become lists, keys become strings.
    event.detail = json.loads(json.dumps({} if event.detail is None else event.detail))


def chain_link(events: Sequence[AuditEvent], *, using: str) -> None:
    """Give new, unsaved rows their place at the end of the chain.

    Call inside the transaction that inserts them. On PostgreSQL a transaction-level
    advisory lock makes writers take turns until their transactions end, so no two link
    to the same previous row; on SQLite the settings open every transaction IMMEDIATE,
    which already takes the database's only write lock. Should either be missing, the
    unique ``sequence`` makes the second writer fail rather than fork the chain.
    """
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("audit rows are linked inside the transaction that writes them")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK])
    last = (
        type(events[0])
        ._base_manager.using(using)
        .order_by("-sequence")
        .values_list("sequence", "hash")
        .first()
    )
    sequence, previous = last or (0, GENESIS)
    for event in events:
        _normalise(event)
        sequence += 1
        event.sequence = sequence
        event.previous_hash = previous
        event.hash = previous = row_hash(_fields_of(event), previous)


@dataclass(frozen=True)
class ChainCheck:
    """What reading the chain found: rows read, and the first row that does not fit."""

    rows: int
    last_hash: str
    broken_at: int | None = None
    problem: str = ""


def audit_chain_check(
    *, progress: Callable[[int, int | None], None] | None = None, chunk_size: int = 2000
) -> ChainCheck:
    """Read every audit row in chain order and recompute its hash."""
    total = AuditEvent.objects.count() if progress else None
    rows = (
        AuditEvent.objects.order_by("sequence")
        .values("id", "previous_hash", "hash", *CHAINED_FIELDS)
        .iterator(chunk_size=chunk_size)
    )
    count, previous = 0, GENESIS
    for row in rows:
        due = count + 1
        if row["sequence"] != due:
            problem = f"sequence {row['sequence']} where {due} was due: rows are missing or moved"
        elif row["previous_hash"] != previous:
            problem = f"sequence {due} does not link to the row before it"
        elif row_hash(row, previous) != row["hash"]:
            problem = f"sequence {due}: its contents do not match its hash"
        else:
            count, previous = due, row["hash"]
            if progress and count % chunk_size == 0:
                progress(count, total)
            continue
        return ChainCheck(rows=count, last_hash=previous, broken_at=row["id"], problem=problem)
    if progress:
        progress(count, total)
    return ChainCheck(rows=count, last_hash=previous)


def verify_audit_chain() -> int | None:
    """The id of the first audit row that breaks the chain, or None when it is intact."""
    return audit_chain_check().broken_at


# --- Export ---------------------------------------------------------------------------

EXPORT_HEADER = (
    "sequence",
    "at (UTC)",
    "actor",
    "actor id",
    "action",
    "object type",
    "object id",
    "practice",
    "practice id",
    "patient id",
    "ip address",
    "detail",
    "hash",
)


def audit_rows_between(
    *, since: dt.datetime, until: dt.datetime, practices: QuerySet[Practice] | None = None
) -> QuerySet[AuditEvent]:
    """Audit rows at or after ``since`` and before ``until``, in chain order."""
    rows = AuditEvent.objects.filter(at__gte=since, at__lt=until)
    if practices is not None:
        rows = rows.filter(practice__in=practices)
    return rows.order_by("sequence")


def audit_export_rows(rows: QuerySet[AuditEvent], chunk_size: int = 2000) -> Iterator[list]:
    """One list of cells per row, in ``EXPORT_HEADER`` order, read in chunks."""
    fields = (
        "sequence",
        "at",
        "actor_label",
        "actor_id",
        "action",
        "object_type",
        "object_id",
        "practice__name",
        "practice_id",
        "patient_id",
        "ip_address",
        "detail",
        "hash",
    )
    for row in rows.values_list(*fields).iterator(chunk_size=chunk_size):
        cells = list(row)
        cells[1] = _moment(cells[1])
        cells[11] = json.dumps(cells[11], sort_keys=True, ensure_ascii=False)
        yield cells


def audit_export_record(
    *,
    practice: Practice | None,
    rows: int,
    request: HttpRequest | None = None,
    actor_label: str = "",
    **detail: object,
) -> AuditEvent:
    """Exporting audit rows is itself written to the audit log."""
    with transaction.atomic():
        return audit_record(
            action=AuditEvent.Action.EXPORT,
            object_type="audit_log",
            practice=practice,
            request=request,
            actor_label=actor_label,
            detail={"rows": rows, **detail},
        )
