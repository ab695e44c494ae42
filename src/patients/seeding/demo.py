"""``seed_demo``: the Bright Smiles demo group, where a newcomer meets the five stories.

Maple Street Dental gets 1,600 generated patients with three years of history (fixed
seed) plus the story patients of ``STORIES.md``, booked around the generated diary;
Harbor Dental, smaller, makes the practice switcher and the group view meaningful.
Dates are relative to today, so the demo looks alive whenever it is started.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from analytics.rollups import rollups_rebuild
from calls.seeding import calls_seed
from core.models import Membership, Organisation, Practice, StaffMember
from core.services import audit_record, membership_grant, practice_create, user_create
from loyalty.seeding import loyalty_seed
from patients.seeding.build import (
    STANDARD_HOURS,
    PracticeBuild,
    PracticePlan,
    practice_rng,
)
from patients.seeding.feedback import feedback_seed
from patients.seeding.people import YEAR, Household, Person
from patients.seeding.visits import CANCELLED, COMPLETED, SCHEDULED
from patients.seeding.writer import RowWriter, blueprint_write
from patients.services import patient_figures_refresh
from records.seeding import records_seed
from recovery.seeding import recovery_seed
from vendors.seeding import vendors_seed

# Printed by ``rapport demo`` next to the logins: a demo database holds no real data.
DEMO_PASSWORD = "rapport-demo"  # noqa: S105
DEMO_ORGANISATION = ("Bright Smiles Dental Group", "bright-smiles")
MAPLE = PracticePlan(
    name="Maple Street Dental",
    timezone="America/New_York",
    city=("Hartford", "061", ("860", "959")),
    hours=STANDARD_HOURS,
    founded_years_ago=32,
)
HARBOR = PracticePlan(
    name="Harbor Dental",
    timezone="America/New_York",
    city=("Providence", "029", ("401",)),
    hours=STANDARD_HOURS,
    founded_years_ago=12,
)
MAPLE_PATIENTS, HARBOR_PATIENTS = 1600, 300
# (role, username): the first three work at Maple, the director sees the whole group.
LOGINS = (
    ("Front desk", "frontdesk"),
    ("Dentist", "dentist"),
    ("Office manager", "manager"),
    ("Group director", "director"),
)


class SeedError(Exception):
    """The demo cannot be seeded into this database as it is."""


def demo_logins() -> list[tuple[str, str, str]]:
    return [(label, username, DEMO_PASSWORD) for label, username in LOGINS]


def seed_demo(
    *, progress: Callable[..., None] | None = None, now: dt.datetime | None = None
) -> list[tuple[str, str, str]]:
    """Seed the demo group once; later calls only return the (role, username, password)
    logins."""
    name, slug = DEMO_ORGANISATION
    if Organisation.objects.filter(slug=slug).exists():
        return demo_logins()
    taken = get_user_model().objects.filter(username__in=[u for _, u in LOGINS])
    if taken.exists():
        names = ", ".join(sorted(taken.values_list("username", flat=True)))
        raise SeedError(f"users {names} already exist; the demo needs its own database")
    now = now or timezone.now()
    writer = RowWriter(now=now)
    total = MAPLE_PATIENTS + HARBOR_PATIENTS
    if progress:
        progress(0, total)
    with transaction.atomic():
        organisation = Organisation.objects.create(name=name, slug=slug)
        maple = practice_create(
            organisation=organisation,
            name=MAPLE.name,
            slug="maple",
            timezone=MAPLE.timezone,
            hours=MAPLE.hours,
        )
        build = PracticeBuild(
            practice_rng("demo", 0),
            MAPLE,
            patients=MAPLE_PATIENTS,
            years=3,
            now=now,
            aware=writer.aware,
        )
        build.plan_visits()
        stories = Stories(build)
        stories.add_all()
        maple_blueprint = build.blueprint()
        staff = blueprint_write(maple_blueprint, practice=maple, writer=writer).staff
        if progress:
            progress(MAPLE_PATIENTS, total)

        harbor = practice_create(
            organisation=organisation,
            name=HARBOR.name,
            slug="harbor",
            timezone=HARBOR.timezone,
            hours=HARBOR.hours,
        )
        build = PracticeBuild(
            practice_rng("demo", 1),
            HARBOR,
            patients=HARBOR_PATIENTS,
            years=3,
            now=now,
            aware=writer.aware,
        )
        build.plan_visits()
        harbor_blueprint = build.blueprint()
        blueprint_write(harbor_blueprint, practice=harbor, writer=writer)
        if progress:
            progress(total, total)

        _users_create(organisation, maple, staff)
        cast = {name: person.external_id for name, person in stories.cast.items()}
        # The generated patients' hidden propensity to leave shapes their answers.
        feedback = {
            maple: feedback_seed(
                practice=maple,
                now=now,
                seed="maple",
                stories=cast,
                flights=_flights(maple_blueprint),
            ),
            harbor: feedback_seed(
                practice=harbor, now=now, seed="harbor", flights=_flights(harbor_blueprint)
            ),
        }
        patient_figures_refresh(practices=Practice.objects.filter(organisation=organisation))
        # After the figures: whether a case is a priority depends on the patient's value.
        recovery = {maple: recovery_seed(practice=maple, now=now, stories=cast)}
        calls_seed(practice=maple, now=now)  # a week of calls, before the scores read them
        # Last: the scores read everything above, as the nightly job would.
        loyalty_seed(practices=[maple, harbor], now=now)
        # Story 1: Dana asked for her records three days ago.
        records_seed(practice=maple, now=now)
        vendors_seed(practice=maple, now=now)  # story 3: Crestline and the other vendors
        # The dashboards read the daily rollups: build them as the jobs would have.
        rollups_rebuild(practices=[maple, harbor], now=now)
        for practice, seeded in feedback.items():
            detail = {"seed": "demo", **seeded.as_detail()}
            if practice in recovery:
                detail["recovery_cases"] = recovery[practice]
            audit_record(
                action="import",
                object_type="seed",
                practice=practice,
                actor_label="rapport demo",
                detail=detail,
            )
    return demo_logins()


def _flights(blueprint) -> dict[str, float]:
    return dict(zip(blueprint.patient_refs, blueprint.flights, strict=True))


def _users_create(organisation: Organisation, maple: Practice, staff: list[StaffMember]):
    def first_of(kind: str) -> StaffMember:
        return next(member for member in staff if member.kind == kind)

    Role = StaffMember.Kind
    people = (
        ("frontdesk", first_of(Role.FRONT_DESK), Membership.Role.FRONT_DESK, False),
        ("dentist", first_of(Role.DENTIST), Membership.Role.CLINICIAN, False),
        ("manager", first_of(Role.MANAGER), Membership.Role.MANAGER, True),
    )
    for username, member, role, is_staff in people:
        first, _, last = member.name.removeprefix("Dr. ").partition(" ")
        user = user_create(
            username=username,
            password=DEMO_PASSWORD,
            first_name=first,
            last_name=last,
            email=f"{username}@example.com",
            is_staff=is_staff,
        )
        membership_grant(user=user, role=role, practice=maple)
        # The dentist's and the others' logins are the people on the schedule.
        StaffMember.objects.filter(pk=member.pk).update(user=user)
    director = user_create(
        username="director",
        password=DEMO_PASSWORD,
        first_name="Elena",
        last_name="Marsh",
        email="director@example.com",
        is_staff=True,
    )
    membership_grant(user=director, role=Membership.Role.GROUP_ADMIN, organisation=organisation)


class Stories:
    """The people of ``STORIES.md`` at Maple, with histories that tell their story."""

    def __init__(self, build: PracticeBuild) -> None:
        self.build = build
        self.calendar = build.calendar
        self.planner = build.planner
        self.today = build.today
        # Separate from the practice's generator, so the stories never shift its data.
        self.rng = random.Random("rapport-demo-stories")
        staff = build.staff
        self.dentists = [n for n, (kind, _, _) in enumerate(staff) if kind == "dentist"]
        self.hygienists = [n for n, (kind, _, _) in enumerate(staff) if kind == "hygienist"]
        self.dentist_name = staff[self.dentists[0]][1]
        # The story people by full name, for their feedback once they have ids.
        self.cast: dict[str, Person] = {}

    def add_all(self) -> None:
        self.dana()
        self.sam()
        self.priya()
        self.lees()
        self.brandts()

    # --- helpers -----------------------------------------------------------------------

    def years_ago(self, years: float, days: int = 0) -> int:
        return self.today - round(years * YEAR) - days

    def person(
        self,
        first: str,
        last: str,
        *,
        age: float,
        female: bool,
        since: int,
        household: Household | None = None,
        address: tuple[str, str, str] | None = None,
        **fields,
    ) -> Person:
        generator = self.build.generator
        person = Person()
        person.first_name, person.last_name, person.female = first, last, female
        person.dob = self.years_ago(age, self.rng.randint(10, 300))
        person.first_visit = self.calendar.prev_open(since)
        person.household = household
        person.address, person.city, person.postal_code = address or generator.address()
        person.phone = generator.phone()
        adult = self.today - person.dob > 18 * 366
        person.email = generator.email(first, last) if adult else ""
        person.dentist, person.hygienist, person.interval = 0, 0, 182
        for name, value in fields.items():
            setattr(person, name, value)
        self.build.add_person(person)
        person.external_id = f"P{person.ref + 1:06d}"
        self.cast[f"{first} {last}"] = person
        return person

    def visit(self, person: Person, day: int, kind: str, status: str | None = None, **slot):
        """One appointment on the first open day from ``day`` on."""
        return self.planner.add(person, self.calendar.next_open(day), kind, status, **slot)

    def recalls(self, person: Person, start: int, end: int, *, every: int = 182) -> None:
        """Completed cleanings (with a yearly exam) from ``start`` until before ``end``."""
        day, visits = start, 0
        while True:
            day = self.calendar.next_open(day)
            if day >= end:
                return
            minute = self.planner.add(person, day, "Cleaning", COMPLETED)
            if visits % 2 == 0:
                self.planner.add(person, day, "Exam", COMPLETED, earliest=minute + 60)
            visits += 1
            day += every + self.rng.randint(-10, 15)

    def free(self, day: int, providers: list[int], minute: int, duration: int) -> int:
        """A provider free at that time (else the first: a story keeps its slot)."""
        for provider in providers:
            if self.calendar.is_free(day, provider, minute, duration):
                return provider
        return providers[0]

    # --- 1. The patient of twenty years ------------------------------------------------

    def dana(self) -> None:
        home = ("88 Orchard Ln", "Worcester", "01609")  # she moved an hour away
        household = self.build.add_household("Whitfield")
        accident = self.years_ago(13, 40)
        dana = self.person(
            "Dana",
            "Whitfield",
            age=57,
            female=True,
            since=self.years_ago(20, 30),
            household=household,
            address=home,
            channel="email",
            referral_source="Google",
            goals="Keep the crowns from her cycling accident healthy for another twenty years.",
            greatest_concern=(
                "Feels we are falling behind: she mentioned equipment that feels dated "
                "compared with the newer practices near her home."
            ),
            previous_experiences=(
                f"Patient for twenty years. After a cycling accident in "
                f"{dt.date.fromordinal(accident).year} we rebuilt her front teeth with three "
                f"crowns, a root canal and later an implant; she was delighted."
            ),
            preferences=(
                "Early morning slots: since she moved to Worcester it is a long drive, "
                "over an hour each way."
            ),
            trust_notes=(
                f"Loyal and generous with referrals: her husband, her son and seven friends "
                f"came through her. Asks for {self.dentist_name} by name."
            ),
        )
        tom = self.person(
            "Tom",
            "Whitfield",
            age=59,
            female=False,
            since=self.years_ago(19, 100),
            household=household,
            address=home,
            referred_by=dana,
            phone=dana.phone,
        )
        ben = self.person(
            "Ben",
            "Whitfield",
            age=27,
            female=False,
            since=self.years_ago(19, 90),
            household=household,
            address=home,
            referred_by=dana,
            phone=dana.phone,
        )
        thinning = self.years_ago(2)
        self.visit(dana, dana.first_visit, "New patient exam", COMPLETED)
        self.recalls(dana, dana.first_visit + 20, thinning)
        # The cycling accident: an emergency, a root canal, three crowns, then an implant.
        self.visit(dana, accident, "Emergency visit", COMPLETED)
        self.visit(dana, accident + 3, "Root canal", COMPLETED)
        for week, _ in enumerate(range(3)):
            day = accident + 14 + 21 * week
            self.visit(dana, day, "Crown", COMPLETED)
            self.visit(dana, day + 14, "Crown seat", COMPLETED)
        self.visit(dana, self.years_ago(11, 60), "Implant", COMPLETED)
        self.visit(dana, self.years_ago(6, 30), "Night guard", COMPLETED)
        # The last two years: fewer visits, one cancelled, nothing booked ahead.
        self.visit(dana, thinning + 120, "Cleaning", COMPLETED)
        self.visit(dana, thinning + 330, "Cleaning", CANCELLED)
        self.visit(dana, self.today - 200, "Cleaning", COMPLETED)
        for person in (tom, ben):
            self.recalls(person, person.first_visit, self.today - 90, every=365)
        # Seven friends among the practice's patients came on her word.
        friends = [
            person
            for person in self.build.people[:MAPLE_PATIENTS]
            if person.referred_by is None
            and person.household is None
            and person.stop is None
            and person.first_visit > dana.first_visit + 365
            and not person.is_minor_on(self.today)
        ]
        for friend in self.rng.sample(friends, 7):
            friend.referred_by = dana
            friend.referral_source = ""

    # --- 2. Listening first ------------------------------------------------------------

    def sam(self) -> None:
        sam = self.person(
            "Sam",
            "Ortega",
            age=41,
            female=False,
            since=self.today - 240,
            channel="sms",
            referral_source="Insurance directory",
            goals="keep my own teeth, look natural",
            greatest_concern="cost surprises",
            previous_experiences="a dentist who never explained anything",
            anxieties="strong gag reflex",
        )
        self.visit(sam, sam.first_visit, "New patient exam", COMPLETED)
        self.visit(sam, sam.first_visit + 14, "Cleaning", COMPLETED)
        self.visit(sam, self.today - 25, "Consultation", COMPLETED)
        # His first crown, today, during opening hours, with the demo dentist: the next
        # start that fits if the day is still young, else the day's last one.
        starts = [minute for minute, _ in self.calendar.starts(self.today, 90)]
        later = [minute for minute in starts if minute >= self.planner.now_minute + 15]
        minute = later[0] if later else starts[-1]
        dentist = self.dentists[0]
        status = SCHEDULED if later else COMPLETED
        self.planner.add(sam, self.today, "Crown", status, provider=dentist, minute=minute)

    # --- 3. The lab technician ---------------------------------------------------------

    def priya(self) -> None:
        priya = self.person(
            "Priya",
            "Nair",
            age=34,
            female=True,
            since=self.years_ago(3, 50),
            referral_source="Friend",
            channel="email",
            goals="A crown that matches my other teeth exactly.",
            greatest_concern="That the new crown will look fake next to my own teeth.",
        )
        self.visit(priya, priya.first_visit, "New patient exam", COMPLETED)
        self.recalls(priya, priya.first_visit + 21, self.today - 60)
        self.visit(priya, self.today - 24, "Crown", COMPLETED)
        # Sent to Crestline Dental Lab for shade matching a few days ago.
        self.planner.add(
            priya, self.calendar.prev_open(self.today - 4), "Crown shade match", COMPLETED
        )
        self.visit(priya, self.today + 9, "Crown seat")

    # --- 4. Remember the complaint -----------------------------------------------------

    def lees(self) -> None:
        home = self.build.generator.address()
        household = self.build.add_household("Lee")
        since = self.years_ago(6, 20)
        grace = self.person(
            "Grace",
            "Lee",
            age=42,
            female=True,
            since=since,
            household=household,
            address=home,
            referral_source="Moved to the area",
            preferences="Early slots before school; she brings the whole family together.",
        )
        daniel = self.person(
            "Daniel",
            "Lee",
            age=44,
            female=False,
            since=since,
            household=household,
            address=home,
            phone=grace.phone,
        )
        emma = self.person(
            "Emma",
            "Lee",
            age=11,
            female=True,
            since=since,
            household=household,
            address=home,
            phone=grace.phone,
            guardian=grace,
        )
        noah = self.person(
            "Noah",
            "Lee",
            age=7,
            female=False,
            since=self.years_ago(4),
            household=household,
            address=home,
            phone=grace.phone,
            guardian=grace,
        )
        family = (grace, daniel, emma, noah)
        # STORIES.md has the late cleaning in March and the Lees' return in September.
        # The demo is dated from today, so the complaint visit is the last March gone by
        # and the return visit is the next open day: it is on the day sheet this week.
        today = dt.date.fromordinal(self.today)
        march = dt.date(today.year if today.month > 3 else today.year - 1, 3, 10)
        march_day = self.calendar.next_open(march.toordinal())
        for person in family:
            self.recalls(person, person.first_visit, march_day - 120)
        self.family_visit(family, march_day, COMPLETED)
        self.family_visit(family, self.calendar.next_open(self.today + 1), SCHEDULED)

    def family_visit(self, family: tuple[Person, ...], day: int, status: str) -> None:
        first = self.calendar.periods_on(day)[0][0]
        for n, person in enumerate(family):
            minute = first + 60 * (n // 2)  # Mrs Lee has the first slot of the day
            hygienist = self.free(day, self.hygienists, minute, 60)
            self.planner.add(person, day, "Cleaning", status, provider=hygienist, minute=minute)

    # --- 5. The humiliated child -------------------------------------------------------

    def brandts(self) -> None:
        home = self.build.generator.address()
        household = self.build.add_household("Brandt")
        anna = self.person(
            "Anna",
            "Brandt",
            age=37,
            female=True,
            since=self.years_ago(6),
            household=household,
            address=home,
            channel="email",
            referral_source="Google",
        )
        leo = self.person(
            "Leo",
            "Brandt",
            age=8,
            female=False,
            since=self.years_ago(5),
            household=household,
            address=home,
            phone=anna.phone,
            guardian=anna,
            anxieties="gags easily; anxious child",
            preferences="Late afternoon slots after school.",
        )
        leo.dob = self.today - round(8 * YEAR) - 150  # eight, not nine, whatever the draw
        self.recalls(anna, anna.first_visit, self.today - 60)
        self.recalls(leo, leo.first_visit, self.today - 60)
        # The cleaning where a hygienist scolded him, two working days ago.
        day = self.calendar.prev_open(self.calendar.prev_open(self.today - 1) - 1)
        self.planner.add(
            anna, day, "Cleaning", COMPLETED, provider=self.hygienists[0], minute=15 * 60
        )
        self.planner.add(
            leo, day, "Cleaning", COMPLETED, provider=self.hygienists[-1], minute=15 * 60
        )
