"""A period of a practice's local days, as pages choose it with ``?from=…&to=…``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

DEFAULT_DAYS = 90
# A year and a bit: enough for any comparison people make, and it bounds the rows read.
MAX_DAYS = 400


class PeriodError(ValueError):
    """A period that cannot be shown; the message can be shown to a person."""


@dataclass(frozen=True)
class Period:
    """The practice's local days ``first`` to ``last``, both included."""

    first: dt.date
    last: dt.date

    @classmethod
    def ending(cls, last: dt.date, days: int = DEFAULT_DAYS) -> Period:
        return cls(last - dt.timedelta(days=days - 1), last)

    @classmethod
    def parse(
        cls,
        first: str,
        last: str,
        *,
        today: dt.date,
        default_days: int = DEFAULT_DAYS,
        max_days: int = MAX_DAYS,
    ) -> Period:
        """From ``YYYY-MM-DD`` strings; blank ones default to the ``default_days`` ending
        today."""
        default = cls.ending(today, default_days)
        try:
            start = dt.date.fromisoformat(first) if first else default.first
            end = dt.date.fromisoformat(last) if last else default.last
        except ValueError:
            raise PeriodError("Dates: write them as YYYY-MM-DD.") from None
        if end < start:
            raise PeriodError("The period must end on or after its first day.")
        if (end - start).days + 1 > max_days:
            raise PeriodError(f"Choose a period of at most {max_days} days.")
        return cls(start, end)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def bounds(self, zone) -> tuple[dt.datetime, dt.datetime]:
        """The period as real instants: local midnight of the first day to the one after the
        last (days around a clock change are 23 or 25 hours)."""
        start = dt.datetime.combine(self.first, dt.time(), tzinfo=zone)
        end = dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), tzinfo=zone)
        return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def day_bounds(first: str, last: str, zone) -> tuple[dt.datetime | None, dt.datetime | None]:
    """A list's optional ``?from=``/``?to=`` filter as instants: local midnight starting
    ``first``, local midnight ending ``last``; a blank or unreadable end is no limit."""

    def day(text: str) -> dt.date | None:
        try:
            return dt.date.fromisoformat(text) if text else None
        except ValueError:
            return None

    start, end = day(first), day(last)
    return (
        start and dt.datetime.combine(start, dt.time(), tzinfo=zone).astimezone(dt.UTC),
        end
        and dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=zone).astimezone(
            dt.UTC
        ),
    )
