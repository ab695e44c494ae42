"""Reading FHIR files: a JSON document or NDJSON lines, parsed strictly, then validated.

Strict JSON means no duplicate keys, NaN, Infinity or numbers beyond a double; a file or an
NDJSON line over RAPPORT_IMPORT_MAX_BYTES is refused before it is parsed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from django.conf import settings

from patients.imports.fhir.items import Item, Unreadable, Where
from patients.imports.fhir.validation import MAX_DEPTH, expand


def read_file(path: Path) -> Iterator[Item]:
    where = Where(str(path))
    try:
        if path.suffix.lower() == ".ndjson":
            yield from _read_ndjson(path, where)
        else:
            yield from _read_json(path, where)
    except OSError as exc:
        yield where.problem(f"cannot read the file: {exc.strerror or exc}")


def _read_json(path: Path, where: Where) -> Iterator[Item]:
    limit = settings.RAPPORT_IMPORT_MAX_BYTES
    size = path.stat().st_size
    if size > limit:
        yield where.problem(f"{size} bytes is over the limit of {limit} (RAPPORT_IMPORT_MAX_BYTES)")
        return
    try:
        document = parse_strict_json(path.read_bytes())
    except Unreadable as exc:
        yield where.problem(exc.reason, exc.line)
        return
    yield from expand(document, where, depth=1)


def _read_ndjson(path: Path, where: Where) -> Iterator[Item]:
    """One resource a line, streamed: only one line is held in memory at a time."""
    limit = settings.RAPPORT_IMPORT_MAX_BYTES
    empty = True
    with path.open("rb") as stream:
        for number, raw in enumerate(_lines(stream, limit), start=1):
            line_where = Where(where.path, number)
            if raw is None:
                yield line_where.problem(
                    f"line is longer than {limit} bytes (RAPPORT_IMPORT_MAX_BYTES)"
                )
                continue
            if not raw.strip():
                continue  # blank lines are harmless, e.g. a trailing newline
            empty = False
            try:
                document = parse_strict_json(raw.rstrip(b"\r\n"))  # so JSON's column is the line's
            except Unreadable as exc:
                yield line_where.problem(exc.reason)
                continue
            yield from expand(document, line_where, depth=1)
    if empty:
        yield where.problem("empty file")


def _lines(stream: IO[bytes], limit: int) -> Iterator[bytes | None]:
    """Lines of at most ``limit`` bytes; None stands for a longer line, which is drained."""
    while line := stream.readline(limit + 1):
        if len(line) > limit and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = stream.readline(1 << 20)
            yield None
        else:
            yield line


def parse_strict_json(data: bytes) -> Any:
    """Strict JSON: no duplicate keys, NaN, Infinity or numbers beyond a double."""
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark is common and harmless
    except UnicodeDecodeError as exc:
        raise Unreadable(f"not UTF-8 text (bad byte at offset {exc.start})") from None
    if not text.strip():
        raise Unreadable("empty file")
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicate_keys,
            parse_constant=_no_constant,
            parse_float=_finite_float,
        )
    except json.JSONDecodeError as exc:
        raise Unreadable(f"not valid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from None
    except RecursionError:
        raise Unreadable(f"nested too deeply (more than {MAX_DEPTH} levels)") from None
    except ValueError as exc:  # our hooks, and integers too long to convert
        raise Unreadable(f"not valid JSON: {exc}") from None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"duplicate key {duplicate[:64]!r}")
    return result


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value
