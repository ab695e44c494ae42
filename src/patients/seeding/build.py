"""One practice's synthetic data computed in Python, without the database.

``PracticeBuild`` draws staff, holidays, people and appointments from one
``random.Random``; ``blueprint()`` turns them into plain rows that pickle cheaply, so a
worker process can build while the main process writes the previous practice.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from dataclasses import dataclass, field
from typing import NamedTuple

from django.utils.text import slugify

from core.models import StaffMember
from patients.models import Patient
from patients.seeding import data
from patients.seeding.calendar import PracticeCalendar
from patients.seeding.people import YEAR, Household, PeopleGenerator, Person, leave_days
from patients.seeding.visits import VisitPlanner

Hours = list[tuple[int, dt.time, dt.time]]


def _t(hour: int) -> dt.time:
    return dt.time(hour, 0)


def _weekdays(days, *spans) -> Hours:
    return [(day, opens, closes) for day in days for opens, closes in spans]


STANDARD_HOURS = _weekdays(range(5), (_t(8), _t(12)), (_t(13), _t(17)))
# Every variant closes for lunch (the phones story needs the lunch gap).
HOURS_VARIANTS: tuple[tuple[int, Hours], ...] = (
    (50, STANDARD_HOURS),
    (20, _weekdays(range(4), (_t(7), _t(12)), (_t(13), _t(16))) + [(4, _t(7), _t(13))]),
    (15, _weekdays(range(5), (_t(9), _t(13)), (_t(14), _t(18))) + [(5, _t(8), _t(12))]),
    (
        15,
        _weekdays((0, 2, 4), (_t(8), _t(12)), (_t(13), _t(17)))
        + _weekdays((1, 3), (_t(10), _t(13)), (_t(14), _t(19))),
    ),
)
ALL_AREA_CODES = tuple(
    sorted(
        {
            code
            for cities in data.CITIES_BY_ZONE.values()
            for _, _, codes in cities
            for code in codes
        }
    )
)
PATIENT_COLUMNS = (
    "external_id", "first_name", "last_name", "preferred_name", "date_of_birth", "email",
    "phone", "address", "city", "postal_code", "first_visit_on", "status", "departed_at",
    "preferred_channel", "household_id", "guardian_id", "referred_by_id", "referral_source",
    "goals", "greatest_concern", "previous_experiences", "preferences", "anxieties",
    "trust_notes", "search_name",
)  # fmt: skip
# Positions of the references a writer turns into ids.
HOUSEHOLD_AT, GUARDIAN_AT, REFERRER_AT = 14, 15, 16


class _Names(NamedTuple):
    """Enough of a patient for ``Patient.search_text``, which bulk inserts bypass."""

    first_name: str
    preferred_name: str
    last_name: str


@dataclass
class PracticePlan:
    name: str
    timezone: str
    city: tuple[str, str, tuple[str, ...]]
    hours: Hours
    founded_years_ago: int

    @property
    def slug(self) -> str:
        return slugify(self.name)[:70]

    @property
    def phone(self) -> str:
        return f"+1{self.city[2][0]}5550100"


def practice_rng(seed: int | str, index: int) -> random.Random:
    # A string seed is hashed with SHA-512 by ``random``: stable across runs and machines.
    return random.Random(f"rapport-seed:{seed}:{index}")


def plan_practice(rng: random.Random) -> PracticePlan:
    zones = list(data.ZONE_WEIGHTS)
    zone = rng.choices(zones, [data.ZONE_WEIGHTS[name] for name in zones])[0]
    city = rng.choice(data.CITIES_BY_ZONE[zone])
    pattern = rng.choice(data.PRACTICE_NAME_PATTERNS)
    name = pattern.format(city=city[0], street=rng.choice(data.STREET_NAMES))
    hours = rng.choices([h for _, h in HOURS_VARIANTS], [w for w, _ in HOURS_VARIANTS])[0]
    return PracticePlan(name, zone, city, hours, rng.randint(8, 40))


def us_holidays(year: int) -> list[dt.date]:
    """Days a US dental office is closed although it would be open on that weekday."""

    def nth(weekday: int, month: int, n: int) -> dt.date:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))

    last_may = dt.date(year, 5, 31)
    memorial = last_may - dt.timedelta(days=last_may.weekday())
    return [
        dt.date(year, 1, 1), memorial, dt.date(year, 7, 4), nth(0, 9, 1), nth(3, 11, 4),
        dt.date(year, 12, 25),
    ]  # fmt: skip


def _staff_names(rng: random.Random, count: int, *, doctor: bool = False) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        female = rng.random() < 0.6
        first = rng.choice(data.FEMALE_FIRST_NAMES if female else data.MALE_FIRST_NAMES)
        names.add(f"{'Dr. ' if doctor else ''}{first} {rng.choice(data.LAST_NAMES)}")
    return sorted(names)


def staff_roster(rng: random.Random, patients: int) -> list[tuple[str, str, str]]:
    """(kind, name, external_id): 2-4 dentists and 2-4 hygienists, more for a bigger list
    of patients (a hygienist sees about a thousand patients a year), an office manager and
    two at the front desk."""
    kind = StaffMember.Kind
    extra = rng.randint(0, 1)
    dentists = min(4, max(2, patients // 1500 + 1 + extra))
    hygienists = min(4, max(2, patients // 800 + 1 + extra))
    roster = [(kind.DENTIST, name) for name in _staff_names(rng, dentists, doctor=True)]
    roster += [(kind.HYGIENIST, name) for name in _staff_names(rng, hygienists)]
    roster += [(kind.MANAGER, name) for name in _staff_names(rng, 1)]
    roster += [(kind.FRONT_DESK, name) for name in _staff_names(rng, 2)]
    return [(str(k), name, f"S{n:03d}") for n, (k, name) in enumerate(roster, start=1)]


@dataclass
class Blueprint:
    """A practice's rows, ready to write: plain data that pickles cheaply."""

    plan: PracticePlan
    staff: list[tuple[str, str, str]]
    closed_days: list[dt.date]
    households: list[tuple[str, str]]
    patient_layers: list[list[tuple]]
    appointments: list[tuple]
    # External ids of the people appointment rows refer to by position.
    patient_refs: list[str]
    # Their hidden propensity to leave, by the same position: it shapes the survey answers
    # ``rapport seed --surveys`` adds, and is never written.
    flights: list[float] = field(default_factory=list, repr=False)
    build: PracticeBuild | None = field(default=None, repr=False)


class PracticeBuild:
    def __init__(
        self,
        rng: random.Random,
        plan: PracticePlan,
        *,
        patients: int,
        years: int,
        now: dt.datetime,
        aware: bool,
    ) -> None:
        self.rng = rng
        self.plan = plan
        self.aware = aware
        local_now = now.astimezone(zoneinfo.ZoneInfo(plan.timezone))
        self.today = today = local_now.date().toordinal()
        self.window_start = today - round(years * YEAR)
        horizon = today + 400
        first_year = dt.date.fromordinal(self.window_start).year - 25
        holidays = [
            day.toordinal()
            for year in range(first_year, dt.date.fromordinal(horizon).year + 1)
            for day in us_holidays(year)
        ]
        # Today is never a holiday here, so the day sheet always has someone on it.
        closed = [day for day in holidays if day != today]
        open_weekdays = {weekday for weekday, _, _ in plan.hours}
        self.closed_days = [
            dt.date.fromordinal(day)
            for day in closed
            if self.window_start <= day <= horizon
            and dt.date.fromordinal(day).weekday() in open_weekdays
        ]
        self.calendar = PracticeCalendar(
            timezone=plan.timezone, hours=plan.hours, closed=closed, aware=aware, rng=rng
        )
        self.staff = staff_roster(rng, patients)
        dentists = [n for n, (kind, _, _) in enumerate(self.staff) if kind == "dentist"]
        hygienists = [n for n, (kind, _, _) in enumerate(self.staff) if kind == "hygienist"]
        self.generator = PeopleGenerator(
            rng,
            today=today,
            window_start=self.window_start,
            opened=today - round(plan.founded_years_ago * YEAR),
            city=plan.city,
            zone_cities=data.CITIES_BY_ZONE[plan.timezone],
            all_area_codes=ALL_AREA_CODES,
            dentists=[self.staff[n][1] for n in dentists],
            hygienists=len(hygienists),
        )
        self.people: list[Person] = self.generator.generate(patients, self.calendar)
        self.households: list[Household] = self.generator.households
        self.planner = VisitPlanner(
            rng,
            self.calendar,
            today=today,
            now_minute=local_now.hour * 60 + local_now.minute,
            window_start=self.window_start,
            dentists=dentists,
            hygienists=hygienists,
        )

    def plan_visits(self) -> None:
        planner = self.planner
        for person in self.people:
            planner.plan(person)
        planner.fill_today(self.people, min(8, len(self.people)))
        leave_days(self.people, self.today)

    def add_person(self, person: Person) -> Person:
        person.ref = len(self.people)
        self.people.append(person)
        return person

    def add_household(self, name: str) -> Household:
        household = Household(f"H{len(self.households) + 1:05d}", name)
        self.households.append(household)
        return household

    @staticmethod
    def _day(ordinal: int) -> str:
        return dt.date.fromordinal(ordinal).isoformat()

    def _patient_row(self, person: Person) -> tuple:
        departed_at = None
        if person.departed is not None:
            departed_at = self.calendar.moment(person.departed, 10 * 60)
        preferred = person.preferred_name
        return (
            person.external_id, person.first_name, person.last_name, preferred,
            self._day(person.dob), person.email, person.phone, person.address, person.city,
            person.postal_code, self._day(person.first_visit),
            "departed" if person.departed is not None else "active", departed_at,
            person.channel, person.household.external_id if person.household else None,
            person.guardian.external_id if person.guardian else None,
            person.referred_by.external_id if person.referred_by else None,
            person.referral_source, person.goals, person.greatest_concern,
            person.previous_experiences, person.preferences, person.anxieties,
            person.trust_notes,
            Patient.search_text(_Names(person.first_name, preferred, person.last_name)),
        )  # fmt: skip

    def blueprint(self, *, keep_build: bool = False) -> Blueprint:
        """The rows; references between patients are external ids, people and staff in
        appointments are positions, all turned into ids by the writer."""
        layers: dict[int, list[tuple]] = {}
        for person in self.people:
            layers.setdefault(person.layer, []).append(self._patient_row(person))
        rows, self.planner.rows = self.planner.rows, []
        # Each patient's visits numbered in time order; patient order also suits the
        # (patient, starts_at) index best.
        rows.sort(key=lambda row: (row[1], row[0]))
        return Blueprint(
            plan=self.plan,
            staff=self.staff,
            closed_days=self.closed_days,
            households=[(h.external_id, h.name) for h in self.households],
            patient_layers=[layers[layer] for layer in sorted(layers)],
            appointments=rows,
            patient_refs=[person.external_id for person in self.people],
            flights=[person.flight for person in self.people],
            build=self if keep_build else None,
        )
