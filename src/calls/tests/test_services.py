"""``calls_record`` (merging, call-backs owed, deadlines) and the call-back actions."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import zoneinfo
from dataclasses import replace

import pytest

from calls.merging import CallIn, calls_merge
from calls.models import Call, CallbackTask, PhoneSystem
from calls.services import (
    CallsError,
    callback_assign,
    callback_complete,
    calls_record,
    phone_system_end_rotation,
    phone_system_for,
    phone_system_rotate_secret,
)
from calls.tests.factories import CallbackTaskFactory
from core.models import AuditEvent, ClosedDay
from core.tests.factories import PracticeFactory

pytestmark = pytest.mark.django_db

CALLER = "+12025550143"
UTC = dt.UTC
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def at(hour: int, minute: int = 0, second: int = 0, *, day: int = 4) -> dt.datetime:
    """A moment of March 2026 in the practice's time zone; the 4th is a Wednesday and the
    clocks go forward on Sunday the 8th.

    The practice keeps core.services.DEFAULT_HOURS: 8–12 and 13–17, Monday to Friday.
    """
    return dt.datetime(2026, 3, day, hour, minute, second, tzinfo=NEW_YORK).astimezone(UTC)


def call(external_id: str, started_at: dt.datetime, disposition: str = "missed", **values):
    return CallIn(
        source=values.pop("source", "webhook"),
        external_id=external_id,
        direction=values.pop("direction", "inbound"),
        caller=values.pop("caller", CALLER),
        called=values.pop("called", "+12025550100"),
        started_at=started_at,
        ring_seconds=values.pop("ring_seconds", 20),
        talk_seconds=values.pop("talk_seconds", 0 if disposition != "answered" else 60),
        disposition=disposition,
        **values,
    )


def state(practice) -> list[tuple]:
    """Calls and call-backs as comparable tuples, whatever their ids."""
    calls = sorted(
        Call.objects.filter(practice=practice).values_list(
            "external_id",
            "direction",
            "caller",
            "number",
            "started_at",
            "ring_seconds",
            "talk_seconds",
            "disposition",
            "extension",
            "caller_name",
        )
    )
    tasks = sorted(
        CallbackTask.objects.filter(practice=practice).values_list(
            "call__external_id", "number", "due_at", "outcome", "done_at"
        )
    )
    return [calls, tasks]


# --- Deadlines ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("started_at", "due_at", "why"),
    [
        (at(10, 0), at(10, 15), "in hours: 15 business minutes"),
        (at(11, 50), at(13, 5), "the lunch closure does not count"),
        (at(16, 50), at(8, 5, day=5), "the rest runs on from the next opening"),
        (at(18, 30), at(8, 0, day=5), "after hours: due at the next opening"),
        (at(12, 30), at(13, 0), "at lunch: due when the practice opens again"),
        (at(19, 0, day=6), at(8, 0, day=9), "Friday evening: Monday morning (now EDT)"),
        (at(7, 59), at(8, 0), "before opening: at opening"),
    ],
)
def test_call_back_deadlines(practice, started_at, due_at, why):
    calls_record(practice=practice, calls=[call("c-1", started_at)])
    assert CallbackTask.objects.get().due_at == due_at, why


def test_a_closed_day_moves_the_deadline(practice):
    ClosedDay.objects.create(practice=practice, date=dt.date(2026, 3, 5), reason="Training")
    calls_record(practice=practice, calls=[call("c-1", at(18, 30))])
    assert CallbackTask.objects.get().due_at == at(8, 0, day=6)


def test_the_practice_sets_its_call_back_minutes(practice):
    phone_system = phone_system_for(practice)
    phone_system.callback_minutes = 60
    phone_system.save()
    calls_record(practice=practice, calls=[call("c-1", at(10, 0))])
    assert CallbackTask.objects.get().due_at == at(11, 0)


# --- Which calls owe a call-back --------------------------------------------------------------


@pytest.mark.parametrize("disposition", ["missed", "voicemail", "abandoned"])
def test_every_call_that_did_not_get_through_owes_a_call_back(practice, patient, disposition):
    patient.phone = CALLER
    patient.save()
    calls_record(practice=practice, calls=[call("c-1", at(10), disposition)])
    task = CallbackTask.objects.get()
    assert (task.number, task.patient, task.call.external_id) == (CALLER, patient, "c-1")
    assert (task.done_at, task.outcome, task.owner) == (None, "", None)


@pytest.mark.parametrize(
    ("values", "why"),
    [
        ({"disposition": "answered"}, "answered"),
        ({"direction": "outbound", "called": CALLER}, "we called them"),
        ({"direction": "internal", "caller": "101", "called": "102"}, "between extensions"),
        ({"caller": "anonymous"}, "withheld number"),
        ({"caller": ""}, "no caller id"),
        ({"caller": "+12025550100"}, "the practice's own line"),
        ({"caller": "101"}, "an extension"),
    ],
)
def test_calls_that_owe_no_call_back(practice, values, why):
    practice.phone = "+12025550100"
    practice.save()
    disposition = values.pop("disposition", "missed")
    calls_record(practice=practice, calls=[call("c-1", at(10), disposition, **values)])
    assert not CallbackTask.objects.exists(), why


def test_a_later_answered_call_closes_the_task_as_got_through(practice):
    calls_record(practice=practice, calls=[call("c-1", at(10)), call("c-2", at(10, 5))])
    assert CallbackTask.objects.filter(done_at__isnull=True).count() == 2
    result = calls_record(practice=practice, calls=[call("c-3", at(10, 30), "answered")])
    assert result.tasks_closed == 2
    for task in CallbackTask.objects.all():
        assert (task.outcome, task.done_at, task.done_by) == ("got_through", at(10, 30), None)


def test_an_answered_call_back_closes_the_task(practice):
    calls_record(practice=practice, calls=[call("c-1", at(10))])
    calls_record(
        practice=practice,
        calls=[
            call("c-2", at(10, 20), "answered", direction="outbound", caller="101", called=CALLER)
        ],
    )
    assert CallbackTask.objects.get().outcome == "got_through"


def test_an_answered_call_before_the_missed_one_does_not_close_it(practice):
    calls_record(practice=practice, calls=[call("c-1", at(10), "answered")])
    calls_record(practice=practice, calls=[call("c-2", at(10, 30))])
    assert CallbackTask.objects.get().done_at is None


def test_missed_and_answered_in_one_batch_make_no_task(practice):
    result = calls_record(
        practice=practice, calls=[call("c-2", at(10, 5), "answered"), call("c-1", at(10))]
    )
    assert result.tasks_created == 0
    assert not CallbackTask.objects.exists()


def test_a_task_done_by_a_person_is_left_alone(practice, front_desk):
    calls_record(practice=practice, calls=[call("c-1", at(10))])
    task = CallbackTask.objects.get()
    callback_complete(task=task, outcome="voicemail", user=front_desk)
    calls_record(practice=practice, calls=[call("c-2", at(11), "answered")])
    task.refresh_from_db()
    assert (task.outcome, task.done_by) == ("voicemail", front_desk)


def test_another_number_or_practice_is_not_affected(practice, sister_practice):
    calls_record(practice=practice, calls=[call("c-1", at(10))])
    calls_record(practice=sister_practice, calls=[call("c-2", at(11), "answered")])
    calls_record(practice=practice, calls=[call("c-3", at(11), "answered", caller="+12025550177")])
    assert CallbackTask.objects.get().done_at is None


def test_a_missed_leg_later_merged_with_an_answered_leg_closes_its_task(practice):
    calls_record(practice=practice, calls=[call("c-1", at(10))])
    calls_record(practice=practice, calls=[call("c-1", at(10, 0), "answered", extension="102")])
    task = CallbackTask.objects.get()
    assert Call.objects.get().disposition == "answered"
    assert (task.outcome, task.done_at) == ("got_through", at(10) + dt.timedelta(seconds=20))


# --- The same result whatever the order -------------------------------------------------------


def _story():
    """A morning of one caller and one other number, as separate records."""
    other = "+12025550177"
    return [
        call("a", at(9, 0)),
        call("b", at(9, 10), "voicemail"),
        call("c", at(9, 30), "answered"),
        call("d", at(18, 0), "abandoned"),
        call("e", at(9, 5), caller=other),
        call("e", at(9, 5, 10), "answered", caller=other, extension="101", ring_seconds=12),
        call("f", at(19, 0), caller=other, caller_name="Late caller"),
    ]


def _record_in_pieces(practice, records: list[CallIn], pieces: int) -> None:
    size = max(1, len(records) // pieces)
    for start in range(0, len(records), size):
        calls_record(practice=practice, calls=records[start : start + size])


def test_calls_converge_whatever_order_and_batches_they_come_in(practice):
    records = _story()
    calls_record(practice=practice, calls=records)
    expected = state(practice)
    # "a" and "b" got through with "c"; "e" was answered after its first leg.
    assert [(t[0], t[3]) for t in expected[1]] == [("d", ""), ("f", "")]

    rng = random.Random(7)
    orders = [rng.sample(records, len(records)) for _ in range(12)]
    for order, pieces in itertools.product(orders, (1, 3, len(records))):
        Call.objects.filter(practice=practice).delete()
        _record_in_pieces(practice, order, pieces)
        actual = state(practice)
        assert actual[0] == expected[0]
        # Call-backs: the same calls owe one; those that came before their answered call
        # (or answered leg) in another batch were opened and then closed as got through.
        open_tasks = sorted(t[0] for t in actual[1] if t[4] is None)
        assert open_tasks == ["d", "f"]
        assert {t[0] for t in actual[1]} <= {"a", "b", "d", "e", "f"}
        assert all(t[3] == "got_through" for t in actual[1] if t[4] is not None)


def test_recording_the_same_calls_again_changes_nothing(practice):
    records = _story()
    calls_record(practice=practice, calls=records)
    before = state(practice)
    result = calls_record(practice=practice, calls=records)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 6)
    assert result.tasks_created == result.tasks_closed == 0
    assert state(practice) == before


def test_merging_is_order_free_and_idempotent():
    legs = [
        call("x", at(10, 0, 5), "missed", extension="101", ring_seconds=25),
        call("x", at(10, 0, 0), "abandoned", ring_seconds=3, caller_name="Dana"),
        call("x", at(10, 0, 9), "answered", extension="102", ring_seconds=11, talk_seconds=90),
        call("x", at(10, 0, 9), "answered", extension="103", ring_seconds=40, talk_seconds=90),
        call("x", at(10, 1, 0), "voicemail", talk_seconds=30),
    ]
    results = set()
    for order in itertools.permutations(legs):
        merged = order[0]
        for leg in order[1:]:
            merged = calls_merge(merged, leg)
        results.add(merged)
    assert len(results) == 1
    merged = results.pop()
    assert calls_merge(merged, merged) == merged
    assert merged.started_at == at(10, 0, 0) and merged.caller_name == "Dana"
    assert (merged.disposition, merged.talk_seconds, merged.extension) == ("answered", 90, "103")
    assert merged.ring_seconds == 20  # until the earliest answer, at 10:00:20
    assert all(calls_merge(merged, leg) == merged for leg in legs)


def test_hostile_values_are_cleaned_before_storing(practice):
    calls_record(
        practice=practice,
        calls=[
            call(
                "c-1",
                at(10),
                caller="(202) 555-0143",
                caller_name="\u202eevil\u202c <b>x</b>\x07" + "y" * 10_000,
                extension="1" * 500,
            ),
            call("c-2", at(10), caller="x" * 10_000),
        ],
    )
    first, second = Call.objects.order_by("external_id")
    assert first.caller == CALLER
    assert first.caller_name == "evil <b>x</b> " + "y" * 66
    assert len(first.caller_name) == 80 and len(first.extension) == 40
    assert second.caller == "x" * 40 and second.number == ""


def test_a_call_whose_number_changes_moves_to_the_new_number(practice):
    calls_record(practice=practice, calls=[call("c-1", at(10), caller="anonymous")])
    assert not CallbackTask.objects.exists()
    # Another record of the same call, earlier, with the caller id: the number is known now.
    calls_record(practice=practice, calls=[replace(call("c-1", at(9, 59)), caller=CALLER)])
    assert CallbackTask.objects.get().number == CALLER
    # An earlier record still, with a corrected number: the open task follows the call.
    other = "+12025550177"
    calls_record(practice=practice, calls=[call("c-1", at(9, 58), caller=other)])
    task = CallbackTask.objects.get()
    assert (task.number, task.call.number, task.due_at) == (other, other, at(10, 13))


# --- Working the call-backs -----------------------------------------------------------------------


def test_callback_complete_is_audited_and_refuses_a_second_completion(practice, front_desk):
    task = CallbackTaskFactory(call__practice=practice)
    done = callback_complete(task=task, outcome="booked", user=front_desk, notes=" Booked Tue ")
    assert (done.outcome, done.notes, done.done_by) == ("booked", "Booked Tue", front_desk)
    assert done.done_at is not None
    audit = AuditEvent.objects.get(object_type="callback_task")
    assert (audit.actor, audit.object_id, audit.detail) == (
        front_desk,
        str(task.pk),
        {"outcome": "booked"},
    )
    with pytest.raises(CallsError, match="already done"):
        callback_complete(task=task, outcome="reached", user=front_desk)
    task.refresh_from_db()
    assert task.outcome == "booked"


@pytest.mark.parametrize(
    ("outcome", "notes", "message"),
    [
        ("got_through", "", "Choose what came of the call-back"),
        ("nonsense", "", "Choose what came of the call-back"),
        ("reached", "x\x00y", "Notes"),
        ("reached", "x" * 2001, "Notes"),
    ],
)
def test_callback_complete_refuses_bad_input(practice, front_desk, outcome, notes, message):
    task = CallbackTaskFactory(call__practice=practice)
    with pytest.raises(CallsError, match=message):
        callback_complete(task=task, outcome=outcome, user=front_desk, notes=notes)
    task.refresh_from_db()
    assert task.done_at is None


def test_only_the_practices_staff_work_its_call_backs(practice, outsider, front_desk):
    task = CallbackTaskFactory(call__practice=practice)
    with pytest.raises(CallsError, match="Only staff"):
        callback_complete(task=task, outcome="reached", user=outsider)
    with pytest.raises(CallsError, match="Only staff"):
        callback_assign(task=task, owner=front_desk, user=outsider)
    with pytest.raises(CallsError, match="must work at the practice"):
        callback_assign(task=task, owner=outsider, user=front_desk)
    assert not AuditEvent.objects.filter(object_type="callback_task").exists()


def test_callback_assign(practice, manager, front_desk):
    task = CallbackTaskFactory(call__practice=practice)
    callback_assign(task=task, owner=front_desk, user=manager)
    task.refresh_from_db()
    assert task.owner == front_desk
    assert AuditEvent.objects.get(object_type="callback_task").detail == {"owner": front_desk.pk}
    callback_assign(task=task, owner=None, user=front_desk)
    task.refresh_from_db()
    assert task.owner is None
    callback_complete(task=task, outcome="no_answer", user=front_desk)
    with pytest.raises(CallsError, match="already done"):
        callback_assign(task=task, owner=front_desk, user=manager)


def test_a_director_works_call_backs_of_the_organisation(practice, director):
    task = CallbackTaskFactory(call__practice=practice)
    callback_complete(task=task, outcome="wrong_number", user=director)


# --- Phone-system settings ----------------------------------------------------------------------


def test_phone_system_secrets_and_rotation(practice, manager):
    phone_system = phone_system_for(practice)
    assert phone_system_for(practice) == phone_system
    first = phone_system.webhook_secret
    assert first.startswith("whsec_") and len(first) == 50
    assert PhoneSystem.objects.get(practice=practice).webhook_id != ""
    rotated = phone_system_rotate_secret(phone_system=phone_system, user=manager)
    assert rotated.previous_webhook_secret == first and rotated.webhook_secret != first
    ended = phone_system_end_rotation(phone_system=rotated, user=manager)
    assert ended.previous_webhook_secret == ""
    audits = AuditEvent.objects.filter(object_type="phone_system")
    assert [a.detail for a in audits.order_by("pk")] == [
        {"change": "rotate secret"},
        {"change": "end rotation"},
    ]
    assert not any(first in str(a.detail) for a in audits)


def test_each_practice_has_its_own_webhook_id_and_secret(organisation):
    one, two = (phone_system_for(PracticeFactory(organisation=organisation)) for _ in range(2))
    assert one.webhook_id != two.webhook_id
    assert one.webhook_secret != two.webhook_secret
