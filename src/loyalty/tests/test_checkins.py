"""Check-ins with valuable patients at risk: who plans and logs them, and what follows.

Also the tenancy of the loyalty reads: front desk, another organisation and a sister
practice's manager see nothing of Maple Street's scores or check-ins.
"""

import datetime as dt

import pytest
import time_machine

from core.models import AuditEvent, Membership
from core.tests.factories import member
from feedback.models import SurveyInvitation
from loyalty import selectors
from loyalty.models import CheckIn, ScoreSnapshot
from loyalty.services import MAX_NOTES, LoyaltyError, checkin_complete, checkin_plan
from loyalty.tests.factories import NOW, nps_answer, score
from messaging.models import OutboundMessage
from recovery.models import RecoveryCase

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 4, 15)  # NOW in New York
DETRACTOR = "last survey score 6/10 (April)"


@pytest.fixture(autouse=True)
def _at_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def at_risk(patient):
    """Dana, scored after a 6/10: one reason to call her."""
    nps_answer(patient, 6, days=10)
    score(patient)
    return patient


@pytest.fixture
def sister_manager(sister_practice):
    return member(sister_practice, Membership.Role.MANAGER, username="hannah")


def plan(patient, *, user, owner, kind=CheckIn.Kind.CALL, due_on=TODAY + dt.timedelta(days=7)):
    return checkin_plan(patient=patient, kind=kind, owner=owner, due_on=due_on, user=user)


@pytest.fixture
def check_in(at_risk, manager, clinician):
    return plan(at_risk, user=manager, owner=clinician, kind=CheckIn.Kind.DENTIST_CALL)


# --- Planning ---------------------------------------------------------------------------------


def test_manager_plans_a_check_in_with_the_reasons_of_the_day(at_risk, manager, clinician):
    check_in = plan(at_risk, user=manager, owner=clinician, kind=CheckIn.Kind.DENTIST_CALL)

    check_in.refresh_from_db()
    assert (check_in.practice, check_in.patient) == (at_risk.practice, at_risk)
    assert (check_in.kind, check_in.owner, check_in.created_by) == (
        "dentist_call",
        clinician,
        manager,
    )
    assert check_in.due_on == TODAY + dt.timedelta(days=7)
    assert check_in.reasons == [DETRACTOR]
    assert (check_in.created_at, check_in.done_at, check_in.outcome) == (NOW, None, "")
    audit = AuditEvent.objects.get(object_type="check_in")
    assert (audit.action, audit.actor, audit.patient_id) == ("create", manager, at_risk.pk)
    assert audit.detail == {"kind": "dentist_call"}


def test_a_patient_never_scored_gets_a_check_in_without_reasons(patient, manager):
    assert plan(patient, user=manager, owner=manager).reasons == []


def test_group_director_plans_too(at_risk, director, manager):
    assert plan(at_risk, user=director, owner=manager).created_by == director


@pytest.mark.parametrize("who", ["clinician", "front_desk", "outsider", "sister_manager"])
def test_only_a_manager_of_the_practice_plans(request, at_risk, manager, who):
    user = request.getfixturevalue(who)

    with pytest.raises(LoyaltyError, match="Only a manager plans check-ins."):
        plan(at_risk, user=user, owner=manager)
    assert not CheckIn.objects.exists()


@pytest.mark.parametrize("who", ["front_desk", "outsider", "sister_manager"])
def test_the_owner_must_act_for_the_practice(request, at_risk, manager, who):
    with pytest.raises(LoyaltyError, match="The owner must be a dentist, hygienist or manager"):
        plan(at_risk, user=manager, owner=request.getfixturevalue(who))
    assert not CheckIn.objects.exists()


def test_the_kind_must_be_known(at_risk, manager):
    with pytest.raises(LoyaltyError, match="Choose a call"):
        plan(at_risk, user=manager, owner=manager, kind="carrier_pigeon")


@pytest.mark.parametrize("days", [0, 1, 366])
def test_due_from_today_to_a_year_ahead(at_risk, manager, days):
    due_on = TODAY + dt.timedelta(days=days)

    assert plan(at_risk, user=manager, owner=manager, due_on=due_on).due_on == due_on


@pytest.mark.parametrize("days", [-1, 367])
def test_due_outside_the_range_is_refused(at_risk, manager, days):
    with pytest.raises(LoyaltyError, match="Due date: from today to a year ahead."):
        plan(at_risk, user=manager, owner=manager, due_on=TODAY + dt.timedelta(days=days))


def test_today_is_the_practice_s_today(at_risk, manager):
    # 22:30 in New York is already tomorrow in UTC; "today" is still the practice's day.
    with time_machine.travel(dt.datetime(2026, 4, 16, 2, 30, tzinfo=dt.UTC), tick=False):
        assert plan(at_risk, user=manager, owner=manager, due_on=TODAY).due_on == TODAY


def test_a_survey_check_in_queues_a_relationship_survey(at_risk, manager):
    check_in = plan(at_risk, user=manager, owner=manager, kind=CheckIn.Kind.SURVEY)

    invitation = SurveyInvitation.objects.get(patient=at_risk, survey__kind="relationship")
    assert invitation.created_at == check_in.created_at
    message = OutboundMessage.objects.get(idempotency_key=f"survey-invitation-{invitation.pk}")
    assert (message.patient, message.to_address) == (at_risk, at_risk.email)
    assert message.status == OutboundMessage.Status.QUEUED


def test_other_kinds_send_nothing(at_risk, manager):
    for kind in (CheckIn.Kind.CALL, CheckIn.Kind.DENTIST_CALL, CheckIn.Kind.LETTER):
        plan(at_risk, user=manager, owner=manager, kind=kind)

    assert not SurveyInvitation.objects.filter(survey__kind="relationship").exists()
    assert not OutboundMessage.objects.exists()


# --- Logging what came of it ------------------------------------------------------------------


def test_owner_logs_the_outcome_once(check_in, clinician):
    checkin_complete(
        check_in=check_in, outcome="reassured", notes="  Happy to stay.  ", user=clinician
    )

    check_in.refresh_from_db()
    assert (check_in.outcome, check_in.notes, check_in.done_at) == (
        "reassured",
        "Happy to stay.",
        NOW,
    )
    assert AuditEvent.objects.filter(object_type="check_in", action="update").count() == 1
    with pytest.raises(LoyaltyError, match="already logged"):
        checkin_complete(check_in=check_in, outcome="booked", notes="", user=clinician)
    check_in.refresh_from_db()
    assert check_in.outcome == "reassured"


@pytest.mark.parametrize("who", ["manager", "director"])
def test_a_manager_logs_someone_else_s_check_in(request, check_in, who):
    user = request.getfixturevalue(who)

    done = checkin_complete(check_in=check_in, outcome="no_answer", notes="", user=user)

    assert done.outcome == "no_answer"


@pytest.mark.parametrize("who", ["front_desk", "other_clinician", "outsider", "sister_manager"])
def test_nobody_else_logs_it(request, practice, check_in, who):
    if who == "other_clinician":
        user = member(practice, Membership.Role.CLINICIAN, username="dr-other")
    else:
        user = request.getfixturevalue(who)

    with pytest.raises(LoyaltyError, match="Only its owner or a manager logs a check-in."):
        checkin_complete(check_in=check_in, outcome="booked", notes="", user=user)
    check_in.refresh_from_db()
    assert check_in.done_at is None


def test_the_outcome_must_be_known(check_in, clinician):
    with pytest.raises(LoyaltyError, match="Choose what came of it."):
        checkin_complete(check_in=check_in, outcome="delighted", notes="", user=clinician)


def test_a_concern_needs_it_in_their_words(check_in, clinician):
    with pytest.raises(LoyaltyError, match="write down the concern"):
        checkin_complete(check_in=check_in, outcome="concern", notes=" \n ", user=clinician)
    assert not RecoveryCase.objects.exists()


def test_a_concern_opens_a_recovery_case(check_in, clinician, at_risk):
    notes = "Says the new   hygienist\nwas rough and nobody listened. " + "x" * 200

    checkin_complete(check_in=check_in, outcome="concern", notes=notes, user=clinician)

    [case] = RecoveryCase.objects.filter(patient=at_risk)
    assert case.practice == at_risk.practice
    assert case.summary == " ".join(notes.split())[:120]
    assert case.summary.startswith("Says the new hygienist was rough")
    assert case.opened_because == "raised at a loyalty check-in"
    assert (case.opened_by, case.status) == (clinician, RecoveryCase.Status.OPEN)
    check_in.refresh_from_db()
    assert check_in.outcome == "concern"


@pytest.mark.parametrize(
    "notes",
    ["Called her.\x00", "x" * (MAX_NOTES + 1)],
    ids=["nul", "oversized"],
)
def test_hostile_notes_are_refused(check_in, clinician, notes):
    with pytest.raises(LoyaltyError, match="Notes: plain text under 5000 characters."):
        checkin_complete(check_in=check_in, outcome="concern", notes=notes, user=clinician)
    check_in.refresh_from_db()
    assert (check_in.done_at, check_in.notes) == (None, "")
    assert not RecoveryCase.objects.exists()


def test_notes_of_exactly_the_limit_are_kept(check_in, clinician):
    done = checkin_complete(
        check_in=check_in, outcome="leaving", notes="y" * MAX_NOTES, user=clinician
    )

    assert len(done.notes) == MAX_NOTES


# --- Who sees the scores and check-ins --------------------------------------------------------


@pytest.fixture
def maple_loyalty(at_risk, check_in, sister_patient, sister_manager):
    """Maple's score, snapshot and open check-in, and a scored patient of the sister."""
    score(sister_patient)
    plan(sister_patient, user=sister_manager, owner=sister_manager)
    return at_risk


@pytest.mark.parametrize("who", ["front_desk", "outsider", "sister_manager"])
def test_others_see_nothing_of_maple_s_loyalty(request, practice, maple_loyalty, who):
    user = request.getfixturevalue(who)

    assert list(selectors.at_risk(user=user, practice=practice, min_risk=0)) == []
    assert selectors.patient_loyalty(user=user, patient=maple_loyalty) == (None, [])
    assert list(selectors.check_ins(user=user, practice=practice)) == []
    assert list(selectors.patient_check_ins(user=user, patient=maple_loyalty)) == []
    assert not selectors.can_see_loyalty(user, practice)


@pytest.mark.parametrize("who", ["manager", "clinician", "director"])
def test_those_who_act_see_maple_s_loyalty(request, practice, maple_loyalty, who):
    user = request.getfixturevalue(who)

    [row] = selectors.at_risk(user=user, practice=practice, min_risk=0)
    assert (row.patient, row.has_open_check_in) == (maple_loyalty, True)
    found, trend = selectors.patient_loyalty(user=user, patient=maple_loyalty)
    assert found == row
    [snapshot] = ScoreSnapshot.objects.filter(patient=maple_loyalty)
    assert [(point.month, point.risk) for point in trend][0] == (snapshot.month, snapshot.risk)
    [open_check_in] = selectors.check_ins(user=user, practice=practice)
    assert open_check_in.patient == maple_loyalty


def test_the_sister_manager_sees_only_her_own_practice(
    sister_practice, maple_loyalty, sister_manager
):
    rows = selectors.at_risk(user=sister_manager, practice=sister_practice, min_risk=0)

    assert [row.patient.practice for row in rows] == [sister_practice]
    assert [
        c.practice for c in selectors.check_ins(user=sister_manager, practice=sister_practice)
    ] == [sister_practice]


def test_at_risk_lists_from_the_threshold(practice, maple_loyalty, manager):
    assert len(selectors.at_risk(user=manager, practice=practice, min_risk=25)) == 1
    assert len(selectors.at_risk(user=manager, practice=practice, min_risk=26)) == 0
