"""The missed-call list, taking and logging call-backs, the call figures and the patient page.

Pages are read on Wednesday 4 March 2026 at 10:00 in New York (``WEDNESDAY``): the practice
keeps the default hours, 8–12 and 13–17 on weekdays, so the clocks below are exact.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from calls.models import Call, CallbackTask
from calls.tests.factories import CallbackTaskFactory, CallFactory
from conftest import OTHER_CANARY
from core.models import AuditEvent

pytestmark = pytest.mark.django_db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=NEW_YORK)


WEDNESDAY = at(4, 10)


@pytest.fixture(autouse=True)
def _wednesday_morning():
    with time_machine.travel(WEDNESDAY, tick=False):
        yield


def missed(practice, when, due_at, **call_fields) -> CallbackTask:
    patient = call_fields.get("patient")
    return CallbackTaskFactory(
        call__practice=practice, call__started_at=when, patient=patient, due_at=due_at,
        **{f"call__{name}": value for name, value in call_fields.items()},
    )  # fmt: skip


@pytest.fixture
def desk(client, front_desk):
    client.force_login(front_desk)
    return client


@pytest.fixture
def tasks(practice, patient, other_practice):
    """Dana's missed call, a new caller's, an after-hours one, and one done this morning."""
    return {
        "dana": missed(practice, at(4, 9), at(4, 9, 15), patient=patient, caller=patient.phone),
        "new": missed(
            practice,
            at(4, 9, 55),
            at(4, 10, 10),
            caller="+12025550177",
            caller_name="<b>Pat</b>",
            new_caller=True,
        ),
        "evening": missed(practice, at(3, 20), at(4, 8), caller="+12025550188"),
        "done": CallbackTaskFactory(
            call__practice=practice,
            call__started_at=at(4, 8, 30),
            due_at=at(4, 8, 45),
            done_at=at(4, 8, 40),
            outcome="voicemail",
            notes="Left our direct line",
        ),
        "foreign": missed(
            other_practice, at(4, 9), at(4, 9, 15), caller_name=f"{OTHER_CANARY} caller"
        ),
    }


def open_rows(page: str) -> str:
    return page.split('id="open-callbacks"')[1].split("</table>")[0]


# --- The list -------------------------------------------------------------------------


def test_open_call_backs_come_overdue_first_with_business_time_clocks(desk, tasks, patient):
    response = desk.get(reverse("calls:callback-list"))

    assert response.status_code == 200
    rows = open_rows(response.content.decode())
    order = [rows.index(f'id="task-{tasks[name].pk}"') for name in ("evening", "dana", "new")]
    assert order == sorted(order)
    assert f'id="task-{tasks["done"].pk}"' not in rows
    # Due at 08:00 after an evening call: two opening hours ago.
    assert "overdue by 2 h" in rows
    assert "overdue by 45 min" in rows  # Dana's, due 09:15
    assert "due in 10 min" in rows  # the new caller's, due 10:10
    assert (
        "Dana Whitfield" in rows and reverse("patients:patient-detail", args=[patient.pk]) in rows
    )
    assert "new caller" in rows and "(202) 555-0177" in rows
    assert "&lt;b&gt;Pat&lt;/b&gt;" in rows and "<b>Pat</b>" not in rows
    assert OTHER_CANARY not in response.content.decode()


def test_done_today_lists_the_call_backs_done_since_midnight(desk, tasks):
    page = desk.get(reverse("calls:callback-list")).content.decode()

    done = page.split('id="done-callbacks"')[1].split("</table>")[0]
    assert f'id="done-{tasks["done"].pk}"' in done
    assert "Left a voicemail" in done and "Left our direct line" in done


def test_the_list_is_audited_with_the_patients_it_shows(desk, tasks, practice, patient):
    before = AuditEvent.objects.count()

    desk.get(reverse("calls:callback-list"))

    event = AuditEvent.objects.order_by("-pk").first()
    assert AuditEvent.objects.count() == before + 1
    assert (event.action, event.object_type, event.practice) == ("list", "callback_task", practice)
    assert event.detail == {"patient_ids": [patient.pk]}


def test_a_call_back_due_after_hours_is_due_at_the_opening(desk, practice):
    task = missed(practice, at(4, 17, 30), at(5, 8))
    with time_machine.travel(at(4, 18), tick=False):
        rows = open_rows(desk.get(reverse("calls:callback-list")).content.decode())
    assert f'id="task-{task.pk}"' in rows
    assert "due when the practice opens" in rows


def test_recent_calls_filter_by_outcome_direction_and_day(desk, practice):
    CallFactory(
        practice=practice, started_at=at(4, 9), disposition="answered", caller="+12025550111"
    )
    CallFactory(
        practice=practice, started_at=at(4, 9, 5), disposition="missed", caller="+12025550166"
    )
    CallFactory(practice=practice, started_at=at(3, 9), disposition="missed", caller="+12025550155")
    CallFactory(practice=practice, started_at=at(4, 9, 10), direction="outbound", caller="101",
                called="+12025550144", number="+12025550144", disposition="answered")  # fmt: skip

    def shown(**query) -> set[str]:
        page = desk.get(reverse("calls:callback-list"), query).content.decode()
        table = (
            page.split('id="recent-calls"')[1].split("</table>")[0]
            if "recent-calls" in page
            else ""
        )
        numbers = ("555-0166", "555-0155", "555-0144")
        return {n for n in numbers if n in table}

    assert shown() == {"555-0166", "555-0155", "555-0144"}
    assert shown(disposition="missed") == {"555-0166", "555-0155"}
    assert shown(disposition="missed", day="2026-03-04") == {"555-0166"}
    assert shown(direction="outbound") == {"555-0144"}
    # Nonsense filters are ignored rather than failing.
    assert shown(disposition="<script>", day="soon") == {"555-0166", "555-0155", "555-0144"}


def test_the_list_reads_a_fixed_number_of_queries(desk, practice, patient):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert desk.get(reverse("calls:callback-list")).status_code == 200
        return len(captured)

    missed(practice, at(4, 9), at(4, 9, 15), patient=patient)
    few = queries()
    for minute in range(10):
        missed(practice, at(4, 9, minute), at(4, 9, 15 + minute), patient=patient)
    assert queries() == few


# --- Taking and logging call-backs ------------------------------------------------------


def test_take_it_gives_the_call_back_to_me(desk, tasks, front_desk):
    task = tasks["dana"]

    response = desk.post(reverse("calls:callback-assign", args=[task.pk]))

    assert response.status_code == 302 and response["Location"] == reverse("calls:callback-list")
    task.refresh_from_db()
    assert task.owner == front_desk
    assert AuditEvent.objects.filter(
        object_type="callback_task", object_id=str(task.pk), action="update"
    ).exists()
    rows = open_rows(desk.get(reverse("calls:callback-list")).content.decode())
    row = rows.split(f'id="task-{task.pk}"')[1].split("</tr>")[0]
    assert "Take it" not in row  # already mine


def test_logging_reached_booked_closes_the_call_back_once(desk, tasks, front_desk):
    task = tasks["dana"]
    url = reverse("calls:callback-complete", args=[task.pk])

    response = desk.post(url, {"outcome": "booked", "notes": "Booked a cleaning on Tuesday."})

    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.outcome, task.done_by, task.notes) == (
        "booked",
        front_desk,
        "Booked a cleaning on Tuesday.",
    )
    assert task.done_at == WEDNESDAY
    page = desk.get(reverse("calls:callback-list")).content.decode()
    assert f'id="task-{task.pk}"' not in open_rows(page)
    assert f'id="done-{task.pk}"' in page and "Booked a cleaning on Tuesday." in page
    assert "Logged: reached — booked a visit." in page

    again = desk.post(url, {"outcome": "no_answer", "notes": "Again"})

    assert again.status_code == 400
    assert "already done" in again.content.decode()
    task.refresh_from_db()
    assert (task.outcome, task.notes) == ("booked", "Booked a cleaning on Tuesday.")


@pytest.mark.parametrize(
    ("outcome", "notes", "reason"),
    [
        ("", "Called", "Choose what came of the call-back"),
        ("got_through", "", "Choose what came of the call-back"),
        ("maybe", "", "Choose what came of the call-back"),
        ("booked", "Booked\x00 for Tuesday", "plain text under 2000 characters"),
        ("booked", "x" * 2001, "plain text under 2000 characters"),
    ],
)
def test_bad_outcomes_and_notes_are_refused_and_nothing_is_stored(
    desk, tasks, outcome, notes, reason
):
    task = tasks["dana"]
    audits = AuditEvent.objects.filter(action="update").count()

    response = desk.post(
        reverse("calls:callback-complete", args=[task.pk]), {"outcome": outcome, "notes": notes}
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert reason in page
    # The list comes back with the task still open, next to the reason.
    assert f'id="task-{task.pk}"' in open_rows(page)
    task.refresh_from_db()
    assert (task.done_at, task.outcome, task.notes, task.done_by) == (None, "", "", None)
    assert AuditEvent.objects.filter(action="update").count() == audits


def test_another_practices_call_back_is_404_and_stays_as_it_was(desk, tasks):
    foreign = tasks["foreign"]
    for name, data in [
        ("calls:callback-assign", {}),
        ("calls:callback-complete", {"outcome": "booked", "notes": "x"}),
    ]:
        response = desk.post(reverse(name, args=[foreign.pk]), data)
        assert response.status_code == 404, name
        assert OTHER_CANARY not in response.content.decode()
        assert desk.get(reverse(name, args=[foreign.pk])).status_code == 405
    foreign.refresh_from_db()
    assert (foreign.owner, foreign.done_at, foreign.outcome) == (None, None, "")


def test_any_staff_member_works_call_backs(client, tasks, clinician, manager):
    for person, name in [(clinician, "dana"), (manager, "new")]:
        client.force_login(person)
        url = reverse("calls:callback-complete", args=[tasks[name].pk])
        assert client.post(url, {"outcome": "reached"}).status_code == 302
    assert CallbackTask.objects.filter(outcome="reached").count() == 2


# --- The figures ----------------------------------------------------------------------


def test_dashboard_shows_the_heatmap_the_chart_and_the_people(desk, practice, front_desk):
    from core.tests.factories import StaffMemberFactory

    frank = StaffMemberFactory(practice=practice, name="Frank Desk", user=front_desk, extension="7")
    CallFactory(practice=practice, started_at=at(2, 9, 10), disposition="answered", staff=frank)
    CallFactory(practice=practice, started_at=at(2, 9, 40), disposition="missed")

    response = desk.get(reverse("calls:dashboard"))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="heatmap"' in page and "<caption" in page
    cell = page.split('data-weekday="0" data-hour="9"')[1].split("</td>")[0]
    assert "50%" in cell and "1/2" in cell
    assert 'id="calls-chart"' in page and 'id="calls-chart-data"' in page
    assert "chart.umd.min.js" in page
    assert "Frank Desk" in page.split('id="staff-table"')[1]
    assert 'id="figure-answered">50%' in page


def test_the_dashboard_reads_a_fixed_number_of_queries(desk, practice, patient, front_desk):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert desk.get(reverse("calls:dashboard")).status_code == 200
        return len(captured)

    def week_of_calls(day: int) -> None:
        for hour in (9, 10, 14):
            CallFactory(practice=practice, started_at=at(day, hour), disposition="answered")
        task = missed(practice, at(day, 11), at(day, 11, 15), patient=patient, new_caller=True)
        CallbackTask.objects.filter(pk=task.pk).update(
            done_at=at(day, 11, 5), outcome="booked", done_by=front_desk
        )

    week_of_calls(2)
    few = queries()
    for day in (3, 4):
        week_of_calls(day)
    assert queries() == few


def test_dashboard_period_filter_and_its_errors(desk, practice):
    CallFactory(practice=practice, started_at=at(2, 9, 10), disposition="answered")

    chosen = desk.get(reverse("calls:dashboard"), {"from": "2026-03-03", "to": "2026-03-04"})
    assert chosen.status_code == 200
    assert 'id="heatmap"' not in chosen.content.decode()  # Monday's call is outside

    bad = desk.get(reverse("calls:dashboard"), {"from": "2026-03-04", "to": "2026-03-01"})
    assert bad.status_code == 400
    assert "The period must end on or after its first day." in bad.content.decode()
    assert 'id="heatmap"' in bad.content.decode()  # the last 90 days instead


# --- The patient page -----------------------------------------------------------------


def test_the_patient_page_shows_their_calls_and_the_open_call_back(
    desk, tasks, patient, other_patient
):
    CallFactory(
        practice=patient.practice,
        patient=patient,
        started_at=at(2, 11),
        disposition="answered",
        talk_seconds=125,
    )
    CallFactory(practice=other_patient.practice, patient=other_patient, started_at=at(2, 11))

    page = desk.get(reverse("patients:patient-detail", args=[patient.pk])).content.decode()

    section = page.split('id="patient-calls"')[1].split("</section>")[0]
    assert "Mon Mar 2, 2026 · 11:00 a.m." in section and "2:05" in section
    assert "Wed Mar 4, 2026 · 9:00 a.m." in section  # the missed one
    assert "not returned yet: call back by Wed Mar 4, 9:15 a.m." in section
    assert section.count("<tr>") == 1 + 2  # the header and her two calls
    assert OTHER_CANARY not in page


def test_a_patient_without_calls_says_so(desk, patient):
    page = desk.get(reverse("patients:patient-detail", args=[patient.pk])).content.decode()
    assert "No calls from or to their phone yet." in page
    assert Call.objects.count() == 0
