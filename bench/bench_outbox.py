"""How fast the outbox drains to a local SMTP server, against plain smtplib's ceiling.

    .venv/bin/python bench/bench_outbox.py --messages 1000

R2 asks that 1,000 queued emails drain in under 10 minutes. For each database the script
runs a child process on a fresh database (SQLite in a temporary RAPPORT_VAR_DIR; PostgreSQL
in a scratch database created and dropped here, when the server at RAPPORT_BENCH_PG_URL
answers). The child migrates, queues N emails in one transaction and times
``deliver_pending``: claim, build, send and record, one message at a time over one SMTP
connection. The ceiling, measured in the same run, sends the same N messages, already
built, with one ``smtplib.SMTP.sendmail`` each over one connection: no database at all.
The SMTP server (aiosmtpd, answers at once) runs in this parent process, so the child does
not share its interpreter with it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "src"))
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def child(messages: int) -> dict:
    import django

    django.setup()
    import smtplib

    from django.conf import settings
    from django.core.mail import EmailMultiAlternatives
    from django.core.management import call_command
    from django.db import connection, transaction

    from core.models import Organisation
    from core.services import practice_create
    from messaging.delivery import deliver_pending
    from messaging.models import OutboundMessage
    from messaging.services import message_enqueue

    call_command("migrate", verbosity=0)
    organisation = Organisation.objects.create(name="Bench Group", slug="bench")
    practice = practice_create(organisation=organisation, name="Bench Dental", slug="bench")
    body = "Thank you for your visit. How did it go? https://rapport.test/s/abcdef\n" * 8
    with transaction.atomic():
        for n in range(messages):
            message_enqueue(
                practice=practice,
                channel="email",
                to_address=f"patient{n}@example.com",
                subject="How was your visit to Bench Dental?",
                body=body,
                html_body=f"<p>{body}</p>",
                kind="survey_invitation",
                idempotency_key=f"bench-{n}",
            )

    started = time.perf_counter()
    report = deliver_pending(time_budget=float("inf"))
    drain_seconds = time.perf_counter() - started
    assert report.sent == messages, report.summary()
    assert OutboundMessage.objects.filter(status="sent").count() == messages

    # The ceiling: the same messages, built beforehand, through bare smtplib.
    built = []
    for message in OutboundMessage.objects.order_by("pk"):
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.to_address],
            headers={"Message-ID": f"<ceiling.{message.pk}@bench>"},
        )
        email.attach_alternative(message.html_body, "text/html")
        built.append((message.to_address, email.message().as_bytes(linesep="\r\n")))
    started = time.perf_counter()
    with smtplib.SMTP(settings.EMAIL_HOST, settings.EMAIL_PORT, local_hostname="bench") as smtp:
        for to_address, raw in built:
            smtp.sendmail("rapport@localhost", [to_address], raw)
    ceiling_seconds = time.perf_counter() - started
    return {
        "database": connection.vendor,
        "messages": messages,
        "drain_seconds": drain_seconds,
        "ceiling_seconds": ceiling_seconds,
    }


def run_child(messages: int, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", "--messages", str(messages)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"benchmark child failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.messages)))
        return

    from messaging.tests.sink import SmtpSink

    sink = SmtpSink()
    sink.start()
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAPPORT_")}
    base.update(
        RAPPORT_EMAIL_HOST="127.0.0.1",
        RAPPORT_EMAIL_PORT=str(sink.port),
        RAPPORT_LOG_LEVEL="WARNING",
        PYTHONPATH=str(PROJECT / "src"),
        DJANGO_SETTINGS_MODULE="rapport.settings",
    )
    runs = [("SQLite", {**base, "RAPPORT_VAR_DIR": tempfile.mkdtemp(prefix="rapport-bench-")})]
    pg_url = os.environ.get("RAPPORT_BENCH_PG_URL", DEFAULT_PG_URL)
    scratch = f"rapport_bench_outbox_{uuid.uuid4().hex[:8]}"
    admin = urlunsplit(urlsplit(pg_url)._replace(path="/postgres"))
    try:
        import psycopg

        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{scratch}"')
        url = urlunsplit(urlsplit(pg_url)._replace(path=f"/{scratch}"))
        var_dir = tempfile.mkdtemp(prefix="rapport-bench-")
        runs.append(
            ("PostgreSQL", {**base, "RAPPORT_VAR_DIR": var_dir, "RAPPORT_DATABASE_URL": url})
        )
    except Exception as exc:  # no server: SQLite only
        print(f"PostgreSQL at {pg_url} not reachable ({exc.__class__.__name__}): skipped")
        admin = ""
    try:
        print("| database | messages | drain msg/s | drain s | smtplib msg/s | ratio |")
        print("|---|---:|---:|---:|---:|---:|")
        for label, env in runs:
            before = sink.count
            result = run_child(args.messages, env)
            assert sink.count - before == 2 * args.messages, "the sink missed messages"
            drain = result["messages"] / result["drain_seconds"]
            ceiling = result["messages"] / result["ceiling_seconds"]
            print(
                f"| {label} | {result['messages']:,} | {drain:,.0f} | "
                f"{result['drain_seconds']:.1f} | {ceiling:,.0f} | {drain / ceiling:.0%} |"
            )
    finally:
        sink.stop()
        if admin:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


if __name__ == "__main__":
    main()
