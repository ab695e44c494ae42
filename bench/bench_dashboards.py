"""The analytics dashboards (``/analytics/`` and ``/analytics/group/``) under a loopback load on
a seeded database, beside a minimal Django template view measured in the same run.

    # a seeded database with fresh rollups (`rapport seed … --surveys`, `rapport rollup --rebuild`)
    RAPPORT_DATABASE_URL=postgresql://…/analytics_bench_1000x3000 \\
        .venv/bin/python bench/bench_dashboards.py --clients 4 --seconds 30

The database is the one in RAPPORT_DATABASE_URL (any other RAPPORT_* variable is not passed
on; the log level is the production default, INFO). With ``rapport shell`` the script first
makes its users, with the password ``BENCH_PASSWORD`` (made again on every run, so a run
leaves the same users behind): ``bench-manager-NN``, office manager of one of ``--managers``
practices drawn at random (``--seed``), and ``bench-group-admin``, group admin of every
organisation. Then it starts ``rapport serve`` (gunicorn, sync workers, as in production) on
a free loopback port with Rapport's own settings and one change: the root URLconf is
``bench/dashboard_ceiling_urls.py`` (settings module ``bench/dashboard_bench_settings.py``),
which adds the ceiling, ``GET /bench/minimal-template/``, to the product's URLs.

Every user signs in as a person does: ``GET /login/``, then a ``POST`` of the form with its
CSRF token; the session cookie is kept. The dashboards keep their figures in the cache until
the next refresh, so the server runs twice (``--cache``):

* **cached**: the product's cache (the embedded default: one per gunicorn worker); before
  each dashboard phase every distinct request (user and query) is sent three times per
  worker (``prime``), so the phase measures the steady state between two refreshes;
* **no cache**: ``BENCH_DASHBOARD_CACHE=off`` (Django's dummy cache, which keeps nothing):
  every request sums its figures from the rollups, as the first one after a refresh does.

In each, phases, each a closed loop of ``--clients`` clients (each sends its next request as
soon as the last is answered) for ``--seconds``, after ``--warmup`` seconds of the same
requests that are not counted:

* minimal: the ceiling, as the managers (spread over them);
* practice: ``/analytics/`` as a manager drawn at random for each request, over the default
  range (the last 365 days), the last 30 days or the last 90 days (``?from=…&to=…``);
* group: ``/analytics/group/`` as the group admin, the default range and order, then each
  ``--group-sorts`` order (``?sort=…``).

Every answer must be a 200 holding the page's marker (the minimal page's heading,
``--marker`` for the dashboards, and a manager's practice name on the practice dashboard):
anything else is an error, and any error makes the script exit with 1. Latency is from
sending the request to the end of the body, on a new connection each time (gunicorn's sync
workers close it). The CPU used by the gunicorn workers, PostgreSQL's backends for the
database, this client and everything else on the machine is printed per phase
(100% = one core): the box is shared. The first request of each dashboard after the
server's start is printed too.

``--breakdown`` (on by default) then times each dashboard request in-process, with the cache
and without, as the server runs (Django's test client against the same database,
``--breakdown-requests`` times each after one request that fills the cache): the whole
request, the SQL it runs (count and time, with the queries that take longest), and the
template rendering (``render``, SQL run from the template included); ``--profile`` adds a
cProfile of each dashboard, by cumulative time.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import html
import itertools
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import requests
from bench_webhooks import machine_busy_seconds, server_cpu_seconds, stop, wait_healthy
from benchlib import free_port, rapport

PROJECT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
SETTINGS = "dashboard_bench_settings"
CLK_TCK = os.sysconf("SC_CLK_TCK")
BENCH_PASSWORD = "bench-dashboards-7Kq2"  # noqa: S105 (a benchmark user's, on a scratch box)
MINIMAL_PATH = "/bench/minimal-template/"
MINIMAL_MARKER = "Minimal template view"
PRACTICE_PATH = "/analytics/"
GROUP_PATH = "/analytics/group/"
TARGETS_MS = {"practice": 150.0, "group": 500.0}  # p95, issue 8
CACHE_LABELS = {"on": "cached", "off": "no cache"}

# Run by `rapport shell -c`: the bench users, and what the database holds.
SETUP = """
import json
import random

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from core.models import Membership, Organisation, Practice

User = get_user_model()
password = make_password("{password}")  # hashed once: every bench user has the same password


def bench_user(username, first_name):
    user, _ = User.objects.get_or_create(username=username)
    user.first_name, user.last_name = first_name, "Bench"
    user.password, user.is_staff, user.is_active = password, True, True
    user.save()
    Membership.objects.filter(user=user).delete()
    return user


with transaction.atomic():
    ids = sorted(Practice.objects.values_list("pk", flat=True))
    chosen = random.Random({seed}).sample(ids, min({managers}, len(ids)))
    practices = Practice.objects.select_related("organisation").in_bulk(chosen)
    managers = []
    for n, pk in enumerate(chosen):
        practice = practices[pk]
        user = bench_user(f"bench-manager-{{n:02d}}", f"Manager {{n}}")
        Membership.objects.create(
            user=user, organisation=practice.organisation, practice=practice,
            role=Membership.Role.MANAGER,
        )
        managers.append({{"username": user.username, "practice": practice.name}})
    admin = bench_user("bench-group-admin", "Group admin")
    for organisation in Organisation.objects.all():
        Membership.objects.create(
            user=admin, organisation=organisation, role=Membership.Role.GROUP_ADMIN
        )

counts = {{}}
with connection.cursor() as cursor:
    for label, table in (
        ("organisations", "core_organisation"),
        ("practices", "core_practice"),
        ("patients", "patients_patient"),
        ("appointments", "patients_appointment"),
        ("survey responses", "feedback_surveyresponse"),
        ("calls", "calls_call"),
        ("rollup practice-days", "analytics_practiceday"),
    ):
        cursor.execute(f"SELECT COUNT(*) FROM {{table}}")
        counts[label] = cursor.fetchone()[0]
    cursor.execute("SELECT MIN(day), MAX(day) FROM analytics_practiceday")
    first, last = cursor.fetchone()
    cursor.execute("SHOW server_version")
    version = cursor.fetchone()[0]
print(json.dumps({{
    "managers": managers,
    "admin": admin.username,
    "counts": counts,
    "rollup_days": [str(first), str(last)],
    "server_version": version,
    "database": connection.settings_dict["NAME"],
}}))
"""


# --- Requests --------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One kind of request of a phase: a path with its query, as one of the signed-in users."""

    variant: str
    path: str
    cookies: dict[str, str]
    markers: tuple[str, ...]


def login(base: str, username: str) -> dict[str, str]:
    """Sign in through the login form, as a browser does; the cookies of the session."""
    with requests.Session() as session:
        page = session.get(f"{base}/login/", timeout=30)
        page.raise_for_status()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if token is None:
            raise RuntimeError("no CSRF token in the login form")
        answer = session.post(
            f"{base}/login/",
            data={
                "csrfmiddlewaretoken": token.group(1),
                "username": username,
                "password": BENCH_PASSWORD,
                "next": "",
            },
            headers={"Referer": f"{base}/login/"},
            allow_redirects=False,
            timeout=60,
        )
        if answer.status_code != 302 or "sessionid" not in session.cookies:
            raise RuntimeError(f"signing in as {username} failed: HTTP {answer.status_code}")
        return session.cookies.get_dict()


def date_range(days: int) -> str:
    """``from=…&to=…`` for the last ``days`` days, today included."""
    today = dt.date.today()
    start = today - dt.timedelta(days=days - 1)
    return urllib.parse.urlencode({"from": start.isoformat(), "to": today.isoformat()})


# --- Load ------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    clients: int
    cache: str = "on"
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    answers: Counter = field(default_factory=Counter)  # (variant, outcome) -> count
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    database_cpu: float = 0.0
    other_cpu: float = 0.0

    @property
    def all_latencies(self) -> list[float]:
        return [s for values in self.latencies.values() for s in values]

    def percentile(self, p: float, variant: str | None = None) -> float:
        """Nearest rank, in milliseconds."""
        values = self.latencies[variant] if variant else self.all_latencies
        if not values:
            return float("nan")
        ordered = sorted(values)
        return 1000 * ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    @property
    def count(self) -> int:
        return sum(len(values) for values in self.latencies.values())

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return sum(n for (_, outcome), n in self.answers.items() if outcome != "ok")

    @property
    def cpu_per_request(self) -> float:
        """Milliseconds of gunicorn worker CPU a request: steadier than req/s on a busy box."""
        return 1000 * self.server_cpu / self.rate if self.rate else float("nan")


def fetch(session: requests.Session, base: str, target: Target) -> str:
    """``ok``, or what was wrong with the answer."""
    try:
        answer = session.get(
            base + target.path, cookies=target.cookies, allow_redirects=False, timeout=60
        )
    except requests.RequestException as exc:
        return f"failed: {exc.__class__.__name__}"
    if answer.status_code != 200:
        return f"HTTP {answer.status_code}"
    missing = [marker for marker in target.markers if marker not in answer.text]
    return f"200 without {missing[0]!r}" if missing else "ok"


def postgres_cpu(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving ``database``, by process id."""
    found = {}
    needle = f" {database} ".encode()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if needle not in (proc / "cmdline").read_bytes().replace(b"\0", b" "):
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(proc.name)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return found


def closed_loop(
    base: str, targets: list[Target], phase: Phase, *, seconds: float, seed: int, server, database
) -> Phase:
    """Each client sends a request drawn from ``targets`` as soon as its last one is answered,
    until ``seconds`` have passed."""
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(number: int) -> None:
        rng = random.Random(f"{seed}:{phase.name}:{number}")
        latencies, answers = defaultdict(list), Counter()
        with requests.Session() as session:
            while time.perf_counter() < deadline:
                target = rng.choice(targets)
                started = time.perf_counter()
                outcome = fetch(session, base, target)
                latencies[target.variant].append(time.perf_counter() - started)
                answers[target.variant, outcome] += 1
        with lock:
            for variant, values in latencies.items():
                phase.latencies[variant] += values
            phase.answers += answers

    pool = [threading.Thread(target=client, args=(n,)) for n in range(phase.clients)]
    cpu, busy = time.process_time(), machine_busy_seconds()
    workers, backends = server_cpu_seconds(server.pid), postgres_cpu(database)
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    phase.seconds = time.perf_counter() - started
    phase.client_cpu = (time.process_time() - cpu) / phase.seconds
    phase.server_cpu = (server_cpu_seconds(server.pid) - workers) / phase.seconds
    phase.database_cpu = (
        sum(s - backends.get(pid, 0.0) for pid, s in postgres_cpu(database).items()) / phase.seconds
    )
    busy = (machine_busy_seconds() - busy) / phase.seconds
    phase.other_cpu = max(0.0, busy - phase.client_cpu - phase.server_cpu - phase.database_cpu)
    return phase


def prime(base: str, targets: list[Target], *, repeats: int, clients: int) -> Counter:
    """Send every target ``repeats`` times, in a shuffled order, from ``clients`` threads, so
    that each worker has most likely computed and cached every figure the phase asks for
    (with six sends and two workers, a figure one worker never got: about 3%; it is computed
    during the phase). The answers' outcomes."""
    queue = [t for t in targets for _ in range(repeats)]
    random.Random(0).shuffle(queue)
    next_index = itertools.count()
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def client() -> None:
        mine: Counter = Counter()
        with requests.Session() as session:
            while (n := next(next_index)) < len(queue):  # count() is atomic in CPython
                mine[fetch(session, base, queue[n])] += 1
        with lock:
            outcomes.update(mine)

    pool = [threading.Thread(target=client) for _ in range(clients)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return outcomes


# --- Run -------------------------------------------------------------------------------


def dashboard_paths(name: str, args) -> list[tuple[str, str]]:
    """(variant, path with query) of each request a dashboard phase makes."""
    if name == "practice":
        ranges = (
            ("365 days (default)", ""),
            ("30 days", date_range(30)),
            ("90 days", date_range(90)),
        )
        return [(label, PRACTICE_PATH + (f"?{query}" if query else "")) for label, query in ranges]
    sorts = [(f"sort={key}", f"{GROUP_PATH}?sort={key}") for key in args.group_sorts]
    return [("default order", GROUP_PATH), *sorts]


def phase_targets(base: str, setup: dict, args) -> dict[str, list[Target]]:
    """The requests of each phase, with the signed-in users' cookies."""
    started = time.perf_counter()
    managers = [
        (login(base, manager["username"]), html.escape(manager["practice"]))
        for manager in setup["managers"]
    ]
    admin = login(base, setup["admin"])
    print(
        f"signed in {len(managers) + 1} users in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return {
        "minimal": [
            Target("minimal", MINIMAL_PATH, cookies, (MINIMAL_MARKER, name))
            for cookies, name in managers
        ],
        "practice": [
            Target(label, path, cookies, (args.marker, name))
            for label, path in dashboard_paths("practice", args)
            for cookies, name in managers
        ],
        "group": [
            Target(label, path, admin, (args.marker,))
            for label, path in dashboard_paths("group", args)
        ],
    }


def prepare(args, env: dict[str, str]) -> dict:
    """The bench users (made again), and what the database holds."""
    setup_code = SETUP.format(password=BENCH_PASSWORD, seed=args.seed, managers=args.managers)
    out = rapport(env, "shell", "--no-imports", "-c", setup_code)
    setup = json.loads(out.strip().splitlines()[-1])
    print(
        "database {database} (PostgreSQL {server_version}): ".format(**setup)
        + ", ".join(f"{n:,} {label}" for label, n in setup["counts"].items())
        + f"; rollups from {setup['rollup_days'][0]} to {setup['rollup_days'][1]}",
        flush=True,
    )
    return setup


def serve_and_load(
    args, env: dict[str, str], setup: dict, cache: str, log_path: Path, signed_in: dict
) -> tuple[list[Phase], dict, Counter]:
    """Start ``rapport serve`` with the cache on or off and run the phases against it.
    ``signed_in`` keeps the users' cookies from one server to the next (sessions live in
    the database)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    phases, first = [], {}
    label = CACHE_LABELS[cache]
    with log_path.open("w") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "rapport.cli", "serve", "--bind", f"127.0.0.1:{port}",
             "--workers", str(args.workers)],
            env={**env, "BENCH_DASHBOARD_CACHE": cache},
            stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            wait_healthy(port, server)
            if not signed_in:
                signed_in.update(phase_targets(base, setup, args))
            targets = signed_in
            loop = {"seed": args.seed, "server": server, "database": setup["database"]}
            for name in args.phases:
                if name != "minimal":
                    with requests.Session() as session:
                        started = time.perf_counter()
                        outcome = fetch(session, base, targets[name][0])
                        first[name] = (1000 * (time.perf_counter() - started), outcome)
                    print(
                        f"{label}, {name}: first request {first[name][0]:.0f} ms, {outcome}",
                        flush=True,
                    )
                if cache == "on" and name != "minimal":
                    started = time.perf_counter()
                    outcomes = prime(
                        base, targets[name], repeats=3 * args.workers, clients=args.clients
                    )
                    print(
                        f"{label}, {name}: primed in {time.perf_counter() - started:.0f} s"
                        + ("" if set(outcomes) == {"ok"} else f": {dict(outcomes)}"),
                        flush=True,
                    )
                if args.warmup:
                    warm = Phase(f"{name} warm-up", args.clients, cache)
                    closed_loop(base, targets[name], warm, seconds=args.warmup, **loop)
                    if warm.errors:
                        print(f"{label}, {name} warm-up: {dict(warm.answers)}", flush=True)
                phase = Phase(name, args.clients, cache)
                phases.append(closed_loop(base, targets[name], phase, seconds=args.seconds, **loop))
                print(
                    f"{label}, {name}: {phase.count:,} requests, {phase.errors} errors, "
                    f"p95 {phase.percentile(95):.1f} ms",
                    flush=True,
                )
        finally:
            stop(server)
    log_text = log_path.read_text()
    log = Counter(
        {
            "Traceback": log_text.count("Traceback"),
            "ERROR": log_text.count("ERROR"),
            "WORKER TIMEOUT": log_text.count("WORKER TIMEOUT"),
        }
    )
    if args.keep_log:
        shutil.copy(log_path, f"{args.keep_log}.{cache}")
    return phases, first, log


# --- Breakdown (in-process, Django) ------------------------------------------------------


def breakdown(env: dict[str, str], setup: dict, args, cache: str) -> dict | None:
    """Run ``breakdown_child`` in a process of its own, with the cache on or off; its
    findings, or None."""
    spec = {
        "manager": setup["managers"][0]["username"],
        "admin": setup["admin"],
        "paths": {
            name: dashboard_paths(name, args)
            for name in ("practice", "group")
            if name in args.phases
        },
        "requests": args.breakdown_requests,
        "profile": args.profile,
    }
    done = subprocess.run(
        [sys.executable, __file__, "--breakdown-child", json.dumps(spec)],
        env={**env, "BENCH_DASHBOARD_CACHE": cache},
        capture_output=True, text=True, check=False, timeout=1800,
    )  # fmt: skip
    if done.returncode != 0:
        print(f"breakdown failed:\n{done.stderr[-4000:]}")
        return None
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return {f"{CACHE_LABELS[cache]}, {key}": value for key, value in found.items()}


def breakdown_child(spec_text: str) -> None:
    """Time the dashboards and their SQL and rendering in-process, with the connection kept
    open between requests as in the server (CONN_MAX_AGE 60)."""
    import django

    django.setup()
    import cProfile
    import io
    import logging
    import pstats
    import statistics

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from analytics import views

    logging.disable(logging.INFO)
    spec = json.loads(spec_text)
    users = get_user_model().objects
    clients = {}
    for name, username in (("practice", spec["manager"]), ("group", spec["admin"])):
        clients[name] = Client()
        clients[name].force_login(users.get(username=username))

    sql = {"on": False, "n": 0, "seconds": 0.0, "by_text": defaultdict(float), "in_render": 0.0}
    rendering = {"on": False, "seconds": 0.0}

    def timed_sql(execute, query, params, many, context):
        started = time.perf_counter()
        try:
            return execute(query, params, many, context)
        finally:
            if sql["on"]:
                spent = time.perf_counter() - started
                sql["n"] += 1
                sql["seconds"] += spent
                sql["by_text"][query] += spent
                if rendering["on"]:
                    sql["in_render"] += spent

    real_render = views.render

    def timed_render(*args, **kwargs):
        rendering["on"] = True
        started = time.perf_counter()
        try:
            return real_render(*args, **kwargs)
        finally:
            rendering["seconds"] += time.perf_counter() - started
            rendering["on"] = False

    views.render = timed_render
    out: dict = {}
    with connection.execute_wrapper(timed_sql):
        for name, variants in spec["paths"].items():
            client = clients[name]
            for variant, path in variants:
                client.get(path)  # warm: templates compiled, connection open, cache filled
                sql.update(on=True, n=0, seconds=0.0, in_render=0.0, by_text=defaultdict(float))
                rendering["seconds"] = 0.0
                times = []
                for _ in range(spec["requests"]):
                    started = time.perf_counter()
                    response = client.get(path)
                    times.append(time.perf_counter() - started)
                    assert response.status_code == 200, (path, response.status_code)
                sql["on"] = False
                n = spec["requests"]
                slowest = sorted(sql["by_text"].items(), key=lambda item: -item[1])[:6]
                out[f"{name}: {variant}"] = {
                    "request_ms": 1000 * statistics.median(times),
                    "mean_ms": 1000 * statistics.mean(times),
                    "queries": sql["n"] / n,
                    "sql_ms": 1000 * sql["seconds"] / n,
                    "render_ms": 1000 * rendering["seconds"] / n,
                    "render_sql_ms": 1000 * sql["in_render"] / n,
                    "bytes": len(response.content),
                    "slowest": [(1000 * s / n, " ".join(q.split())[:300]) for q, s in slowest],
                }
            if spec["profile"]:
                profiler = cProfile.Profile()
                path = variants[0][1]
                profiler.enable()
                for _ in range(spec["requests"]):
                    client.get(path)
                profiler.disable()
                text = io.StringIO()
                pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(45)
                out[f"{name}: profile of {path}"] = text.getvalue()
    print(json.dumps(out))


def report_breakdown(found: dict) -> None:
    print()
    print(
        "In-process (Django test client), per request: | request | median ms | queries "
        "| SQL ms | render ms (of which SQL) | other Python ms | page KiB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for key, row in found.items():
        if isinstance(row, str):
            continue
        other = row["mean_ms"] - row["sql_ms"] - row["render_ms"] + row["render_sql_ms"]
        print(
            f"| {key} | {row['request_ms']:.1f} | {row['queries']:.0f} | {row['sql_ms']:.1f} "
            f"| {row['render_ms']:.1f} ({row['render_sql_ms']:.1f}) | {other:.1f} "
            f"| {row['bytes'] / 1024:.0f} |"
        )
    for key, row in found.items():
        if isinstance(row, str):
            print(f"\n{key}:\n{row}")
            continue
        print(f"\n{key}: the slowest queries, ms per request:")
        for ms, query in row["slowest"]:
            print(f"    {ms:7.1f}  {query}")


# --- Report ----------------------------------------------------------------------------


def report(phases: list[Phase], first: dict, logs: dict) -> None:
    print()
    print(
        "| cache | page | clients | requests | errors | req/s | p50 ms | p95 ms | p99 ms "
        "| max ms | p95 / minimal p95 | p95 target | worker CPU ms/req | client CPU "
        "| workers' CPU | PostgreSQL CPU | other CPU |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for p in phases:
        minimal = next((m for m in phases if m.name == "minimal" and m.cache == p.cache), None)
        ratio = (
            f"{p.percentile(95) / minimal.percentile(95):.1f}×"
            if minimal and p is not minimal
            else "–"
        )
        target = TARGETS_MS.get(p.name)
        verdict = (
            f"≤ {target:.0f} ms: {'met' if p.percentile(95) <= target else 'MISSED'}"
            if target
            else "–"
        )
        print(
            f"| {CACHE_LABELS[p.cache]} | {p.name} | {p.clients} | {p.count:,} | {p.errors} "
            f"| {p.rate:,.1f} | {p.percentile(50):.1f} | {p.percentile(95):.1f} "
            f"| {p.percentile(99):.1f} | {p.percentile(100):.1f} | {ratio} | {verdict} "
            f"| {p.cpu_per_request:.1f} | {p.client_cpu:.0%} | {p.server_cpu:.0%} "
            f"| {p.database_cpu:.0%} | {p.other_cpu:.0%} |"
        )
    print()
    print("| cache | page | request | requests | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for p in phases:
        for variant in sorted(p.latencies):
            print(
                f"| {CACHE_LABELS[p.cache]} | {p.name} | {variant} "
                f"| {len(p.latencies[variant]):,} | {p.percentile(50, variant):.1f} "
                f"| {p.percentile(95, variant):.1f} | {p.percentile(99, variant):.1f} "
                f"| {p.percentile(100, variant):.1f} |"
            )
    print()
    for (cache, name), (ms, outcome) in first.items():
        print(
            f"{CACHE_LABELS[cache]}, {name}: first request after the server's start "
            f"{ms:.0f} ms ({outcome})"
        )
    for p in phases:
        if p.errors:
            wrong = {f"{v}: {o}": n for (v, o), n in p.answers.items() if o != "ok"}
            print(f"{CACHE_LABELS[p.cache]}, {p.name}: ERRORS {wrong}")
    for cache, log in logs.items():
        print(f"server log ({CACHE_LABELS[cache]}): {dict(log)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=30, help="measured seconds a phase")
    parser.add_argument("--warmup", type=float, default=5, help="uncounted seconds first")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--managers", type=int, default=50, help="practices with a manager")
    parser.add_argument(
        "--phases",
        default="minimal,practice,group",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        help="comma-separated, of minimal, practice, group",
    )
    parser.add_argument(
        "--group-sorts",
        default="csat,at_risk",
        type=lambda text: [s.strip() for s in text.split(",") if s.strip()],
        help="the group dashboard's ?sort= orders besides the default",
    )
    parser.add_argument(
        "--marker", default="Net Promoter Score", help="text every dashboard page must hold"
    )
    parser.add_argument(
        "--cache",
        default="on,off",
        type=lambda text: [mode.strip() for mode in text.split(",") if mode.strip()],
        help="server runs: on (the product's cache), off (dummy cache), or both (default)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep-log", help="copy the server's logs to KEEP_LOG.on / .off")
    parser.add_argument("--no-breakdown", dest="breakdown", action="store_false")
    parser.add_argument("--breakdown-requests", type=int, default=10)
    parser.add_argument("--profile", action="store_true", help="print the breakdown's cProfile")
    parser.add_argument("--breakdown-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.breakdown_child:
        breakdown_child(args.breakdown_child)
        return
    if unknown := set(args.phases) - {"minimal", "practice", "group"}:
        parser.error(f"--phases: unknown {sorted(unknown)}")
    if unknown := set(args.cache) - {"on", "off"}:
        parser.error(f"--cache: unknown {sorted(unknown)}")
    if "RAPPORT_DATABASE_URL" not in os.environ:
        parser.error("set RAPPORT_DATABASE_URL to the seeded database")

    env = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
    env["RAPPORT_DATABASE_URL"] = os.environ["RAPPORT_DATABASE_URL"]
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PROJECT / "src"), str(BENCH_DIR), env.get("PYTHONPATH")])
    )
    env["DJANGO_SETTINGS_MODULE"] = SETTINGS
    started = time.monotonic()
    var_dir = Path(tempfile.mkdtemp(prefix="rapport-bench-dashboards-"))
    env["RAPPORT_VAR_DIR"] = str(var_dir)  # the same secret key for both servers
    phases, first, logs, signed_in = [], {}, {}, {}
    try:
        print(
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start; "
            f"{args.clients} clients, {args.workers} gunicorn workers, {args.seconds:g} s "
            f"a phase after {args.warmup:g} s of warm-up",
            flush=True,
        )
        setup = prepare(args, env)
        for cache in args.cache:
            found, firsts, logs[cache] = serve_and_load(
                args, env, setup, cache, var_dir / f"serve-{cache}.log", signed_in
            )
            phases += found
            first |= {(cache, name): value for name, value in firsts.items()}
        found = {}
        if args.breakdown and set(args.phases) - {"minimal"}:
            for cache in args.cache:
                found |= breakdown(env, setup, args, cache) or {}
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(var_dir)
    report(phases, first, logs)
    if found:
        report_breakdown(found)
    print(f"\n({time.monotonic() - started:.0f} s in all)")
    if any(p.errors for p in phases) or any(outcome != "ok" for _, outcome in first.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
