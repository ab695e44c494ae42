import datetime as dt
import json
import re
from collections import Counter
from decimal import Decimal
from io import StringIO

import phonenumbers
import pytest
import time_machine
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Avg, Count, F, Q

from core.models import AuditEvent, Membership, Organisation, Practice, StaffMember
from core.selectors import roles_at
from feedback.analysis import analyze
from feedback.models import Answer, FeedbackItem, Question, SurveyInvitation
from feedback.selectors import nps_from_counts, practice_nps
from patients.models import Appointment, Household, Patient
from patients.seeding import DEMO_PASSWORD, comments, seed_demo, seed_practices
from patients.seeding.visits import KINDS

UTC = dt.UTC
# A Tuesday afternoon in New York, already evening-side in UTC terms of nothing special.
TUESDAY = dt.datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def _seed(**options):
    defaults = {"practices": 2, "patients": 40, "years": 2, "seed": 7, "now": TUESDAY}
    return seed_practices(**{**defaults, **options})


def _fingerprint(result):
    """What a seed decides, free of database ids: per practice, people and their visits."""
    rows = []
    for practice in result.practices:
        patients = practice.patients.annotate(visits=Count("appointments")).order_by("external_id")
        rows.append(
            (
                practice.name,
                practice.timezone,
                [
                    (p.external_id, p.first_name, p.last_name, p.date_of_birth, p.visits)
                    for p in patients
                ],
            )
        )
    return rows


def _local_day(practice: Practice, moment: dt.datetime) -> dt.date:
    return moment.astimezone(practice.zone).date()


# --- determinism and counts ------------------------------------------------------------


def test_the_same_seed_gives_the_same_people_and_visits(db):
    first = _fingerprint(_seed())
    second = _fingerprint(_seed())

    assert first == second
    assert sum(len(people) for _, _, people in first) == 80


def test_another_seed_gives_other_people(db):
    assert _fingerprint(_seed(seed=7)) != _fingerprint(_seed(seed=8))


def test_building_in_a_worker_process_gives_the_same_data(db):
    assert _fingerprint(_seed(workers=1)) == _fingerprint(_seed(workers=0))


def test_counts_match_the_request_and_groups_share_practices_round_robin(db):
    result = _seed(practices=3, patients=25, organisations=2)

    assert len(result.practices) == 3
    assert result.patients == 75 == Patient.objects.count()
    assert result.appointments == Appointment.objects.count() > 75
    groups = Organisation.objects.annotate(n=Count("practices")).order_by("id")
    assert [group.n for group in groups] == [2, 1]
    for practice in result.practices:
        assert practice.patients.count() == 25
        kinds = Counter(practice.staff.values_list("kind", flat=True))
        assert 2 <= kinds[StaffMember.Kind.DENTIST] <= 4
        assert 2 <= kinds[StaffMember.Kind.HYGIENIST] <= 4
        assert kinds[StaffMember.Kind.MANAGER] == 1
        assert kinds[StaffMember.Kind.FRONT_DESK] == 2
        # Lunch closure: two periods on every open weekday but Saturday mornings.
        periods = Counter(practice.opening_periods.values_list("weekday", flat=True))
        assert all(count == 2 for day, count in periods.items() if day < 5)
    assert AuditEvent.objects.filter(object_type="seed").count() == 3


def test_seeding_again_adds_new_groups_with_their_own_slugs(db):
    _seed(practices=1, patients=5)
    _seed(practices=1, patients=5)

    slugs = list(Organisation.objects.values_list("slug", flat=True))
    assert len(slugs) == len(set(slugs)) == 2


def test_practices_are_spread_over_us_time_zones(db):
    result = _seed(practices=20, patients=2, years=1)

    zones = {practice.timezone for practice in result.practices}
    assert zones <= {
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Phoenix",
        "America/Los_Angeles",
    }
    assert len(zones) >= 3


# --- the day sheet ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment",
    [
        TUESDAY,
        # Wednesday 03:00 UTC is still Tuesday evening in every US zone.
        dt.datetime(2026, 11, 25, 3, 0, tzinfo=UTC),
        # A Sunday: no practice opens, the day sheet still has people on it.
        dt.datetime(2026, 11, 29, 16, 0, tzinfo=UTC),
    ],
    ids=["tuesday", "utc-tomorrow", "sunday"],
)
def test_every_practice_has_appointments_today_in_its_own_time_zone(db, moment):
    with time_machine.travel(moment, tick=False):
        result = seed_practices(practices=6, patients=30, years=1, seed=3)

        for practice in result.practices:
            today = _local_day(practice, moment)
            start = dt.datetime.combine(today, dt.time.min, tzinfo=practice.zone)
            todays = practice.appointments.filter(
                starts_at__gte=start, starts_at__lt=start + dt.timedelta(days=1)
            )
            assert todays.count() >= 8, practice.timezone
            if practice.opening_periods.filter(weekday=today.weekday()).exists():
                assert all(practice.is_open_at(a.starts_at) for a in todays)
            for appointment in todays:
                if appointment.starts_at > moment:
                    assert appointment.status == Appointment.Status.SCHEDULED


def test_appointments_fall_in_opening_hours_and_never_on_holidays(db):
    result = _seed(practices=1, patients=60)
    practice = result.practices[0]
    closed = set(practice.closed_days.values_list("date", flat=True))
    hours = {}
    for period in practice.opening_periods.all():
        hours.setdefault(period.weekday, []).append((period.opens_at, period.closes_at))

    assert closed, "US public holidays are closed days"
    for appointment in practice.appointments.all():
        local = appointment.starts_at.astimezone(practice.zone)
        end = (local + dt.timedelta(minutes=appointment.duration_minutes)).time()
        assert local.date() not in closed
        assert any(
            opens <= local.time() and end <= closes for opens, closes in hours[local.weekday()]
        ), local


# --- people ----------------------------------------------------------------------------


def test_households_share_an_address_but_stay_separate_patients(db):
    _seed(practices=1, patients=150)

    households = Household.objects.annotate(n=Count("members"))
    assert households.exists()
    assert all(2 <= household.n <= 5 for household in households)
    in_households = Patient.objects.filter(household__isnull=False).count()
    assert 0.25 <= in_households / Patient.objects.count() <= 0.55
    for household in households:
        members = list(household.members.all())
        assert len({member.pk for member in members}) == household.n
        assert len({(m.address, m.city, m.postal_code) for m in members}) == 1
        assert all(member.practice_id == household.practice_id for member in members)
        assert household.name in {member.last_name for member in members}


def test_minors_have_an_adult_guardian_from_their_household(db):
    _seed(practices=1, patients=200)
    today = TUESDAY.date()

    minors = [p for p in Patient.objects.select_related("guardian") if p.age_on(today) < 18]
    assert minors
    for minor in minors:
        guardian = minor.guardian
        assert guardian is not None, minor
        assert guardian.age_on(today) >= 18
        assert guardian.age_on(today) - minor.age_on(today) >= 18
        assert guardian.practice_id == minor.practice_id
        assert guardian.household_id == minor.household_id is not None
    adults_with_guardians = Patient.objects.filter(guardian__isnull=False).exclude(
        pk__in=[minor.pk for minor in minors]
    )
    assert not adults_with_guardians.exists()


def test_referrals_stay_inside_the_practice_and_come_before_the_referral(db):
    _seed(practices=2, patients=150)

    referred = Patient.objects.filter(referred_by__isnull=False).select_related("referred_by")
    assert referred.exists()
    for patient in referred:
        assert patient.referred_by.practice_id == patient.practice_id
        assert patient.referred_by.first_visit_on < patient.first_visit_on
    sources = set(Patient.objects.values_list("referral_source", flat=True))
    assert {"Google", "Insurance directory"} <= sources


def test_phones_are_valid_e164_and_emails_fictional(db):
    _seed(practices=2, patients=120)

    phones = list(Patient.objects.exclude(phone="").values_list("phone", flat=True))
    phones += list(Practice.objects.values_list("phone", flat=True))
    assert len(phones) > 200
    for phone in phones:
        number = phonenumbers.parse(phone, None)
        assert phonenumbers.is_possible_number(number), phone
        assert phonenumbers.is_valid_number(number), phone
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == phone
        assert phone[5:9] == "5550", "fictional 555-01xx lines"
    emails = Patient.objects.exclude(email="").values_list("email", flat=True)
    assert emails
    assert all(re.fullmatch(r"[a-z0-9.]+@example\.(com|org)", email) for email in emails)


def test_external_ids_are_set_and_unique_per_practice(db):
    result = _seed(practices=2, patients=50)

    for model, pattern in ((Patient, r"P\d{6}"), (Appointment, r"A\d{7}"), (Household, r"H\d{5}")):
        ids = list(model.objects.values_list("practice_id", "external_id"))
        assert ids
        assert len(ids) == len(set(ids)), model.__name__
        assert all(re.fullmatch(pattern, external_id) for _, external_id in ids)
    for practice in result.practices:
        staff = list(practice.staff.values_list("external_id", flat=True))
        assert len(staff) == len(set(staff))


def test_bulk_inserted_patients_are_searchable_and_have_figures(db):
    _seed(practices=1, patients=60)
    patient = Patient.objects.filter(visit_count__gt=0).first()

    assert patient.search_name == patient.search_text()
    assert patient in Patient.objects.search(patient.last_name.upper())
    assert patient.lifetime_value > 0
    assert patient.figures_refreshed_at is not None
    assert Patient.objects.filter(figures_refreshed_at__isnull=True).count() == 0


def test_visits_have_realistic_statuses_fees_and_rhythm(db):
    _seed(practices=1, patients=400, years=3)
    past = Appointment.objects.filter(starts_at__lt=TUESDAY)
    future = Appointment.objects.filter(starts_at__gte=TUESDAY)

    statuses = Counter(past.values_list("status", flat=True))
    total = sum(statuses.values())
    assert 0.05 < statuses[Appointment.Status.CANCELLED] / total < 0.11
    assert 0.02 < statuses[Appointment.Status.NO_SHOW] / total < 0.06
    assert Appointment.Status.SCHEDULED not in statuses
    assert set(future.values_list("status", flat=True)) == {Appointment.Status.SCHEDULED}
    for kind, (minutes, _, low, high) in KINDS.items():
        for appointment in Appointment.objects.filter(kind=kind):
            assert Decimal(low) <= appointment.fee <= Decimal(high), kind
            assert appointment.duration_minutes == minutes
    assert {"Cleaning", "Exam", "Filling", "Crown"} <= set(
        Appointment.objects.values_list("kind", flat=True)
    )
    # Most patients come back about every six months; some are booked ahead.
    assert future.values("patient").distinct().count() > 300
    long_tenure = Patient.objects.filter(
        first_visit_on__lt=TUESDAY.date() - dt.timedelta(days=15 * 365)
    )
    assert long_tenure.exists()
    assert Patient.objects.filter(~Q(goals="") | ~Q(greatest_concern="")).count() > 40


# --- the command -----------------------------------------------------------------------


def test_seed_command_prints_a_one_line_summary(db):
    out = StringIO()
    call_command(
        "seed", "--practices", "2", "--patients", "15", "--years", "1", "--seed", "4",
        "--no-progress", stdout=out,
    )  # fmt: skip

    line = out.getvalue()
    assert line.count("\n") == 1
    assert re.fullmatch(
        r"seeded 2 practices, 30 patients, (\d+) appointments in \d+\.\ds\n", line
    ), line
    assert int(re.search(r"(\d+) appointments", line).group(1)) == Appointment.objects.count()


@pytest.mark.parametrize(
    "args",
    [["--patients", "0"], ["--practices", "x"], ["--practices", "1", "--organisations", "2"]],
)
def test_seed_command_rejects_bad_numbers(db, args):
    with pytest.raises(CommandError):
        call_command("seed", "--no-progress", *args)
    assert not Patient.objects.exists()


# --- the demo --------------------------------------------------------------------------


def test_seed_demo_tells_the_stories_and_runs_once(db):
    with time_machine.travel(TUESDAY, tick=False):
        logins = seed_demo()
        maple = Practice.objects.get(organisation__slug="bright-smiles", slug="maple")
        harbor = Practice.objects.get(organisation__slug="bright-smiles", slug="harbor")

        assert maple.organisation.name == "Bright Smiles Dental Group"
        assert maple.name == "Maple Street Dental"
        assert maple.timezone == "America/New_York"
        assert maple.region == Practice.Region.US
        assert maple.patients.count() >= 1500
        assert 0 < harbor.patients.count() < maple.patients.count()
        _check_history(maple)
        _check_dana(maple)
        _check_sam(maple)
        _check_priya(maple)
        _check_lees(maple)
        _check_leo(maple)
        _check_logins(logins, maple)

        counts = (
            Patient.objects.count(),
            Appointment.objects.count(),
            Organisation.objects.count(),
        )
        users = Membership.objects.count()
        assert seed_demo() == logins
        assert (Patient.objects.count(), Appointment.objects.count()) == counts[:2]
        assert Organisation.objects.count() == counts[2]
        assert Membership.objects.count() == users


def _check_history(maple):
    today = TUESDAY.date()
    generated = maple.appointments.exclude(patient__last_name="Whitfield")
    assert generated.order_by("starts_at").first().starts_at.date() <= today - dt.timedelta(
        days=3 * 365 - 30
    )
    for years_back in range(3):
        end = TUESDAY - dt.timedelta(days=365 * years_back)
        year = generated.filter(starts_at__lt=end, starts_at__gte=end - dt.timedelta(days=365))
        assert year.filter(status=Appointment.Status.COMPLETED).count() > 2000
    assert maple.appointments.filter(starts_at__date=today).count() >= 8


def _patient(maple, first, last):
    return Patient.objects.select_related("household", "guardian").get(
        practice=maple, first_name=first, last_name=last
    )


def _check_dana(maple):
    dana = _patient(maple, "Dana", "Whitfield")
    assert 19.5 <= (TUESDAY.date() - dana.first_visit_on).days / 365.25 <= 20.5
    assert dana.lifetime_value > 10_000
    assert dana.appointments.filter(kind="Crown", status="completed").count() >= 3
    assert dana.referral_count == 9
    referred = list(dana.referrals.all())
    assert {p.practice_id for p in referred} == {maple.pk}
    assert sum(p.household_id == dana.household_id for p in referred) == 2
    profile = " ".join(
        (dana.goals, dana.greatest_concern, dana.previous_experiences, dana.preferences,
         dana.trust_notes)
    )  # fmt: skip
    assert "equipment that feels dated" in profile
    assert "a long drive" in profile
    # Visits thinned over the last two years, and nothing is booked.
    done = dana.appointments.filter(status="completed", kind="Cleaning")
    two_years_ago = TUESDAY - dt.timedelta(days=730)
    recent = done.filter(starts_at__gte=two_years_ago).count()
    before = done.filter(
        starts_at__lt=two_years_ago, starts_at__gte=two_years_ago - dt.timedelta(days=730)
    ).count()
    assert recent < before
    assert dana.next_visit_at is None


def _check_sam(maple):
    sam = _patient(maple, "Sam", "Ortega")
    assert sam.goals == "keep my own teeth, look natural"
    assert sam.greatest_concern == "cost surprises"
    assert sam.previous_experiences == "a dentist who never explained anything"
    assert sam.anxieties == "strong gag reflex"
    assert sam.preferred_channel == Patient.Channel.SMS
    crown = sam.appointments.get(kind="Crown")
    assert _local_day(maple, crown.starts_at) == _local_day(maple, TUESDAY)
    assert maple.is_open_at(crown.starts_at)
    assert crown.status == Appointment.Status.SCHEDULED  # 10:00 in New York: still ahead
    assert crown.provider.user.username == "dentist"


def _check_priya(maple):
    priya = _patient(maple, "Priya", "Nair")
    shade = priya.appointments.get(kind="Crown shade match")
    assert TUESDAY - dt.timedelta(days=14) < shade.starts_at < TUESDAY
    assert shade.status == Appointment.Status.COMPLETED
    assert priya.goals and priya.greatest_concern


def _check_lees(maple):
    household = Household.objects.get(practice=maple, name="Lee")
    members = {p.first_name: p for p in household.members.select_related("guardian")}
    assert set(members) == {"Grace", "Daniel", "Emma", "Noah"}
    grace = members["Grace"]
    for child in ("Emma", "Noah"):
        assert members[child].is_minor
        assert members[child].guardian == grace
    march = grace.appointments.filter(
        kind="Cleaning", status="completed", starts_at__month=3, starts_at__year=2026
    )
    assert march.exists()
    upcoming = grace.appointments.get(status="scheduled", kind="Cleaning")
    assert TUESDAY < upcoming.starts_at < TUESDAY + dt.timedelta(days=7)
    first_slot = maple.opening_periods.filter(
        weekday=_local_day(maple, upcoming.starts_at).weekday()
    ).order_by("opens_at")[0]
    assert upcoming.starts_at.astimezone(maple.zone).time() == first_slot.opens_at


def _check_leo(maple):
    leo = _patient(maple, "Leo", "Brandt")
    assert leo.age_on(TUESDAY.date()) == 8
    assert leo.guardian.full_name == "Anna Brandt"
    assert leo.guardian.household_id == leo.household_id is not None
    assert leo.anxieties == "gags easily; anxious child"
    assert leo.contact_person == leo.guardian


def _check_logins(logins, maple):
    assert [username for _, username, _ in logins] == [
        "frontdesk",
        "dentist",
        "manager",
        "director",
    ]
    expected = {
        "frontdesk": Membership.Role.FRONT_DESK,
        "dentist": Membership.Role.CLINICIAN,
        "manager": Membership.Role.MANAGER,
        "director": Membership.Role.GROUP_ADMIN,
    }
    for label, username, password in logins:
        assert password == DEMO_PASSWORD and label
        user = authenticate(username=username, password=password)
        assert user is not None, username
        assert roles_at(user, maple) == {expected[username]}
        assert user.is_staff == (username in {"manager", "director"})
    director = Membership.objects.get(user__username="director")
    assert director.practice is None and director.organisation == maple.organisation
    dentist = StaffMember.objects.get(user__username="dentist")
    assert dentist.practice == maple and dentist.kind == StaffMember.Kind.DENTIST


# --- the demo's feedback ---------------------------------------------------------------

YEAR_AGO = TUESDAY - dt.timedelta(days=365)


@pytest.mark.parametrize(
    ("pool", "label"),
    [(comments.POSITIVE, "positive"), (comments.NEGATIVE, "negative")],
    ids=["positive", "negative"],
)
def test_demo_comments_read_as_what_they_are(pool, label):
    names = {"hygienist": "Maria Lopez", "dentist": "Dr. Okafor", "desk": "Tina Brooks"}
    for touchpoint, texts in pool.items():
        for text in texts:
            result = analyze(text.format(**names), people=["Maria Lopez", "Dr. Ebony Okafor"])
            assert result.label == label, text
            assert not result.urgent, text  # the stories bring the urgent items
            assert not touchpoint or touchpoint in result.touchpoints, text
    for text in [*(t for texts in comments.MIXED.values() for t in texts), *comments.NOTES]:
        assert not analyze(text.format(**names)).urgent, text


def test_seed_demo_shows_a_year_of_feedback_and_the_stories_in_their_words(db, client):
    with time_machine.travel(TUESDAY, tick=False):
        seed_demo()
        maple = Practice.objects.get(organisation__slug="bright-smiles", slug="maple")
        harbor = Practice.objects.get(organisation__slug="bright-smiles", slug="harbor")

        _check_survey_year(maple)
        _check_inbox_filing(maple)
        harbor_answers = harbor.survey_responses.filter(submitted_at__gte=YEAR_AGO).count()
        assert 50 < harbor_answers < maple.survey_responses.count() / 2
        assert 20 <= practice_nps(harbor, since=YEAR_AGO).score <= 80
        _check_feedback_dana(maple)
        _check_feedback_sam(maple)
        _check_feedback_priya(maple)
        _check_feedback_lees(maple)
        _check_feedback_leo(maple)
        _check_reviews(maple)
        _check_pages(client, maple)

        for practice in (maple, harbor):
            seed = AuditEvent.objects.get(practice=practice, object_type="seed")
            assert seed.detail["survey_responses"] == practice.survey_responses.count()
            assert seed.detail["feedback_items"] == practice.feedback_items.count()
        # Seeding is not a patient's action: no per-response audit rows.
        assert not AuditEvent.objects.filter(
            object_type__in=["survey_response", "feedback_item"], action="create"
        ).exists()
        counts = (SurveyInvitation.objects.count(), FeedbackItem.objects.count())
        seed_demo()
        assert (SurveyInvitation.objects.count(), FeedbackItem.objects.count()) == counts


def _check_survey_year(maple):
    responses = maple.survey_responses.filter(submitted_at__gte=YEAR_AGO)
    months = {
        moment.astimezone(maple.zone).strftime("%Y-%m")
        for moment in responses.values_list("submitted_at", flat=True)
    }
    assert len(months) >= 12
    assert responses.order_by("submitted_at")[0].submitted_at < YEAR_AGO + dt.timedelta(days=20)
    nps = practice_nps(maple, since=YEAR_AGO)
    assert 20 <= nps.score <= 80
    assert nps.promoters > nps.passives > nps.detractors > 0
    # Slowly getting better: the last six months beat the six before.
    half = TUESDAY - dt.timedelta(days=182)
    earlier = nps_from_counts(responses.filter(submitted_at__lt=half))
    assert practice_nps(maple, since=half).score > earlier.score

    visits = maple.appointments.filter(
        status=Appointment.Status.COMPLETED, starts_at__gte=YEAR_AGO, starts_at__lt=TUESDAY
    )
    invitations = list(
        SurveyInvitation.objects.filter(practice=maple, survey__kind="post_visit")
        .select_related("appointment", "response")
        .order_by("created_at")
    )
    after_visits = [i for i in invitations if i.appointment is not None]
    assert 0.2 < len(after_visits) / visits.count() < 0.4
    answered = [i for i in after_visits if hasattr(i, "response")]
    assert 0.5 < len(answered) / len(after_visits) < 0.7
    last_invited = {}
    for invitation in after_visits:
        assert invitation.created_at == invitation.appointment.ends_at + dt.timedelta(hours=2)
        assert invitation.expires_at == invitation.created_at + dt.timedelta(days=14)
        assert invitation.patient_id == invitation.appointment.patient_id
        previous = last_invited.get(invitation.patient_id)
        assert previous is None or invitation.created_at - previous >= dt.timedelta(days=30)
        last_invited[invitation.patient_id] = invitation.created_at
    for invitation in answered:
        response = invitation.response
        assert invitation.created_at < response.submitted_at <= TUESDAY
        assert response.submitted_at < invitation.expires_at
        assert response.updated_at == response.submitted_at
        assert invitation.opened_at <= response.submitted_at

    # Ratings agree with the score; about four in ten write something.
    ratings = Answer.objects.filter(response__practice=maple, question__kind=Question.Kind.RATING)
    assert set(ratings.values_list("number", flat=True)) == {1, 2, 3, 4, 5}

    def mean_rating(scores):
        return ratings.filter(response__nps__in=scores).aggregate(m=Avg("number"))["m"]

    assert mean_rating([9, 10]) > mean_rating([7, 8]) + 0.3 > mean_rating(range(7)) + 0.6
    items = FeedbackItem.objects.filter(practice=maple, source=FeedbackItem.Source.SURVEY)
    assert items.count() == maple.survey_responses.count()
    assert not items.exclude(score=F("response__nps")).exists()
    assert not items.exclude(received_at=F("response__submitted_at")).exists()
    written = items.exclude(text="")
    assert 0.3 < written.count() / items.count() < 0.55
    assert len(set(written.values_list("text", flat=True))) > 100
    labels = Counter(written.values_list("label", flat=True))
    assert labels["positive"] > labels["negative"] > 0 and labels["neutral"] > 0
    assert written.exclude(people=[]).count() > 20  # staff named, for their coaching view
    # A flat or empty comment from a detractor still reads as negative.
    assert not items.filter(score__lte=6, label=FeedbackItem.Label.NEUTRAL).exists()


def _check_inbox_filing(maple):
    items = maple.feedback_items.all()
    recent = items.filter(received_at__gte=TUESDAY - dt.timedelta(days=14))
    older = items.filter(received_at__lt=TUESDAY - dt.timedelta(days=14))
    assert recent.count() > 10
    assert set(recent.values_list("status", flat=True)) == {FeedbackItem.Status.NEW}
    statuses = Counter(older.values_list("status", flat=True))
    assert statuses[FeedbackItem.Status.HANDLED] > 0.8 * older.count()
    assert FeedbackItem.Status.NEW not in statuses
    handled = older.filter(status=FeedbackItem.Status.HANDLED)
    assert not handled.filter(handled_at__lt=F("received_at")).exists()
    assert not handled.filter(handled_at__isnull=True).exists()
    # The only urgent items are the stories': Leo's mother, and Dana thinking of leaving.
    urgent = items.filter(is_urgent=True).select_related("patient")
    assert sorted(item.patient.full_name for item in urgent) == ["Dana Whitfield", "Leo Brandt"]


def _story_items(maple, first, last, **filters):
    patient = _patient(maple, first, last)
    return patient, list(patient.feedback_items.filter(**filters).order_by("received_at"))


def _check_feedback_dana(maple):
    dana, items = _story_items(maple, "Dana", "Whitfield")
    assert [item.score for item in items] == [9, 7, 6]
    assert {item.response.survey.kind for item in items} == {"relationship"}
    assert TUESDAY - dt.timedelta(days=2 * 365) < items[0].received_at
    assert items[1].received_at - items[0].received_at > dt.timedelta(days=300)
    assert all(item.response.invitation.appointment_id is None for item in items)
    words = " ".join(item.text for item in items)
    assert "equipment that feels dated" in words
    assert "a long drive" in words
    assert [item.label for item in items] == ["positive", "negative", "negative"]
    assert "facility" in items[-1].touchpoints
    assert items[-1].is_urgent  # she is wondering whether to leave: the early warning
    facility = Answer.objects.filter(response__patient=dana, question__touchpoint="facility")
    assert list(facility.order_by("response__submitted_at").values_list("number", flat=True)) == [
        4, 3, 2,
    ]  # fmt: skip


def _check_feedback_sam(maple):
    _, items = _story_items(maple, "Sam", "Ortega")
    (item,) = items
    visit = item.response.invitation.appointment
    assert visit.kind == "Consultation"
    assert visit.ends_at < item.received_at < TUESDAY
    assert TUESDAY - item.received_at < dt.timedelta(days=30)
    assert item.score == 10 and item.source == FeedbackItem.Source.SURVEY
    assert item.label == FeedbackItem.Label.POSITIVE and not item.is_urgent
    assert "treatment_cost" in item.touchpoints
    assert "crown will cost" in item.text
    assert f"Dr. {visit.provider.name.split()[-1]}" in item.text


def _check_feedback_priya(maple):
    _, items = _story_items(maple, "Priya", "Nair")
    (item,) = items
    assert item.response.invitation.appointment.kind == "Crown shade match"
    assert item.score == 3
    assert item.label == FeedbackItem.Label.NEGATIVE and not item.is_urgent
    assert item.touchpoints[0] == "third_party"
    assert item.people == []  # the lab is the item's vendor, not one of its people
    for words in ("Crestline Dental Lab", "no greeting", "seat", "phone calls", "his desk"):
        assert words in item.text
    assert item.status == FeedbackItem.Status.NEW


def _check_feedback_lees(maple):
    grace, items = _story_items(maple, "Grace", "Lee")
    note, march, follow_up = items
    assert note.source == FeedbackItem.Source.STAFF and note.source_detail == "at the desk"
    assert note.received_at.astimezone(maple.zone).month == 3
    assert "40 minutes late" in note.text and "nobody explained" in note.text
    assert note.label == FeedbackItem.Label.NEGATIVE and not note.is_urgent
    assert "waiting" in note.touchpoints
    assert march.response.invitation.appointment.starts_at.month == 3
    assert (march.score, march.label) == (6, FeedbackItem.Label.NEGATIVE)
    assert "waiting" in march.touchpoints  # rated 1 of 5
    assert follow_up.score == 10 and follow_up.label == FeedbackItem.Label.POSITIVE
    assert follow_up.received_at - march.received_at > dt.timedelta(days=30)
    assert grace.appointments.filter(status="scheduled").exists()  # September's return visit


def _check_feedback_leo(maple):
    leo, items = _story_items(maple, "Leo", "Brandt")
    (item,) = items
    assert item.source == FeedbackItem.Source.WEB
    assert item.author_name == "Anna Brandt" and item.contact == leo.guardian.email
    assert item.is_urgent and item.label == FeedbackItem.Label.NEGATIVE
    assert item.sentiment < -0.5
    assert item.touchpoints[0] == "hygiene"
    assert item.status == FeedbackItem.Status.NEW
    for words in ("scolded", "squirming and gagging", "other families", "sugary drinks", "water"):
        assert words in item.text
    visit = leo.appointments.filter(kind="Cleaning", status="completed").latest("starts_at")
    assert item.people == [visit.provider.name]  # for the hygienist's coaching view
    sent = item.received_at.astimezone(maple.zone)
    assert sent.date() == visit.starts_at.astimezone(maple.zone).date()
    assert sent.hour >= 18  # that evening
    assert not _patient(maple, "Anna", "Brandt").feedback_items.exists()


def _check_reviews(maple):
    reviews = maple.feedback_items.filter(source=FeedbackItem.Source.REVIEW)
    assert reviews.count() == 2
    assert set(reviews.values_list("source_detail", flat=True)) == {"Google"}
    assert not reviews.filter(patient__isnull=False).exists()
    assert sorted(reviews.values_list("label", "score")) == [("negative", 2), ("positive", 5)]
    assert all(review.external_id.startswith("google:") for review in reviews)


def _check_pages(client, maple):
    client.force_login(get_user_model().objects.get(username="manager"))
    page = client.get("/feedback/dashboard/")
    assert page.status_code == 200
    nps = page.context["nps"]
    assert nps.answers > 500 and 20 <= nps.score <= 80
    assert f'<p class="big-figure">{nps.score:.0f}' in page.content.decode()
    chart = json.loads(
        re.search(
            r'<script id="nps-chart-data" type="application/json">(.*?)</script>',
            page.content.decode(),
        ).group(1)
    )
    (line,) = chart["series"]
    assert len(chart["labels"]) >= 12
    assert all(value is not None for value in line["values"])
    assert sum(n.answers for _, n in page.context["monthly"]) == nps.answers
    # The seven touchpoints of the post-visit survey, rated hundreds of times.
    assert sum(answers > 100 for _, _, answers in page.context["touchpoints"]) == 7
    assert page.context["detractors"]

    inbox = client.get("/feedback/", {"urgent": "1", "status": "new"})
    assert inbox.status_code == 200
    (item,) = inbox.context["page"].object_list
    assert item.patient.full_name == "Leo Brandt"
    assert "Leo Brandt" in inbox.content.decode()
