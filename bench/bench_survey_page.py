"""The public survey page (/s/<token>/) under load, against /healthz on the same server.

    .venv/bin/python bench/bench_survey_page.py --invitations 200 --clients 8 --seconds 20

For each database (SQLite in a temporary RAPPORT_VAR_DIR; PostgreSQL in a scratch database
``rapport_bench_survey`` created and dropped here, when the server at RAPPORT_BENCH_PG_URL
answers) the script migrates with ``python -m rapport.cli migrate``, creates a practice, a
patient and N survey invitations through ``rapport shell``, and starts ``rapport serve`` (gunicorn,
sync workers) on a free loopback port. Other RAPPORT_* variables are not passed on.

Load comes from threads in this process with ``http.client``. gunicorn's sync workers close
the connection after every response, so each request is a new TCP connection, both endpoints
alike; each comes from its own loopback address, so that the survey page's per-address rate
limit (60 GET/min) sees many patients rather than one client. Phases, each ``--seconds``
long, after a warm-up that opens every invitation once (its first GET writes ``opened_at``):

* ceiling: ``GET /healthz``, the smallest view the app has (``SELECT 1``, a JSON body), with
  the same middleware, the same workers and the same client, in the same run;
* survey: ``GET /s/<token>/`` with ``--clients`` closed-loop clients, rotating through the
  invitations;
* survey @ rate: ``GET /s/<token>/`` at fixed arrival rates (``--rate``, open loop), latency
  counted from the moment a request was due, so a slow server cannot hide queueing (TRUST.md
  R6 asks for >= 200 req/s at p99 < 100 ms);
* submit: ``POST /s/<token>/`` with every question answered, closed loop; the CSRF cookie and
  form token come from one GET per client before the clock starts. A 302 is success.

The CPU use of the client (it shares the machine with the server), the server (the gunicorn
workers), PostgreSQL (the backends serving the bench database) and everything else on the
machine (from /proc; 100% is one core) are printed with each phase: the box is shared, and a
busy neighbour shows there. The workers' CPU milliseconds per request are the steadiest
figure on a shared box. ``--rounds`` repeats the ceiling/survey pair so that the two
alternate. ``--profile`` then times and profiles the survey page in-process (Django test
client, cProfile) on the SQLite database.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import http.client
import io
import itertools
import json
import math
import os
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import benchlib
from benchlib import free_port

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
BENCH_DB = "rapport_bench_survey"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Run by `rapport shell -c`: a practice, a patient, N invitations; prints what the load needs.
SETUP = """
import datetime as dt
import json

from django.db import transaction
from django.utils import timezone

from core.models import Organisation
from core.services import practice_create
from feedback.models import SurveyInvitation
from feedback.services import invitation_path, surveys_ensure_defaults
from patients.models import Patient

with transaction.atomic():
    organisation = Organisation.objects.create(name="Bench Group", slug="bench")
    practice = practice_create(organisation=organisation, name="Bench Dental", slug="bench")
    patient = Patient.objects.create(
        practice=practice, first_name="Pat", last_name="Bench", email="pat@example.com"
    )
    survey = surveys_ensure_defaults(organisation=organisation)["post_visit"]
    expires = timezone.now() + dt.timedelta(days=14)
    SurveyInvitation.objects.bulk_create(
        SurveyInvitation(practice=practice, patient=patient, survey=survey, expires_at=expires)
        for _ in range({invitations})
    )
invitations = SurveyInvitation.objects.filter(practice=practice).order_by("pk")
print(json.dumps({{
    "paths": [invitation_path(invitation) for invitation in invitations],
    "questions": [[q.pk, q.kind] for q in survey.questions.order_by("position")],
}}))
"""


# --- Load -------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    clients: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: int = 0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    database_cpu: float = 0.0  # PostgreSQL's backends serving the bench database
    other_cpu: float = 0.0  # everything else on the (shared) machine

    def percentile(self, p: float) -> float:
        """Nearest rank, in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return 1000 * ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    @property
    def cpu_per_request(self) -> float:
        """Milliseconds of gunicorn worker CPU a request: steadier than req/s on a busy box."""
        return 1000 * self.server_cpu / self.rate if self.rate else float("nan")

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


# The survey pages are rate limited per client address (django-ratelimit, 60 GET/min and
# 20 POST/min per address, counted per worker). Each request comes from its own loopback
# address (127.1.0.1 onwards, all of 127.0.0.0/8 is loopback on Linux), as if every request
# were another patient's; --single-address sends everything from 127.0.0.1 instead.
ADDRESSES = itertools.count()
SINGLE_ADDRESS = False


def next_source() -> tuple[str, int]:
    if SINGLE_ADDRESS:
        return ("127.0.0.1", 0)
    n = next(ADDRESSES)  # atomic in CPython
    return (f"127.{1 + n // (256 * 254) % 250}.{n // 254 % 256}.{1 + n % 254}", 0)


class Client:
    """Sends requests to the server, each on a new connection from the next source address.

    gunicorn's sync workers close the connection after every response anyway.
    """

    def __init__(self, port: int) -> None:
        self.port = port

    def send(self, method: str, path: str, body: bytes | None = None, headers=None):
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=10, source_address=next_source()
        )
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            data = response.read()
            return response.status, response, data
        except (OSError, http.client.HTTPException):
            return None, None, b""
        finally:
            conn.close()


def server_cpu_seconds(master_pid: int) -> float:
    """User + system CPU of the gunicorn workers (the master's children), from /proc."""
    total = 0.0
    try:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    except OSError:
        return 0.0
    for pid in children:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving the bench database, by process id."""
    found = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if BENCH_DB.encode() not in (proc / "cmdline").read_bytes():
                continue  # other people's backends on a shared server do not count
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(proc.name)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return found


def postgres_cpu_since(before: dict[int, float]) -> float:
    """CPU seconds the bench database's backends used since `before` (exited ones lost)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in postgres_cpu().items())


def machine_busy_seconds() -> float:
    """CPU seconds spent by everything on the machine (all cores), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / CLK_TCK  # less idle and iowait


def run_phase(phase: Phase, worker, master_pid: int, *, threads: int) -> Phase:
    """Start `threads` threads running worker(index, phase, lock); time them; gather results."""
    lock = threading.Lock()
    pool = [threading.Thread(target=worker, args=(i, phase, lock)) for i in range(threads)]
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
    phase.database_cpu = postgres_cpu_since(database) / phase.seconds
    busy = (machine_busy_seconds() - busy) / phase.seconds
    phase.other_cpu = max(0.0, busy - phase.client_cpu - phase.server_cpu - phase.database_cpu)
    return phase


def closed_loop(
    port: int, requests, expected: int, name: str, clients: int, seconds: float, master_pid: int
) -> Phase:
    """`clients` clients, each sending its next request as soon as the last one answered.

    ``requests(index)`` gives a client an endless iterator of (method, path, body, headers).
    """

    def worker(index: int, phase: Phase, lock: threading.Lock) -> None:
        client = Client(port)
        mine = requests(index)
        method, path, body, headers = next(mine)  # any set-up of the client happens here
        latencies, statuses, errors = [], Counter(), 0
        deadline = time.perf_counter() + seconds
        while (now := time.perf_counter()) < deadline:
            status, _, _ = client.send(method, path, body, headers)
            latencies.append(time.perf_counter() - now)
            statuses[status or "conn"] += 1
            errors += status != expected
            method, path, body, headers = next(mine)
        with lock:
            phase.latencies += latencies
            phase.statuses += statuses
            phase.errors += errors

    return run_phase(Phase(name, clients), worker, master_pid, threads=clients)


def open_loop(
    port: int, paths: list[str], name: str, rate: float, seconds: float, master_pid: int
) -> Phase:
    """Requests due at a fixed rate; latency counts from when a request was due."""
    due = itertools.count()
    start = time.perf_counter() + 0.05
    total = int(rate * seconds)

    def worker(index: int, phase: Phase, lock: threading.Lock) -> None:
        client = Client(port)
        latencies, statuses, errors = [], Counter(), 0
        while (n := next(due)) < total:
            when = start + n / rate
            if (wait := when - time.perf_counter()) > 0:
                time.sleep(wait)
            status, _, _ = client.send("GET", paths[n % len(paths)])
            latencies.append(time.perf_counter() - when)
            statuses[status or "conn"] += 1
            errors += status != 200
        with lock:
            phase.latencies += latencies
            phase.statuses += statuses
            phase.errors += errors

    # Enough threads that the client never runs out at ten times the expected latency.
    threads = max(8, min(64, int(rate * 0.1)))
    return run_phase(Phase(name, threads), worker, master_pid, threads=threads)


def csrf_for(port: int, path: str) -> tuple[str, str]:
    """The csrftoken cookie and a form token for it, from one GET of a survey page."""
    status, response, body = Client(port).send("GET", path)
    assert status == 200, f"GET {path}: {status}"
    cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie") or "")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    assert cookie and token, "no CSRF cookie or token on the survey page"
    return cookie.group(1), token.group(1).decode()


def answers_body(questions: list[list], token: str, n: int) -> bytes:
    data = {"csrfmiddlewaretoken": token}
    for pk, kind in questions:
        if kind == "nps":
            data[f"q{pk}"] = str(n % 11)
        elif kind == "rating":
            data[f"q{pk}"] = str(1 + n % 5)
        elif kind == "text":
            data[f"q{pk}"] = f"Bench answer {n}: the waiting room was warm and the staff kind."
    return urllib.parse.urlencode(data).encode()


def drive(port: int, setup: dict, args, master_pid: int) -> list[Phase]:
    paths = setup["paths"]
    spread = max(1, len(paths) // max(1, args.clients))

    def healthz(_index: int):
        return itertools.repeat(("GET", "/healthz", None, None))

    def survey(index: int):
        rotation = itertools.islice(itertools.cycle(paths), index * spread, None)
        return (("GET", path, None, None) for path in rotation)

    def submit(index: int):
        cookie, token = csrf_for(port, paths[index])
        headers = {
            "Cookie": f"csrftoken={cookie}",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        rotation = itertools.islice(itertools.cycle(paths), index * spread, None)
        for n, path in enumerate(rotation):
            yield "POST", path, answers_body(setup["questions"], token, n), headers

    # Warm-up: every invitation opened once (its one opened_at write), both workers warm.
    warm = Client(port)
    for path in paths:
        assert warm.send("GET", path)[0] == 200, f"warm-up GET {path} failed"
    closed_loop(port, healthz, 200, "warm", args.clients, 2, master_pid)
    closed_loop(port, survey, 200, "warm", args.clients, 2, master_pid)

    phases = []
    for _ in range(args.rounds):
        phases.append(
            closed_loop(port, healthz, 200, "ceiling: GET /healthz", args.clients,
                        args.seconds, master_pid)
        )  # fmt: skip
        phases.append(
            closed_loop(port, survey, 200, "GET /s/<token>/", args.clients,
                        args.seconds, master_pid)
        )  # fmt: skip
    for rate in args.rate:
        phases.append(
            open_loop(port, paths, f"GET /s/<token>/ @ {rate:g}/s", rate, args.seconds, master_pid)
        )
    if args.post:
        phases.append(
            closed_loop(port, submit, 302, "POST /s/<token>/", args.clients,
                        args.seconds, master_pid)
        )  # fmt: skip
    return phases


# --- Server ----------------------------------------------------------------------------


def rapport(env: dict[str, str], *argv: str) -> str:
    try:
        return benchlib.rapport(env, *argv)
    except RuntimeError as failure:
        sys.exit(str(failure))


def wait_healthy(port: int, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"rapport serve exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"rapport serve did not answer /healthz within {timeout:.0f} s")


def stop(server: subprocess.Popen) -> None:
    """SIGTERM to gunicorn's master, then SIGKILL to its process group if it lingers."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)  # its own group (start_new_session)
    server.wait()


def bench_database(label: str, env: dict[str, str], args) -> tuple[list[Phase], dict]:
    rapport(env, "migrate", "--verbosity", "0")
    out = rapport(env, "shell", "--no-imports", "-c", SETUP.format(invitations=args.invitations))
    setup = json.loads(out.strip().splitlines()[-1])
    print(f"{label}: {len(setup['paths'])} invitations, e.g. {setup['paths'][0]}", flush=True)
    port = free_port()
    log = Path(env["RAPPORT_VAR_DIR"]) / "serve.log"
    with log.open("w") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "rapport.cli", "serve", "--bind", f"127.0.0.1:{port}",
             "--workers", str(args.workers)],
            env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            wait_healthy(port, server)
            phases = drive(port, setup, args, server.pid)
        finally:
            stop(server)
    problems = [line for line in log.read_text().splitlines() if "Traceback" in line]
    if problems:
        print(f"{label}: {len(problems)} tracebacks in {log}")
    return phases, setup


# --- Profile (in-process, Django test client) ----------------------------------------


def profile_child(setup_file: str, requests: int) -> None:
    """Time and profile the survey page in-process, as the server runs it, less gunicorn.

    The test client keeps the database connection open between requests; the server closes
    it after each one unless CONN_MAX_AGE says otherwise (SQLite: every request connects).
    So after each request this closes connections the way the server's request_finished does.
    """
    import django

    django.setup()
    from django.db import close_old_connections, connection
    from django.template.loader import render_to_string
    from django.test import Client as DjangoClient
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from feedback.services import invitation_from_token
    from feedback.views import _previous_answers, _question_view

    paths = json.loads(Path(setup_file).read_text())["paths"]
    addresses = (f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" for n in itertools.count())

    class Client(DjangoClient):  # each request from another address: the rate limit is per address
        def get(self, path, **extra):
            response = super().get(path, REMOTE_ADDR=next(addresses), **extra)
            close_old_connections()
            return response

    client = Client()
    for path in paths[:50]:
        assert client.get(path).status_code == 200
        assert client.get("/healthz").status_code == 200
    for label, path in (("survey page", paths[0]), ("healthz", "/healthz")):
        with CaptureQueriesContext(connection) as queries:
            client.get(path)
        print(f"{label}: {len(queries)} queries")
        for query in queries.captured_queries:
            print(f"    {query['sql'][:150]}")

    def timed(label: str, call, n: int = requests) -> float:
        call()
        started = time.perf_counter()
        for _ in range(n):
            call()
        seconds = (time.perf_counter() - started) / n
        print(f"{1000 * seconds:8.3f} ms  {label}")
        return seconds

    print(f"--- in-process, mean of {requests} (no profiler) ---")
    rotation = itertools.cycle(paths)
    survey = timed("GET survey page (test client, whole stack)", lambda: client.get(next(rotation)))
    ceiling = timed("GET /healthz (test client, whole stack)", lambda: client.get("/healthz"))
    print(f"ratio in-process: {ceiling / survey:.0%}")
    token = paths[0].split("/")[2]
    invitation = invitation_from_token(token)
    questions = list(invitation.survey.questions.all())
    context = {
        "invitation": invitation,
        "practice": invitation.practice,
        "questions": [_question_view(q, {}, invitation.practice) for q in questions],
        "error": None,
        "editing": False,
    }
    request = RequestFactory().get(paths[0])

    def connect() -> None:
        connection.close()
        connection.ensure_connection()

    print("pieces of the view (connection kept open, except the first):")
    timed("open a database connection (the server does this per request on SQLite)", connect)
    timed("invitation_from_token: unsign + invitation query (select_related x3)",
          lambda: invitation_from_token(token))  # fmt: skip

    def connect_and_query() -> None:
        connection.close()
        invitation_from_token(token)

    timed("the same on a new connection (SQLite reads the schema again)", connect_and_query)
    timed("survey.questions.all()", lambda: list(invitation.survey.questions.all()))
    with CaptureQueriesContext(connection) as queries:
        answered = bool(_previous_answers(invitation))
    timed(
        f"_previous_answers ({'answered' if answered else 'not answered'}: {len(queries)} queries)",
        lambda: _previous_answers(invitation),
    )
    template = "feedback/survey_answer.html"
    timed(f"render {template}", lambda: render_to_string(template, context, request=request))
    print(f"page size: {len(render_to_string(template, context)):,} bytes")

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        client.get(next(rotation))
    profiler.disable()
    for order in ("cumulative", "tottime"):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).strip_dirs().sort_stats(order).print_stats(35)
        print(f"--- {requests} survey page GETs under cProfile, by {order} ---")
        print(text.getvalue())
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    stats.print_callees(r"\(survey_answer\)|\(invitation_from_token\)")
    print(f"--- {requests} survey page GETs under cProfile: the view's callees ---")
    print(text.getvalue())


def profile(env: dict[str, str], setup: dict, requests: int) -> None:
    setup_file = Path(env["RAPPORT_VAR_DIR"]) / "setup.json"
    setup_file.write_text(json.dumps(setup))
    done = subprocess.run(
        [sys.executable, __file__, "--profile-child", str(setup_file),
         "--profile-requests", str(requests)],
        env={**env, "DJANGO_SETTINGS_MODULE": "rapport.settings"},
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    print(done.stdout)
    if done.returncode != 0:
        print(f"profile failed:\n{done.stderr[-4000:]}")


# --- Main ----------------------------------------------------------------------------


def report(results: list[tuple[str, list[Phase]]]) -> None:
    print(
        "| database | phase | clients | requests | req/s | p50 ms | p95 ms | p99 ms | errors "
        "| statuses | server CPU ms/req | client CPU | server CPU | PostgreSQL CPU | other CPU |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for label, phases in results:
        for p in phases:
            statuses = ", ".join(f"{k}: {v:,}" for k, v in sorted(p.statuses.items(), key=str))
            print(
                f"| {label} | {p.name} | {p.clients} | {len(p.latencies):,} | {p.rate:,.0f} "
                f"| {p.percentile(50):.1f} | {p.percentile(95):.1f} | {p.percentile(99):.1f} "
                f"| {p.errors} | {statuses} | {p.cpu_per_request:.2f} | {p.client_cpu:.0%} "
                f"| {p.server_cpu:.0%} | {p.database_cpu:.0%} | {p.other_cpu:.0%} |"
            )
    print()
    print(
        "| database | survey req/s | ceiling req/s | ratio | survey p95 | ceiling p95 | ratio "
        "| server CPU ms/req: survey | ceiling | ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, phases in results:
        ceilings = [p for p in phases if p.name.startswith("ceiling")]
        surveys = [p for p in phases if p.name == "GET /s/<token>/"]
        for ceiling, survey in zip(ceilings, surveys, strict=True):
            print(
                f"| {label} | {survey.rate:,.0f} | {ceiling.rate:,.0f} "
                f"| {survey.rate / ceiling.rate:.0%} | {survey.percentile(95):.1f} ms "
                f"| {ceiling.percentile(95):.1f} ms "
                f"| {survey.percentile(95) / ceiling.percentile(95):.1f}x "
                f"| {survey.cpu_per_request:.2f} | {ceiling.cpu_per_request:.2f} "
                f"| {ceiling.cpu_per_request / survey.cpu_per_request:.0%} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invitations", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8, help="closed-loop clients")
    parser.add_argument("--seconds", type=float, default=20, help="length of each phase")
    parser.add_argument("--rounds", type=int, default=1, help="ceiling/survey pairs per database")
    parser.add_argument(
        "--rate", type=float, nargs="*", default=[200], help="open-loop req/s, one phase each"
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--no-post", dest="post", action="store_false", help="skip submissions")
    parser.add_argument("--no-postgresql", dest="postgresql", action="store_false")
    parser.add_argument("--single-address", action="store_true", help="all requests from 127.0.0.1")
    parser.add_argument("--profile", action="store_true", help="cProfile the page in-process")
    parser.add_argument("--profile-requests", type=int, default=300)
    parser.add_argument("--profile-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profile_child:
        profile_child(args.profile_child, args.profile_requests)
        return
    global SINGLE_ADDRESS
    SINGLE_ADDRESS = args.single_address

    base = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
    base["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PROJECT / "src"), base.get("PYTHONPATH")])
    )
    base["RAPPORT_LOG_LEVEL"] = "WARNING"
    base.pop("DJANGO_SETTINGS_MODULE", None)
    results = []
    var_dirs = []
    try:
        var_dir = tempfile.mkdtemp(prefix="rapport-bench-survey-")
        var_dirs.append(var_dir)
        env = {**base, "RAPPORT_VAR_DIR": var_dir}
        phases, setup = bench_database("SQLite", env, args)
        results.append(("SQLite", phases))
        if args.profile:
            profile(env, setup, args.profile_requests)
        pg_url = os.environ.get("RAPPORT_BENCH_PG_URL", DEFAULT_PG_URL)
        server = postgresql_server(pg_url) if args.postgresql else None
        if server is not None:
            var_dir = tempfile.mkdtemp(prefix="rapport-bench-survey-")
            var_dirs.append(var_dir)
            url = urllib.parse.urlsplit(pg_url)._replace(path=f"/{BENCH_DB}").geturl()
            env = {**base, "RAPPORT_VAR_DIR": var_dir, "RAPPORT_DATABASE_URL": url}
            with server:
                server.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
                server.execute(f"CREATE DATABASE {BENCH_DB}")
                try:
                    results.append(("PostgreSQL", bench_database("PostgreSQL", env, args)[0]))
                finally:
                    server.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    finally:
        for var_dir in var_dirs:
            shutil.rmtree(var_dir, ignore_errors=True)
    print()
    report(results)


def postgresql_server(url: str):
    """An autocommit psycopg connection to the server's ``postgres`` database, or None."""
    try:
        import psycopg

        admin = urllib.parse.urlsplit(url)._replace(path="/postgres").geturl()
        return psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except Exception as exc:  # any failure to connect means: no PostgreSQL run
        print(f"PostgreSQL at {url} not reachable ({exc.__class__.__name__}): skipped")
        return None


if __name__ == "__main__":
    main()
