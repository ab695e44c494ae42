"""Gestures of goodwill: the approval limit, the monthly budget, hostile costs, the catalogue.

The default policy: gestures above $50 need a manager, and a practice spends at most $300
a month. The default catalogue holds flowers ($35), a gift card ($50), a complimentary
service ($120) and a waived fee ($150), among others.
"""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from core.tests.factories import PracticeFactory
from recovery import services
from recovery.actions import gesture_decide, gesture_mark_given, gesture_propose, gesture_spend
from recovery.errors import RecoveryError
from recovery.models import Gesture, GestureKind
from recovery.policy import recovery_policy_for
from recovery.tests.factories import local, open_case

pytestmark = pytest.mark.django_db

MONDAY = local("2026-05-04 09:00")


@pytest.fixture
def case(practice):
    return open_case(practice, at=MONDAY)


def kind(organisation, name):
    recovery_policy_for(organisation)
    return GestureKind.objects.get(organisation=organisation, name=name)


def propose(case, name, *, user, at=MONDAY, cost=None, **kwargs):
    with time_machine.travel(at, tick=False):
        return gesture_propose(
            case=case,
            kind=kind(case.practice.organisation, name),
            user=user,
            cost=cost,
            now=at,
            **kwargs,
        )


# --- Approval ----------------------------------------------------------------------


@pytest.mark.parametrize("proposer", ["front_desk", "clinician"])
def test_a_gesture_above_the_limit_waits_for_a_manager(case, proposer, request):
    user = request.getfixturevalue(proposer)

    gesture = propose(case, "Complimentary service", user=user)

    assert gesture.status == Gesture.Status.PENDING
    assert gesture.cost == Decimal("120.00")
    assert (gesture.decided_by, gesture.decided_at) == (None, None)
    assert case.events.filter(text__endswith="needs a manager's approval").count() == 1


def test_a_gesture_at_or_below_the_limit_is_approved_at_once(case, clinician):
    flowers = propose(case, "Flowers", user=clinician)
    gift_card = propose(case, "Gift card", user=clinician)

    assert flowers.status == gift_card.status == Gesture.Status.APPROVED
    assert gift_card.cost == Decimal("50.00")
    assert flowers.decided_by == clinician


def test_the_limit_comes_from_the_organisation(case, clinician):
    policy = recovery_policy_for(case.practice.organisation)
    policy.gesture_approval_limit = Decimal("30")
    policy.save()

    assert propose(case, "Flowers", user=clinician).status == Gesture.Status.PENDING


def test_a_clinician_cannot_approve_but_a_manager_can(case, clinician, manager):
    gesture = propose(case, "Fee waived", user=clinician)

    with pytest.raises(RecoveryError, match="Only a manager"):
        gesture_decide(gesture=gesture, approve=True, user=clinician)
    gesture.refresh_from_db()
    assert gesture.status == Gesture.Status.PENDING

    decided = gesture_decide(gesture=gesture, approve=True, user=manager)

    assert decided.status == Gesture.Status.APPROVED
    assert decided.decided_by == manager
    with pytest.raises(RecoveryError, match="already been decided"):
        gesture_decide(gesture=gesture, approve=False, user=manager)


def test_a_group_admin_can_decline(case, clinician, director):
    gesture = propose(case, "Fee waived", user=clinician)

    assert gesture_decide(gesture=gesture, approve=False, user=director).status == "declined"


def test_a_manager_of_another_practice_cannot_approve(case, clinician, sister_practice):
    from core.models import Membership
    from core.tests.factories import member

    stranger = member(sister_practice, Membership.Role.MANAGER, username="sasha")
    gesture = propose(case, "Fee waived", user=clinician)

    with pytest.raises(RecoveryError):
        gesture_decide(gesture=gesture, approve=True, user=stranger)


def test_only_an_approved_gesture_can_be_given(case, clinician, manager):
    pending = propose(case, "Fee waived", user=clinician)
    with pytest.raises(RecoveryError):
        gesture_mark_given(gesture=pending, user=clinician)

    flowers = propose(case, "Flowers", user=clinician)

    assert gesture_mark_given(gesture=flowers, user=clinician).status == Gesture.Status.GIVEN


# --- Budget ------------------------------------------------------------------------


def test_a_gesture_that_would_pass_the_monthly_budget_needs_approval(case, clinician, manager):
    # A manager's own gestures are approved whatever the budget: $270 of $300 spent.
    propose(case, "Fee waived", user=manager)
    propose(case, "Complimentary service", user=manager)

    over = propose(case, "Flowers", user=clinician)
    exactly = propose(case, "Flowers", user=clinician, cost="30")

    assert over.status == Gesture.Status.PENDING
    assert case.events.filter(text__endswith="(over this month's budget)").count() == 1
    assert exactly.status == Gesture.Status.APPROVED
    assert gesture_spend(case.practice, day=dt.date(2026, 5, 4)) == Decimal("300.00")
    # A new month, a new budget.
    assert propose(case, "Flowers", user=clinician, at=local("2026-06-01 09:00")).status == (
        Gesture.Status.APPROVED
    )


def test_gesture_spend_counts_approved_and_given_gestures_of_the_practice_month(
    practice, sister_practice, clinician, manager
):
    case = open_case(practice, at=local("2026-04-30 09:00"))
    # 23:30 on April 30 in New York is already May 1 in UTC: it belongs to April.
    propose(case, "Flowers", user=manager, at=local("2026-04-30 23:30"))
    propose(case, "Gift card", user=manager, at=local("2026-05-01 00:30"))
    given = propose(case, "Flowers", user=clinician, at=local("2026-05-31 23:30"))
    gesture_mark_given(gesture=given, user=clinician)
    declined = propose(case, "Fee waived", user=clinician, at=local("2026-05-10 10:00"))
    gesture_decide(gesture=declined, approve=False, user=manager)
    propose(case, "Complimentary service", user=clinician, at=local("2026-05-11 10:00"))
    sister_case = open_case(sister_practice, at=local("2026-05-04 09:00"))
    propose(sister_case, "Gift card", user=manager, at=local("2026-05-04 10:00"))

    assert gesture_spend(practice, day=dt.date(2026, 5, 15)) == Decimal("85.00")
    assert gesture_spend(practice, day=dt.date(2026, 4, 1)) == Decimal("35.00")
    assert gesture_spend(practice, day=dt.date(2026, 6, 1)) == Decimal("0")
    assert gesture_spend(sister_practice, day=dt.date(2026, 5, 15)) == Decimal("50.00")


# --- Costs typed by people ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("$35.50", Decimal("35.50")),
        (" 42 ", Decimal("42.00")),
        ("12.345", Decimal("12.34")),
        ("0", Decimal("0.00")),
        ("10000", Decimal("10000.00")),
        ("", Decimal("35.00")),
        (None, Decimal("35.00")),
    ],
)
def test_a_cost_is_read_as_dollars(case, manager, raw, parsed):
    assert propose(case, "Flowers", user=manager, cost=raw).cost == parsed


@pytest.mark.parametrize(
    "raw",
    ["abc", "-5", "$-5", "1e9", "1e400", "NaN", "sNaN", "Infinity", "10000.01", "35,50", "3 5"],
)
def test_a_hostile_cost_is_refused(case, manager, raw):
    with pytest.raises(RecoveryError, match="Cost"):
        propose(case, "Flowers", user=manager, cost=raw)
    assert not Gesture.objects.exists()


def test_a_gesture_from_another_organisations_catalogue_is_refused(case, manager, other_practice):
    foreign = kind(other_practice.organisation, "Flowers")

    with pytest.raises(RecoveryError, match="catalogue"):
        gesture_propose(case=case, kind=foreign, user=manager, now=MONDAY)
    assert not Gesture.objects.exists()


def test_a_retired_gesture_is_refused(case, manager):
    flowers = kind(case.practice.organisation, "Flowers")
    flowers.is_active = False
    flowers.save()

    with pytest.raises(RecoveryError):
        gesture_propose(case=case, kind=flowers, user=manager, now=MONDAY)


def test_a_sister_practice_shares_the_organisations_catalogue(organisation, manager):
    sister = PracticeFactory(organisation=organisation, slug="sister")
    case = open_case(sister, at=MONDAY)

    assert propose(case, "Flowers", user=manager).kind.organisation == organisation


def test_no_gesture_on_a_closed_case_nor_with_a_nul_description(case, manager):
    with pytest.raises(RecoveryError):
        propose(case, "Flowers", user=manager, description="roses\x00")
    case = services.case_close(case=case, outcome="not_recovered", user=manager, now=MONDAY)

    with pytest.raises(RecoveryError, match="closed"):
        propose(case, "Flowers", user=manager)
    assert not Gesture.objects.exists()
