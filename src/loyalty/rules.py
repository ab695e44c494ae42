"""The named risk rules: what each looks at, its default points, and how it reads to people.

Each rule has its condition twice: as SQL over the facts a scoring run gathers (so a
whole group is scored in one statement) and as Python over a stored ``PatientScore`` (so
the reasons shown are the rules that fired). ``test_rules`` checks the two agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone

# A single visit gives no rhythm of its own: compare with the usual six-monthly recall.
DEFAULT_RHYTHM_DAYS = 182
# Visits closer than this (an exam, then a filling a week later) are one course of care, not
# a rhythm: such patients are compared with the usual recall too.
SHORTEST_RHYTHM_DAYS = 60
# Words that name equipment and technology, and distance and parking, in complaints.
EQUIPMENT_WORDS = ("equipment", "dated", "old-fashioned", "outdated", "technology", "x-ray machine")
DISTANCE_WORDS = ("long drive", "distance", "parking", "far from", "moved away", "commute")
# Missed calls count against the practice for this long after they came.
UNRETURNED_CALL_DAYS = 90


def _month(row) -> str:
    return timezone.localtime(row.last_nps_at).strftime("%B") if row.last_nps_at else ""


def _days_since_visit_now(row) -> int:
    """Days since the last visit today: a row unchanged for a while holds them as of then."""
    scored_at = getattr(row, "scored_at", None)
    later = (timezone.now() - scored_at).days if scored_at else 0
    return row.days_since_visit + max(0, later)


def _missed_more(row) -> bool:
    if row.missed_recent < 2 or not row.booked_recent:
        return False
    earlier = row.missed_before / row.booked_before if row.booked_before else 0
    return row.missed_recent / row.booked_recent > 2 * earlier + 0.05


def rhythm_of(row) -> int:
    """The patient's own days between visits, or the usual recall when they have none."""
    if row.rhythm_days is None or row.rhythm_days < SHORTEST_RHYTHM_DAYS:
        return DEFAULT_RHYTHM_DAYS
    return row.rhythm_days


def _gap(row) -> bool:
    if row.days_since_visit is None:
        return False
    return row.days_since_visit * 2 > rhythm_of(row) * 3


@dataclass(frozen=True)
class Rule:
    name: str
    label: str
    points: int
    sql: str
    applies: Callable
    reason: Callable
    action: str


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in [
        Rule(
            "detractor",
            "Last survey score 0–6",
            25,
            "f.last_nps <= 6",
            lambda r: r.last_nps is not None and r.last_nps <= 6,
            lambda r: f"last survey score {r.last_nps}/10 ({_month(r)})",
            "personal call to hear what went wrong",
        ),
        Rule(
            "passive",
            "Last survey score 7–8",
            5,
            "f.last_nps IN (7, 8)",
            lambda r: r.last_nps in (7, 8),
            lambda r: f"lukewarm last survey score {r.last_nps}/10",
            "relationship survey",
        ),
        Rule(
            "falling_score",
            "Survey score fell by 2 or more",
            15,
            "f.previous_nps - f.last_nps >= 2",
            lambda r: None not in (r.previous_nps, r.last_nps) and r.previous_nps - r.last_nps >= 2,
            lambda r: f"score fell from {r.previous_nps} to {r.last_nps} in {_month(r)}",
            "personal check-in call by the dentist",
        ),
        Rule(
            "open_case",
            "A recovery case is open",
            15,
            "f.open_cases > 0",
            lambda r: r.open_cases > 0,
            lambda r: "a complaint is still being worked",
            "finish the recovery case",
        ),
        Rule(
            "unrecovered",
            "A complaint was not put right (12 months)",
            20,
            "f.unrecovered_cases > 0",
            lambda r: r.unrecovered_cases > 0,
            lambda r: "a complaint in the last year was not put right",
            "personal call from the manager",
        ),
        Rule(
            "recent_defect",
            "Negative feedback (6 months)",
            10,
            "f.recent_defects > 0",
            lambda r: r.recent_defects > 0,
            lambda r: f"negative feedback {r.recent_defects} time(s) in six months",
            "personal call to hear what went wrong",
        ),
        Rule(
            "missing_visits",
            "More cancellations and no-shows than before",
            20,
            "f.missed_recent >= 2 AND f.booked_recent > 0 AND f.missed_recent * 1.0 / "
            "f.booked_recent > 2.0 * (CASE WHEN f.booked_before > 0 THEN f.missed_before * 1.0 / "
            "f.booked_before ELSE 0 END) + 0.05",
            _missed_more,
            lambda r: (
                f"missed or cancelled {r.missed_recent} of {r.booked_recent} "
                "appointments this year, more than before"
            ),
            "call to find a time that suits them",
        ),
        Rule(
            "nothing_booked",
            "No future appointment",
            30,
            "f.visits > 0 AND NOT f.has_future_visit",
            lambda r: r.visits > 0 and not r.has_future_visit,
            lambda r: "no appointment booked",
            "recall reminder with a personal note",
        ),
        Rule(
            "overdue",
            "Gap longer than 1.5 × their own rhythm",
            20,
            # The same fallback as rhythm_of: no rhythm, or visits too close to be one.
            f"f.days_since_visit * 2 > (CASE WHEN f.rhythm_days >= {SHORTEST_RHYTHM_DAYS} "
            f"THEN f.rhythm_days ELSE {DEFAULT_RHYTHM_DAYS} END) * 3",
            _gap,
            lambda r: (
                f"{_days_since_visit_now(r) // 30} months since the last visit; usually every "
                f"{rhythm_of(r) // 30}"
            ),
            "personal check-in call by the dentist",
        ),
        Rule(
            "equipment",
            "Mentioned dated equipment or technology",
            10,
            "f.equipment_mentions > 0",
            lambda r: r.equipment_mentions > 0,
            lambda r: "mentioned equipment or technology that feels dated",
            "tell them what is new at the practice",
        ),
        Rule(
            "distance",
            "Mentioned distance or parking",
            10,
            "f.distance_mentions > 0",
            lambda r: r.distance_mentions > 0,
            lambda r: "mentioned the drive, distance or parking",
            "offer times that avoid the traffic, or a sister practice nearer home",
        ),
        Rule(
            "unreturned_call",
            f"A missed call not returned by its deadline ({UNRETURNED_CALL_DAYS} days)",
            15,
            # Counted by ``scoring``: call-backs due by now and not done by their deadline,
            # even if the caller got through later on their own: they had to chase us.
            "f.unreturned_calls > 0",
            lambda r: r.unreturned_calls > 0,
            lambda r: (
                f"{r.unreturned_calls} missed call(s) not returned in time "
                f"in the last {UNRETURNED_CALL_DAYS} days"
            ),
            "call them back today, and apologise for the wait",
        ),
    ]
}


def points_for(weights: dict[str, int]) -> dict[str, int]:
    """Each rule's points under an organisation's weights (defaults for the rest)."""
    return {name: int(weights.get(name, rule.points)) for name, rule in RULES.items()}


def risk_of(row, weights: dict[str, int]) -> int:
    """The risk the SQL computes, in Python: the sum of the points of the rules that fire."""
    points = points_for(weights)
    return min(100, sum(points[name] for name, rule in RULES.items() if rule.applies(row)))


def reasons_for(row, weights: dict[str, int], *, limit: int = 4) -> list[str]:
    """The rules that fired, heaviest first, in plain words."""
    points = points_for(weights)
    fired = [rule for rule in RULES.values() if points[rule.name] and rule.applies(row)]
    fired.sort(key=lambda rule: -points[rule.name])
    return [rule.reason(row) for rule in fired[:limit]]


def suggested_action(row, weights: dict[str, int]) -> str:
    """What to do about it: a valuable patient at real risk hears from the dentist."""
    points = points_for(weights)
    fired = [rule for rule in RULES.values() if points[rule.name] and rule.applies(row)]
    if not fired:
        return ""
    if row.value >= 60 and row.risk >= 40:
        return "personal check-in call by the dentist"
    return max(fired, key=lambda rule: points[rule.name]).action
