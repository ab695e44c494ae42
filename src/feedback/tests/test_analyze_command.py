"""``rapport analyze``: one JSON object per input line, in order, streaming, whatever the bytes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.core.management import call_command

from feedback.analysis.stream import MAX_LINE_BYTES, read_lines

KEYS = ["sentiment", "label", "touchpoints", "urgent", "reasons"]
EMPTY = {
    "sentiment": 0.0,
    "label": "neutral",
    "touchpoints": [],
    "urgent": False,
    "reasons": ["empty text"],
}
COMMAND = [sys.executable, "-m", "rapport.cli", "analyze"]


def _env() -> dict[str, str]:
    # The command needs no database; point the embedded default somewhere harmless anyway.
    return {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}


def _run(stdin: bytes, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*COMMAND, *args], input=stdin, capture_output=True, env=_env(), timeout=timeout
    )


def _objects(stdout: bytes) -> list[dict]:
    lines = stdout.split(b"\n")
    assert lines[-1] == b"", "output ends with a newline"
    objects = [json.loads(line) for line in lines[:-1]]
    for obj in objects:
        assert list(obj) == KEYS
        assert isinstance(obj["sentiment"], float) and -1 <= obj["sentiment"] <= 1
        assert obj["label"] in ("negative", "neutral", "positive")
        assert isinstance(obj["urgent"], bool)
        assert all(isinstance(r, str) for r in obj["reasons"]) and obj["reasons"]
    return objects


# -- in process ----------------------------------------------------------------------------------


def test_in_process_with_text_stdout():
    out, err = io.StringIO(), io.StringIO()
    source = io.BytesIO(b"The receptionist was rude.\n\nDr. Chen was lovely\n")
    call_command("analyze", stdin=source, stdout=out, stderr=err)
    objects = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [o["label"] for o in objects] == ["negative", "neutral", "positive"]
    assert objects[1] == EMPTY
    assert objects[0]["touchpoints"] == ["arrival_reception"]
    assert err.getvalue().startswith("analyzed 3 lines in ")


def test_summary_can_be_silenced():
    err = io.StringIO()
    source = io.BytesIO(b"ok\n")
    call_command("analyze", stdin=source, stdout=io.StringIO(), stderr=err, verbosity=0)
    assert err.getvalue() == ""


# -- reading lines ---------------------------------------------------------------------------------


def _lines(data: bytes, **kwargs) -> list[bytes]:
    return [line for batch in read_lines(io.BytesIO(data), **kwargs) for line in batch]


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 7, 64, 1 << 16])
def test_lines_survive_any_chunking(chunk_bytes):
    data = b"one\n\ntwo\r\nthree is longer\nlast"
    expected = [b"one", b"", b"two\r", b"three is longer", b"last"]
    assert _lines(data, chunk_bytes=chunk_bytes) == expected


@pytest.mark.parametrize("chunk_bytes", [1, 3, 5, 100])
def test_an_overlong_line_is_cut_and_the_next_lines_kept(chunk_bytes):
    data = b"short\n" + b"x" * 50 + b"\nafter\n" + b"y" * 30
    lines = _lines(data, max_line_bytes=8, chunk_bytes=chunk_bytes)
    assert lines == [b"short", b"x" * 8, b"after", b"y" * 8]


def test_a_final_newline_adds_no_line():
    assert _lines(b"a\nb\n") == [b"a", b"b"]
    assert _lines(b"") == []
    assert _lines(b"\n") == [b""]


# -- the contract, in a real process ---------------------------------------------------------------


@pytest.mark.slow
def test_one_json_object_per_line_whatever_the_bytes():
    megabyte = ("The hygienist was rough. " * 42_000).encode()  # about 1 MB, one line
    lines = [
        b"The receptionist was rude.",
        b"",
        b"   ",
        b"\x00\x00 NUL bytes \x00",
        b"\xff\xfe\xfa invalid UTF-8 \xc3\x28 rude",
        bytes(range(1, 10)) + bytes(range(11, 256)),  # every byte except the newline
        megabyte,
        "José: très bien, merci 😁".encode(),
        b"windows line\r",
        "separators \u2028 and \u2029 and \x85".encode(),
        b"last line without a newline",
    ]
    result = _run(b"\n".join(lines))
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    objects = _objects(result.stdout)
    assert len(objects) == len(lines)
    assert objects[0]["label"] == "negative"
    assert objects[1] == EMPTY
    assert objects[2] == EMPTY
    assert objects[4]["label"] == "negative"  # "rude" still read among the bad bytes
    assert objects[6]["reasons"][0] == "text truncated to 20,000 characters"
    assert "hygiene" in objects[6]["touchpoints"]
    assert objects[7]["label"] == "positive"
    assert objects[8]["reasons"] == ["neutral: no sentiment words"]
    assert b"\xe2\x80\xa8" not in result.stdout  # U+2028 never reaches the output raw
    assert result.stderr.decode().startswith(f"analyzed {len(lines)} lines in ")


@pytest.mark.slow
def test_order_is_preserved():
    pattern = [b"The dentist was wonderful.", b"", b"The bill was wrong and I was overcharged."]
    lines = [pattern[i % 3] for i in range(3000)]
    objects = _objects(_run(b"\n".join(lines) + b"\n").stdout)
    assert [o["label"] for o in objects] == ["positive", "neutral", "negative"] * 1000
    assert objects[1] == EMPTY


@pytest.mark.slow
def test_empty_input_writes_nothing():
    result = _run(b"")
    assert result.returncode == 0
    assert result.stdout == b""


@pytest.mark.slow
def test_answers_arrive_before_the_input_ends():
    """A producer that writes a line and waits gets the answer: the output is not held back."""
    process = subprocess.Popen(
        COMMAND, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env()
    )
    try:
        answers = []
        for text in (b"The receptionist was rude.\n", b"Lovely visit!\n"):
            process.stdin.write(text)
            process.stdin.flush()
            line = _readline_within(process.stdout, seconds=60)
            answers.append(json.loads(line)["label"])
        assert answers == ["negative", "positive"]
        assert process.poll() is None  # still running: stdin is open
    finally:
        process.stdin.close()
        process.wait(timeout=60)
        process.stdout.close()
        process.stderr.close()


def _readline_within(stream, *, seconds: float) -> bytes:
    box: list[bytes] = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(seconds)
    assert box, f"no answer within {seconds} s"
    return box[0]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_memory_stays_flat_on_a_long_stream():
    """200,000 lines and a 64 MB line go through; peak memory grows by less than 40 MB."""
    baseline = _peak_rss_after(lambda write: write(b"warm up: rude, lovely\n" * 10), lines=10)

    def feed(write):
        texts = [b"The hygienist was rough.", b"Lovely!", b"", b"I waited an hour, rude."]
        block = b"\n".join(texts[i % 4] for i in range(10_000)) + b"\n"
        for _ in range(20):  # 200,000 lines
            write(block)
        for _ in range(64):  # one 64 MB line
            write(b"x" * (1 << 20))
        write(b"\n")

    peak = _peak_rss_after(feed, lines=200_001)
    assert peak - baseline < 40 * 1024, f"peak {peak} kB against {baseline} kB"
    assert MAX_LINE_BYTES < 1 << 20


def _peak_rss_after(feed, *, lines: int) -> int:
    """Feed ``lines`` lines, then read the command's peak resident size (kB) while it waits."""
    process = subprocess.Popen(
        COMMAND,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=_env(),
    )
    answered = threading.Event()
    counted: list[int] = []

    def drain():
        count = 0
        for _ in process.stdout:
            count += 1
            if count == lines:
                answered.set()
        counted.append(count)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        feed(process.stdin.write)
        process.stdin.flush()
        assert answered.wait(300), "the command did not catch up"
        # Every line is answered and stdin is still open: the process is alive and waiting.
        status = Path(f"/proc/{process.pid}/status").read_text()
        peak = next(int(row.split()[1]) for row in status.splitlines() if row.startswith("VmHWM"))
    finally:
        process.stdin.close()
        process.wait(timeout=300)
        reader.join(60)
    assert counted == [lines]
    return peak
