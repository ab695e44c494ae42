"""Scoring runs: SQL and Python agree, exact value and priority, scope, idempotency, events."""

import datetime as dt
import random
from decimal import Decimal

import pytest
import time_machine
from django.db.models import Count

from calls.models import Call, CallbackTask
from feedback.models import FeedbackItem, SurveyInvitation, SurveyResponse
from feedback.services import feedback_item_create, surveys_ensure_defaults
from loyalty.models import LoyaltyPolicy, PatientScore, ScoreSnapshot
from loyalty.rules import RULES, points_for, reasons_for, risk_of
from loyalty.scoring import FACTS, scores_compute
from loyalty.selectors import monthly_trend
from loyalty.tests.factories import (
    NO_SHOW,
    NOW,
    appointment,
    case,
    days_ago,
    fired,
    nps_answer,
    score,
    visits,
)
from patients.models import Appointment, Patient
from patients.tests.factories import HouseholdFactory, PatientFactory
from recovery.models import RecoveryCase
from recovery.tests.factories import survey_answer

pytestmark = pytest.mark.django_db


def rows() -> dict[int, dict]:
    """Every stored score as plain values, by patient."""
    return {row["patient_id"]: row for row in PatientScore.objects.values()}


# --- SQL and Python agree on random histories -------------------------------------------------

TEXTS = [
    "The equipment feels dated.",
    "It's a long drive and parking is awful.",
    "The waiting room was dirty.",
    "Lovely team, thank you!",
    "The x-ray machine looked outdated and the parking was a nightmare.",
]
STATUSES = [*[Appointment.Status.COMPLETED] * 5, "cancelled", "no_show", "scheduled"]
# Few distinct days, so some patients have two visits on one day.
DAYS = [-90, -10, 0.5, 3, 30, 100, 150, 151, 200, 250, 274, 365, 366, 500, 800, 2000]


def random_history(rnd: random.Random, patient: Patient) -> dict[str, list]:
    """Rows of a random history, to be bulk-created (speed matters for a few hundred)."""
    practice_id = patient.practice_id
    history = {"appointments": [], "answers": [], "items": [], "cases": [], "callbacks": []}
    for _ in range(rnd.choice([0, 0, 1, 2, 3, 5, 8])):
        history["appointments"].append(
            Appointment(
                practice_id=practice_id,
                patient=patient,
                starts_at=days_ago(rnd.choice(DAYS)),
                status=rnd.choice(STATUSES),
                fee=Decimal("95.50"),
            )
        )
    for _ in range(rnd.choice([0, 0, 1, 2, 3, 4])):
        at = days_ago(rnd.choice([-3, 1, 20, 40, 90, 200, 400, 800]))
        history["answers"].append((at, rnd.choice([None, *range(11)])))
    for _ in range(rnd.choice([0, 0, 1, 2])):
        history["items"].append(
            FeedbackItem(
                practice_id=practice_id,
                patient=patient,
                source=FeedbackItem.Source.WEB,
                text=rnd.choice(TEXTS),
                label=rnd.choice(FeedbackItem.Label.values),
                received_at=days_ago(rnd.choice([-5, 10, 100, 181, 183, 500, 729, 731])),
            )
        )
    for topic in rnd.sample(["waiting", "billing", "facility"], rnd.choice([0, 0, 1, 2])):
        outcome = rnd.choice(["", *RecoveryCase.Outcome.values])
        closed = days_ago(rnd.choice([10, 200, 364, 366])) if outcome else None
        history["cases"].append(
            RecoveryCase(
                practice_id=practice_id,
                patient=patient,
                summary="A complaint",
                topic=topic,
                opened_at=days_ago(500),
                status=RecoveryCase.Status.CLOSED if outcome else RecoveryCase.Status.OPEN,
                outcome=outcome,
                closed_at=closed,
            )
        )
    for _ in range(rnd.choice([0, 0, 0, 1, 2])):
        # A missed call (one not yet made, one too old to count) and its call-back: done
        # on time, done late, or still open.
        called = days_ago(rnd.choice([-1, 1, 30, 89, 91, 200]))
        due = called + dt.timedelta(minutes=15)
        done = rnd.choice([None, due - dt.timedelta(minutes=5), due + dt.timedelta(hours=2)])
        history["callbacks"].append((called, due, done))
    return history


def build_random_patients(seed: int, practices, per_practice: int) -> list[Patient]:
    rnd = random.Random(seed)
    patients = []
    for practice in practices:
        households = [HouseholdFactory(practice=practice) for _ in range(4)]
        patients += Patient.objects.bulk_create(
            Patient(
                practice=practice,
                first_name="Random",
                last_name=f"{practice.slug}-{n}",
                first_visit_on=rnd.choice(
                    [None, NOW.date() + dt.timedelta(days=30)]
                    + [NOW.date() - dt.timedelta(days=rnd.randrange(0, 9000)) for _ in range(6)]
                ),
                status=rnd.choice([*["active"] * 9, "departed"]),
                lifetime_value=Decimal(rnd.randrange(0, 1_500_000)) / 100,
                referral_count=rnd.choice([0, 0, 1, 3, 5, 6]),
                household=rnd.choice([None, None, *households]),
            )
            for n in range(per_practice)
        )
    histories = [random_history(rnd, p) for p in patients]
    surveys = {
        practice.pk: surveys_ensure_defaults(organisation=practice.organisation)["post_visit"]
        for practice in practices
    }
    Appointment.objects.bulk_create(a for h in histories for a in h["appointments"])
    FeedbackItem.objects.bulk_create(i for h in histories for i in h["items"])
    RecoveryCase.objects.bulk_create(c for h in histories for c in h["cases"])
    missed = [(p, *c) for p, h in zip(patients, histories, strict=True) for c in h["callbacks"]]
    calls = Call.objects.bulk_create(
        Call(
            practice_id=p.practice_id,
            source=Call.Source.GENERIC,
            external_id=f"random-{n}",
            direction=Call.Direction.INBOUND,
            disposition=Call.Disposition.MISSED,
            started_at=called,
            patient=p,
        )
        for n, (p, called, _due, _done) in enumerate(missed)
    )
    CallbackTask.objects.bulk_create(
        CallbackTask(
            practice_id=p.practice_id, call=call, patient=p, number="", due_at=due, done_at=done
        )
        for call, (p, _called, due, done) in zip(calls, missed, strict=True)
    )
    answers = [
        (p, at, nps) for p, h in zip(patients, histories, strict=True) for at, nps in h["answers"]
    ]
    invitations = SurveyInvitation.objects.bulk_create(
        SurveyInvitation(
            practice=p.practice,
            patient=p,
            survey=surveys[p.practice_id],
            created_at=at,
            expires_at=at + dt.timedelta(days=14),
        )
        for p, at, _ in answers
    )
    responses = SurveyResponse.objects.bulk_create(
        SurveyResponse(
            invitation=invitation,
            practice=p.practice,
            patient=p,
            survey=invitation.survey,
            nps=nps,
        )
        for invitation, (p, _, nps) in zip(invitations, answers, strict=True)
    )
    # submitted_at is set on creation: put each answer at its own moment.
    for response, (_, at, _) in zip(responses, answers, strict=True):
        SurveyResponse.objects.filter(pk=response.pk).update(submitted_at=at)
    return patients


def expected_value(row: PatientScore) -> int:
    """The value as documented, in Python: 2 a year (30), $10,000 (30), 5 a referral (25),
    5 a household member (15)."""
    tenure = max(row.tenure_days or 0, 0) * 2 // 365
    dollars = min(int(row.lifetime_value), 10_000) * 30 // 10_000
    return min(
        100,
        min(30, tenure)
        + min(30, dollars)
        + min(25, row.referral_count * 5)
        + min(15, row.household_size * 5),
    )


def test_stored_risk_is_the_python_rules_for_random_histories(
    organisation, practice, sister_practice, other_practice
):
    patients = build_random_patients(1504, [practice, sister_practice, other_practice], 70)
    active = [p for p in patients if p.status == Patient.Status.ACTIVE]
    custom = {"detractor": 40, "nothing_booked": 0, "overdue": 35, "equipment": 30, "distance": 30}

    for weights in ({}, custom):
        LoyaltyPolicy.objects.update_or_create(
            organisation=organisation, defaults={"weights": weights}
        )

        assert scores_compute(now=NOW) == len(active)

        stored = list(PatientScore.objects.select_related("practice"))
        assert {row.patient_id for row in stored} == {p.pk for p in active}
        uncapped = 0
        for row in stored:
            org_weights = weights if row.practice.organisation_id == organisation.pk else {}
            assert row.risk == risk_of(row, org_weights), (row.patient_id, fired(row))
            assert row.value == expected_value(row), row.patient_id
            assert row.priority == row.risk * row.value // 100
            points = points_for(org_weights)
            weighed = [name for name in fired(row) if points[name]]
            assert len(reasons_for(row, org_weights)) == min(4, len(weighed))
            uncapped = max(uncapped, sum(points[name] for name in weighed))
        # The random histories reach every rule, and the cap of 100.
        assert set().union(*(fired(row) for row in stored)) == set(RULES)
        assert uncapped > 100
        assert max(row.risk for row in stored) == 100


def test_household_counts_the_other_active_members(practice):
    home = HouseholdFactory(practice=practice)
    dana, partner, child = (PatientFactory(practice=practice, household=home) for _ in range(3))
    PatientFactory(practice=practice, household=home, status=Patient.Status.DEPARTED)
    alone = PatientFactory(practice=practice)

    scores_compute(now=NOW)

    sizes = {pk: row["household_size"] for pk, row in rows().items()}
    assert sizes == {dana.pk: 2, partner.pk: 2, child.pk: 2, alone.pk: 0}


# --- Value and priority -----------------------------------------------------------------------


def value_of(practice, **fields) -> int:
    patient = PatientFactory(practice=practice, **fields)
    return score(patient).value


@pytest.mark.parametrize(
    ("fields", "value"),
    [
        ({"first_visit_on": None}, 0),
        ({"first_visit_on": NOW.date() - dt.timedelta(days=730)}, 4),
        ({"first_visit_on": NOW.date() - dt.timedelta(days=729)}, 3),
        ({"first_visit_on": dt.date(2006, 4, 1)}, 30),  # 20 years: 40, capped at 30
        ({"first_visit_on": NOW.date() + dt.timedelta(days=400)}, 0),  # booked, not yet seen
        ({"first_visit_on": None, "lifetime_value": Decimal("666.50")}, 1),
        ({"first_visit_on": None, "lifetime_value": Decimal("5000")}, 15),
        ({"first_visit_on": None, "lifetime_value": Decimal("9999.99")}, 29),
        ({"first_visit_on": None, "lifetime_value": Decimal("10000")}, 30),
        ({"first_visit_on": None, "lifetime_value": Decimal("9999999999.99")}, 30),
        ({"first_visit_on": None, "referral_count": 3}, 15),
        ({"first_visit_on": None, "referral_count": 6}, 25),
    ],
)
def test_value_parts_and_their_caps(practice, fields, value):
    assert value_of(practice, **fields) == value


def test_household_part_is_capped_at_fifteen(practice):
    home = HouseholdFactory(practice=practice)
    members = [
        PatientFactory(practice=practice, household=home, first_visit_on=None) for _ in range(5)
    ]

    scores_compute(now=NOW)

    assert {rows()[p.pk]["value"] for p in members} == {15}  # 4 others: 20, capped at 15


def test_a_dana_like_patient_is_among_the_most_valuable(patient, practice):
    # Story 1: twenty years, over $10,000 of treatment, nine referrals, husband and son.
    home = HouseholdFactory(practice=practice, name="Whitfield")
    Patient.objects.filter(pk=patient.pk).update(
        first_visit_on=dt.date(2006, 3, 1),
        lifetime_value=Decimal("12480.00"),
        referral_count=9,
        referral_value=Decimal("6100.00"),
        household=home,
    )
    PatientFactory(practice=practice, household=home, first_name="Tom")
    PatientFactory(practice=practice, household=home, first_name="Ben")
    nps_answer(patient, 6, days=12)

    row = score(patient)

    assert (row.referral_count, row.household_size, row.tenure_days) == (9, 2, 7350)
    assert row.value == 30 + 30 + 25 + 10
    assert row.value >= 90
    assert row.risk == 25
    assert row.priority == 25 * 95 // 100 == 23


def test_dana_with_no_risk_has_no_priority(patient):
    row = score(patient)

    assert row.value == 22  # eleven years
    assert (row.risk, row.priority) == (0, 0)


# --- Idempotency and scope --------------------------------------------------------------------


def test_scoring_again_writes_only_what_changed(patient, practice):
    visits(patient, 400, 200)
    nps_answer(patient, 5, days=30)
    second = PatientFactory(practice=practice)
    appointment(second, 60, NO_SHOW)

    assert scores_compute(practices=[practice], now=NOW) == 2
    first = rows()
    assert scores_compute(practices=[practice], now=NOW) == 2
    assert rows() == first
    assert scores_compute(practices=[practice], now=NOW + dt.timedelta(days=10)) == 2

    per_patient = ScoreSnapshot.objects.values("patient").annotate(n=Count("id"))
    assert {row["patient"]: row["n"] for row in per_patient} == {patient.pk: 1, second.pk: 1}
    snapshot = ScoreSnapshot.objects.get(patient=patient)
    assert snapshot.month == dt.date(2026, 4, 1)
    assert (snapshot.risk, snapshot.value) == (
        first[patient.pk]["risk"],
        first[patient.pk]["value"],
    )

    # A month on, an unchanged score writes no new snapshot: the trend carries April on.
    scores_compute(practices=[practice], now=NOW + dt.timedelta(days=30))
    assert rows()[patient.pk] == first[patient.pk]
    months = ScoreSnapshot.objects.filter(patient=patient).values_list("month", flat=True)
    assert list(months) == [dt.date(2026, 4, 1)]
    trend = monthly_trend(ScoreSnapshot.objects.filter(patient=patient), today=dt.date(2026, 6, 3))
    assert [(point.month, point.risk) for point in trend] == [
        (dt.date(2026, month, 1), first[patient.pk]["risk"]) for month in (4, 5, 6)
    ]
    # A new answer changes the score: the row is rewritten and May gets its own snapshot.
    nps_answer(patient, 10, days=-25)
    scores_compute(practices=[practice], now=NOW + dt.timedelta(days=30))
    months = ScoreSnapshot.objects.filter(patient=patient).values_list("month", flat=True)
    assert list(months) == [dt.date(2026, 4, 1), dt.date(2026, 5, 1)]


def test_patient_ids_rescores_only_those_patients(patient, practice):
    other = PatientFactory(practice=practice)
    scores_compute(practices=[practice], now=NOW)
    before = rows()
    nps_answer(patient, 3, days=1)
    nps_answer(other, 3, days=1)
    later = NOW + dt.timedelta(hours=1)

    assert scores_compute(practices=[practice], patient_ids=[patient.pk], now=later) == 1

    after = rows()
    assert after[other.pk] == before[other.pk]
    assert (after[patient.pk]["last_nps"], after[patient.pk]["scored_at"]) == (3, later)
    assert ScoreSnapshot.objects.filter(patient=other).count() == 1
    assert scores_compute(practices=[practice], patient_ids=[], now=later) == 0


def test_practices_limits_the_run_to_those_practices(patient, sister_patient, practice):
    assert scores_compute(practices=[practice], now=NOW) == 1

    assert set(rows()) == {patient.pk}


def test_each_organisation_scores_with_its_own_weights(
    organisation, patient, sister_patient, other_patient
):
    LoyaltyPolicy.objects.create(organisation=organisation, weights={"detractor": 50})
    for someone in (patient, sister_patient, other_patient):
        nps_answer(someone, 4, days=10)

    assert scores_compute(now=NOW) == 3

    risks = {pk: row["risk"] for pk, row in rows().items()}
    assert risks == {patient.pk: 50, sister_patient.pk: 50, other_patient.pk: 25}


def test_a_zero_weight_silences_a_rule_and_its_reason(organisation, patient):
    LoyaltyPolicy.objects.create(organisation=organisation, weights={"nothing_booked": 0})
    visits(patient, 30)

    row = score(patient)

    assert fired(row) == {"nothing_booked"}
    assert row.risk == 0
    assert reasons_for(row, {"nothing_booked": 0}) == []


def test_scoring_in_the_past_ignores_what_came_later(patient):
    visits(patient, 400, 200, 20)
    nps_answer(patient, 9, days=150)
    nps_answer(patient, 3, days=10)
    appointment(patient, 50, NO_SHOW)

    row = score(patient, now=days_ago(100))

    assert (row.visits, row.days_since_visit, row.rhythm_days) == (2, 100, 200)
    assert (row.last_nps, row.previous_nps, row.missed_recent) == (9, None, 0)
    assert row.has_future_visit is False
    assert row.scored_at == days_ago(100)
    assert ScoreSnapshot.objects.get(patient=patient).month == dt.date(2026, 1, 1)


def test_scoring_in_the_past_sees_cases_as_they_were(patient, manager):
    case(patient, days=200, closed_days=50, outcome="not_recovered", user=manager)
    case(patient, days=20, user=manager)

    before = score(patient, now=days_ago(300))
    assert (before.open_cases, before.unrecovered_cases) == (0, 0)
    assert fired(before) == set()

    then = score(patient, now=days_ago(100))
    assert (then.open_cases, then.unrecovered_cases) == (1, 0)  # the first, not yet closed
    assert fired(then) == {"open_case"}

    row = score(patient)
    assert (row.open_cases, row.unrecovered_cases) == (1, 1)
    assert fired(row) == {"open_case", "unrecovered"}


def test_a_departed_patient_gets_no_snapshot(patient, practice):
    score(patient)
    Patient.objects.filter(pk=patient.pk).update(status=Patient.Status.DEPARTED)

    scores_compute(practices=[practice], now=NOW + dt.timedelta(days=31))

    assert not PatientScore.objects.filter(patient=patient).exists()
    months = ScoreSnapshot.objects.filter(patient=patient).values_list("month", flat=True)
    assert list(months) == [dt.date(2026, 4, 1)]


def test_progress_is_told_each_batch(organisation, practice, sister_practice, other_practice):
    seen = []

    scores_compute(now=NOW, batch=1, progress=seen.append)

    assert seen == [1, 1, 1]


# --- Events re-score the patient --------------------------------------------------------------


def test_a_negative_comment_rescores_that_patient_once_committed(
    patient, practice, manager, django_capture_on_commit_callbacks
):
    bystander = PatientFactory(practice=practice)
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        feedback_item_create(
            practice=practice,
            patient=patient,
            source=FeedbackItem.Source.STAFF,
            text="The equipment feels dated and it is a long drive.",
            user=manager,
        )

    row = PatientScore.objects.get(patient=patient)
    assert row.scored_at == NOW
    assert (row.recent_defects, row.equipment_mentions, row.distance_mentions) == (1, 1, 1)
    assert row.open_cases == 1  # the negative comment opened a case
    assert fired(row) == {"recent_defect", "equipment", "distance", "open_case"}
    assert row.risk == 10 + 10 + 10 + 15
    assert not PatientScore.objects.filter(patient=bystander).exists()


def test_nothing_is_rescored_before_the_commit(
    patient, practice, django_capture_on_commit_callbacks
):
    with (
        time_machine.travel(NOW, tick=False),
        django_capture_on_commit_callbacks(execute=False) as callbacks,
    ):
        feedback_item_create(
            practice=practice,
            patient=patient,
            source="staff",
            text="The equipment feels dated.",
        )

    assert callbacks
    assert not PatientScore.objects.exists()


def test_a_detractor_answer_through_the_survey_counts_every_way(
    patient, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        survey_answer(patient, at=days_ago(3), nps=4)

    row = score(patient)

    assert (row.last_nps, row.recent_defects, row.open_cases) == (4, 1, 1)
    assert fired(row) == {"detractor", "open_case", "recent_defect"}
    assert row.risk == 25 + 15 + 10
    assert reasons_for(row, {}) == [
        "last survey score 4/10 (April)",
        "a complaint is still being worked",
        "negative feedback 1 time(s) in six months",
    ]


def test_closing_a_case_rescores_the_patient(patient, manager, django_capture_on_commit_callbacks):
    from recovery.services import case_close, case_open

    with time_machine.travel(NOW, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            opened = case_open(
                practice=patient.practice, patient=patient, summary="Rude at the desk", user=manager
            )
        assert PatientScore.objects.get(patient=patient).open_cases == 1
        with django_capture_on_commit_callbacks(execute=True):
            case_close(case=opened, outcome="not_recovered", user=manager)

    row = PatientScore.objects.get(patient=patient)
    assert (row.open_cases, row.unrecovered_cases) == (0, 1)


def test_facts_list_matches_the_model():
    stored = {f.name for f in PatientScore._meta.concrete_fields}
    assert set(FACTS) <= stored
    assert stored - set(FACTS) == {
        "id",
        "patient",
        "practice",
        "scored_at",
        "risk",
        "value",
        "priority",
    }
