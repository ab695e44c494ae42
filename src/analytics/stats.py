"""Honest statistics from counts: NPS with its margin of error, CSAT and CES as proportions
with Wilson score intervals, the minimum sample below which a figure is greyed and never
ranked, and a note on case mix for comparisons between practices.

Every function takes counts (from the rollups, or from any other tally), never querysets.
The formulas are written out in docs/analytics.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

# Below this many answers a figure is shown greyed, with a warning, and is never ranked.
MIN_ANSWERS = 30
# Two-sided 95%: the z of the normal distribution used by every interval here.
Z95 = 1.96
# Case mixes further apart than this (in percentage points of new patients) are noted.
CASE_MIX_GAP = 10.0


@dataclass(frozen=True)
class Nps:
    """Net Promoter Score: % promoters (9–10) minus % detractors (0–6), with a 95% margin."""

    promoters: int
    passives: int
    detractors: int

    @property
    def answers(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def score(self) -> float | None:
        if not self.answers:
            return None
        return 100 * (self.promoters - self.detractors) / self.answers

    @property
    def margin(self) -> float | None:
        """Half-width of the 95% interval: 1.96 × the standard error of the NPS.

        Each answer scores +1, 0 or −1; with shares p (promoters) and d (detractors) the
        variance of one answer is p + d − (p − d)², and of the mean that over n.
        """
        n = self.answers
        if n < 2:
            return None
        pro, det = self.promoters / n, self.detractors / n
        variance = pro + det - (pro - det) ** 2
        return 100 * Z95 * math.sqrt(variance / n)

    @property
    def low(self) -> float | None:
        """The interval's lower end, never below −100."""
        if self.margin is None:
            return None
        return max(-100.0, self.score - self.margin)

    @property
    def high(self) -> float | None:
        if self.margin is None:
            return None
        return min(100.0, self.score + self.margin)

    @property
    def is_greyed(self) -> bool:
        return is_greyed(self.answers)

    def __add__(self, other: Nps) -> Nps:
        return Nps(
            self.promoters + other.promoters,
            self.passives + other.passives,
            self.detractors + other.detractors,
        )


@dataclass(frozen=True)
class Proportion:
    """``count`` of ``total`` as a percentage, with its Wilson score 95% interval.

    CSAT (satisfied answers of all rating answers), CES (easy of all effort answers),
    response rate, answer rate and the other shares of the dashboards are proportions.
    """

    count: int
    total: int

    @property
    def percent(self) -> float | None:
        return 100 * self.count / self.total if self.total else None

    @property
    def interval(self) -> tuple[float, float] | None:
        bounds = wilson_interval(self.count, self.total)
        if bounds is None:
            return None
        return 100 * bounds[0], 100 * bounds[1]

    @property
    def low(self) -> float | None:
        return self.interval[0] if self.total else None

    @property
    def high(self) -> float | None:
        return self.interval[1] if self.total else None

    @property
    def is_greyed(self) -> bool:
        return is_greyed(self.total)

    def __add__(self, other: Proportion) -> Proportion:
        return Proportion(self.count + other.count, self.total + other.total)


def wilson_interval(count: int, total: int, *, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion ``count / total``, as fractions 0–1.

    centre = (p + z²/2n) / (1 + z²/n), half-width = z / (1 + z²/n) × √(p(1−p)/n + z²/4n²).
    Unlike p ± z√(p(1−p)/n) it stays within 0–1 and is not zero wide at 0% or 100%, which
    matters for the small samples of a single practice.
    """
    if total <= 0:
        return None
    if not 0 <= count <= total:
        raise ValueError(f"count {count} is not between 0 and total {total}")
    p = count / total
    z2 = z * z
    denominator = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total))
    return max(0.0, centre - half), min(1.0, centre + half)


def csat(satisfied: int, answers: int) -> Proportion:
    """Customer satisfaction: answers of 4 or 5 out of all 1–5 rating answers."""
    return Proportion(satisfied, answers)


def ces(easy: int, answers: int) -> Proportion:
    """Customer effort: "easy" answers out of all answers to effort questions."""
    return Proportion(easy, answers)


def is_greyed(answers: int) -> bool:
    """Whether a figure rests on too few answers to be read alone or ranked."""
    return answers < MIN_ANSWERS


T = TypeVar("T")


def ranked(
    items: Iterable[T], *, figure: Callable[[T], float | None], answers: Callable[[T], int]
) -> list[tuple[int | None, T]]:
    """Items best first with their rank; greyed ones (fewer than ``MIN_ANSWERS``) or ones
    without a figure follow, unranked (``None``), in their given order.

    Equal figures share a rank (1, 2, 2, 4), so the order of a tie says nothing.
    """
    rankable: list[tuple[float, T]] = []
    rest: list[T] = []
    for item in items:
        value = figure(item)
        if is_greyed(answers(item)) or value is None:
            rest.append(item)
        else:
            rankable.append((value, item))
    rankable.sort(key=lambda pair: pair[0], reverse=True)
    result: list[tuple[int | None, T]] = []
    previous = None
    for position, (value, item) in enumerate(rankable, start=1):
        rank = result[-1][0] if result and value == previous else position
        result.append((rank, item))
        previous = value
    return result + [(None, item) for item in rest]


@dataclass(frozen=True)
class CaseMix:
    """Who the practice saw: patients on their first visit versus returning (recall)
    patients, counted once per day seen (docs/analytics.md, "Case mix")."""

    new_patients: int
    patients_seen: int

    @property
    def recall_patients(self) -> int:
        return self.patients_seen - self.new_patients

    @property
    def new_share(self) -> Proportion:
        return Proportion(self.new_patients, self.patients_seen)

    def __add__(self, other: CaseMix) -> CaseMix:
        return CaseMix(
            self.new_patients + other.new_patients, self.patients_seen + other.patients_seen
        )


def case_mix_note(mix: CaseMix, *, reference: CaseMix | None = None) -> str:
    """One sentence on the case mix, for beside a comparison between practices.

    New patients tend to answer differently from patients of many years, so a practice
    seeing many more (or fewer) new patients than the group is compared with care.
    """
    share = mix.new_share.percent
    if share is None:
        return "No completed visits in this period: case mix unknown."
    here = f"{share:.0f}% of patients seen were new, {100 - share:.0f}% returning"
    if reference is None or reference.new_share.percent is None:
        return here + "."
    theirs = reference.new_share.percent
    gap = share - theirs
    if abs(gap) < CASE_MIX_GAP:
        return f"{here}, close to the group's {theirs:.0f}% new."
    more = "more" if gap > 0 else "fewer"
    return (
        f"{here}: {more} new patients than the group's {theirs:.0f}%; "
        "compare satisfaction figures with care."
    )
