"""The call webhook (``POST /hooks/calls/<webhook_id>/``) under a loopback load, against a
minimal Django view on the same server, with a check that no event is lost or applied twice.

    .venv/bin/python bench/bench_webhooks.py --events 2000 --clients 8

For each database (SQLite in a temporary RAPPORT_VAR_DIR; PostgreSQL in a scratch database
``rapport_bench_webhooks`` created and dropped here, when the server at RAPPORT_BENCH_PG_URL,
default postgresql://postgres@127.0.0.1:5432/test, answers; ``--no-postgresql`` skips it) the
script migrates, creates one practice (its phone system, and patients for some of the
callers' numbers) with ``rapport shell``, and starts ``rapport serve`` (gunicorn, sync
workers, as in production) on a free loopback port. The server runs Rapport's own settings
with one change: the root URLconf is ``bench/webhook_ceiling_urls.py`` (settings module
``bench/webhook_bench_settings.py``), which adds two bench-only views to the product's URLs.
Other RAPPORT_* variables are not passed on; the log level is the production default (INFO).

The events: ``--events`` distinct ``call.ended`` events (inbound calls, answered, missed,
voicemail or abandoned, from ``--numbers`` numbers over the last two weeks), each signed per
Standard Webhooks with the practice's secret just before its phase starts, so the client only
sends. Phases, each the same number of requests and clients unless said otherwise:

* minimal: ``POST /bench/minimal/`` with the same bodies and headers; the view reads the body
  and answers ``{"ok": true}`` (the ceiling);
* verify-only: ``POST /bench/verify-only/<webhook_id>/``: the webhook's own checks (phone
  system look-up, signature and timestamp, JSON, the call's fields) and nothing stored;
* webhook: the real endpoint, every event new; every answer must be 200 ``applied``;
* webhook, 1 client: ``--serial-events`` further new events from a single client, one after
  another: what one event costs when nothing waits for a lock;
* webhook @ rate: ``--rate`` further new events a second for ``--rate-seconds`` (open loop,
  latency counted from when a request was due; TRUST.md R3 asks p99 < 150 ms at 20/s);
* duplicates: every event sent again, in another order, re-signed with a new timestamp as a
  sender's retry is; every answer must be 200 ``duplicate``.

Then the database is checked: exactly one WebhookEvent per event sent, each applied; one Call
per event with the disposition sent; the open call-backs exactly those of missed calls whose
number got no later answered call (worked out here from the events), and every other task
closed as "got through". ``--breakdown`` (on by default) then times the pieces of the
endpoint in-process (Django test client and the view's own functions, on new events against
the same database): the signature check, parsing, the call's validation, and the storing
transaction split into SQL, commit and Python. The CPU used by the gunicorn workers,
PostgreSQL's backends for the bench database, this client and everything else on the machine
is printed per phase (100% = one core): the box is shared.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import datetime as dt
import http.client
import itertools
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import free_port, rapport

PROJECT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
BENCH_DB = "rapport_bench_webhooks"
SETTINGS = "webhook_bench_settings"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PRACTICE_PHONE = "+12025550100"
AREA_CODES = (202, 212, 312, 415, 617, 303, 206, 512)  # 555-0100..0199 are valid, fictional
DISPOSITIONS = (("answered", 55), ("missed", 30), ("voicemail", 10), ("abandoned", 5))

# Run by `rapport shell -c`: the practice, its phone system, patients for some numbers.
SETUP = """
import json

from django.db import transaction

from calls.services import phone_system_for
from core.models import Organisation
from core.services import practice_create
from patients.models import Patient

with transaction.atomic():
    organisation = Organisation.objects.create(name="Bench Group", slug="bench")
    practice = practice_create(organisation=organisation, name="Bench Dental", slug="bench")
    practice.phone = "{phone}"
    practice.save(update_fields=["phone"])
    Patient.objects.bulk_create(
        Patient(practice=practice, first_name="Pat", last_name=f"Caller {{n}}", phone=phone)
        for n, phone in enumerate(json.loads('{patients}'))
    )
    phone_system = phone_system_for(practice)
print(json.dumps({{"webhook_id": phone_system.webhook_id, "secret": phone_system.webhook_secret}}))
"""

# Run by `rapport shell -c` after the load: what the database holds for the practice.
CHECK = """
import json

from calls.models import Call, CallbackTask, WebhookEvent

events = WebhookEvent.objects.filter(practice__slug="bench")
print(json.dumps({
    "event_ids": list(events.values_list("event_id", flat=True)),
    "unapplied": events.filter(applied_at__isnull=True).count(),
    "with_note": events.exclude(error="").count(),
    "calls": list(
        Call.objects.filter(practice__slug="bench").values_list(
            "external_id", "disposition", "number"
        )
    ),
    "tasks": [
        [external_id, outcome, done_at is None]
        for external_id, outcome, done_at in CallbackTask.objects.filter(
            practice__slug="bench"
        ).values_list("call__external_id", "outcome", "done_at")
    ],
}))
"""


# --- Events ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    msg_id: str
    call_id: str
    number: str  # E.164, as Rapport stores it
    started_at: dt.datetime
    disposition: str
    body: bytes


def caller_numbers(count: int) -> list[str]:
    numbers = [f"+1{area}5550{n:03d}" for area in AREA_CODES for n in range(100, 200)]
    numbers.remove(PRACTICE_PHONE)
    if count > len(numbers):
        sys.exit(f"--numbers: at most {len(numbers)}")
    return numbers[:count]


def national(number: str) -> str:
    """+12025550143 as people write it: (202) 555-0143."""
    return f"({number[2:5]}) {number[5:8]}-{number[8:]}"


def make_events(prefix: str, n: int, numbers: list[str], rng: random.Random) -> list[Event]:
    """N call.ended events: inbound calls at distinct seconds over the two weeks before now."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    offsets = rng.sample(range(3600, 14 * 86400), n)
    names, weights = zip(*DISPOSITIONS, strict=True)
    events = []
    for i, offset in enumerate(offsets):
        number = rng.choice(numbers)
        disposition = rng.choices(names, weights)[0]
        started_at = now - dt.timedelta(seconds=offset)
        answered = disposition == "answered"
        call = {
            "id": f"{prefix}-call-{i:06d}",
            "direction": "inbound",
            # A quarter of the senders write numbers the national way.
            "from": national(number) if i % 4 == 3 else number,
            "to": PRACTICE_PHONE,
            "caller_name": f"CALLER {i % 97}" if i % 3 else "",
            "started_at": started_at.isoformat().replace("+00:00", "Z"),
            "ring_seconds": rng.randint(3, 40),
            "talk_seconds": rng.randint(30, 600) if answered else 0,
            "disposition": disposition,
            "extension": str(100 + i % 6) if answered or disposition == "voicemail" else "",
        }
        body = json.dumps({"type": "call.ended", "call": call}).encode()
        events.append(
            Event(f"msg_{prefix}_{i:06d}", call["id"], number, started_at, disposition, body)
        )
    return events


def signed_requests(path: str, events: list[Event], secret: str) -> list[tuple]:
    """(path, body, headers) per event, signed now, as the telephone system would."""
    from standardwebhooks.webhooks import Webhook

    webhook = Webhook(secret)
    now = dt.datetime.now(dt.UTC)
    return [
        (
            path,
            event.body,
            {
                "Content-Type": "application/json",
                "webhook-id": event.msg_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": webhook.sign(event.msg_id, now, event.body.decode()),
            },
        )
        for event in events
    ]


def expected_tasks(events: list[Event]) -> tuple[set[str], set[str]]:
    """Call ids that must have an open call-back, and those that must not (got through).

    A missed, voicemail or abandoned inbound call is owed a call-back unless the number had
    an answered call later (docs/calls.md, "Missed calls and call-back deadlines").
    """
    by_number: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        by_number[event.number].append(event)
    open_, got_through = set(), set()
    for calls in by_number.values():
        answered = sorted(e.started_at for e in calls if e.disposition == "answered")
        for event in calls:
            if event.disposition == "answered":
                continue
            later = bisect.bisect_right(answered, event.started_at) < len(answered)
            (got_through if later else open_).add(event.call_id)
    return open_, got_through


# --- Load ------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    clients: int
    expect: str  # the "status" every answer must carry
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    answers: Counter = field(default_factory=Counter)  # (HTTP status, body status) -> count
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    database_cpu: float = 0.0
    other_cpu: float = 0.0

    def percentile(self, p: float) -> float:
        """Nearest rank, in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return 1000 * ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_request(self) -> float:
        """Milliseconds of gunicorn worker CPU a request: steadier than req/s on a busy box."""
        return 1000 * self.server_cpu / self.rate if self.rate else float("nan")

    @property
    def wrong(self) -> int:
        """Answers that are not 200 with the expected status (connection failures included)."""
        return sum(
            n for (status, body), n in self.answers.items() if (status, body) != (200, self.expect)
        )

    @property
    def server_errors(self) -> int:
        return sum(n for (status, _), n in self.answers.items() if status is None or status >= 500)


def post(port: int, path: str, body: bytes, headers: dict) -> tuple[int | None, str]:
    """One request on a new connection (gunicorn's sync workers close it after each)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
    except (OSError, http.client.HTTPException):
        return None, "connection failed"
    finally:
        conn.close()
    try:
        answer = json.loads(data)
    except ValueError:
        return response.status, "not JSON"
    if "ok" in answer:
        return response.status, "ok"
    return response.status, str(answer.get("status") or answer.get("error"))[:60]


def server_cpu_seconds(master_pid: int) -> float:
    """User + system CPU of the gunicorn workers (the master's children), from /proc."""
    total = 0.0
    try:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    except OSError:
        return 0.0
    for pid in children:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving the bench database, by process id."""
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if BENCH_DB.encode() not in (proc / "cmdline").read_bytes():
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(proc.name)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return found


def machine_busy_seconds() -> float:
    """CPU seconds spent by everything on the machine (all cores), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / CLK_TCK  # less idle and iowait


def run_phase(phase: Phase, worker, master_pid: int) -> Phase:
    """Run worker(phase, lock) in phase.clients threads; time them; measure CPU."""
    lock = threading.Lock()
    pool = [threading.Thread(target=worker, args=(phase, lock)) for _ in range(phase.clients)]
    cpu, server, busy = time.process_time(), server_cpu_seconds(master_pid), machine_busy_seconds()
    database = postgres_cpu()
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    phase.seconds = time.perf_counter() - started
    phase.client_cpu = (time.process_time() - cpu) / phase.seconds
    phase.server_cpu = (server_cpu_seconds(master_pid) - server) / phase.seconds
    phase.database_cpu = (
        sum(s - database.get(pid, 0.0) for pid, s in postgres_cpu().items()) / phase.seconds
    )
    busy = (machine_busy_seconds() - busy) / phase.seconds
    phase.other_cpu = max(0.0, busy - phase.client_cpu - phase.server_cpu - phase.database_cpu)
    return phase


def closed_loop(port: int, requests: list[tuple], phase: Phase, master_pid: int) -> Phase:
    """Each client sends the next unsent request as soon as its last one is answered."""
    next_index = itertools.count()

    def worker(phase: Phase, lock: threading.Lock) -> None:
        latencies, answers = [], Counter()
        while (n := next(next_index)) < len(requests):  # count() is atomic in CPython
            started = time.perf_counter()
            answers[post(port, *requests[n])] += 1
            latencies.append(time.perf_counter() - started)
        with lock:
            phase.latencies += latencies
            phase.answers += answers

    return run_phase(phase, worker, master_pid)


def open_loop(port: int, requests, count: int, rate: float, phase: Phase, master_pid: int):
    """``count`` requests due at a fixed rate; latency counts from when each was due.

    ``requests(n)`` gives the n-th request when it is due: signed then, so that a long phase
    does not send timestamps older than the 5 minutes the endpoint accepts.
    """
    next_index = itertools.count()
    start = time.perf_counter() + 0.05

    def worker(phase: Phase, lock: threading.Lock) -> None:
        latencies, answers = [], Counter()
        while (n := next(next_index)) < count:
            due = start + n / rate
            if (wait := due - time.perf_counter()) > 0:
                time.sleep(wait)
            answers[post(port, *requests(n))] += 1
            latencies.append(time.perf_counter() - due)
        with lock:
            phase.latencies += latencies
            phase.answers += answers

    return run_phase(phase, worker, master_pid)


# --- Server ----------------------------------------------------------------------------


def wait_healthy(port: int, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"rapport serve exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"rapport serve did not answer /healthz within {timeout:.0f} s")


def stop(server: subprocess.Popen) -> None:
    """SIGTERM to gunicorn's master, then SIGKILL to its process group if it lingers."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=35)  # graceful timeout 30 s
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)  # its own group (start_new_session)
    server.wait()


@dataclass
class Result:
    label: str
    phases: list[Phase]
    sent: int
    check: dict
    problems: list[str]
    log: Counter
    lost: int = 0  # events sent but not in the database
    breakdown: dict | None = None


def bench_database(label: str, env: dict[str, str], args) -> Result:
    rng = random.Random(args.seed)
    numbers = caller_numbers(args.numbers)
    patients = rng.sample(numbers, len(numbers) * 2 // 5)  # 40% of the numbers are patients'
    rapport(env, "migrate", "--verbosity", "0")
    out = rapport(
        env,
        "shell",
        "--no-imports",
        "-c",
        SETUP.format(phone=PRACTICE_PHONE, patients=json.dumps(patients)),
    )
    practice = json.loads(out.strip().splitlines()[-1])
    hook = f"/hooks/calls/{practice['webhook_id']}/"
    verify = f"/bench/verify-only/{practice['webhook_id']}/"
    events = make_events("c", args.events, numbers, rng)
    at_rate = (
        make_events("r", int(args.rate * args.rate_seconds), numbers, rng) if args.rate else []
    )
    serial = make_events("s", args.serial_events, numbers, rng)
    everything = events + serial + at_rate
    print(
        f"{label}: {len(everything):,} events from {len(numbers)} numbers "
        f"({len(patients)} patients'), webhook {hook}",
        flush=True,
    )

    port = free_port()
    log_path = Path(env["RAPPORT_VAR_DIR"]) / "serve.log"
    phases = []
    with log_path.open("w") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "rapport.cli", "serve", "--bind", f"127.0.0.1:{port}",
             "--workers", str(args.workers)],
            env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            wait_healthy(port, server)
            pid = server.pid

            def requests(path: str, batch: list[Event]) -> list[tuple]:
                return signed_requests(path, batch, practice["secret"])

            # Warm-up: every worker has loaded the URLconf, the calls code and a connection.
            warm = requests(verify, events[: 20 * args.workers])
            closed_loop(port, warm, Phase("warm", args.clients, "verified"), pid)
            closed_loop(port, requests("/bench/minimal/", events[:50]), Phase("warm", 2, "ok"), pid)

            for name, path, expect in (
                ("minimal view", "/bench/minimal/", "ok"),
                ("verify-only view", verify, "verified"),
                ("webhook, new events", hook, "applied"),
            ):
                phase = Phase(name, args.clients, expect)
                phases.append(closed_loop(port, requests(path, events), phase, pid))
            if serial:
                phase = Phase("webhook, new events, 1 client", 1, "applied")
                phases.append(closed_loop(port, requests(hook, serial), phase, pid))
            if at_rate:
                phase = Phase(
                    f"webhook @ {args.rate:g}/s, new events", args.rate_clients, "applied"
                )
                phases.append(
                    open_loop(
                        port,
                        lambda n: requests(hook, at_rate[n : n + 1])[0],
                        len(at_rate),
                        args.rate,
                        phase,
                        pid,
                    )
                )
            again = list(everything)
            random.Random(args.seed + 1).shuffle(again)
            phase = Phase("webhook, duplicates", args.clients, "duplicate")
            phases.append(closed_loop(port, requests(hook, again), phase, pid))
        finally:
            stop(server)
    check = json.loads(rapport(env, "shell", "--no-imports", "-c", CHECK).strip().splitlines()[-1])
    log_text = log_path.read_text()
    log = Counter(
        {
            "Traceback": log_text.count("Traceback"),
            "database is locked": log_text.count("database is locked"),
            "outcome=applied": log_text.count("outcome=applied"),
            "outcome=duplicate": log_text.count("outcome=duplicate"),
        }
    )
    problems = verify_database(everything, check)
    problems += [f"{p.name}: {p.wrong} unexpected answers" for p in phases if p.wrong]
    lost = len({e.msg_id for e in everything} - set(check["event_ids"]))
    result = Result(label, phases, len(everything), check, problems, log, lost)
    if args.breakdown:
        result.breakdown = breakdown(env, practice, numbers, args)
    return result


def verify_database(events: list[Event], check: dict) -> list[str]:
    """Everything that differs between what was sent and what the database holds."""
    problems = []
    sent_ids = {e.msg_id for e in events}
    stored = check["event_ids"]
    if len(stored) != len(set(stored)):
        problems.append(f"{len(stored) - len(set(stored))} duplicated WebhookEvent rows")
    if missing := sent_ids - set(stored):
        problems.append(f"{len(missing)} events lost, e.g. {sorted(missing)[:3]}")
    if extra := set(stored) - sent_ids:
        problems.append(f"{len(extra)} WebhookEvent rows nobody sent")
    if check["unapplied"] or check["with_note"]:
        problems.append(f"{check['unapplied']} events unapplied, {check['with_note']} with a note")
    calls = {
        external_id: (disposition, number) for external_id, disposition, number in check["calls"]
    }
    if len(calls) != len(check["calls"]):
        problems.append("duplicated Call rows")
    sent_calls = {e.call_id: (e.disposition, e.number) for e in events}
    if calls != sent_calls:
        differ = [k for k in sent_calls.keys() | calls.keys() if calls.get(k) != sent_calls.get(k)]
        problems.append(f"{len(differ)} calls missing, extra or different, e.g. {differ[:3]}")
    open_expected, got_through = expected_tasks(events)
    tasks = {external_id: (outcome, is_open) for external_id, outcome, is_open in check["tasks"]}
    if len(tasks) != len(check["tasks"]):
        problems.append("two call-backs for one call")
    open_found = {k for k, (_, is_open) in tasks.items() if is_open}
    if open_found != open_expected:
        problems.append(
            f"open call-backs: {len(open_found)} found, {len(open_expected)} expected, "
            f"{len(open_found ^ open_expected)} differ"
        )
    closed_wrong = [
        k for k, (outcome, is_open) in tasks.items()
        if not is_open and (outcome != "got_through" or k not in got_through)
    ]  # fmt: skip
    if closed_wrong:
        problems.append(f"{len(closed_wrong)} call-backs closed that should not be")
    return problems


# --- Breakdown (in-process, Django) ------------------------------------------------------


def breakdown(env: dict[str, str], practice: dict, numbers: list[str], args) -> dict | None:
    spec = Path(env["RAPPORT_VAR_DIR"]) / "breakdown.json"
    spec.write_text(json.dumps({**practice, "numbers": numbers, "events": args.breakdown_events}))
    done = subprocess.run(
        [sys.executable, __file__, "--breakdown-child", str(spec)],
        env={**env, "DJANGO_SETTINGS_MODULE": SETTINGS},
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        print(f"breakdown failed:\n{done.stderr[-4000:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def breakdown_child(spec_file: str) -> None:
    """Time the endpoint and its pieces in-process, on new events, against the bench database.

    The connection stays open between requests, as in the server (CONN_MAX_AGE 60).
    """
    import django

    django.setup()
    import logging

    from django.db import connection
    from django.test import Client, RequestFactory
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone
    from standardwebhooks.webhooks import Webhook

    from calls import webhooks
    from calls.events import (
        GENERIC,
        body_digest,
        generic_event_apply,
        generic_event_check,
        webhook_event_receive,
    )

    logging.disable(logging.INFO)  # the server logs too, but to a file; here it would be noise
    spec = json.loads(Path(spec_file).read_text())
    n = spec["events"]
    rng = random.Random(7)
    hook = f"/hooks/calls/{spec['webhook_id']}/"
    out: dict = {"events": n}

    # 1. The whole request through Django (middleware, URL resolving, the view), new events.
    client = Client()
    batch = signed_requests(hook, make_events("bw", n + 20, spec["numbers"], rng), spec["secret"])
    for path, body, headers in batch[:20]:  # warm
        client.post(path, body, content_type="application/json", headers=headers)
    started = time.perf_counter()
    for path, body, headers in batch[20:]:
        response = client.post(path, body, content_type="application/json", headers=headers)
        assert response.status_code == 200, response.content
    out["request_ms"] = 1000 * (time.perf_counter() - started) / n
    minimal = make_events("bm", n, spec["numbers"], rng)
    ceiling = signed_requests("/bench/minimal/", minimal, spec["secret"])
    started = time.perf_counter()
    for path, body, headers in ceiling:
        client.post(path, body, content_type="application/json", headers=headers)
    out["minimal_ms"] = 1000 * (time.perf_counter() - started) / n

    # 2. The view's pieces, in its order, each timed per event, on new events.
    factory = RequestFactory()
    pieces = Counter()
    sql = {"n": 0, "seconds": 0.0}
    commits = {"n": 0, "seconds": 0.0}

    def timed_sql(execute, query, params, many, context):
        started = time.perf_counter()
        try:
            return execute(query, params, many, context)
        finally:
            sql["n"] += 1
            sql["seconds"] += time.perf_counter() - started

    real_commit = connection.commit

    def timed_commit():
        started = time.perf_counter()
        try:
            return real_commit()
        finally:
            commits["n"] += 1
            commits["seconds"] += time.perf_counter() - started

    batch = signed_requests(hook, make_events("bp", n, spec["numbers"], rng), spec["secret"])
    for path, body, headers in batch:
        request = factory.post(path, body, content_type="application/json", headers=headers)
        t0 = time.perf_counter()
        phone_system = webhooks._phone_system(request, spec["webhook_id"])
        t1 = time.perf_counter()
        body = webhooks._body(request)
        event_id = webhooks._verify_standard(phone_system, request, body)
        t2 = time.perf_counter()
        payload = webhooks._parse(body)
        t3 = time.perf_counter()
        call = generic_event_check(payload, now=timezone.now())
        t4 = time.perf_counter()
        connection.commit = timed_commit
        with connection.execute_wrapper(timed_sql):
            outcome = webhook_event_receive(
                phone_system=phone_system,
                provider=GENERIC,
                event_id=event_id,
                body_sha256=body_digest(body),
                payload=payload,
                apply=generic_event_apply(phone_system, call),
            )
        del connection.commit
        t5 = time.perf_counter()
        assert outcome == "applied", outcome
        pieces["phone system look-up"] += t1 - t0
        pieces["signature (_verify_standard)"] += t2 - t1
        pieces["JSON (_parse)"] += t3 - t2
        pieces["call fields (generic_event_check)"] += t4 - t3
        pieces["store and apply (webhook_event_receive)"] += t5 - t4
    out["pieces_ms"] = {name: 1000 * seconds / n for name, seconds in pieces.items()}
    out["receive_sql_ms"] = 1000 * sql["seconds"] / n
    out["receive_queries"] = sql["n"] / n
    out["receive_commit_ms"] = 1000 * commits["seconds"] / n

    # Where the transaction's Python time goes: cProfile over more new events.
    import cProfile
    import io
    import pstats

    batch = signed_requests(hook, make_events("bc", n, spec["numbers"], rng), spec["secret"])
    profiler = cProfile.Profile()
    for path, body, headers in batch:
        request = factory.post(path, body, content_type="application/json", headers=headers)
        phone_system = webhooks._phone_system(request, spec["webhook_id"])
        event_id = webhooks._verify_standard(phone_system, request, body)
        payload = webhooks._parse(body)
        call = generic_event_check(payload, now=timezone.now())
        profiler.enable()
        webhook_event_receive(
            phone_system=phone_system,
            provider=GENERIC,
            event_id=event_id,
            body_sha256=body_digest(body),
            payload=payload,
            apply=generic_event_apply(phone_system, call),
        )
        profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("cumulative").print_stats(45)
    out["receive_profile"] = text.getvalue()

    def cumulative(path_end: str, name: str) -> float:
        return sum(
            row[3]
            for (path, _line, function), row in stats.stats.items()
            if path.endswith(path_end) and function == name
        )

    total = cumulative("calls/events.py", "webhook_event_receive")
    out["receive_shares"] = {
        name: cumulative(path_end, function) / total
        for name, path_end, function in (
            ("calls_record", "calls/services.py", "calls_record"),
            ("_tasks_refresh (call-backs)", "calls/services.py", "_tasks_refresh"),
            ("BusinessCalendar.for_practice", "core/business_hours.py", "for_practice"),
            ("ORM: compiling SQL (SQLCompiler.as_sql)", "sql/compiler.py", "as_sql"),
            ("database driver: execute", "backends/utils.py", "_execute"),
        )
    }

    # One event's queries, for the record.
    path, body, headers = signed_requests(
        hook, make_events("bq", 1, spec["numbers"], rng), spec["secret"]
    )[0]
    with CaptureQueriesContext(connection) as queries:
        client.post(path, body, content_type="application/json", headers=headers)
    out["request_queries"] = [q["sql"][:110] for q in queries.captured_queries]

    # 3. The library's verification alone: Webhook(secret).verify, as the view calls it.
    batch = signed_requests(hook, make_events("bv", n, spec["numbers"], rng), spec["secret"])
    prepared = [(body.decode(), headers) for _, body, headers in batch]
    best = math.inf
    for _ in range(5):
        started = time.perf_counter()
        for text, headers in prepared:
            Webhook(spec["secret"]).verify(text, headers, json_parse=False)
        best = min(best, time.perf_counter() - started)
    out["verify_alone_us"] = 1e6 * best / n
    print(json.dumps(out))


# --- Report ------------------------------------------------------------------------------


def report(results: list[Result], *, show_profile: bool = False) -> None:
    print(
        "| database | phase | clients | requests | req/s | p50 ms | p95 ms | p99 ms | max ms "
        "| answers | wrong | server CPU ms/req | client CPU | server CPU | PostgreSQL CPU "
        "| other CPU |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        for p in r.phases:
            answers = ", ".join(
                f"{s} {b}: {n:,}" for (s, b), n in sorted(p.answers.items(), key=str)
            )
            print(
                f"| {r.label} | {p.name} | {p.clients} | {len(p.latencies):,} | {p.rate:,.0f} "
                f"| {p.percentile(50):.1f} | {p.percentile(95):.1f} | {p.percentile(99):.1f} "
                f"| {p.percentile(100):.1f} | {answers} | {p.wrong} | {p.cpu_per_request:.2f} "
                f"| {p.client_cpu:.0%} | {p.server_cpu:.0%} | {p.database_cpu:.0%} "
                f"| {p.other_cpu:.0%} |"
            )
    print()
    print(
        "| database | events | webhook ev/s | minimal req/s | ratio | verify-only req/s "
        "| p99 ms: webhook / minimal / verify-only | 1 client ev/s, p99 ms "
        "| duplicates ev/s, p99 ms | @ rate p99 ms "
        "| worker CPU ms: webhook / minimal / verify-only | stored events | calls "
        "| open call-backs | lost | duplicated | non-2xx |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        by = {p.name: p for p in r.phases}
        hook, minimal, verify = (
            by["webhook, new events"],
            by["minimal view"],
            by["verify-only view"],
        )
        dup = by["webhook, duplicates"]
        rate = next((p for p in r.phases if "@" in p.name), None)
        one = by.get("webhook, new events, 1 client")
        one_text = f"{one.rate:,.0f}, {one.percentile(99):.1f}" if one else "–"
        stored = r.check["event_ids"]
        open_tasks = sum(1 for _, _, is_open in r.check["tasks"] if is_open)
        non_2xx = sum(
            n
            for p in r.phases
            for (s, _), n in p.answers.items()
            if s is None or not 200 <= s < 300
        )
        print(
            f"| {r.label} | {r.sent:,} | {hook.rate:,.0f} | {minimal.rate:,.0f} "
            f"| {hook.rate / minimal.rate:.0%} | {verify.rate:,.0f} "
            f"| {hook.percentile(99):.1f} / {minimal.percentile(99):.1f} / "
            f"{verify.percentile(99):.1f} | {one_text} | {dup.rate:,.0f}, {dup.percentile(99):.1f} "
            f"| {rate.percentile(99) if rate else float('nan'):.1f} "
            f"| {hook.cpu_per_request:.2f} / {minimal.cpu_per_request:.2f} / "
            f"{verify.cpu_per_request:.2f} | {len(stored):,} | {len(r.check['calls']):,} "
            f"| {open_tasks:,} | {r.lost} | {len(stored) - len(set(stored))} | {non_2xx} |"
        )
    print()
    for r in results:
        status = "OK" if not r.problems else "PROBLEMS: " + "; ".join(r.problems)
        print(f"{r.label}: database check {status}; server log: {dict(r.log)}")
    breakdowns = [r for r in results if r.breakdown]
    if not breakdowns:
        return
    print()
    names = list(breakdowns[0].breakdown["pieces_ms"])
    print(
        "In-process, per event (ms): "
        + "; ".join(
            f"{r.label}: whole request {r.breakdown['request_ms']:.2f}, minimal view "
            f"{r.breakdown['minimal_ms']:.2f}"
            for r in breakdowns
        )
    )
    print()
    print(
        "| piece (ms per event, in the view's order) | "
        + " | ".join(r.label for r in breakdowns)
        + " |"
    )
    print("|---|" + "---:|" * len(breakdowns))
    for name in names:
        print(
            f"| {name} | "
            + " | ".join(f"{r.breakdown['pieces_ms'][name]:.3f}" for r in breakdowns)
            + " |"
        )
    for name in breakdowns[0].breakdown["receive_shares"]:
        print(
            f"| share of store and apply under cProfile: {name} | "
            + " | ".join(f"{r.breakdown['receive_shares'][name]:.0%}" for r in breakdowns)
            + " |"
        )
    for key, label in (
        ("receive_sql_ms", "of which SQL executed (ms)"),
        ("receive_commit_ms", "of which COMMIT (ms)"),
        ("receive_queries", "queries in the transaction"),
        ("verify_alone_us", "standardwebhooks verify alone (µs)"),
    ):
        print(f"| {label} | " + " | ".join(f"{r.breakdown[key]:.3f}" for r in breakdowns) + " |")
    for r in breakdowns:
        print(f"\n{r.label}: the queries of one new event ({len(r.breakdown['request_queries'])}):")
        for query in r.breakdown["request_queries"]:
            print(f"    {query}")
        if show_profile:
            print(f"\n{r.label}: webhook_event_receive under cProfile, by cumulative time:")
            print(r.breakdown["receive_profile"])


# --- Main --------------------------------------------------------------------------------


def postgresql_server(url: str):
    """An autocommit psycopg connection to the server's ``postgres`` database, or None."""
    try:
        import psycopg

        admin = urllib.parse.urlsplit(url)._replace(path="/postgres").geturl()
        return psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except Exception as exc:  # any failure to connect means: no PostgreSQL run
        print(f"PostgreSQL at {url} not reachable ({exc.__class__.__name__}): skipped")
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000, help="distinct events, closed loop")
    parser.add_argument("--numbers", type=int, default=300, help="distinct caller numbers")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument(
        "--serial-events", type=int, default=300, help="further new events from one client"
    )
    parser.add_argument("--rate", type=float, default=20, help="open-loop events/s (0: none)")
    parser.add_argument("--rate-seconds", type=float, default=30)
    parser.add_argument("--rate-clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-postgresql", dest="postgresql", action="store_false")
    parser.add_argument("--no-breakdown", dest="breakdown", action="store_false")
    parser.add_argument("--breakdown-events", type=int, default=300)
    parser.add_argument("--profile", action="store_true", help="print the breakdown's cProfile")
    parser.add_argument("--breakdown-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.breakdown_child:
        breakdown_child(args.breakdown_child)
        return

    base = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
    base["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PROJECT / "src"), str(BENCH_DIR), base.get("PYTHONPATH")])
    )
    base["DJANGO_SETTINGS_MODULE"] = SETTINGS
    started = time.monotonic()
    results = []
    var_dirs = []
    try:
        var_dir = tempfile.mkdtemp(prefix="rapport-bench-webhooks-")
        var_dirs.append(var_dir)
        results.append(bench_database("SQLite", {**base, "RAPPORT_VAR_DIR": var_dir}, args))
        pg_url = os.environ.get("RAPPORT_BENCH_PG_URL", DEFAULT_PG_URL)
        server = postgresql_server(pg_url) if args.postgresql else None
        if server is not None:
            var_dir = tempfile.mkdtemp(prefix="rapport-bench-webhooks-")
            var_dirs.append(var_dir)
            url = urllib.parse.urlsplit(pg_url)._replace(path=f"/{BENCH_DB}").geturl()
            env = {**base, "RAPPORT_VAR_DIR": var_dir, "RAPPORT_DATABASE_URL": url}
            with server:
                server.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
                server.execute(f"CREATE DATABASE {BENCH_DB}")
                try:
                    results.append(bench_database("PostgreSQL", env, args))
                finally:
                    server.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    finally:
        for var_dir in var_dirs:
            shutil.rmtree(var_dir, ignore_errors=True)
    print()
    report(results, show_profile=args.profile)
    print(f"\n({time.monotonic() - started:.0f} s in all)")
    if any(r.problems for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
