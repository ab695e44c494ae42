"""Working a case: the six steps in order, closing, the follow-up, alerts and messages."""

import datetime as dt

import pytest
import time_machine

from feedback.models import FeedbackItem
from messaging.models import OutboundMessage
from recovery import selectors, services
from recovery.actions import (
    alert_leave,
    alert_mark_done,
    case_follow_up_survey_send,
    case_message_send,
    follow_up_surveys_send_due,
)
from recovery.errors import RecoveryError
from recovery.models import CaseStep, RecoveryCase
from recovery.tests.factories import (
    RecentPatientFactory,
    complete,
    feedback,
    local,
    open_case,
    step,
    survey_answer,
    work_through,
)

pytestmark = pytest.mark.django_db

MONDAY = local("2026-04-06 09:00")
LATER = local("2026-04-06 11:00")


@pytest.fixture
def recent(practice):
    with time_machine.travel(MONDAY, tick=False):
        return RecentPatientFactory(
            practice=practice, first_name="Sam", last_name="Okafor", email="sam@example.com"
        )


@pytest.fixture
def case(practice, recent):
    return open_case(practice, patient=recent, at=MONDAY)


def close(case, outcome, *, user, at=LATER):
    return services.case_close(case=case, outcome=outcome, user=user, now=at)


# --- Recording steps ------------------------------------------------------------------


def test_steps_are_recorded_in_playbook_order(case, manager):
    with pytest.raises(RecoveryError, match="Record “Acknowledge” first"):
        complete(case, "listen", user=manager, at=LATER)

    recorded = complete(case, "acknowledge", user=manager, at=LATER, method="in_person")

    assert (recorded.completed_by, recorded.method) == (manager, CaseStep.Method.IN_PERSON)
    assert recorded.was_on_time
    with pytest.raises(RecoveryError, match="already recorded"):
        complete(case, "acknowledge", user=manager, at=LATER)
    with pytest.raises(RecoveryError, match="Unknown step"):
        complete(case, "celebrate", user=manager, at=LATER)


@pytest.mark.parametrize(
    ("notes", "message"),
    [("", "write it down"), ("  \n ", "write it down"), ("a\x00b", "cannot store")],
    ids=["empty", "blank", "nul"],
)
def test_what_was_said_is_required_and_storable(case, manager, notes, message):
    with pytest.raises(RecoveryError, match=message):
        complete(case, "acknowledge", user=manager, at=LATER, notes=notes)
    assert step(case, "acknowledge").completed_at is None


def test_notes_have_a_length_limit(case, manager):
    with pytest.raises(RecoveryError, match="5000"):
        complete(case, "acknowledge", user=manager, at=LATER, notes="x" * 5001)

    complete(case, "acknowledge", user=manager, at=LATER, notes="x" * 5000)


@pytest.mark.parametrize("method", ["", "fax", "CALL", "carrier pigeon"])
def test_the_method_must_be_one_we_know(case, manager, method):
    with pytest.raises(RecoveryError, match="How"):
        complete(case, "acknowledge", user=manager, at=LATER, method=method)


@pytest.mark.parametrize("score", [-1, 11])
def test_a_follow_up_score_is_zero_to_ten(case, manager, score):
    work_through(case, "implement", user=manager, at=LATER)

    with pytest.raises(RecoveryError, match="Score"):
        complete(case, "follow_up", user=manager, at=LATER, score=score)


def test_the_follow_up_score_is_the_satisfaction_after(case, manager):
    work_through(case, "implement", user=manager, at=LATER)

    complete(case, "follow_up", user=manager, at=local("2026-04-13 10:00"), score=9)

    case.refresh_from_db()
    assert case.satisfaction_after == 9


def test_a_late_step_is_marked_late_in_the_timeline(case, manager):
    late = complete(case, "acknowledge", user=manager, at=local("2026-04-07 09:01"))

    assert late.was_on_time is False
    assert case.events.filter(text="Acknowledge · Phone call (late)").exists()


# --- Closing -------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["recovered", "partly"])
def test_recovered_needs_the_follow_up_step(case, manager, outcome):
    work_through(case, "implement", user=manager, at=LATER)
    with pytest.raises(RecoveryError, match="Follow up"):
        close(case, outcome, user=manager)

    complete(case, "follow_up", user=manager, at=local("2026-04-13 10:00"), score=8)
    closed = close(case, outcome, user=manager, at=local("2026-04-13 11:00"))

    assert closed.status == RecoveryCase.Status.CLOSED
    assert closed.outcome == outcome
    assert closed.closed_at == local("2026-04-13 11:00")


def test_a_case_can_close_unrecovered_without_a_follow_up_but_only_once(case, manager):
    close(case, "not_recovered", user=manager)

    with pytest.raises(RecoveryError, match="already closed"):
        close(case, "unreachable", user=manager)
    with pytest.raises(RecoveryError, match="closed"):
        complete(case, "acknowledge", user=manager, at=LATER)


@pytest.mark.parametrize("outcome", ["", "fixed", "RECOVERED"])
def test_an_unknown_outcome_is_refused(case, manager, outcome):
    with pytest.raises(RecoveryError, match="Outcome"):
        close(case, outcome, user=manager)


# --- Follow-up survey and satisfaction -----------------------------------------------


@pytest.mark.parametrize("score", [9, 2])
def test_the_follow_up_survey_answer_completes_the_follow_up_without_a_new_case(
    case, recent, manager, score
):
    work_through(case, "implement", user=manager, at=LATER)
    with time_machine.travel(local("2026-04-12 10:00"), tick=False):
        invitation = case_follow_up_survey_send(case=case, user=manager)
    [sent] = OutboundMessage.objects.filter(kind="case_follow_up_survey")
    assert sent.to_address == "sam@example.com"
    assert invitation.survey.kind == "follow_up"

    survey_answer(
        recent,
        at=local("2026-04-13 19:00"),
        invitation=invitation,
        nps=score,
        text="Still a bit sore." if score < 5 else "",
    )

    case.refresh_from_db()
    follow_up = step(case, "follow_up")
    assert case.satisfaction_after == score
    assert follow_up.completed_at == local("2026-04-13 19:00")
    assert follow_up.method == CaseStep.Method.EMAIL
    assert RecoveryCase.objects.count() == 1
    assert FeedbackItem.objects.get(response__invitation=invitation).recovery_cases.count() == 0


def test_the_follow_up_survey_waits_for_the_implementation_and_goes_once(case, manager):
    with pytest.raises(RecoveryError, match="before asking"):
        case_follow_up_survey_send(case=case, user=manager)
    work_through(case, "implement", user=manager, at=LATER)

    first = case_follow_up_survey_send(case=case, user=manager)
    again = case_follow_up_survey_send(case=case, user=manager)

    assert first == again
    assert OutboundMessage.objects.filter(kind="case_follow_up_survey").count() == 1


def test_the_follow_up_survey_goes_a_day_before_the_follow_up_is_due_once(case, manager):
    work_through(case, "implement", user=manager, at=LATER)  # follow-up due Mon 13, 11:00

    assert follow_up_surveys_send_due(now=local("2026-04-12 10:59")) == 0
    assert follow_up_surveys_send_due(now=local("2026-04-12 11:00")) == 1
    assert follow_up_surveys_send_due(now=local("2026-04-12 11:15")) == 0

    case.refresh_from_db()
    assert case.follow_up_invitation is not None
    assert OutboundMessage.objects.filter(kind="case_follow_up_survey").count() == 1


def test_no_follow_up_survey_in_quiet_hours(case, manager):
    work_through(case, "implement", user=manager, at=LATER)

    # The practice's quiet hours run from 20:00 to 09:00, New York time.
    assert follow_up_surveys_send_due(now=local("2026-04-12 21:00")) == 0
    assert follow_up_surveys_send_due(now=local("2026-04-13 09:00")) == 1


def test_satisfaction_before_is_the_patients_last_answer_before_the_case(practice, recent):
    survey_answer(recent, at=local("2026-03-02 18:00"), nps=7)
    survey_answer(recent, at=local("2026-03-23 18:00"), nps=8)

    feedback(practice, "The waiting room was dirty.", at=MONDAY, patient=recent)

    [case] = RecoveryCase.objects.all()
    assert case.satisfaction_before == 8


def test_no_earlier_answer_no_satisfaction_before(practice, recent):
    feedback(practice, "The waiting room was dirty.", at=MONDAY, patient=recent)

    assert RecoveryCase.objects.get().satisfaction_before is None


# --- Next-visit alerts ---------------------------------------------------------------


def test_an_alert_shows_until_the_front_desk_marks_it_done(case, recent, manager, front_desk):
    alert = alert_leave(
        case=case, text="Greet Sam by name; apologise again for the wait.", user=manager, now=LATER
    )
    assert selectors.pending_alerts(user=front_desk, patients=[recent]) == {recent.pk: [alert]}

    with time_machine.travel(local("2026-04-20 08:30"), tick=False):
        done = alert_mark_done(alert=alert, user=front_desk)
    with time_machine.travel(local("2026-04-20 09:30"), tick=False):
        again = alert_mark_done(alert=alert, user=manager)

    assert done.done_by == front_desk
    assert again.done_at == done.done_at == local("2026-04-20 08:30")
    assert again.done_by == front_desk
    assert selectors.pending_alerts(user=front_desk, patients=[recent]) == {}


def test_an_alert_needs_a_patient_and_words(practice, case, manager):
    anonymous = open_case(practice, at=MONDAY, contact_name="Mrs Lee")

    with pytest.raises(RecoveryError, match="needs a patient"):
        alert_leave(case=anonymous, text="Be kind", user=manager)
    with pytest.raises(RecoveryError, match="write what"):
        alert_leave(case=case, text="   ", user=manager)
    with pytest.raises(RecoveryError):
        alert_leave(case=case, text="Be\x00kind", user=manager)


def test_other_practices_do_not_see_the_alert(case, recent, manager, outsider):
    alert_leave(case=case, text="Greet Sam by name.", user=manager)

    assert selectors.pending_alerts(user=outsider, patients=[recent]) == {}


# --- Messages to the patient ---------------------------------------------------------


def send(case, body, *, user, subject="We are sorry", kind="case_apology"):
    return case_message_send(case=case, kind=kind, subject=subject, body=body, user=user)


def test_a_message_is_queued_once_per_distinct_text(case, manager):
    first = send(case, "Dear Sam, we are sorry.", user=manager)
    again = send(case, "Dear Sam, we are sorry.", user=manager)

    assert first == again
    assert OutboundMessage.objects.filter(kind="case_apology").count() == 1
    assert first.to_address == "sam@example.com"

    send(case, "Dear Sam, we are very sorry.", user=manager)
    assert OutboundMessage.objects.filter(kind="case_apology").count() == 2


def test_a_message_body_is_escaped_in_its_html_part(case, manager):
    message = send(case, "Hello <script>alert(1)</script> & welcome", user=manager)

    assert "<script>" not in message.html_body
    assert "&lt;script&gt;" in message.html_body
    assert "<script>" in message.body  # the plain-text part is sent as written


def test_a_minors_messages_go_to_the_guardian(practice, manager):
    with time_machine.travel(MONDAY, tick=False):
        parent = RecentPatientFactory(practice=practice, email="parent@example.com")
        child = RecentPatientFactory(
            practice=practice,
            date_of_birth=dt.date(2017, 9, 1),
            guardian=parent,
            email="child@example.com",
        )
        case = open_case(practice, patient=child, at=MONDAY)

        message = send(case, "We are sorry about Leo's visit.", user=manager)

    assert message.to_address == "parent@example.com"
    assert message.patient == child


def test_a_message_needs_a_known_kind_a_patient_and_an_address(practice, case, recent, manager):
    with pytest.raises(RecoveryError, match="Unknown message"):
        send(case, "Hello", user=manager, kind="survey_invitation")
    anonymous = open_case(practice, at=MONDAY, contact_name="Mrs Lee")
    with pytest.raises(RecoveryError, match="no patient"):
        send(anonymous, "Hello", user=manager)
    recent.email, recent.phone = "", ""
    recent.save()
    with pytest.raises(RecoveryError, match="Call them"):
        send(case, "Hello", user=manager)
    assert not OutboundMessage.objects.filter(kind="case_apology").exists()
