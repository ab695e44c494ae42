"""Synthetic patients of one practice: households, minors and guardians, referrals, profiles.

Everything is computed in Python from one ``random.Random``; nothing touches the database.
Days are ordinals (``date.toordinal()``).

Every person also gets a hidden propensity to leave, ``flight``, and from it whether they
leave in the year after today (``leaves``) and, once their visits are planned, the day
(``leaves_on``, see ``leave_days``). None of it is ever written to the database: it exists
so that a benchmark can check how well a score finds the patients who later left
(``patients.seeding.truth``). Only behaviour shows the propensity (see ``drift``): visits
and survey answers depend on ``flight``, never on whether the person was drawn to leave, so
the signals are as noisy as in life.
"""

from __future__ import annotations

import random
import unicodedata
from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate

from patients.seeding import data

YEAR = 365.2425
# Ages are drawn in days and kept clear of the 18th birthday, so "minor" never flips
# between seeding and the tests that check it.
MINOR_MAX_DAYS = 17 * 365 + 300
ADULT_MIN_DAYS = 18 * 366 + 5

# Recall rhythm in days, and how many recall visits go by between two dentist exams.
RECALL_INTERVALS = (91, 182, 365)
RECALL_WEIGHTS = (8, 72, 20)
EXAM_EVERY = {91: 4, 182: 2, 365: 1}

CHANNELS = ("email", "sms", "phone", "letter")
CHANNEL_WEIGHTS = tuple(accumulate((45, 38, 13, 4)))
AGE_BANDS = ((18, 25), (25, 35), (35, 45), (45, 55), (55, 65), (65, 75), (75, 92))
AGE_WEIGHTS = tuple(accumulate((9, 16, 17, 17, 17, 14, 10)))
SOURCES = tuple(name for name, _ in data.REFERRAL_SOURCES)
SOURCE_WEIGHTS = tuple(accumulate(weight for _, weight in data.REFERRAL_SOURCES))
HOUSEHOLD_SIZES = (2, 3, 4, 5)
HOUSEHOLD_WEIGHTS = tuple(accumulate((40, 27, 23, 10)))
# Chance that a unit of people is a household; with the sizes above, about 40% of
# patients end up living with another patient.
HOUSEHOLD_SHARE = 0.185

# Hidden propensity to leave within the year after today: most patients are settled, some
# restless, a few about to go (about one patient in ten leaves in a year). Drawn once per
# household, which leaves together ("we moved"); long-standing VIPs are not exempt.
FLIGHT_RANGES = ((0.01, 0.06), (0.12, 0.30), (0.45, 0.80))
FLIGHT_WEIGHTS = tuple(accumulate((76, 17, 7)))
# Restless patients' behaviour drifts over the last ~18 months before today; see ``drift``.
DRIFT_DAYS = 548
# Chance that a household stopped coming more than a year ago (``_lapse``): about one in
# ten overall, more often among the restless.
LAPSE_BASE, LAPSE_PER_FLIGHT = 0.04, 0.55


def drift(flight: float, days_before_today: int) -> float:
    """How strongly a person's propensity to leave shows on a given day: nothing until
    ``DRIFT_DAYS`` before today, then growing linearly to ``flight`` itself today."""
    if days_before_today >= DRIFT_DAYS:
        return 0.0
    return flight * (1.0 - max(0, days_before_today) / DRIFT_DAYS)


class Household:
    __slots__ = ("external_id", "id", "name")

    def __init__(self, external_id: str, name: str) -> None:
        self.external_id = external_id
        self.name = name
        self.id: int | None = None


class Person:
    """One patient before insertion; the visit planner reads the rhythm fields."""

    __slots__ = (
        "address",
        "anxieties",
        "booked_until",
        "channel",
        "city",
        "dentist",
        "departed",
        "dob",
        "email",
        "external_id",
        "female",
        "first_name",
        "first_visit",
        "flight",
        "goals",
        "greatest_concern",
        "guardian",
        "household",
        "hygienist",
        "id",
        "interval",
        "last_name",
        "leave_share",
        "leaves",
        "leaves_on",
        "phone",
        "postal_code",
        "preferences",
        "preferred_name",
        "previous_experiences",
        "propensity",
        "ref",
        "referral_source",
        "referred_by",
        "stop",
        "trust_notes",
        "vip",
    )

    def __init__(self) -> None:
        self.preferred_name = ""
        self.email = ""
        self.phone = ""
        self.household: Household | None = None
        self.guardian: Person | None = None
        self.referred_by: Person | None = None
        self.referral_source = ""
        self.goals = self.greatest_concern = self.previous_experiences = ""
        self.preferences = self.anxieties = self.trust_notes = ""
        self.channel = "email"
        self.departed: int | None = None
        self.stop: int | None = None
        self.vip = False
        self.propensity = 0.15  # of treatment (see ``VisitPlanner._treatments``)
        # Hidden, never written: propensity to leave, whether they leave in the year after
        # today, where in what is left of that year once their visits are planned (0 to 1),
        # and so the day (see above).
        self.flight = 0.0
        self.leaves = False
        self.leave_share = 0.0
        self.leaves_on: int | None = None
        self.booked_until = 0  # the last day they have a visit booked (set by the planner)
        self.id: int | None = None

    def is_minor_on(self, ordinal: int) -> bool:
        return ordinal - self.dob <= MINOR_MAX_DAYS

    @property
    def layer(self) -> int:
        """Insert order: people others point to (referrers, guardians) go in first.
        Referrers always came earlier, so the chain ends."""
        layer = 0
        if self.guardian is not None:
            layer = self.guardian.layer + 1
        if self.referred_by is not None:
            layer = max(layer, self.referred_by.layer + 1)
        return layer


def leave_days(people: Sequence[Person], today: int) -> None:
    """Once visits are planned: the day each leaving household leaves, at random in what is
    left of the year after the last visit any of them has booked. Nobody leaves with a
    visit still in the book, and nobody loses a booking for leaving: the planner never
    looks at the outcome, so bookings say nothing about it."""
    last: dict[int, int] = {}
    for person in people:
        if person.leaves:
            unit = id(person.household or person)
            last[unit] = max(last.get(unit, today), person.booked_until)
    for person in people:
        if person.leaves:
            start = last[id(person.household or person)]
            # The planner books nothing a year or more ahead, so the day stays in the year.
            person.leaves_on = start + 1 + int(person.leave_share * (today + 365 - start))


def ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


class PeopleGenerator:
    def __init__(
        self,
        rng: random.Random,
        *,
        today: int,
        window_start: int,
        opened: int,
        city: tuple[str, str, tuple[str, ...]],
        zone_cities: Sequence[tuple[str, str, tuple[str, ...]]],
        all_area_codes: Sequence[str],
        dentists: Sequence[str],
        hygienists: int,
    ) -> None:
        self.rng = rng
        self.today = today
        self.window_start = window_start
        self.opened = opened
        self.city = city
        self.dentists = dentists
        self.hygienists = hygienists
        self._emails: set[str] = set()
        self._phones = self._phone_pool(city[2], zone_cities, all_area_codes)
        self._phone_next = 0
        self.people: list[Person] = []
        self.households: list[Household] = []

    # --- contact details ---------------------------------------------------------------

    def _phone_pool(self, local, zone_cities, all_codes) -> list[str]:
        """Fictional 555-0101..0199 numbers (0100 is the practice's own line), local area
        codes first, each used once while they last."""
        rng = self.rng
        tiers = [list(local)]
        tiers.append(sorted({code for _, _, codes in zone_cities for code in codes} - set(local)))
        tiers.append(sorted(set(all_codes) - set(tiers[0]) - set(tiers[1])))
        pool: list[str] = []
        for codes in tiers:
            numbers = [f"+1{code}55501{line:02d}" for code in codes for line in range(1, 100)]
            rng.shuffle(numbers)
            pool.extend(numbers)
        return pool

    def phone(self) -> str:
        if self._phone_next < len(self._phones):
            number = self._phones[self._phone_next]
            self._phone_next += 1
            return number
        return self.rng.choice(self._phones)  # a very large practice shares numbers

    def email(self, first: str, last: str) -> str:
        rng = self.rng
        first, last = ascii_slug(first), ascii_slug(last)
        style = rng.random()
        if style < 0.45:
            local = f"{first}.{last}"
        elif style < 0.7:
            local = f"{first[0]}{last}"
        elif style < 0.85:
            local = f"{first}{last}{rng.randint(1, 99)}"
        else:
            local = f"{last}.{first}"
        domain = "example.com" if rng.random() < 0.7 else "example.org"
        address = f"{local}@{domain}"
        while address in self._emails:
            address = f"{local}{rng.randint(2, 999)}@{domain}"
        self._emails.add(address)
        return address

    def family_email(self, surname: str) -> str:
        address = f"the{ascii_slug(surname)}family@example.org"
        while address in self._emails:
            address = f"the{ascii_slug(surname)}s{self.rng.randint(2, 999)}@example.org"
        self._emails.add(address)
        return address

    def address(self) -> tuple[str, str, str]:
        """Most patients live in the practice's town, some in a neighbouring one."""
        rng = self.rng
        city, zip3, _ = self.city
        if rng.random() < 0.2:
            city = f"{rng.choice(('North', 'South', 'East', 'West'))} {city}"
        street = f"{rng.randint(1, 9899)} {rng.choice(data.STREET_NAMES)} "
        street += rng.choice(data.STREET_SUFFIXES)
        if rng.random() < 0.08:
            street += f", Apt {rng.randint(1, 40)}{rng.choice('ABCD')}"
        return street, city, f"{zip3}{rng.randint(0, 99):02d}"

    # --- people ------------------------------------------------------------------------

    def _person(self, *, age_days: int, female: bool | None = None, last: str | None = None):
        rng = self.rng
        person = Person()
        person.female = rng.random() < 0.52 if female is None else female
        names = data.FEMALE_FIRST_NAMES if person.female else data.MALE_FIRST_NAMES
        person.first_name = rng.choice(names)
        person.last_name = last or rng.choice(data.LAST_NAMES)
        person.dob = self.today - age_days
        adult = age_days >= ADULT_MIN_DAYS
        if adult and person.first_name in data.NICKNAMES and rng.random() < 0.35:
            person.preferred_name = data.NICKNAMES[person.first_name]
        person.interval = rng.choices(RECALL_INTERVALS, RECALL_WEIGHTS)[0]
        if not adult and person.interval == 91:
            person.interval = 182
        person.channel = rng.choices(CHANNELS, cum_weights=CHANNEL_WEIGHTS)[0]
        person.propensity = rng.choices((0.12, 0.4, 1.0), (55, 33, 12))[0]
        return person

    def _adult_age_days(self, lo: float = 18, hi: float = 92) -> int:
        rng = self.rng
        while True:
            band = rng.choices(AGE_BANDS, cum_weights=AGE_WEIGHTS)[0]
            start, end = max(band[0], lo), min(band[1], hi)
            if start < end:
                return max(ADULT_MIN_DAYS, int(rng.uniform(start, end) * YEAR))

    def _tenure_days(self, age_days: int, *, vip: bool = False) -> int:
        rng = self.rng
        years = rng.uniform(15, 25) if vip else min(25.0, rng.expovariate(1 / 6.5))
        days = max(1, int(years * YEAR))
        # Nobody was seen before the practice opened or before their second birthday.
        days = min(days, self.today - self.opened, age_days - 2 * 365)
        return max(1, days)

    def _first_visit(self, tenure_days: int, calendar) -> int:
        return min(calendar.prev_open(self.today - tenure_days), self.today - 1)

    def generate(self, count: int, calendar) -> list[Person]:
        rng = self.rng
        while len(self.people) < count:
            remaining = count - len(self.people)
            if remaining >= 2 and rng.random() < HOUSEHOLD_SHARE:
                size = min(
                    remaining, rng.choices(HOUSEHOLD_SIZES, cum_weights=HOUSEHOLD_WEIGHTS)[0]
                )
                unit = self._household(size, calendar)
            else:
                unit = [self._single(calendar)]
            self._flight(unit)
            self._lapse(unit)
            self.people.extend(unit)
        self._referrals()
        for ref, person in enumerate(self.people):
            person.ref = ref
            person.external_id = f"P{ref + 1:06d}"
            self._profile(person)
        return self.people

    def _single(self, calendar) -> Person:
        rng = self.rng
        vip = rng.random() < 0.02
        age = self._adult_age_days(45 if vip else 18)
        person = self._person(age_days=age)
        person.address, person.city, person.postal_code = self.address()
        person.phone = self.phone() if rng.random() < 0.97 else ""
        person.email = self.email(person.first_name, person.last_name) if rng.random() < 0.9 else ""
        person.first_visit = self._first_visit(self._tenure_days(age, vip=vip), calendar)
        person.vip = vip
        if vip:
            person.propensity = 1.6
        person.dentist = rng.randrange(len(self.dentists))
        person.hygienist = rng.randrange(self.hygienists)
        # A few singles have left the practice for good within the window.
        if rng.random() < 0.03 and self.today - self.window_start > 200:
            departed = rng.randint(self.window_start + 60, self.today - 30)
            if departed - 20 > person.first_visit:
                person.departed = departed
                person.stop = departed - rng.randint(20, 150)
                person.stop = max(person.stop, person.first_visit + 1)
        return person

    def _household(self, size: int, calendar) -> list[Person]:
        rng = self.rng
        surname = rng.choice(data.LAST_NAMES)
        household = Household(f"H{len(self.households) + 1:05d}", surname)
        self.households.append(household)
        adults = 1 if size == 2 and rng.random() < 0.45 else 2
        if size >= 3 and rng.random() < 0.25:
            adults = 1
        children = size - adults
        # Parents of children still at home are 28 to 58; couples may be any adult age.
        primary_age = int(rng.uniform(28, 58) * YEAR) if children else self._adult_age_days(22, 88)
        primary = self._person(age_days=primary_age, last=surname)
        members = [primary]
        if adults == 2:
            partner_age = max(ADULT_MIN_DAYS, primary_age + int(rng.uniform(-5, 5) * YEAR))
            partner_last = surname if rng.random() < 0.85 else rng.choice(data.LAST_NAMES)
            female = not primary.female if rng.random() < 0.94 else primary.female
            members.append(self._person(age_days=partner_age, female=female, last=partner_last))
        youngest_parent = min(self.today - person.dob for person in members)
        for _ in range(children):
            oldest = min(youngest_parent - int(20 * YEAR), int(26 * YEAR))
            age = rng.randint(2 * 366, max(2 * 366 + 1, oldest))
            if MINOR_MAX_DAYS < age < ADULT_MIN_DAYS:
                age = MINOR_MAX_DAYS
            child = self._person(age_days=age, last=surname)
            while child.first_name in {member.first_name for member in members}:
                child.first_name = rng.choice(
                    data.FEMALE_FIRST_NAMES if child.female else data.MALE_FIRST_NAMES
                )
            members.append(child)

        street, city, postal = self.address()
        shared_phone = self.phone() if rng.random() < 0.3 else None
        shared_email = None
        if rng.random() < 0.15:
            shared_email = self.family_email(surname)
        dentist = rng.randrange(len(self.dentists))
        hygienist = rng.randrange(self.hygienists)
        primary_tenure = self._tenure_days(primary_age)
        primary.first_visit = self._first_visit(primary_tenure, calendar)
        for person in members:
            age = self.today - person.dob
            minor = age <= MINOR_MAX_DAYS
            person.household = household
            person.address, person.city, person.postal_code = street, city, postal
            person.dentist, person.hygienist = dentist, hygienist
            if shared_phone:
                person.phone = shared_phone
            elif not minor or (age > 13 * 365 and rng.random() < 0.5):
                person.phone = self.phone()
            if shared_email:
                person.email = shared_email
            elif not minor or (age > 14 * 365 and rng.random() < 0.3):
                person.email = self.email(person.first_name, person.last_name)
            if person is primary:
                continue
            # Families join together, children once they are old enough for a check-up.
            joined = max(
                primary.first_visit + rng.randint(0, 400), person.dob + rng.randint(730, 1460)
            )
            person.first_visit = min(calendar.next_open(joined), self.today - 1)
            if person.first_visit >= self.today - 1:
                person.first_visit = calendar.prev_open(self.today - rng.randint(1, 60))
            if minor:
                # Parents are at least 20 years older than their children (see above).
                person.guardian = members[0] if rng.random() < 0.8 else rng.choice(members[:adults])
        if adults == 2 and members[1].first_visit > primary.first_visit and rng.random() < 0.3:
            members[1].referred_by = primary  # "my wife has been coming here for years"
        return members

    def _flight(self, unit: list[Person]) -> None:
        """The unit's hidden propensity to leave, and whether it leaves in the year after
        today: with probability ``flight``, the whole household together. People who have
        already departed do not leave again."""
        rng = self.rng
        low, high = rng.choices(FLIGHT_RANGES, cum_weights=FLIGHT_WEIGHTS)[0]
        flight = rng.uniform(low, high)
        leaves = rng.random() < flight
        share = rng.random()
        for person in unit:
            person.flight = flight
            person.leaves = leaves and person.departed is None
            person.leave_share = share

    def _lapse(self, unit: list[Person]) -> None:
        """About one unit in ten stopped coming: no visit for over a year, nothing booked."""
        rng = self.rng
        chance = LAPSE_BASE + LAPSE_PER_FLIGHT * unit[0].flight
        if rng.random() >= chance or unit[0].departed is not None:
            return
        latest_start = max(person.first_visit for person in unit)
        hi = self.today - 420
        lo = max(self.window_start - 700, latest_start + 1)
        if lo < hi:
            stop = rng.randint(lo, hi)
            for person in unit:
                person.stop = stop

    def _referrals(self) -> None:
        """A fifth of adults came through another patient; a few patients refer many."""
        rng = self.rng
        today = self.today
        adults = [p for p in self.people if not p.is_minor_on(today)]
        referred = [p for p in adults if p.referred_by is None and rng.random() < 0.2]
        referred_ids = {id(p) for p in referred}
        pool: list[tuple[int, int, Person]] = []
        for person in adults:
            unreferred = person.referred_by is None and id(person) not in referred_ids
            if unreferred and rng.random() < 0.15:
                weight = rng.choice((1, 1, 1, 2, 3, 5, 8)) + (3 if person.vip else 0)
                pool.extend((person.first_visit, n, person) for n in range(weight))
        pool.sort(key=lambda item: (item[0], item[1], item[2].dob))
        visits = [item[0] for item in pool]
        for person in referred:
            eligible = bisect_left(visits, person.first_visit)
            if eligible:
                person.referred_by = pool[rng.randrange(eligible)][2]
            else:
                person.referral_source = "Friend"
        for person in adults:
            if person.referred_by is None and not person.referral_source and rng.random() < 0.7:
                person.referral_source = rng.choices(SOURCES, cum_weights=SOURCE_WEIGHTS)[0]

    def _profile(self, person: Person) -> None:
        """About a third of adults (fewer children) have told staff something about themselves."""
        rng = self.rng
        minor = person.is_minor_on(self.today)
        if rng.random() >= (0.15 if minor else 0.33):
            return
        if minor:
            person.anxieties = rng.choice(data.ANXIETIES)
            if rng.random() < 0.4:
                person.preferences = "Prefers late afternoon slots after school."
            return
        filled = False
        while not filled:
            if rng.random() < 0.5:
                person.goals = rng.choice(data.GOALS)
                filled = True
            if rng.random() < 0.5:
                person.greatest_concern = rng.choice(data.CONCERNS)
                filled = True
            if rng.random() < 0.35:
                person.previous_experiences = rng.choice(data.EXPERIENCES)
                filled = True
            if rng.random() < 0.35:
                person.preferences = rng.choice(data.PREFERENCES)
                filled = True
            if rng.random() < 0.3:
                person.anxieties = rng.choice(data.ANXIETIES)
                filled = True
            if rng.random() < 0.2:
                dentist = self.dentists[person.dentist].split()[-1]
                person.trust_notes = rng.choice(data.TRUST_NOTES).format(dentist=dentist)
                filled = True
