"""Overdue steps climb owner → managers → group admins, each level told exactly once (TRUST R4).

The case below is opened on Monday 09:00 and owned by Dr Chen, so each level reaches
someone else: acknowledge is due Tuesday 09:00, the managers hear 4 business hours later
(Tuesday 14:00, lunch skipped), the group admins 8 business hours later (Wednesday 09:00).
"""

import threading

import pytest
from django.db import connection, connections

from core.models import Membership
from core.tests.factories import member
from messaging.models import OutboundMessage
from recovery import services
from recovery.deadlines import cases_escalate_overdue
from recovery.models import CaseEscalation, RecoveryCase, Severity
from recovery.tests.factories import RecentPatientFactory, complete, local, open_case, step

MONDAY = local("2026-04-06 09:00")
DUE = local("2026-04-07 09:00")
MANAGERS_TOLD = local("2026-04-07 14:00")
ADMINS_TOLD = local("2026-04-08 09:00")


@pytest.fixture
def team(manager, clinician, director):
    for user, address in [
        (manager, "olivia@maple.test"),
        (clinician, "chen@maple.test"),
        (director, "grace@smiles.test"),
    ]:
        user.email = address
        user.save()
    return {"owner": clinician, "manager": manager, "director": director}


@pytest.fixture
def case(practice, team):
    patient = RecentPatientFactory(practice=practice, first_name="Sam", last_name="Okafor")
    return open_case(practice, patient=patient, at=MONDAY, owner=team["owner"])


def notices(address=None):
    messages = OutboundMessage.objects.filter(kind="staff_case_notice")
    return messages.filter(to_address=address) if address else messages


def levels(case, kind="acknowledge"):
    return list(
        CaseEscalation.objects.filter(step=step(case, kind))
        .order_by("level")
        .values_list("level", flat=True)
    )


@pytest.mark.django_db
def test_overdue_step_climbs_the_ladder_telling_each_level_once(case, team):
    assert cases_escalate_overdue(now=local("2026-04-07 08:59")) == 0

    assert cases_escalate_overdue(now=DUE) == 1
    [first] = CaseEscalation.objects.all()
    assert (first.level, first.notified) == (1, [team["owner"].get_full_name()])
    assert notices().count() == notices("chen@maple.test").count() == 1

    assert cases_escalate_overdue(now=local("2026-04-07 13:59")) == 0
    assert cases_escalate_overdue(now=MANAGERS_TOLD) == 1
    assert levels(case) == [1, 2]
    assert notices("olivia@maple.test").count() == 1

    assert cases_escalate_overdue(now=local("2026-04-08 08:59")) == 0
    # Listen and thank fall due at the same moment: their owner hears about them.
    assert cases_escalate_overdue(now=ADMINS_TOLD) == 3
    assert levels(case) == [1, 2, 3]
    assert levels(case, "listen") == levels(case, "thank") == [1]
    [to_director] = notices("grace@smiles.test")
    assert "Acknowledge" in to_director.body
    assert notices("olivia@maple.test").count() == 1
    assert notices("chen@maple.test").count() == 3


@pytest.mark.django_db
def test_running_twice_notifies_once(case, team):
    first = cases_escalate_overdue(now=ADMINS_TOLD)
    rows, messages = CaseEscalation.objects.count(), notices().count()

    second = cases_escalate_overdue(now=ADMINS_TOLD)

    assert (first, second) == (5, 0)
    assert CaseEscalation.objects.count() == rows == 5
    assert notices().count() == messages
    assert case.events.filter(text__startswith="Overdue “Acknowledge”").count() == 3


@pytest.mark.django_db
def test_a_missed_run_catches_up_every_level_due(practice, team):
    # Urgent: one business hour to acknowledge, and the ladder climbs every hour.
    urgent = open_case(practice, at=MONDAY, severity=Severity.URGENT, owner=team["owner"])

    assert cases_escalate_overdue(now=local("2026-04-06 12:00")) == 3

    assert levels(urgent) == [1, 2, 3]


@pytest.mark.django_db
def test_notices_name_the_case_not_the_patient(case, team):
    cases_escalate_overdue(now=ADMINS_TOLD)

    assert notices().count() == 5
    for notice in notices():
        assert f"#{case.pk}" in notice.subject
        for text in (notice.subject, notice.body):
            assert "Sam" not in text and "Okafor" not in text
            assert "Waited" not in text  # nor the summary of what happened


@pytest.mark.django_db
def test_a_case_without_an_owner_is_escalated_to_the_managers(practice, team):
    ownerless = open_case(practice, at=MONDAY)
    ownerless.owner = None
    ownerless.save()

    cases_escalate_overdue(now=DUE)

    [escalation] = CaseEscalation.objects.filter(step__case=ownerless)
    assert escalation.notified == [team["manager"].get_full_name()]


@pytest.mark.django_db
@pytest.mark.parametrize("waiting_on", ["patient", "third_party"])
def test_a_waiting_case_is_not_escalated(case, team, waiting_on):
    services.case_pause(
        case=case, waiting_on=waiting_on, user=team["manager"], now=local("2026-04-06 10:00")
    )

    assert cases_escalate_overdue(now=ADMINS_TOLD) == 0
    assert not CaseEscalation.objects.exists()


@pytest.mark.django_db
def test_a_closed_case_is_not_escalated(case, team):
    services.case_close(
        case=case, outcome="unreachable", user=team["manager"], now=local("2026-04-06 10:00")
    )

    assert cases_escalate_overdue(now=ADMINS_TOLD) == 0
    assert not notices().exists()


@pytest.mark.django_db
def test_a_recorded_step_is_not_escalated(case, team):
    complete(case, "acknowledge", user=team["owner"], at=local("2026-04-06 15:00"))

    assert cases_escalate_overdue(now=MANAGERS_TOLD) == 0
    assert not CaseEscalation.objects.exists()


@pytest.mark.django_db
def test_a_step_recorded_late_stops_climbing(case, team):
    cases_escalate_overdue(now=DUE)
    complete(case, "acknowledge", user=team["owner"], at=local("2026-04-07 10:00"))

    assert cases_escalate_overdue(now=MANAGERS_TOLD) == 0
    assert levels(case) == [1]


@pytest.mark.django_db
def test_only_the_cases_own_organisation_is_told(case, team, other_practice):
    member(other_practice, Membership.Role.GROUP_ADMIN, username="otto", email="otto@else.test")

    cases_escalate_overdue(now=ADMINS_TOLD)

    assert not notices("otto@else.test").exists()
    assert RecoveryCase.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_at_once_still_tell_each_level_once(case, team):
    if connection.vendor == "sqlite":
        # The test database is SQLite's shared-cache memory database, where a second
        # writer fails at once ("table is locked") instead of waiting.
        pytest.skip("needs a database file or PostgreSQL")
    barrier = threading.Barrier(2)
    sent: list[int] = []
    errors: list[BaseException] = []

    def scheduler() -> None:
        try:
            barrier.wait()
            sent.append(cases_escalate_overdue(now=ADMINS_TOLD))
        except BaseException as problem:  # reported below: a thread cannot fail the test
            errors.append(problem)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(sent) == 5
    assert levels(case) == [1, 2, 3]
    assert CaseEscalation.objects.count() == 5
    assert notices().count() == 5
