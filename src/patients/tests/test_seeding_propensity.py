"""The seed's hidden propensity to leave (``flight``): what it drives, and what it does not.

One practice of 3,000 patients with three years of history and a year of survey answers is
seeded once for the module, read into plain Python and rolled back; the tests compare the
settled patients (flight below 0.1) with the most restless (0.45 and up) on what the
database shows before the seed's day, against the hidden truth from ``seeding.truth``.
"""

import datetime as dt
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from io import StringIO
from statistics import mean

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction

from core.models import AuditEvent
from feedback.analysis import analyze
from feedback.models import FeedbackItem
from patients.models import Appointment, Patient
from patients.seeding import comments, seed_practices
from patients.seeding.people import DRIFT_DAYS
from patients.seeding.truth import leavers, practice_truth, seed_truth_of, truth
from patients.seeding.worker import Task, practice_build

# The module's data is seeded once, outside the tests' transactions (and rolled back).
pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)
SEED, PATIENTS, YEARS = 11, 3000, 3
DRIFTING = NOW - dt.timedelta(days=DRIFT_DAYS)
HALF_YEAR = NOW - dt.timedelta(days=182)
YEAR_AGO = NOW - dt.timedelta(days=365)
MISSED = {Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW}
RECALLS = {"Cleaning", "Periodontal maintenance"}
AWAY_WORDS = re.compile(r"equipment|x-rays|dated|outdated|long drive|parking", re.IGNORECASE)


@dataclass
class Seen:
    """What the database shows of one patient, and the hidden truth about them."""

    flight: float
    leaves_on: dt.date | None
    status: str
    visits: list[tuple[dt.datetime, str, str]] = field(default_factory=list)
    answers: list[tuple[dt.datetime, int, str]] = field(default_factory=list)


@pytest.fixture(scope="module")
def practice_seen(django_db_setup, django_db_blocker):
    """External id -> ``Seen`` for the practice, and the seed's audit detail."""
    with django_db_blocker.unblock(), transaction.atomic():
        result = seed_practices(
            practices=1, patients=PATIENTS, years=YEARS, seed=SEED, now=NOW, surveys=True
        )
        practice = result.practices[0]
        fates = practice_truth(SEED, 0, patients=PATIENTS, years=YEARS, now=NOW)
        rebuilt = seed_truth_of(practice)
        seen = {}
        for external_id, status in practice.patients.values_list("external_id", "status"):
            fate = fates.get(external_id)
            seen[external_id] = Seen(fate.flight if fate else -1.0, fate and fate.leaves_on, status)
        visits = practice.appointments.values_list(
            "patient__external_id", "starts_at", "kind", "status"
        )
        for external_id, starts_at, kind, status in visits.order_by("starts_at"):
            seen[external_id].visits.append((starts_at, kind, status))
        answers = FeedbackItem.objects.filter(
            practice=practice, source=FeedbackItem.Source.SURVEY
        ).values_list("patient__external_id", "received_at", "score", "text")
        for external_id, received_at, score, text in answers.order_by("received_at"):
            seen[external_id].answers.append((received_at, score, text))
        detail = AuditEvent.objects.get(practice=practice, object_type="seed").detail
        transaction.set_rollback(True)
    return seen, fates, rebuilt, detail


def _group(seen, low, high):
    """Patients still at the practice whose flight lies in [low, high)."""
    return [
        person
        for person in seen.values()
        if person.status == Patient.Status.ACTIVE and low <= person.flight < high
    ]


def _missed_rate(people, since, until):
    statuses = [
        status
        for person in people
        for starts_at, _, status in person.visits
        if since <= starts_at < until
    ]
    return sum(status in MISSED for status in statuses) / len(statuses)


def _days_since_last_visit(person):
    done = [at for at, _, status in person.visits if at < NOW and status == "completed"]
    return (NOW - done[-1]).days if done else None


def _recall_gaps(person):
    """The last gap between two completed recalls, and the gap since the last one until
    the seed's day, both over the person's usual (median) gap before."""
    days = [at for at, kind, status in person.visits if kind in RECALLS and status == "completed"]
    gaps = [(b - a).days for a, b in zip(days, days[1:], strict=False)]
    if len(gaps) < 3:
        return None, None
    earlier = sorted(gaps[:-1])
    usual = earlier[len(earlier) // 2]
    return gaps[-1] / usual, (NOW - days[-1]).days / usual


def _booked_ahead(person):
    return any(at >= NOW and status == "scheduled" for at, _, status in person.visits)


def _mean(values):
    values = [value for value in values if value is not None]
    return mean(values)


def figures(people):
    """The group's means of what a score could see on the seed's day (survey scores are
    the 0-10 answers, not an NPS)."""
    answers = [answer for person in people for answer in person.answers]
    recent = [score for at, score, _ in answers if at >= HALF_YEAR]
    earlier = [score for at, score, _ in answers if YEAR_AGO <= at < HALF_YEAR]
    return {
        "patients": len(people),
        "missed_before": _missed_rate(people, NOW - dt.timedelta(days=YEARS * 365), DRIFTING),
        "missed_last_18_months": _missed_rate(people, DRIFTING, NOW),
        "days_since_last_visit": _mean(_days_since_last_visit(person) for person in people),
        "last_gap_stretch": _mean(_recall_gaps(person)[0] for person in people),
        "open_gap_stretch": _mean(_recall_gaps(person)[1] for person in people),
        "booked_ahead": mean(_booked_ahead(person) for person in people),
        "score_last_6_months": mean(recent),
        "score_6_to_12_months_ago": mean(earlier),
        "away_mentions": mean(bool(AWAY_WORDS.search(text)) for _, _, text in answers),
        "leaving": mean(person.leaves_on is not None for person in people),
    }


@pytest.fixture(scope="module")
def builds():
    """Four practices built in Python, without the database, for larger numbers."""
    practices = []
    for index in range(4):
        build = practice_build(Task(SEED, index, PATIENTS, YEARS, NOW, aware=False))
        build.plan_visits()
        practices.append(build)
    return practices


@pytest.fixture(scope="module")
def settled_and_restless(practice_seen):
    seen = practice_seen[0]
    return figures(_group(seen, 0, 0.1)), figures(_group(seen, 0.45, 1.01))


# --- what the propensity drives --------------------------------------------------------


def test_most_patients_are_settled_a_few_restless_and_a_tenth_leave(practice_seen):
    seen, fates, _, _ = practice_seen
    flights = [fate.flight for fate in fates.values()]
    assert all(0 <= flight <= 1 for flight in flights)
    settled = sum(flight < 0.1 for flight in flights) / len(flights)
    restless = sum(flight >= 0.45 for flight in flights) / len(flights)
    assert 0.68 < settled < 0.84 and 0.03 < restless < 0.12
    active = [person for person in seen.values() if person.status == Patient.Status.ACTIVE]
    assert 0.07 < mean(person.leaves_on is not None for person in active) < 0.15


def test_long_standing_vips_are_not_exempt(builds):
    vips = [person for build in builds for person in build.people if person.vip]
    assert len(vips) > 60
    assert 0.05 < mean(person.flight for person in vips) < 0.2
    assert sum(person.flight >= 0.45 for person in vips) >= 3
    assert any(person.leaves for person in vips)


def test_restless_patients_miss_more_visits_than_they_used_to(settled_and_restless):
    settled, restless = settled_and_restless

    assert restless["missed_last_18_months"] > restless["missed_before"] + 0.08
    assert restless["missed_last_18_months"] > settled["missed_last_18_months"] + 0.08
    assert abs(settled["missed_last_18_months"] - settled["missed_before"]) < 0.03
    # Before the drift, nothing tells them apart (but the noise of 188 patients).
    assert abs(restless["missed_before"] - settled["missed_before"]) < 0.04


def test_restless_patients_stretch_their_recalls_and_book_less_ahead(settled_and_restless):
    settled, restless = settled_and_restless

    assert restless["days_since_last_visit"] > settled["days_since_last_visit"] + 100
    # Gaps between recalls, over the person's own usual gap: the last one completed...
    assert restless["last_gap_stretch"] > settled["last_gap_stretch"] + 0.1
    # ...and the one still open on the seed's day.
    assert restless["open_gap_stretch"] > settled["open_gap_stretch"] + 0.3
    assert restless["booked_ahead"] < settled["booked_ahead"] - 0.4


def test_restless_patients_score_lower_and_lower(settled_and_restless):
    settled, restless = settled_and_restless

    assert restless["score_last_6_months"] < settled["score_last_6_months"] - 1.0
    # Falling, while the settled patients' scores rise with the practice's.
    assert restless["score_last_6_months"] < restless["score_6_to_12_months_ago"]
    assert settled["score_last_6_months"] > settled["score_6_to_12_months_ago"]
    settled_rise = settled["score_last_6_months"] - settled["score_6_to_12_months_ago"]
    restless_rise = restless["score_last_6_months"] - restless["score_6_to_12_months_ago"]
    assert restless_rise < settled_rise - 0.5


def test_restless_patients_mention_dated_equipment_and_the_drive(settled_and_restless):
    settled, restless = settled_and_restless

    assert restless["away_mentions"] > settled["away_mentions"] + 0.1
    assert restless["away_mentions"] > 3 * settled["away_mentions"] > 0


def test_the_practice_still_looks_like_a_practice(practice_seen):
    seen = practice_seen[0]
    past = Counter(
        status
        for person in seen.values()
        for at, _, status in person.visits
        if at < NOW - dt.timedelta(days=1)
    )
    total = sum(past.values())
    assert 0.06 < past["cancelled"] / total < 0.10
    assert 0.025 < past["no_show"] / total < 0.055
    active = [person for person in seen.values() if person.status == Patient.Status.ACTIVE]
    assert 0.75 < mean(_booked_ahead(person) for person in active) < 0.92
    scores = Counter(
        "promoter" if score >= 9 else "detractor" if score <= 6 else "passive"
        for person in seen.values()
        for at, score, _ in person.answers
        if at >= YEAR_AGO
    )
    nps = 100 * (scores["promoter"] - scores["detractor"]) / sum(scores.values())
    assert 40 <= nps <= 65


def _built_figures(build, people):
    """``figures``' visit measures, from a build's planned rows (no database)."""
    refs = {person.ref for person in people}
    today = dt.date.fromordinal(build.today).isoformat()
    drifting = dt.date.fromordinal(build.today - DRIFT_DAYS).isoformat()
    missed, booked, last = [], set(), {}
    for starts_at, ref, _, _, _, status, _ in build.planner.rows:
        if ref not in refs:
            continue
        day = starts_at[:10]
        if drifting <= day < today:
            missed.append(status in MISSED)
        if day > today:
            booked.add(ref)
        if day < today and status == "completed":
            last[ref] = max(last.get(ref, day), day)
    since = [build.today - dt.date.fromisoformat(day).toordinal() for day in last.values()]
    return mean(missed), len(booked) / len(people), mean(since)


@pytest.mark.parametrize(("low", "high"), [(0.1, 0.45), (0.45, 1.01)], ids=["some", "restless"])
def test_the_outcome_itself_leaves_no_trace(builds, low, high):
    """Among equally restless patients, those drawn to leave behave like those who stay,
    bookings included: only the propensity drives behaviour, so the signals stay noisy.
    (Survey answers only ever see the propensity.)"""
    going, staying = defaultdict(list), defaultdict(list)
    for index, build in enumerate(builds):
        for person in build.people:
            if person.departed is None and low <= person.flight < high:
                (going if person.leaves else staying)[index].append(person)

    def pooled(groups):
        parts = [(len(groups[n]), _built_figures(builds[n], groups[n])) for n in groups]
        total = sum(size for size, _ in parts)
        return total, [sum(size * part[k] for size, part in parts) / total for k in range(3)]

    (leavers_count, left), (stayers_count, stayed) = pooled(going), pooled(staying)
    assert leavers_count > 300 and stayers_count > 300
    assert abs(left[0] - stayed[0]) < 0.04  # missed visits in the last 18 months
    assert abs(left[1] - stayed[1]) < 0.06  # the next visit in the book
    assert abs(left[2] - stayed[2]) < 40  # days since the last visit


def test_away_comments_read_as_negative_remarks_about_the_facility():
    for texts in comments.AWAY.values():
        for text in texts:
            result = analyze(text)
            assert result.label == "negative", text
            assert "facility" in result.touchpoints, text
            assert not result.urgent, text
            assert AWAY_WORDS.search(text), text


# --- the hidden truth ------------------------------------------------------------------


def test_truth_covers_exactly_the_patients_written(practice_seen):
    seen, fates, rebuilt, detail = practice_seen

    assert set(fates) == set(seen)
    assert rebuilt == fates  # from the practice's seed audit event alone
    assert detail["practice"] == 0 and detail["years"] == YEARS
    assert detail["survey_responses"] > 1000
    for person in seen.values():
        if person.status == Patient.Status.DEPARTED:
            assert person.leaves_on is None
        if person.leaves_on is not None:
            assert NOW.date() < person.leaves_on <= NOW.date() + dt.timedelta(days=365)
            last_booked = max((at for at, _, _ in person.visits), default=NOW)
            assert last_booked.date() <= person.leaves_on  # nothing booked after they leave


def test_truth_matches_the_seed_command(db):
    with time_machine.travel(NOW, tick=False):
        call_command(
            "seed", "--practices", "3", "--patients", "40", "--years", "2", "--seed", "5",
            "--organisations", "2", "--no-progress", stdout=StringIO(),
        )  # fmt: skip
    written = set()
    for event in AuditEvent.objects.filter(object_type="seed"):
        external_ids = event.practice.patients.values_list("external_id", flat=True)
        written |= {(event.detail["practice"], external_id) for external_id in external_ids}

    left = leavers("5", 3, 40, 2, now=NOW)
    assert set(left) == written and len(written) == 120
    fates = truth(5, 3, 40, 2, now=NOW)
    assert left == {key: fate.leaves_on is not None for key, fate in fates.items()}
    # Each practice's own audit event is enough to rebuild its part.
    for event in AuditEvent.objects.filter(object_type="seed"):
        index = event.detail["practice"]
        own = {external_id: fate for (n, external_id), fate in fates.items() if n == index}
        assert seed_truth_of(event.practice) == own and len(own) == 40


# --- determinism -----------------------------------------------------------------------


def _everything(practice):
    patients = list(practice.patients.order_by("external_id").values_list("external_id", "status"))
    visits = defaultdict(list)
    for row in practice.appointments.order_by("external_id").values_list(
        "patient__external_id", "external_id", "starts_at", "kind", "status", "fee"
    ):
        visits[row[0]].append(row[1:])
    answers = list(
        FeedbackItem.objects.filter(practice=practice)
        .order_by("received_at", "patient__external_id")
        .values_list("patient__external_id", "received_at", "score", "text", "label")
    )
    return patients, dict(visits), answers


def test_the_same_seed_gives_the_same_rows_and_the_same_truth(db):
    options = {"practices": 1, "patients": 300, "years": 2, "seed": 3, "now": NOW}
    first = _everything(seed_practices(**options, surveys=True).practices[0])
    second = _everything(seed_practices(**options, surveys=True).practices[0])

    assert first == second
    assert len(first[0]) == 300 and first[2]
    assert practice_truth(3, 0, patients=300, years=2, now=NOW) == practice_truth(
        "3", 0, patients=300, years=2, now=NOW
    )
    assert practice_truth(3, 0, patients=300, years=2, now=NOW) != practice_truth(
        4, 0, patients=300, years=2, now=NOW
    )
