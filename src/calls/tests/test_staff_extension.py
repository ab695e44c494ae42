"""``calls_record`` files each call under the staff member whose extension it rang at."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from calls.merging import CallIn
from calls.models import Call
from calls.services import calls_record
from core.tests.factories import PracticeFactory, StaffMemberFactory

pytestmark = pytest.mark.django_db

STARTED = dt.datetime(2026, 3, 4, 15, 0, tzinfo=dt.UTC)


def call(external_id: str, extension: str = "", disposition: str = "answered") -> CallIn:
    return CallIn(
        source="generic",
        external_id=external_id,
        direction="inbound",
        caller="+12025550143",
        called="+12025550100",
        started_at=STARTED,
        ring_seconds=10,
        talk_seconds=60 if disposition == "answered" else 0,
        disposition=disposition,
        extension=extension,
    )


def staff_of(practice, external_id: str):
    return Call.objects.get(practice=practice, external_id=external_id).staff


def test_a_call_is_filed_under_the_active_staff_member_with_its_extension(practice):
    desk = StaffMemberFactory(practice=practice, name="Frank", extension="101")
    StaffMemberFactory(practice=practice, name="Gone", extension="102", is_active=False)
    elsewhere = PracticeFactory()
    StaffMemberFactory(practice=elsewhere, name="Elsewhere", extension="103")

    calls_record(
        practice=practice,
        calls=[call("c-1", "101"), call("c-2", "102"), call("c-3", "103"), call("c-4")],
    )

    assert staff_of(practice, "c-1") == desk
    assert staff_of(practice, "c-2") is None  # nobody active has 102
    assert staff_of(practice, "c-3") is None  # another practice's 103
    assert staff_of(practice, "c-4") is None  # no extension


def test_a_record_of_the_call_answered_elsewhere_moves_it_to_that_person(practice):
    StaffMemberFactory(practice=practice, name="Frank", extension="101")
    olivia = StaffMemberFactory(practice=practice, name="Olivia", extension="105")
    calls_record(practice=practice, calls=[call("c-1", "101", disposition="missed")])
    assert staff_of(practice, "c-1").name == "Frank"

    # Another leg says Olivia's phone answered: the merged call is answered, at 105.
    result = calls_record(practice=practice, calls=[call("c-1", "105")])

    assert result.updated == 1
    assert staff_of(practice, "c-1") == olivia
    assert Call.objects.get(external_id="c-1").disposition == "answered"
    # The same record again changes nothing.
    assert calls_record(practice=practice, calls=[call("c-1", "105")]).unchanged == 1


def test_two_active_staff_members_cannot_share_an_extension(practice):
    StaffMemberFactory(practice=practice, extension="101")
    StaffMemberFactory(practice=practice, extension="101", is_active=False)  # who left
    StaffMemberFactory(practice=PracticeFactory(), extension="101")  # another practice
    StaffMemberFactory(practice=practice, extension="")
    StaffMemberFactory(practice=practice, extension="")

    with pytest.raises(IntegrityError), transaction.atomic():
        StaffMemberFactory(practice=practice, extension="101")
