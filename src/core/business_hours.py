"""Business-time arithmetic on a practice's opening hours, in the practice's own time zone.

Recovery-case deadlines ("acknowledge within 1 business hour", "plan within 3 business days")
run on a clock that only ticks while the practice is open. Opening hours are wall-clock times,
so a period is turned into real instants day by day, and all arithmetic happens in UTC: Python
adds a timedelta to an aware datetime in wall-clock time, which would miscount the hours of a
period that spans a daylight-saving change.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from core.models import Practice

UTC = dt.UTC
ONE_DAY = dt.timedelta(days=1)
# A calendar that never opens must fail loudly rather than loop for ever.
HORIZON_DAYS = 3 * 366
NO_OPENING = "no opening hours in the next three years"
# Deadlines start from recent moments; a practice's older closures would only cost memory.
CLOSED_DAYS_LOOKBACK = dt.timedelta(days=366)

# A period as offsets from local midnight; a whole day ends at ONE_DAY, which dt.time cannot say.
Span = tuple[dt.timedelta, dt.timedelta]
Interval = tuple[dt.datetime, dt.datetime]
T = TypeVar("T", dt.timedelta, dt.datetime)
ALL_DAY: tuple[Span, ...] = ((dt.timedelta(0), ONE_DAY),)


def _require_aware(moment: dt.datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment!r} is a naive datetime; business time needs a time zone")


def _offset(value: dt.time) -> dt.timedelta:
    """A wall-clock time as the time since local midnight."""
    return dt.timedelta(
        hours=value.hour, minutes=value.minute, seconds=value.second, microseconds=value.microsecond
    )


def _merge(spans: Iterable[tuple[T, T]]) -> list[tuple[T, T]]:
    """Sort spans and join the ones that overlap or touch, so no time is counted twice."""
    merged: list[tuple[T, T]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _normalise_periods(
    periods: Mapping[int, Sequence[tuple[dt.time, dt.time]]],
) -> dict[int, tuple[Span, ...]]:
    """Validated, merged spans for each weekday; every day is open all day when none are given."""
    for weekday, day_periods in periods.items():
        if weekday not in range(7):
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), not {weekday!r}")
        for opens, closes in day_periods:
            if closes <= opens:
                raise ValueError(f"a period must close after it opens: {opens}–{closes}")
    if not any(periods.values()):
        # A practice that never set its hours still gets deadlines, counted round the clock.
        return dict.fromkeys(range(7), ALL_DAY)
    return {
        weekday: tuple(_merge([(_offset(o), _offset(c)) for o, c in periods.get(weekday, ())]))
        for weekday in range(7)
    }


class BusinessCalendar:
    """A practice's opening hours as a clock that only runs while the practice is open."""

    def __init__(
        self,
        *,
        zone: zoneinfo.ZoneInfo,
        periods: Mapping[int, Sequence[tuple[dt.time, dt.time]]],
        closed_days: Collection[dt.date] = (),
    ) -> None:
        self.zone = zone
        self._spans = _normalise_periods(periods)
        self._closed_days = frozenset(closed_days)

    @classmethod
    def for_practice(cls, practice: Practice) -> BusinessCalendar:
        """The calendar of a practice, loaded with two queries (opening periods, closed days)."""
        zone = practice.zone
        periods: dict[int, list[tuple[dt.time, dt.time]]] = {}
        for weekday, opens, closes in practice.opening_periods.values_list(
            "weekday", "opens_at", "closes_at"
        ):
            periods.setdefault(weekday, []).append((opens, closes))
        since = dt.datetime.now(zone).date() - CLOSED_DAYS_LOOKBACK
        closed = practice.closed_days.filter(date__gte=since).values_list("date", flat=True)
        return cls(zone=zone, periods=periods, closed_days=set(closed))

    # --- Public clock operations -------------------------------------------------------

    def is_open(self, moment: dt.datetime) -> bool:
        """Whether the practice is open at an aware moment (a period's end is already closed)."""
        _require_aware(moment)
        instant = moment.astimezone(UTC)
        day = self._local_date(instant)
        # Neighbouring days too: around a DST change a period's instants may stray past midnight.
        return any(
            start <= instant < end
            for offset in (-1, 0, 1)
            for start, end in self._day_intervals(day + offset * ONE_DAY)
        )

    def next_open(self, moment: dt.datetime) -> dt.datetime:
        """The moment itself when the practice is open, otherwise its next opening."""
        _require_aware(moment)
        start, _end = next(self._intervals_from(moment.astimezone(UTC)))
        return start.astimezone(self.zone)

    def add_minutes(self, start: dt.datetime, minutes: int) -> dt.datetime:
        """The moment ``minutes`` of opening time after ``start``.

        A clock started while closed starts at the next opening. A result that falls exactly at
        a period's end stays there rather than moving on to the next opening.
        """
        _require_aware(start)
        if minutes < 0:
            raise ValueError(f"minutes must not be negative, not {minutes}")
        remaining = dt.timedelta(minutes=minutes)
        for begin, end in self._intervals_from(start.astimezone(UTC)):
            if remaining <= end - begin:
                return (begin + remaining).astimezone(self.zone)
            remaining -= end - begin
        raise AssertionError("unreachable: _intervals_from never ends without raising")

    def add_days(self, start: dt.datetime, days: int) -> dt.datetime:
        """The same wall-clock time ``days`` open days after the clock starts.

        The clock starts at ``next_open(start)``. On the target day a time outside opening hours
        moves back to the end of the period before it, or forward to the first opening.
        """
        _require_aware(start)
        if days < 0:
            raise ValueError(f"days must not be negative, not {days}")
        begin = self.next_open(start)
        if days == 0:
            return begin
        target = self._nth_open_day_after(begin.date(), days)
        wall = _offset(begin.time())
        return self._instant(target, self._clamp(target, wall)).astimezone(self.zone)

    def minutes_between(self, start: dt.datetime, end: dt.datetime) -> int:
        """Whole minutes of opening time in [start, end); negative when end is before start.

        Partial minutes are dropped (towards zero), so that for any start
        ``minutes_between(start, add_minutes(start, m)) == m``.
        """
        _require_aware(start)
        _require_aware(end)
        first, last = start.astimezone(UTC), end.astimezone(UTC)
        if last < first:
            return -self.minutes_between(end, start)
        total = dt.timedelta(0)
        day = self._local_date(first) - ONE_DAY
        while day <= self._local_date(last) + ONE_DAY:
            for opens, closes in self._day_intervals(day):
                total += max(dt.timedelta(0), min(closes, last) - max(opens, first))
            day += ONE_DAY
        return int(total.total_seconds() // 60)

    # --- Day-by-day building blocks -----------------------------------------------------

    def _local_date(self, instant: dt.datetime) -> dt.date:
        return instant.astimezone(self.zone).date()

    def _instant(self, day: dt.date, offset: dt.timedelta) -> dt.datetime:
        """The UTC instant of a wall-clock offset on a local day.

        Adding to an aware local midnight is wall-clock arithmetic, which is what opening hours
        mean; a wall time that a spring-forward gap skips lands one gap later (fold=0).
        """
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=self.zone)
        return (midnight + offset).astimezone(UTC)

    def _is_open_day(self, day: dt.date) -> bool:
        return bool(self._spans[day.weekday()]) and day not in self._closed_days

    def _day_intervals(self, day: dt.date) -> list[Interval]:
        """A local day's opening time as sorted, non-overlapping UTC intervals."""
        if not self._is_open_day(day):
            return []
        intervals = [
            (self._instant(day, opens), self._instant(day, closes))
            for opens, closes in self._spans[day.weekday()]
        ]
        # A bound inside a spring-forward gap can invert or overlap a period; drop or join it.
        return _merge([(start, end) for start, end in intervals if start < end])

    def _intervals_from(self, instant: dt.datetime) -> Iterator[Interval]:
        """Opening intervals from a UTC instant on, each starting no earlier than the last ended.

        Raises ValueError once three years pass without any opening time.
        """
        day = self._local_date(instant) - ONE_DAY
        cursor = instant
        idle_days = 0
        while idle_days <= HORIZON_DAYS:
            idle_days += 1
            for opens, closes in self._day_intervals(day):
                begin = max(opens, cursor)
                if begin < closes:
                    yield begin, closes
                    cursor = closes
                    idle_days = 0
            day += ONE_DAY
        raise ValueError(NO_OPENING)

    def _nth_open_day_after(self, day: dt.date, count: int) -> dt.date:
        idle_days = 0
        while count:
            day += ONE_DAY
            idle_days += 1
            if self._is_open_day(day):
                count -= 1
                idle_days = 0
            elif idle_days > HORIZON_DAYS:
                raise ValueError(NO_OPENING)
        return day

    def _clamp(self, day: dt.date, wall: dt.timedelta) -> dt.timedelta:
        """A wall-clock offset moved into the day's opening hours (the day must be open)."""
        spans = self._spans[day.weekday()]
        if wall < spans[0][0]:
            return spans[0][0]
        if any(opens <= wall < closes for opens, closes in spans):
            return wall
        return max(closes for _opens, closes in spans if closes <= wall)
