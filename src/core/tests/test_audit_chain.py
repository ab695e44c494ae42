"""The audit log is a hash chain the database keeps append-only (TRUST.md S4).

Runs on SQLite and on PostgreSQL (``RAPPORT_DATABASE_URL``); the concurrent-writer tests
need PostgreSQL's separate connections and are skipped on SQLite.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import io
import threading
import time
from types import SimpleNamespace

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from core.audit import (
    GENESIS,
    audit_chain_check,
    canonical_json,
    row_hash,
    verify_audit_chain,
)
from core.models import AuditEvent, AuditRowImmutable
from core.services import audit_record

MIGRATION = importlib.import_module("core.migrations.0004_audit_chain")
ON_POSTGRES = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"
)


def _write(count: int, **fields) -> list[AuditEvent]:
    return [
        audit_record(
            action="view",
            object_type="patient",
            object_id=n,
            patient_id=n,
            actor_label="test",
            **fields,
        )
        for n in range(count)
    ]


def _varied(practice, manager) -> list[AuditEvent]:
    """Rows with every kind of value the hash must see the same after a round trip."""
    details = [
        {},
        {"note": "ab", "fields": ["first_name", "email"]},
        {"ids": (3, 1, 2), "searched": True, "score": 0.1, "ratio": 1.0, "big": 1e20},
        {"nested": {"z": None, "a": [1.5e300, -0.0, "José", "日本", "\u202e"]}},
        {7: "int key", "emoji": "🦷"},
    ]
    rows = []
    for n, detail in enumerate(details):
        rows.append(
            audit_record(
                action=AuditEvent.Action.UPDATE,
                object_type="patient",
                object_id=n,
                patient_id=n,
                practice=practice,
                user=manager,
                detail=detail,
            )
        )
    for address in ("10.0.0.7", "2001:DB8::1", "::ffff:192.0.2.1"):
        request = SimpleNamespace(META={"REMOTE_ADDR": address}, user=manager)
        rows.append(audit_record(action="view", object_type="call", request=request))
    return rows


def _break(statement: str, *params) -> None:
    """Run raw SQL against the audit table with its triggers lifted (inside a transaction
    the caller rolls back, so the triggers come back)."""
    with connection.cursor() as cursor:
        for drop in MIGRATION.TRIGGERS[connection.vendor][1]:
            cursor.execute(drop)
        cursor.execute(statement, params)


class Rollback(Exception):
    pass


def _detail_param() -> str:
    return "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"


# --- Linking ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_audit_record_links_to_the_one_before(practice, manager):
    rows = _varied(practice, manager)
    stored = list(AuditEvent.objects.order_by("sequence"))
    assert [row.pk for row in stored] == [row.pk for row in rows]
    assert [row.sequence for row in stored] == list(range(1, len(rows) + 1))
    assert stored[0].previous_hash == GENESIS
    for before, after in zip(stored, stored[1:], strict=False):
        assert after.previous_hash == before.hash
    for row in stored:
        # What the database gives back hashes to what was computed before the INSERT.
        fields = {name: getattr(row, name) for name in MIGRATION.CHAINED_FIELDS}
        assert row_hash(fields, row.previous_hash) == row.hash
        assert len(row.hash) == 64 and row.hash != row.previous_hash


@pytest.mark.django_db
def test_chain_verifies_after_many_writes(practice, manager):
    _varied(practice, manager)
    _write(150, practice=practice)
    # Written directly (as fixtures do) and in bulk: still linked in turn.
    AuditEvent.objects.create(action="view", object_type="patient", actor_label="fixture")
    AuditEvent.objects.bulk_create(
        AuditEvent(action="import", object_type="patient", actor_label="bulk", object_id=n)
        for n in range(20)
    )
    _write(30, user=manager)
    found = audit_chain_check()
    assert found.broken_at is None and verify_audit_chain() is None
    assert found.rows == AuditEvent.objects.count() == 8 + 150 + 1 + 20 + 30
    assert found.last_hash == AuditEvent.objects.latest("sequence").hash


@pytest.mark.django_db
def test_empty_log_verifies():
    assert audit_chain_check().rows == 0
    assert verify_audit_chain() is None


@pytest.mark.django_db
def test_canonical_json_spells_equal_values_alike():
    assert canonical_json({"b": 1.0, "a": [1, "é"]}) == canonical_json({"a": [1.0, "é"], "b": 1})
    # PostgreSQL's jsonb gives large floats back as integers.
    assert canonical_json(1e20) == canonical_json(100000000000000000000)
    assert canonical_json(1.5e300) == canonical_json(15 * 10**299)
    assert canonical_json(0.1) != canonical_json(0.10000000000000002)
    assert canonical_json("a") != canonical_json(["a"])


@pytest.mark.parametrize(
    "value",
    [0, 7, -120, 10**30, 0.0, -0.0, 2.5, -1e-7, 1e16, 1.5e300, True, None, "é\u202e🦷"],
)
def test_the_migration_spells_values_as_the_app_does(value):
    nested = {"v": value, "list": [value, {"k": value}]}
    assert MIGRATION._canonical_json(nested) == canonical_json(nested)


@pytest.mark.django_db
def test_the_migration_chains_old_rows_as_the_app_chains_new_ones(practice, manager):
    rows = _varied(practice, manager) + _write(5)
    expected = {row.pk: (row.sequence, row.previous_hash, row.hash) for row in rows}
    historical = MigrationExecutor(connection).loader.project_state(("core", "0004_audit_chain"))
    with pytest.raises(Rollback), transaction.atomic():
        _break("UPDATE core_auditevent SET sequence = -sequence, previous_hash = '', hash = ''")
        MIGRATION.chain_existing_rows(historical.apps, SimpleNamespace(connection=connection))
        recomputed = {
            pk: (sequence, previous, hashed)
            for pk, sequence, previous, hashed in AuditEvent.objects.values_list(
                "pk", "sequence", "previous_hash", "hash"
            )
        }
        assert recomputed == expected
        raise Rollback


# --- Append-only ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE core_auditevent SET actor_label = 'someone else'",
        "UPDATE core_auditevent SET detail = detail WHERE id = %(pk)s",
        "DELETE FROM core_auditevent WHERE id = %(pk)s",
        "DELETE FROM core_auditevent",
    ],
)
def test_raw_sql_update_and_delete_are_refused_by_the_database(statement):
    rows = _write(3)
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement % {"pk": rows[1].pk})
    assert AuditEvent.objects.filter(actor_label="test").count() == 3
    assert verify_audit_chain() is None


@pytest.mark.django_db
def test_orm_update_and_delete_are_refused():
    row = _write(1)[0]
    row.actor_label = "someone else"
    attempts = [
        row.save,
        row.delete,
        lambda: AuditEvent.objects.filter(pk=row.pk).update(actor_label="x"),
        lambda: AuditEvent.objects.filter(pk=row.pk).delete(),
        lambda: AuditEvent.objects.bulk_update([row], ["actor_label"]),
        lambda: AuditEvent.objects.bulk_create([AuditEvent()], ignore_conflicts=True),
    ]
    for attempt in attempts:
        with pytest.raises(AuditRowImmutable):
            attempt()
    assert AuditEvent.objects.get().actor_label == "test"


@pytest.mark.django_db
def test_a_practice_or_user_in_the_log_cannot_be_deleted(practice, manager):
    from django.db.models import ProtectedError

    _write(1, practice=practice, user=manager)
    for named in (practice, manager):
        with pytest.raises(ProtectedError) as refused:
            named.delete()
        assert any(isinstance(obj, AuditEvent) for obj in refused.value.protected_objects)
    assert verify_audit_chain() is None


@pytest.mark.django_db
def test_deleting_a_patient_keeps_their_audit_rows(patient):
    with transaction.atomic():
        audit_record(
            action="view", object_type="patient", patient_id=patient.pk, actor_label="test"
        )
    pk = patient.pk
    patient.delete()
    assert AuditEvent.objects.get().patient_id == pk
    assert verify_audit_chain() is None


# --- Tampering --------------------------------------------------------------------------


TAMPERING = {
    # One byte of the detail: "ab" becomes "ac".
    "detail": ("UPDATE core_auditevent SET detail = {detail} WHERE id = %s", '{"note": "ac"}'),
    "actor_label": ("UPDATE core_auditevent SET actor_label = %s WHERE id = %s", "tesT"),
    "patient_id": ("UPDATE core_auditevent SET patient_id = patient_id + 1 WHERE id = %s",),
    "object_id": ("UPDATE core_auditevent SET object_id = %s WHERE id = %s", "99"),
    "ip_address": ("UPDATE core_auditevent SET ip_address = %s WHERE id = %s", "10.0.0.8"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("column", TAMPERING)
def test_one_changed_value_is_found_at_its_row(column):
    rows = _write(5, detail={"note": "ab"}, request=None)
    target = rows[2]
    statement, *values = TAMPERING[column]
    with pytest.raises(Rollback), transaction.atomic():
        _break(statement.format(detail=_detail_param()), *values, target.pk)
        assert verify_audit_chain() == target.pk
        found = audit_chain_check()
        assert (found.rows, found.broken_at) == (2, target.pk)
        assert "contents do not match" in found.problem
        raise Rollback
    # Rolled back: the triggers and the row are as they were.
    assert verify_audit_chain() is None
    with pytest.raises(IntegrityError), transaction.atomic():
        _update_one(target.pk)


def _update_one(pk: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditevent SET actor_label = 'x' WHERE id = %s", [pk])


@pytest.mark.django_db
def test_a_moved_moment_is_found():
    rows = _write(3)
    with pytest.raises(Rollback), transaction.atomic():
        # One microsecond later, through the ORM's own conversion of the value.
        changed = rows[1].at + dt.timedelta(microseconds=1)
        value = connection.ops.adapt_datetimefield_value(changed)
        _break("UPDATE core_auditevent SET at = %s WHERE id = %s", value, rows[1].pk)
        assert verify_audit_chain() == rows[1].pk
        raise Rollback


@pytest.mark.django_db
def test_a_removed_row_is_found_at_the_next_one():
    rows = _write(5)
    with pytest.raises(Rollback), transaction.atomic():
        _break("DELETE FROM core_auditevent WHERE id = %s", rows[2].pk)
        found = audit_chain_check()
        assert found.broken_at == rows[3].pk and "missing" in found.problem
        raise Rollback


@pytest.mark.django_db
def test_a_rehashed_row_is_found_at_the_next_one():
    """Someone who changes a row and gives it a matching hash still breaks the next link."""
    rows = _write(4)
    target = rows[1]
    forged = {name: getattr(target, name) for name in MIGRATION.CHAINED_FIELDS}
    forged["actor_label"] = "someone else"
    with pytest.raises(Rollback), transaction.atomic():
        _break(
            "UPDATE core_auditevent SET actor_label = %s, hash = %s WHERE id = %s",
            "someone else",
            row_hash(forged, target.previous_hash),
            target.pk,
        )
        found = audit_chain_check()
        assert found.broken_at == rows[2].pk and "does not link" in found.problem
        raise Rollback


@pytest.mark.django_db
def test_the_newest_row_changed_is_found():
    rows = _write(3, detail={"note": "ab"})
    with pytest.raises(Rollback), transaction.atomic():
        statement, _ = TAMPERING["detail"]
        _break(statement.format(detail=_detail_param()), '{"note": "ab "}', rows[-1].pk)
        assert verify_audit_chain() == rows[-1].pk
        raise Rollback


# --- Concurrent writers (PostgreSQL) ----------------------------------------------------


def _in_thread(target, errors: list, *args) -> threading.Thread:
    def run():
        try:
            target(*args)
        except Exception as problem:  # reported by the test, not lost in the thread
            errors.append(problem)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@ON_POSTGRES
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain():
    writers, each = 6, 25
    start = threading.Barrier(writers)
    errors: list[Exception] = []

    def write(n: int) -> None:
        start.wait(timeout=10)
        for i in range(each):
            with transaction.atomic():
                audit_record(action="view", object_type="patient", object_id=i, actor_label=f"w{n}")
                if i % 5 == 0:
                    # Other work after the audit row, while the lock is held.
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_sleep(0.002)")

    threads = [_in_thread(write, errors, n) for n in range(writers)]
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    sequences = list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, writers * each + 1))
    labels = set(AuditEvent.objects.values_list("actor_label", flat=True))
    assert labels == {f"w{n}" for n in range(writers)}
    assert verify_audit_chain() is None


@ON_POSTGRES
@pytest.mark.django_db(transaction=True)
def test_a_second_writer_waits_for_the_first_and_links_after_it():
    """Without the lock the second writer would read the same last row and fail on the
    unique sequence; with it, it waits and links to the first writer's row."""
    _write(1)
    holding, release = threading.Event(), threading.Event()
    errors: list[Exception] = []
    written: dict[str, AuditEvent] = {}

    def first() -> None:
        with transaction.atomic():
            written["first"] = audit_record(action="view", object_type="a", actor_label="1")
            holding.set()
            release.wait(timeout=10)

    def second() -> None:
        holding.wait(timeout=10)
        with transaction.atomic():
            written["second"] = audit_record(action="view", object_type="b", actor_label="2")

    threads = [_in_thread(first, errors), _in_thread(second, errors)]
    assert holding.wait(timeout=10)
    deadline = time.monotonic() + 10
    while not _someone_waits_for_the_chain() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "second" not in written and _someone_waits_for_the_chain()
    release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert written["second"].sequence == written["first"].sequence + 1
    assert written["second"].previous_hash == written["first"].hash
    assert verify_audit_chain() is None


def _someone_waits_for_the_chain() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return cursor.fetchone()[0] > 0


# --- rapport audit ----------------------------------------------------------------------


@pytest.mark.django_db
def test_verify_command_reports_an_intact_chain():
    _write(3)
    out = io.StringIO()
    call_command("audit", "verify", "--no-progress", stdout=out)
    last = AuditEvent.objects.latest("sequence").hash
    assert out.getvalue().strip() == f"audit: 3 rows, chain intact (last hash {last})"


@pytest.mark.django_db
def test_verify_command_exits_1_at_the_broken_row():
    rows = _write(4)
    out = io.StringIO()
    with pytest.raises(Rollback), transaction.atomic():
        _break("UPDATE core_auditevent SET object_type = 'x' WHERE id = %s", rows[1].pk)
        with pytest.raises(SystemExit) as exit_:
            call_command("audit", "verify", "--no-progress", stdout=out)
        raise Rollback
    assert exit_.value.code == 1
    assert out.getvalue().startswith(f"audit: chain broken at row {rows[1].pk} (sequence 2:")
    assert "); 1 row before it verified" in out.getvalue()


@pytest.mark.django_db
def test_export_command_writes_a_period_of_one_practice_as_csv(practice, sister_practice):
    with time_machine.travel(dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC), tick=False):
        _write(1, practice=practice)
    with time_machine.travel(dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC), tick=False):
        audit_record(
            action="view",
            object_type="patient",
            practice=practice,
            actor_label="=HYPERLINK(1)",
            detail={"note": "José"},
        )
        _write(1, practice=sister_practice)
    with time_machine.travel(dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC), tick=False):
        _write(1, practice=practice)
        out, err = io.StringIO(), io.StringIO()
        call_command(
            "audit",
            "export",
            "--since",
            "2026-03-05",
            "--until",
            "2026-03-10",
            "--practice",
            practice.slug,
            stdout=out,
            stderr=err,
        )
    table = list(csv.reader(io.StringIO(out.getvalue())))
    assert table[0][:3] == ["sequence", "at (UTC)", "actor"]
    assert len(table) == 2
    assert table[1][2] == "'=HYPERLINK(1)"  # a spreadsheet shows it, never runs it
    assert table[1][7] == practice.name and '"José"' in table[1][11]
    assert "1 row exported" in err.getvalue()
    exported = AuditEvent.objects.get(object_type="audit_log")
    assert exported.action == "export" and exported.practice == practice
    assert exported.detail == {"rows": 1, "since": "2026-03-05", "until": "2026-03-10"}
    assert verify_audit_chain() is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("2026-13-01", "2026-12-31", "YYYY-MM-DD"),
        ("2026-03-02", "2026-03-01", "is before"),
    ],
)
def test_export_command_refuses_bad_dates(since, until, message):
    with pytest.raises(CommandError, match=message):
        call_command("audit", "export", "--since", since, "--until", until)


# --- Admin ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_audit_pages_are_read_only(client, manager, practice):
    row = _write(1, practice=practice)[0]
    client.force_login(manager)
    listing = client.get(reverse("admin:core_auditevent_changelist"))
    assert listing.status_code == 200
    detail = client.get(reverse("admin:core_auditevent_change", args=[row.pk]))
    assert detail.status_code == 200 and row.hash in detail.content.decode()
    assert 'name="_save"' not in detail.content.decode()
    assert client.get(reverse("admin:core_auditevent_add")).status_code == 403
    assert client.post(reverse("admin:core_auditevent_delete", args=[row.pk])).status_code == 403
    assert AuditEvent.objects.filter(pk=row.pk).exists()


@pytest.mark.django_db
def test_admin_exports_selected_rows_and_audits_the_export(client, manager, practice):
    rows = _write(2, practice=practice)
    client.force_login(manager)
    response = client.post(
        reverse("admin:core_auditevent_changelist"),
        {"action": "export_csv", "_selected_action": [row.pk for row in rows]},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [line[0] for line in table[1:]] == ["1", "2"]
    exported = AuditEvent.objects.get(object_type="audit_log")
    assert (exported.actor, exported.practice, exported.detail["rows"]) == (manager, practice, 2)
    assert verify_audit_chain() is None
