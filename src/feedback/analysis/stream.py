"""``rapport analyze``'s loop: bytes in, one JSON object per line out, as the lines arrive.

Input is read with ``read1`` (whatever the pipe holds, at most 64 KiB), so output for the lines
that have arrived is written and flushed before the next read can block: a producer that writes
one line and waits gets its answer, and a fast pipe is flushed about once per 64 KiB, not per
line. A line is kept to ``MAX_LINE_BYTES`` (enough for ``MAX_CHARS`` characters of any width);
the rest of an overlong line is skipped as it streams past, so memory stays flat whatever the
input, and ``analyze()`` reports the truncation.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from typing import BinaryIO

from feedback.analysis.analyzer import MAX_CHARS, analyze

CHUNK_BYTES = 1 << 16
MAX_LINE_BYTES = 4 * (MAX_CHARS + 1)  # UTF-8 needs at most four bytes a character

_ENCODER = json.JSONEncoder(ensure_ascii=False)
# Valid JSON, but line breaks to some readers (str.splitlines): escape them as JSON does others.
_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def read_lines(
    source: BinaryIO, *, max_line_bytes: int = MAX_LINE_BYTES, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[list[bytes]]:
    """The complete lines of each read, without their newline; a last unterminated line too."""
    read = getattr(source, "read1", source.read)
    pending = b""  # the start of a line whose end has not arrived yet
    skipping = False  # pending is full: drop the rest of this line
    while chunk := read(chunk_bytes):
        parts = chunk.split(b"\n")
        if len(parts) == 1:
            if not skipping:
                pending += chunk
                if len(pending) >= max_line_bytes:
                    pending, skipping = pending[:max_line_bytes], True
            continue
        lines = [pending if skipping else (pending + parts[0])[:max_line_bytes]]
        lines.extend(part[:max_line_bytes] for part in parts[1:-1])
        pending, skipping = parts[-1][:max_line_bytes], len(parts[-1]) >= max_line_bytes
        yield lines
    if pending or skipping:
        yield [pending]


def result_line(raw: bytes) -> str:
    """The JSON line for one input line (bytes without the newline)."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    text = raw.decode("utf-8", errors="replace")
    line = _ENCODER.encode(analyze(text).as_json())
    if not line.isascii():
        line = line.translate(_LINE_BREAKS)
    return line + "\n"


def analyze_stream(
    source: BinaryIO, write: Callable[[str], object], flush: Callable[[], object]
) -> int:
    """Analyse every line of ``source`` in order; returns the number of lines."""
    count = 0
    for lines in read_lines(source):
        out = []
        for raw in lines:
            try:
                out.append(result_line(raw))
            except Exception as error:  # one bad line must not cost the lines after it
                sys.stderr.write(f"line {count + len(out) + 1}: analysis failed: {error!r}\n")
                out.append(
                    _ENCODER.encode(
                        {
                            "sentiment": 0.0,
                            "label": "neutral",
                            "touchpoints": [],
                            "urgent": False,
                            "reasons": [f"analysis failed: {type(error).__name__}"],
                        }
                    )
                    + "\n"
                )
        write("".join(out))
        flush()
        count += len(out)
    return count
