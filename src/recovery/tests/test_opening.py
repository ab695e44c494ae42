"""Cases open by the organisation's rules, join the patient's open case, stay in the practice."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from core.models import Membership
from core.tests.factories import member
from feedback.models import FeedbackItem
from messaging.models import OutboundMessage
from patients.tests.factories import PatientFactory
from recovery import selectors, services
from recovery.errors import RecoveryError
from recovery.models import STEP_ORDER, RecoveryCase, Severity
from recovery.policy import recovery_policy_for
from recovery.tests.factories import (
    RecentPatientFactory,
    due,
    feedback,
    local,
    open_case,
    survey_answer,
    work_through,
)

pytestmark = pytest.mark.django_db

MONDAY = local("2026-04-06 09:00")
BILLING = "Billing is a mess, I was overcharged again."
BILLING_AGAIN = "The bill was wrong again: I was charged for an x-ray I never had."
DIRTY = "The waiting room was dirty."
# feedback.analysis flags a child humiliated in front of others as urgent.
HUMILIATED = "The receptionist scolded my child in front of everyone."


@pytest.fixture
def recent(practice):
    with time_machine.travel(MONDAY, tick=False):
        return RecentPatientFactory(practice=practice, first_name="Sam", last_name="Okafor")


def cases_of(patient):
    return list(RecoveryCase.objects.filter(patient=patient).order_by("id"))


# --- Auto-open rules ------------------------------------------------------------------


def test_detractor_answer_opens_a_case_with_six_steps_owned_by_the_manager(
    recent, manager, front_desk, clinician
):
    response = survey_answer(recent, at=MONDAY, nps=4)

    [case] = cases_of(recent)
    assert [s.kind for s in case.steps.order_by("position")] == STEP_ORDER
    assert case.owner == manager
    assert case.severity == Severity.NORMAL
    assert case.opened_because == "detractor score 4/10"
    assert list(case.feedback_items.all()) == list(response.items.all())
    assert case.satisfaction_before == 4
    assert not case.is_priority


def test_promoter_answer_opens_nothing(recent, manager):
    survey_answer(recent, at=MONDAY, nps=9, rating=5)

    assert cases_of(recent) == []
    assert FeedbackItem.objects.filter(patient=recent).count() == 1


def test_negative_talk_to_us_message_opens_a_case(recent, manager):
    item = feedback(recent.practice, DIRTY, at=MONDAY, patient=recent)

    [case] = cases_of(recent)
    assert case.topic == "facility"
    assert case.summary == DIRTY
    assert case.opened_because == "negative comment"
    assert list(case.feedback_items.all()) == [item]


def test_anonymous_complaint_opens_a_case_in_the_authors_name(practice, manager):
    feedback(practice, DIRTY, at=MONDAY, author_name="Mrs Lee, at checkout")

    case = RecoveryCase.objects.get(practice=practice)
    assert case.patient is None
    assert case.who == "Mrs Lee, at checkout"


def test_urgent_text_opens_an_urgent_case_and_pages_the_manager_without_the_patients_name(
    recent, manager
):
    manager.email = "olivia@maple.test"
    manager.save()

    feedback(recent.practice, HUMILIATED, at=MONDAY, patient=recent)

    [case] = cases_of(recent)
    assert case.severity == Severity.URGENT
    assert due(case, "acknowledge") == local("2026-04-06 10:00")
    [notice] = OutboundMessage.objects.filter(kind="staff_case_notice")
    assert notice.to_address == "olivia@maple.test"
    assert f"#{case.pk}" in notice.subject
    for name in ("Sam", "Okafor", "scolded"):
        assert name not in notice.subject
        assert name not in notice.body
    assert "Mon Apr 6, 10:00 AM" in notice.body


def test_low_touchpoint_rating_alone_opens_a_low_severity_case(recent, manager):
    survey_answer(recent, at=MONDAY, nps=9, rating=4, ratings={"waiting": 1})

    [case] = cases_of(recent)
    assert case.severity == Severity.LOW
    assert case.topic == "waiting"
    assert case.opened_because == "low rating: Waiting"


@pytest.mark.parametrize(
    ("switched_off", "answer"),
    [
        ({"open_on_detractor": False}, {"nps": 4}),
        ({"open_on_negative_text": False}, {"text": DIRTY}),
        ({"open_on_negative_text": False, "open_on_urgent_text": False}, {"text": HUMILIATED}),
        ({"low_rating_max": 0}, {"nps": 9, "ratings": {"waiting": 1}}),
    ],
    ids=["detractor", "negative-text", "urgent-text", "low-rating"],
)
def test_rules_switched_off_open_nothing(recent, manager, switched_off, answer):
    policy = recovery_policy_for(recent.practice.organisation)
    for name, value in switched_off.items():
        setattr(policy, name, value)
    policy.save()

    if "text" in answer:
        feedback(recent.practice, answer["text"], at=MONDAY, patient=recent)
    else:
        survey_answer(recent, at=MONDAY, rating=4, **answer)

    assert cases_of(recent) == []


# --- One open case per patient and topic ------------------------------------------------


def test_second_complaint_on_the_same_topic_joins_the_open_case(recent, manager):
    first = feedback(recent.practice, BILLING, at=MONDAY, patient=recent)
    second = feedback(recent.practice, BILLING_AGAIN, at=local("2026-04-07 10:00"), patient=recent)

    [case] = cases_of(recent)
    assert set(case.feedback_items.all()) == {first, second}
    # The clock of the case already being worked keeps running from its opening.
    assert case.opened_at == MONDAY
    assert case.events.filter(text="1 more feedback joined the case").count() == 1


def test_complaint_on_another_topic_opens_a_second_case(recent, manager):
    feedback(recent.practice, BILLING, at=MONDAY, patient=recent)
    feedback(recent.practice, DIRTY, at=local("2026-04-07 10:00"), patient=recent)

    assert [c.topic for c in cases_of(recent)] == ["billing_insurance", "facility"]


def test_urgent_complaint_joining_an_open_case_makes_it_urgent(recent, manager):
    feedback(recent.practice, "The front desk was rude to me.", at=MONDAY, patient=recent)
    feedback(recent.practice, HUMILIATED, at=local("2026-04-06 11:00"), patient=recent)

    [case] = cases_of(recent)
    assert case.severity == Severity.URGENT
    assert case.feedback_items.count() == 2
    # Urgent deadlines count from the opening of the case: one business hour.
    assert due(case, "acknowledge") == local("2026-04-06 10:00")


def test_editing_a_survey_answer_keeps_one_case_and_the_item_linked(recent, manager):
    response = survey_answer(recent, at=MONDAY, nps=4, ratings={"waiting": 1})
    survey_answer(
        recent,
        at=local("2026-04-06 09:20"),
        invitation=response.invitation,
        nps=3,
        ratings={"waiting": 1},
    )

    [case] = cases_of(recent)
    [item] = FeedbackItem.objects.filter(patient=recent)
    assert list(case.feedback_items.all()) == [item]
    assert item.score == 3


def test_editing_a_survey_answer_onto_another_topic_keeps_one_case(recent, manager):
    response = survey_answer(recent, at=MONDAY, nps=4, ratings={"waiting": 1})
    survey_answer(
        recent,
        at=local("2026-04-06 09:20"),
        invitation=response.invitation,
        nps=4,
        ratings={"hygiene": 1},
    )

    [case] = cases_of(recent)
    assert case.feedback_items.count() == 1
    assert set(case.touchpoints) == {"waiting", "hygiene"}


def test_feedback_older_than_two_weeks_opens_nothing(practice, manager, recent):
    feedback(
        practice,
        DIRTY,
        at=MONDAY,
        patient=recent,
        source=FeedbackItem.Source.REVIEW,
        received_at=MONDAY - dt.timedelta(days=15),
    )
    feedback(practice, BILLING, at=MONDAY, received_at=MONDAY - dt.timedelta(days=13))

    assert cases_of(recent) == []
    assert RecoveryCase.objects.count() == 1


def test_a_patient_recovered_before_gets_a_second_failure_case(recent, manager):
    earlier = open_case(recent.practice, patient=recent, at=local("2026-01-05 09:00"))
    work_through(earlier, "follow_up", user=manager, at=local("2026-01-20 10:00"))
    services.case_close(
        case=earlier, outcome="recovered", user=manager, now=local("2026-01-20 11:00")
    )

    feedback(recent.practice, DIRTY, at=MONDAY, patient=recent)

    latest = cases_of(recent)[-1]
    assert latest.follows_case == earlier
    assert f"second failure after case #{earlier.pk}" in latest.events.first().text


def test_a_case_closed_unreachable_is_not_a_recovery_to_fail_again(recent, manager):
    earlier = open_case(recent.practice, patient=recent, at=local("2026-01-05 09:00"))
    services.case_close(
        case=earlier, outcome="unreachable", user=manager, now=local("2026-01-20 11:00")
    )

    latest = open_case(recent.practice, patient=recent, at=MONDAY)

    assert latest.follows_case is None


# --- Priority patients --------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "reason"),
    [
        ({"first_visit_on": dt.date(2014, 4, 6)}, "patient for 12 years"),
        ({"lifetime_value": Decimal("5000")}, "lifetime value $5,000"),
        ({"referral_count": 3}, "referred 3 patients"),
    ],
    ids=["tenure", "lifetime-value", "referrals"],
)
def test_priority_patient_gets_a_tighter_deadline_and_the_owner_dentist(
    practice, manager, clinician, profile, reason
):
    practice.owner_dentist = clinician
    practice.save()
    with time_machine.travel(MONDAY, tick=False):
        patient = RecentPatientFactory(practice=practice, **profile)

    case = open_case(practice, patient=patient, at=MONDAY)

    assert case.is_priority
    assert case.priority_reasons == [reason]
    assert case.owner == clinician
    # Half of the normal 8 business hours: 09:00–12:00, then 13:00–14:00.
    assert due(case, "acknowledge") == local("2026-04-06 14:00")
    # Half of 3 business days (24 business hours) is 12: 7 on Monday, 5 on Tuesday.
    assert due(case, "plan") == local("2026-04-07 14:00")


def test_ordinary_patient_keeps_the_full_deadline_and_the_manager(
    practice, manager, clinician, recent
):
    practice.owner_dentist = clinician
    practice.save()

    case = open_case(practice, patient=recent, at=MONDAY)

    assert not case.is_priority
    assert case.priority_reasons == []
    assert case.owner == manager
    assert due(case, "acknowledge") == local("2026-04-07 09:00")


def test_priority_thresholds_come_from_the_policy(practice, manager, recent):
    policy = recovery_policy_for(practice.organisation)
    policy.priority_referrals = 1
    policy.save()
    recent.referral_count = 1
    recent.save()

    case = open_case(practice, patient=recent, at=MONDAY)

    assert case.is_priority
    assert case.priority_reasons[0].startswith("referred 1 ")


# --- Validation and tenancy ---------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"summary": "   "},
        {"summary": "Bad\x00visit"},
        {"summary": "x" * 201},
        {"severity": "apocalyptic"},
        {"touchpoints": ["parking"]},
    ],
    ids=["blank", "nul", "long", "severity", "touchpoint"],
)
def test_case_open_refuses_bad_input(practice, recent, bad):
    with pytest.raises(RecoveryError):
        open_case(practice, patient=recent, at=MONDAY, **bad)
    assert RecoveryCase.objects.count() == 0


@pytest.mark.parametrize("whose", ["other_patient", "sister_patient"])
def test_case_open_refuses_a_patient_of_another_practice(practice, manager, whose, request):
    stranger = request.getfixturevalue(whose)

    with pytest.raises(RecoveryError, match="another practice"):
        open_case(practice, patient=stranger, at=MONDAY)
    assert RecoveryCase.objects.count() == 0


def test_cases_for_user_shows_maples_cases_only_to_its_case_workers(
    practice, sister_practice, recent, manager, clinician, director, front_desk, outsider
):
    case = open_case(practice, patient=recent, at=MONDAY)
    sister_manager = member(sister_practice, Membership.Role.MANAGER, username="sasha")
    sister_case = open_case(
        sister_practice,
        patient=PatientFactory(practice=sister_practice),
        at=MONDAY,
    )

    assert list(selectors.cases_for_user(manager)) == [case]
    assert list(selectors.cases_for_user(clinician)) == [case]
    assert set(selectors.cases_for_user(director)) == {case, sister_case}
    assert list(selectors.cases_for_user(sister_manager)) == [sister_case]
    assert not selectors.cases_for_user(front_desk).exists()
    assert not selectors.cases_for_user(outsider).exists()
