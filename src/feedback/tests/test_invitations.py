"""When patients are asked: delay, quiet hours, time zones, DST, throttle and opt-out."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from feedback.models import FeedbackPolicy, SurveyInvitation
from feedback.services import invitations_send_due, is_quiet_time
from patients.tests.factories import AppointmentFactory, PatientFactory

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
PHOENIX = zoneinfo.ZoneInfo("America/Phoenix")


def _visit(patient, starts_at, **fields):
    return AppointmentFactory(
        patient=patient,
        practice=patient.practice,
        starts_at=starts_at,
        duration_minutes=60,
        **fields,
    )


@pytest.fixture
def policy(practice):
    return FeedbackPolicy.objects.create(practice=practice)


@pytest.mark.parametrize(
    ("local", "quiet"),
    [
        (dt.time(8, 59), True),
        (dt.time(9, 0), False),
        (dt.time(19, 59), False),
        (dt.time(20, 0), True),
        (dt.time(0, 0), True),  # midnight
        (dt.time(23, 59), True),
    ],
)
def test_quiet_hours_edges_in_the_practice_time_zone(policy, local, quiet):
    moment = dt.datetime.combine(dt.date(2026, 11, 24), local, tzinfo=NEW_YORK)
    assert is_quiet_time(policy, moment) is quiet


def test_quiet_hours_follow_the_clock_across_the_dst_change(policy):
    # 2026-03-08 02:00 New York springs forward: 13:30 UTC is 08:30 EST the day before
    # but 09:30 EDT on the day itself.
    assert is_quiet_time(policy, dt.datetime(2026, 3, 7, 13, 30, tzinfo=dt.UTC))
    assert not is_quiet_time(policy, dt.datetime(2026, 3, 8, 13, 30, tzinfo=dt.UTC))


def test_no_invitation_before_the_delay_then_one(practice, policy, patient):
    visit = _visit(patient, dt.datetime(2026, 11, 24, 10, 0, tzinfo=NEW_YORK))
    # The visit ends at 11:00; the default delay is two hours.
    assert invitations_send_due(now=dt.datetime(2026, 11, 24, 12, 59, tzinfo=NEW_YORK)) == 0
    assert invitations_send_due(now=dt.datetime(2026, 11, 24, 13, 0, tzinfo=NEW_YORK)) == 1
    invitation = SurveyInvitation.objects.get()
    assert invitation.appointment == visit and invitation.patient == patient


def test_evening_visit_waits_for_the_morning(practice, policy, patient):
    _visit(patient, dt.datetime(2026, 11, 24, 18, 0, tzinfo=NEW_YORK))
    assert invitations_send_due(now=dt.datetime(2026, 11, 24, 21, 0, tzinfo=NEW_YORK)) == 0
    assert invitations_send_due(now=dt.datetime(2026, 11, 25, 8, 59, tzinfo=NEW_YORK)) == 0
    assert invitations_send_due(now=dt.datetime(2026, 11, 25, 9, 0, tzinfo=NEW_YORK)) == 1


def test_each_practice_uses_its_own_time_zone(organisation, patient, policy):
    from core.tests.factories import PracticeFactory

    desert = PracticeFactory(organisation=organisation, timezone="America/Phoenix", slug="desert")
    FeedbackPolicy.objects.create(practice=desert)
    sun = PatientFactory(practice=desert)
    _visit(patient, dt.datetime(2026, 11, 24, 14, 0, tzinfo=NEW_YORK))
    _visit(sun, dt.datetime(2026, 11, 24, 14, 0, tzinfo=PHOENIX))
    # 20:30 in New York is quiet; the same moment is 18:30 in Phoenix, and allowed.
    now = dt.datetime(2026, 11, 24, 20, 30, tzinfo=NEW_YORK)
    assert invitations_send_due(now=now) == 1
    assert SurveyInvitation.objects.get().patient == sun


def test_two_visits_in_a_week_give_one_invitation(practice, policy, patient):
    _visit(patient, dt.datetime(2026, 11, 16, 10, 0, tzinfo=NEW_YORK))
    assert invitations_send_due(now=dt.datetime(2026, 11, 16, 14, 0, tzinfo=NEW_YORK)) == 1
    _visit(patient, dt.datetime(2026, 11, 20, 10, 0, tzinfo=NEW_YORK))
    assert invitations_send_due(now=dt.datetime(2026, 11, 20, 14, 0, tzinfo=NEW_YORK)) == 0
    assert SurveyInvitation.objects.count() == 1


def test_throttle_opens_again_after_thirty_days(practice, policy, patient):
    _visit(patient, dt.datetime(2026, 10, 1, 10, 0, tzinfo=NEW_YORK))
    invitations_send_due(now=dt.datetime(2026, 10, 1, 14, 0, tzinfo=NEW_YORK))
    _visit(patient, dt.datetime(2026, 10, 31, 10, 0, tzinfo=NEW_YORK))
    assert invitations_send_due(now=dt.datetime(2026, 10, 31, 14, 0, tzinfo=NEW_YORK)) == 1


def test_running_twice_invites_nobody_twice(practice, policy, patient):
    _visit(patient, dt.datetime(2026, 11, 24, 10, 0, tzinfo=NEW_YORK))
    now = dt.datetime(2026, 11, 24, 14, 0, tzinfo=NEW_YORK)
    assert invitations_send_due(now=now) == 1
    assert invitations_send_due(now=now) == 0


def test_cancelled_no_show_and_departed_are_not_invited(practice, policy, patient):
    gone = PatientFactory(practice=practice, status="departed")
    _visit(patient, dt.datetime(2026, 11, 24, 10, 0, tzinfo=NEW_YORK), status="cancelled")
    _visit(patient, dt.datetime(2026, 11, 24, 11, 0, tzinfo=NEW_YORK), status="no_show")
    _visit(gone, dt.datetime(2026, 11, 24, 10, 0, tzinfo=NEW_YORK))
    assert invitations_send_due(now=dt.datetime(2026, 11, 24, 16, 0, tzinfo=NEW_YORK)) == 0


def test_opted_out_patient_is_not_invited(practice, policy, patient):
    from messaging.services import opt_out

    opt_out(patient, "email")
    opt_out(patient, "sms")
    _visit(patient, dt.datetime(2026, 11, 24, 10, 0, tzinfo=NEW_YORK))
    assert invitations_send_due(now=dt.datetime(2026, 11, 24, 14, 0, tzinfo=NEW_YORK)) == 0


def test_invitation_queues_one_message_with_the_signed_link(practice, policy, patient):
    from messaging.models import OutboundMessage

    _visit(patient, dt.datetime(2026, 11, 24, 10, 0, tzinfo=NEW_YORK))
    invitations_send_due(now=dt.datetime(2026, 11, 24, 14, 0, tzinfo=NEW_YORK))
    message = OutboundMessage.objects.get()
    invitation = SurveyInvitation.objects.get()
    assert message.to_address == patient.email
    assert f"/s/{invitation.public_id}:" in message.body
    # No patient data in the link itself.
    link = next(word for word in message.body.split() if "/s/" in word)
    assert patient.last_name not in link and patient.first_name not in link
