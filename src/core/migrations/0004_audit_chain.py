"""Audit rows become a hash chain that the database keeps append-only.

Existing rows are chained in id order (the order they were written) before the triggers
that refuse UPDATE and DELETE are created. The hashing below is a frozen copy of
``core.audit`` at the time of writing (format 1), so this migration keeps meaning what it
meant if that module changes; ``test_audit_chain`` checks that the two agree.
"""

import datetime as dt
import decimal
import hashlib
import ipaddress
import json

import django.utils.timezone
from django.db import migrations, models

GENESIS = "0" * 64
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

# For each vendor, the statements that create the triggers and those that drop them.
TRIGGERS = {
    "postgresql": (
        [
            """
            CREATE FUNCTION core_auditevent_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit rows are append-only: % refused', TG_OP
                    USING ERRCODE = 'restrict_violation';
            END
            $$
            """,
            """
            CREATE TRIGGER core_auditevent_append_only
                BEFORE UPDATE OR DELETE ON core_auditevent
                FOR EACH ROW EXECUTE FUNCTION core_auditevent_append_only()
            """,
        ],
        [
            "DROP TRIGGER IF EXISTS core_auditevent_append_only ON core_auditevent",
            "DROP FUNCTION IF EXISTS core_auditevent_append_only()",
        ],
    ),
    "sqlite": (
        [
            """
            CREATE TRIGGER core_auditevent_no_update BEFORE UPDATE ON core_auditevent
            BEGIN SELECT RAISE(ABORT, 'audit rows are append-only: UPDATE refused'); END
            """,
            """
            CREATE TRIGGER core_auditevent_no_delete BEFORE DELETE ON core_auditevent
            BEGIN SELECT RAISE(ABORT, 'audit rows are append-only: DELETE refused'); END
            """,
        ],
        [
            "DROP TRIGGER IF EXISTS core_auditevent_no_update",
            "DROP TRIGGER IF EXISTS core_auditevent_no_delete",
        ],
    ),
}


def _number(value):
    number = decimal.Decimal(repr(value) if isinstance(value, float) else value)
    if not number.is_finite():
        return str(number)
    sign, digits, exponent = number.as_tuple()
    while len(digits) > 1 and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    if digits == (0,):
        return "0"
    return f"{'-' if sign else ''}{''.join(map(str, digits))}e{exponent}"


def _canonical_json(value):
    if value is None or isinstance(value, bool | str):
        return json.dumps(value)
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, dict):
        items = sorted((str(key), item) for key, item in value.items())
        return "{" + ",".join(f"{json.dumps(k)}:{_canonical_json(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_canonical_json(item) for item in value) + "]"
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _address(value):
    if value is None:
        return None
    try:
        return ipaddress.ip_address(value).packed.hex()
    except ValueError:
        return str(value)


def row_hash(row, previous_hash):
    at = row["at"].astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    payload = {
        "format": 1,
        "previous_hash": previous_hash,
        **{name: row[name] for name in CHAINED_FIELDS},
        "at": at + "Z",
        "ip_address": _address(row["ip_address"]),
    }
    return hashlib.sha256(_canonical_json(payload).encode("ascii")).hexdigest()


def chain_existing_rows(apps, schema_editor):
    AuditEvent = apps.get_model("core", "AuditEvent")
    rows = AuditEvent.objects.using(schema_editor.connection.alias).order_by("id")
    update = AuditEvent.objects.using(schema_editor.connection.alias).bulk_update
    previous, batch = GENESIS, []
    for sequence, event in enumerate(rows.iterator(chunk_size=2000), start=1):
        event.sequence = sequence
        row = {name: getattr(event, name) for name in CHAINED_FIELDS}
        event.previous_hash = previous
        event.hash = previous = row_hash(row, previous)
        batch.append(event)
        if len(batch) == 2000:
            update(batch, ["sequence", "previous_hash", "hash"])
            batch = []
    update(batch, ["sequence", "previous_hash", "hash"])


def _triggers(schema_editor, index):
    vendor = schema_editor.connection.vendor
    if vendor not in TRIGGERS:
        raise NotImplementedError(f"audit triggers for {vendor}: only SQLite and PostgreSQL")
    for statement in TRIGGERS[vendor][index]:
        # No parameters: the % in the PostgreSQL function is not a placeholder.
        schema_editor.execute(statement, params=None)


def create_triggers(apps, schema_editor):
    _triggers(schema_editor, 0)


def drop_triggers(apps, schema_editor):
    _triggers(schema_editor, 1)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_staffmember_extension"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="sequence",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="previous_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="at",
            field=models.DateTimeField(
                db_index=True, default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.RunPython(chain_existing_rows, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="auditevent",
            name="sequence",
            field=models.BigIntegerField(editable=False, unique=True),
        ),
        migrations.AlterModelOptions(
            name="auditevent",
            options={"ordering": ["-sequence"]},
        ),
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
