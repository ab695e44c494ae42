"""A practice's calendar for seeding: open days, appointment slots and provider bookings.

Days are proleptic ordinals (``date.toordinal()``) and times are minutes after local
midnight, so the hot loop does integer arithmetic; a day's local midnight in UTC is
computed once per day and cached.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from collections.abc import Iterable

SLOT = 15  # minutes; bookings are tracked as bits, one per slot of the day
_DELTAS = [dt.timedelta(minutes=minute) for minute in range(0, 24 * 60, SLOT)]


def weekday_of(ordinal: int) -> int:
    return (ordinal - 1) % 7  # ordinal 1 (1 January of year 1) was a Monday


class PracticeCalendar:
    def __init__(
        self,
        *,
        timezone: str,
        hours: Iterable[tuple[int, dt.time, dt.time]],
        closed: Iterable[int],
        aware: bool,
        rng: random.Random,
    ) -> None:
        self.zone = zoneinfo.ZoneInfo(timezone)
        self.aware = aware
        self.random = rng.random
        periods: dict[int, list[tuple[int, int]]] = {}
        for weekday, opens, closes in hours:
            periods.setdefault(weekday, []).append(
                (opens.hour * 60 + opens.minute, closes.hour * 60 + closes.minute)
            )
        if not periods:
            raise ValueError("a practice needs opening hours to be seeded")
        self.periods = {day: sorted(spans) for day, spans in periods.items()}
        self.open_weekdays = frozenset(self.periods)
        # A day the practice is normally closed (a Sunday, say) borrows the longest
        # weekday's hours when something must be booked on it: today's day sheet.
        self.fallback = max(self.periods.values(), key=lambda spans: sum(b - a for a, b in spans))
        self.closed = set(closed)
        self._starts: dict[tuple[int, int, int], list[tuple[int, int]]] = {}
        self._base: dict[int, dt.datetime] = {}
        self._busy: dict[int, int] = {}  # ordinal * 64 + provider -> bits of booked slots

    def is_open(self, ordinal: int) -> bool:
        return weekday_of(ordinal) in self.open_weekdays and ordinal not in self.closed

    def next_open(self, ordinal: int) -> int:
        while not self.is_open(ordinal):
            ordinal += 1
        return ordinal

    def spread(self, ordinal: int) -> int:
        """The day itself if open, else a random open day within three days either side:
        moving every weekend date to the next open day would pile them all on Mondays."""
        if self.is_open(ordinal):
            return ordinal
        near = [day for day in range(ordinal - 3, ordinal + 4) if self.is_open(day)]
        return near[int(self.random() * len(near))] if near else self.next_open(ordinal)

    def prev_open(self, ordinal: int) -> int:
        while not self.is_open(ordinal):
            ordinal -= 1
        return ordinal

    def periods_on(self, ordinal: int) -> list[tuple[int, int]]:
        return self.periods.get(weekday_of(ordinal), self.fallback)

    def starts(self, ordinal: int, duration: int, earliest: int = 0) -> list[tuple[int, int]]:
        """(start minute, slot bits) at which ``duration`` fits one opening period that day,
        from ``earliest`` on if there is room then (else the day's last start)."""
        key = ((ordinal - 1) % 7, duration, earliest)
        found = self._starts.get(key)
        if found is None:
            need = (1 << (duration // SLOT)) - 1
            found = [
                (minute, need << (minute // SLOT))
                for opens, closes in self.periods_on(ordinal)
                for minute in range(opens, closes - duration + 1, SLOT)
            ]
            found = [start for start in found if start[0] >= earliest] or found[-1:]
            self._starts[key] = found
        return found

    def moment(self, ordinal: int, minute: int) -> str:
        """The UTC time of a local day and minute as text the database parses: Django's
        naive UTC form for SQLite, with an explicit ``+00:00`` for PostgreSQL."""
        base = self._base.get(ordinal)
        if base is None:
            day = dt.date.fromordinal(ordinal)
            # Offsets change at 2 a.m.; opening hours are well clear of it, so noon's
            # offset holds for the whole working day.
            noon = dt.datetime(day.year, day.month, day.day, 12, tzinfo=self.zone)
            base = dt.datetime(day.year, day.month, day.day) - noon.utcoffset()
            if self.aware:
                base = base.replace(tzinfo=dt.UTC)
            self._base[ordinal] = base
        return str(base + _DELTAS[minute // SLOT])

    def book(
        self, ordinal: int, providers: list[int], duration: int, *, earliest: int = 0
    ) -> tuple[int, int]:
        """A provider and start minute: the first free slot from a random point of the day
        with the patient's own clinician, else with a colleague; a full day ends
        double-booked, as real ones sometimes do."""
        starts = self.starts(ordinal, duration, earliest)
        count = len(starts)
        first = int(self.random() * count)
        busy = self._busy
        # Most bookings land at once: try the random slot with the patient's own clinician.
        minute, mask = starts[first]
        key = ordinal * 64 + providers[0]
        taken = busy.get(key, 0)
        if not taken & mask:
            busy[key] = taken | mask
            return providers[0], minute
        order = starts[first:] + starts[:first]
        for provider in providers:
            key = ordinal * 64 + provider
            taken = busy.get(key, 0)
            for minute, mask in order:
                if not taken & mask:
                    busy[key] = taken | mask
                    return provider, minute
        minute, mask = order[0]
        key = ordinal * 64 + providers[0]
        busy[key] = busy.get(key, 0) | mask
        return providers[0], minute

    def book_at(self, ordinal: int, provider: int, minute: int, duration: int) -> bool:
        """Book an exact slot; False (and nothing booked) if the provider is busy then."""
        key = ordinal * 64 + provider
        mask = ((1 << (duration // SLOT)) - 1) << (minute // SLOT)
        taken = self._busy.get(key, 0)
        if taken & mask:
            return False
        self._busy[key] = taken | mask
        return True

    def is_free(self, ordinal: int, provider: int, minute: int, duration: int) -> bool:
        mask = ((1 << (duration // SLOT)) - 1) << (minute // SLOT)
        return not self._busy.get(ordinal * 64 + provider, 0) & mask
