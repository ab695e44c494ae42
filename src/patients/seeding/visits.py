"""Appointments of synthetic patients: recall rhythm, treatment, cancellations, the day sheet.

Rows are tuples ``(starts_at, patient ref, staff ref, duration_minutes, kind, status, fee)``:
refs are positions in the practice's people and staff lists, turned into ids when the rows
are written, and external ids are given in time order once all are planned. Values are
text the database parses (see ``writer``).

A restless patient (high hidden ``flight``, see ``people``) drifts over the last ~18
months: more cancellations and no-shows than in their own earlier years, fewer re-booked,
recalls stretching beyond their rhythm, and less often the next recall in the book. The
planner never looks at whether a person leaves: the day they do is chosen afterwards,
after their last booking (``people.leave_days``).
"""

from __future__ import annotations

import random
from itertools import accumulate

from patients.seeding.calendar import PracticeCalendar
from patients.seeding.people import DRIFT_DAYS, EXAM_EVERY, Person, drift

DENTIST, HYGIENIST = "dentist", "hygienist"
# kind: (minutes, who, lowest fee, highest fee), fees in whole dollars, steps of $5.
KINDS = {
    "New patient exam": (60, DENTIST, 150, 250),
    "Cleaning": (60, HYGIENIST, 105, 140),
    "Periodontal maintenance": (60, HYGIENIST, 160, 230),
    "Exam": (30, DENTIST, 75, 110),
    "Filling": (45, DENTIST, 180, 300),
    "Crown": (90, DENTIST, 1100, 1500),
    "Crown seat": (30, DENTIST, 0, 0),
    "Crown shade match": (30, DENTIST, 0, 0),
    "Root canal": (90, DENTIST, 900, 1200),
    "Implant": (120, DENTIST, 3000, 4500),
    "Extraction": (45, DENTIST, 150, 350),
    "Whitening": (60, DENTIST, 350, 600),
    "Night guard": (30, DENTIST, 350, 550),
    "Emergency visit": (30, DENTIST, 120, 220),
    "Consultation": (30, DENTIST, 0, 90),
}
# As text, the form both databases parse (SQLite's adapter for Decimal is ``str``).
FEES = {
    kind: [f"{amount}.00" for amount in range(low, high + 1, 5)]
    for kind, (_, _, low, high) in KINDS.items()
}
TREATMENTS = (
    "Filling", "Crown", "Root canal", "Extraction", "Implant", "Whitening", "Night guard",
    "Emergency visit", "Consultation",
)  # fmt: skip
TREATMENT_WEIGHTS = tuple(accumulate((48, 12, 6, 6, 3, 4, 4, 10, 7)))
# Long-standing, high-value patients: the crowns and implants of a dental lifetime.
VIP_TREATMENT_WEIGHTS = tuple(accumulate((30, 30, 10, 4, 12, 6, 4, 2, 2)))

COMPLETED, SCHEDULED, CANCELLED, NO_SHOW = "completed", "scheduled", "cancelled", "no_show"
# ~8% and ~4% once re-booked visits are counted, and the restless patients' drift.
CANCEL_RATE, NO_SHOW_RATE = 0.078, 0.04
REBOOK_RATE = 0.7
BOOKED_AHEAD = 0.98  # active patients with their next recall in the book
# How the drift (``people.drift``: 0 .. flight, 0.45 to 0.8 for the most restless today)
# changes a visit: cancellations and no-shows times 1 + 4 x drift; re-booking a missed
# recall times 1 - drift; the next recall stretched by up to 2.4 x drift of the interval
# (1.2 x on average); booking ahead times 1 - 0.8 x drift.
DRIFT_MISSED, DRIFT_STRETCH, DRIFT_BOOKING = 4.0, 2.4, 0.8


class VisitPlanner:
    def __init__(
        self,
        rng: random.Random,
        calendar: PracticeCalendar,
        *,
        today: int,
        now_minute: int,
        window_start: int,
        dentists: list[int],
        hygienists: list[int],
    ) -> None:
        self.rng = rng
        self.random = rng.random
        self.calendar = calendar
        self.today = today
        self.now_minute = now_minute
        self.window_start = window_start
        # Booking preference: the patient's own clinician first, then colleagues.
        self._dentists = [dentists[n:] + dentists[:n] for n in range(len(dentists))]
        self._hygienists = [hygienists[n:] + hygienists[:n] for n in range(len(hygienists))]
        self._kinds = {
            kind: (duration, who == DENTIST, FEES[kind], len(FEES[kind]))
            for kind, (duration, who, _, _) in KINDS.items()
        }
        self.rows: list[tuple] = []
        self.today_count = 0

    def past_status(self, pressure: float = 0.0) -> str:
        """How a past visit went, ``pressure`` being the patient's drift that day."""
        draw = self.random()
        scale = 1.0 + DRIFT_MISSED * pressure
        if draw < CANCEL_RATE * scale:
            return CANCELLED
        return NO_SHOW if draw < (CANCEL_RATE + NO_SHOW_RATE) * scale else COMPLETED

    def pressure(self, person: Person, ordinal: int) -> float:
        return drift(person.flight, self.today - ordinal)

    def add(
        self,
        person: Person,
        ordinal: int,
        kind: str,
        status: str | None = None,
        *,
        earliest: int = 0,
        provider: int | None = None,
        minute: int | None = None,
    ) -> int:
        """Book one appointment; ``status`` is worked out from the date when not given.
        Returns the start minute so a following appointment can be booked after it."""
        duration, by_dentist, fees, fee_count = self._kinds[kind]
        if provider is None or minute is None:
            prefs = (
                self._dentists[person.dentist] if by_dentist else self._hygienists[person.hygienist]
            )
            provider, minute = self.calendar.book(ordinal, prefs, duration, earliest=earliest)
        else:
            # Placed by hand (a story appointment): it keeps its slot whatever else is booked.
            self.calendar.book_at(ordinal, provider, minute, duration)
        today = self.today
        if ordinal > today:
            if status is None:
                status = SCHEDULED
            if ordinal > person.booked_until:
                person.booked_until = ordinal
        elif ordinal == today:
            self.today_count += 1
            if minute >= self.now_minute:
                status = SCHEDULED
            elif status in (None, SCHEDULED):
                status = NO_SHOW if self.random() < 0.04 else COMPLETED
        elif status is None or status == SCHEDULED:
            status = COMPLETED
        self.rows.append(
            (
                self.calendar.moment(ordinal, minute),
                person.ref,
                provider,
                duration,
                kind,
                status,
                fees[int(self.random() * fee_count)],
            )
        )
        return minute

    def _visit(self, person: Person, ordinal: int, kind: str, exam: bool, status: str | None):
        minute = self.add(person, ordinal, kind, status)
        if exam:
            self.add(person, ordinal, "Exam", status, earliest=minute + 60)

    def plan(self, person: Person) -> None:
        rng = self.rng
        random = self.random
        calendar = self.calendar
        today = self.today
        interval = person.interval
        hygiene = "Periodontal maintenance" if interval == 91 else "Cleaning"
        exam_every = EXAM_EVERY[interval]
        end = person.stop if person.stop is not None else today
        first = person.first_visit
        flight = person.flight
        drifting = today - DRIFT_DAYS  # from this day on, behaviour drifts with ``flight``
        if first >= self.window_start:
            self.add(
                person, first, "New patient exam", self.past_status(drift(flight, today - first))
            )
            due = first + 7 + int(random() * 22)
            visits = 1
        else:
            due = self.window_start + int(random() * interval)
            visits = int(random() * exam_every)
        while True:
            due = calendar.spread(due)
            if due >= end:
                break
            pressure = flight * (due - drifting) / DRIFT_DAYS if due > drifting else 0.0
            status = self.past_status(pressure)
            exam = visits % exam_every == 0
            self._visit(person, due, hygiene, exam, status)
            if status != COMPLETED and random() < REBOOK_RATE * (1.0 - pressure):
                due = calendar.spread(due + 5 + int(random() * 21))
                if due >= end:
                    break
                self._visit(person, due, hygiene, exam, COMPLETED)
            visits += 1
            step = interval - 10 + int(random() * 31)
            if pressure:
                step += int(step * DRIFT_STRETCH * pressure * random())
            due += step
        active = person.stop is None
        booked = random() < BOOKED_AHEAD * (1.0 - DRIFT_BOOKING * flight)
        # ``due`` is today or later here: the next recall, already in the book unless it
        # has stretched far beyond the rhythm (or a year ahead: nobody books that far).
        if active and booked and due - today <= min(interval + 30, 364):
            self._visit(person, due, hygiene, visits % exam_every == 0, SCHEDULED)
        self._treatments(person, max(first, self.window_start), end)
        if active and random() < 0.06:
            kind = rng.choices(TREATMENTS, cum_weights=TREATMENT_WEIGHTS)[0]
            self._treatment(person, calendar.next_open(today + rng.randint(1, 50)), kind)

    def _treatments(self, person: Person, start: int, end: int) -> None:
        rng = self.rng
        rate = person.propensity / 365.0
        weights = VIP_TREATMENT_WEIGHTS if person.vip else TREATMENT_WEIGHTS
        moment = start + rng.expovariate(rate)
        while moment < end:
            day = self.calendar.spread(int(moment))
            if day >= end:
                break
            self._treatment(person, day, rng.choices(TREATMENTS, cum_weights=weights)[0])
            moment += rng.expovariate(rate)

    def _treatment(self, person: Person, day: int, kind: str) -> None:
        rng = self.rng
        status = self.past_status(self.pressure(person, day)) if day < self.today else None
        self.add(person, day, kind, status)
        if kind == "Crown" and status in (None, COMPLETED):
            seat = self.calendar.next_open(day + rng.randint(14, 21))
            if seat < self.today or person.stop is None:
                self.add(person, seat, "Crown seat", None if seat >= self.today else COMPLETED)

    def fill_today(self, people: list[Person], minimum: int) -> None:
        """Make sure today's day sheet has people on it, even for a tiny practice."""
        rng = self.rng
        missing = minimum - self.today_count
        if missing <= 0:
            return
        active = [person for person in people if person.stop is None] or people
        for person in rng.sample(active, min(missing, len(active))):
            self.add(person, self.today, rng.choice(("Cleaning", "Exam", "Filling")))
