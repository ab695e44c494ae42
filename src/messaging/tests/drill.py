"""The R1 kill drill: senders as real processes against a real database and SMTP server.

Used by ``test_drill.py`` and runnable on its own to repeat it many times::

    .venv/bin/python -m messaging.tests.drill --runs 20      (from src/, or with PYTHONPATH=src)
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from messaging.tests.sink import SmtpSink

SEED = """
from django.db import transaction
from core.models import Organisation
from core.services import practice_create
from messaging.services import message_enqueue
org = Organisation.objects.create(name="Drill Group", slug="drill")
practice = practice_create(organisation=org, name="Drill Dental", slug="drill")
with transaction.atomic():
    for i in range({n}):
        message_enqueue(
            practice=practice, channel="email", to_address=f"patient{{i}}@example.com",
            subject="Your follow-up", body=f"Follow-up {{i}}", kind="follow_up",
            idempotency_key=f"drill-{{i}}",
        )
"""
STATE = """
from django.db.models import Count, Sum
from messaging.models import OutboundMessage
rows = OutboundMessage.objects.values("status").annotate(n=Count("id"), attempts=Sum("attempts"))
print(" ".join(f"{r['status']}={r['n']}/{r['attempts']}" for r in rows.order_by("status")))
"""


@dataclass
class DrillResult:
    database: str
    messages: int
    killed_after: int
    received: int
    distinct: int
    duplicates: int
    seconds_to_all: float
    seconds_after_kill: float
    outbox_state: str
    summaries: list[str]

    def line(self) -> str:
        return (
            f"drill[{self.database}]: {self.messages} due, sender killed -9 after "
            f"{self.killed_after} arrived; sink received {self.received}, distinct "
            f"{self.distinct}, duplicates {self.duplicates}; all in {self.seconds_to_all:.1f} s "
            f"({self.seconds_after_kill:.1f} s after the kill); outbox {self.outbox_state}"
        )


def _env(var_dir: Path, sink: SmtpSink, database_url: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
    env.update(
        RAPPORT_VAR_DIR=str(var_dir),
        RAPPORT_EMAIL_HOST="127.0.0.1",
        RAPPORT_EMAIL_PORT=str(sink.port),
        RAPPORT_EMAIL_FROM="Rapport <rapport@drill.test>",
        # Short, so the row a killed sender held is taken over within seconds.
        RAPPORT_OUTBOX_LEASE_SECONDS="2",
    )
    if database_url:
        env["RAPPORT_DATABASE_URL"] = database_url
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH", "")]))
    return env


def _rapport(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "rapport.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"rapport {args[0]} failed: {result.stderr[-3000:]}")
    return result.stdout


LOOP = ("deliver", "--loop", "--interval", "0.2")
WORKER = ("worker",)


def _sender(env: dict[str, str], log: Path, command: tuple[str, ...]) -> subprocess.Popen:
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "rapport.cli", *command],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


class PostgresScratch:
    """A fresh database on the server of ``url``, dropped afterwards."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.psycopg = psycopg
        parts = urlsplit(url)
        self.name = f"rapport_drill_{uuid.uuid4().hex[:10]}"
        self.admin_url = urlunsplit(parts._replace(path="/postgres"))
        self.url = urlunsplit(parts._replace(path=f"/{self.name}"))

    def __enter__(self) -> str:
        with self.psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        return self.url

    def __exit__(self, *exc) -> None:
        with self.psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def run_drill(
    work_dir: Path,
    *,
    messages: int = 200,
    kill_after: int = 50,
    senders: int = 2,
    database_url: str = "",
    delay: float = 0.02,
    command: tuple[str, ...] = LOOP,
    timeout: float = 120,
) -> DrillResult:
    """Due messages, ``senders`` sender processes; one is killed -9 mid-batch and restarted.

    ``command`` is ``rapport deliver --loop`` (LOOP) or the Huey consumer (WORKER), which
    loses the task it held when killed and relies on its start-up kick and the sweep.
    """
    sink = SmtpSink(delay=delay)
    sink.start()
    processes: list[subprocess.Popen] = []
    try:
        env = _env(work_dir, sink, database_url)
        _rapport("migrate", "--no-input", env=env)
        _rapport("shell", "--no-imports", "-c", SEED.format(n=messages), env=env)
        log = work_dir / "senders.log"

        started = time.monotonic()
        processes = [_sender(env, log, command) for _ in range(senders)]
        if not _wait_for(lambda: sink.count >= kill_after, timeout=60):
            raise RuntimeError(f"only {sink.count} messages arrived before the kill")
        # Somewhere inside the next message's time, not just after one arrived.
        time.sleep(random.uniform(0, delay * 1.5))
        victim = processes.pop(0)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed_at, killed_after = time.monotonic(), sink.count
        processes.append(_sender(env, log, command))

        if not _wait_for(lambda: len(set(sink.message_ids())) >= messages, timeout=timeout):
            raise RuntimeError(f"only {len(set(sink.message_ids()))} distinct arrived")
        finished = time.monotonic()
        # Longer than a lease and a loop interval: a late repeat would show up now.
        time.sleep(3)
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
        ids = sink.message_ids()
        summaries = [
            line
            for line in log.read_text().splitlines()
            if line.startswith(("deliver:", "worker:")) or "outbox:" in line
        ]
        return DrillResult(
            database="postgresql" if database_url else "sqlite",
            messages=messages,
            killed_after=killed_after,
            received=len(ids),
            distinct=len(set(ids)),
            duplicates=len(ids) - len(set(ids)),
            seconds_to_all=finished - started,
            seconds_after_kill=finished - killed_at,
            outbox_state=_rapport("shell", "--no-imports", "-c", STATE, env=env).strip(),
            summaries=summaries,
        )
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        sink.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--database-url", default="", help="PostgreSQL server to drill on")
    parser.add_argument("--worker", action="store_true", help="kill the Huey consumer instead")
    args = parser.parse_args()
    options = {"messages": args.messages, "senders": args.senders}
    if args.worker:
        options.update(command=WORKER, timeout=180)
    total_duplicates = 0
    for _ in range(args.runs):
        work_dir = Path(tempfile.mkdtemp(prefix="rapport-drill-"))
        try:
            if args.database_url:
                with PostgresScratch(args.database_url) as url:
                    result = run_drill(work_dir, database_url=url, **options)
            else:
                result = run_drill(work_dir, **options)
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
        total_duplicates += result.duplicates
        print(result.line(), flush=True)
    print(f"{args.runs} runs, {total_duplicates} duplicates in all")


if __name__ == "__main__":
    main()
