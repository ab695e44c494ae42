"""Reads of the rollups: the figures of a practice, or of the practices a person may see,
summed over a range of local days. Dashboards call these; nothing here reads raw rows.

Each read is a handful of grouped queries over the rollup tables, whatever the range.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.core.cache import cache
from django.db.models import F, IntegerField, Max, QuerySet, Sum
from django.db.models.functions import TruncMonth

from analytics.models import (
    PracticeDay,
    PracticeDayDeparture,
    PracticeDayPerson,
    PracticeDayTouchpoint,
    PracticeDayVendor,
    PracticeMonth,
    PracticeMonthDeparture,
    PracticeMonthPerson,
    PracticeMonthTouchpoint,
    PracticeMonthVendor,
    PracticeSnapshot,
)
from analytics.stats import CaseMix, Nps, Proportion
from analytics.versions import CACHE_SECONDS, rollups_version
from core.models import Practice
from core.selectors import practices_for_user
from feedback.touchpoints import touchpoint_label
from patients.models import Patient

# Every summed column of ``PracticeDay``: readable on ``Figures`` by the same name.
COUNTS = [
    f.name
    for f in PracticeDay._meta.concrete_fields
    if isinstance(f, IntegerField) and not f.primary_key
]
COUNTED = frozenset(COUNTS)
NOT_RECORDED = "Not recorded"


def _dollars(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


class _Rated:
    """The statistics of ``answers`` ratings (1–5) summing to ``score_sum``, ``satisfied``
    of them 4 or 5."""

    answers: int
    score_sum: int
    satisfied: int

    @property
    def average(self) -> float | None:
        return self.score_sum / self.answers if self.answers else None

    @property
    def csat(self) -> Proportion:
        return Proportion(self.satisfied, self.answers)


@dataclass(frozen=True)
class TouchpointFigures(_Rated):
    """Ratings and defects of one touchpoint over the range."""

    touchpoint: str
    answers: int = 0
    score_sum: int = 0
    satisfied: int = 0
    low_scores: int = 0
    defects: int = 0

    @property
    def label(self) -> str:
        return touchpoint_label(self.touchpoint) if self.touchpoint else "Other"


@dataclass(frozen=True)
class DepartureFigures:
    reason: str
    departures: int
    value_lost: Decimal

    @property
    def label(self) -> str:
        return dict(Patient.DepartureReason.choices).get(self.reason, NOT_RECORDED)


@dataclass(frozen=True)
class PersonFigures:
    """Praise and complaints naming one member of staff over the range."""

    person: str
    praise: int = 0
    complaints: int = 0

    @property
    def mentions(self) -> int:
        return self.praise + self.complaints

    @property
    def praise_share(self) -> Proportion:
        return Proportion(self.praise, self.mentions)


@dataclass(frozen=True)
class VendorFigures(_Rated):
    """A lab's or specialist's scorecard over the range."""

    vendor_id: int
    name: str
    answers: int = 0
    score_sum: int = 0
    satisfied: int = 0
    defects: int = 0
    complaints: int = 0
    cases_opened: int = 0


@dataclass(frozen=True)
class Snapshot:
    """Loyalty figures as last taken in the range (summed over the practices)."""

    patients_scored: int = 0
    patients_at_risk: int = 0
    value_at_risk: Decimal = Decimal("0.00")
    practices: int = 0  # how many of the practices had a snapshot in the range


@dataclass(frozen=True)
class Figures:
    """Every rollup figure of some practices over local days ``first`` to ``last``.

    The summed counts are attributes by their ``PracticeDay`` column name
    (``figures.responses``, ``figures.calls_missed``); the properties turn them into the
    statistics people read, each with its sample size and interval (``analytics.stats``).
    """

    first: dt.date
    last: dt.date
    practices: int
    totals: Mapping[str, int]
    touchpoints: list[TouchpointFigures] = field(default_factory=list)
    departures_by_reason: list[DepartureFigures] = field(default_factory=list)
    people: list[PersonFigures] = field(default_factory=list)
    vendors: list[VendorFigures] = field(default_factory=list)
    snapshot: Snapshot | None = None

    def __getattr__(self, name: str) -> int:
        if name in COUNTED:
            return self.totals.get(name, 0)
        raise AttributeError(name)

    @property
    def nps(self) -> Nps:
        return Nps(self.nps_promoters, self.nps_passives, self.nps_detractors)

    @property
    def csat(self) -> Proportion:
        return Proportion(self.csat_satisfied, self.csat_answers)

    @property
    def ces(self) -> Proportion:
        return Proportion(self.ces_easy, self.ces_answers)

    @property
    def response_rate(self) -> Proportion:
        return Proportion(self.invitations_answered, self.invitations)

    @property
    def acknowledged_on_time(self) -> Proportion:
        return Proportion(self.cases_ack_on_time, self.cases_ack_on_time + self.cases_ack_late)

    @property
    def recovery_rate(self) -> Proportion:
        return Proportion(self.cases_recovered, self.cases_judged)

    @property
    def satisfaction_before(self) -> float | None:
        pairs = self.satisfaction_pairs
        return self.satisfaction_before_sum / pairs if pairs else None

    @property
    def satisfaction_after(self) -> float | None:
        pairs = self.satisfaction_pairs
        return self.satisfaction_after_sum / pairs if pairs else None

    @property
    def gestures_cost(self) -> Decimal:
        return _dollars(self.gestures_cost_cents)

    @property
    def records_on_time(self) -> Proportion:
        return Proportion(self.records_fulfilled_on_time, self.records_fulfilled)

    @property
    def value_lost(self) -> Decimal:
        return _dollars(self.value_lost_cents)

    @property
    def answer_rate(self) -> Proportion:
        return Proportion(self.calls_answered, self.calls_inbound)

    @property
    def callbacks_within_deadline(self) -> Proportion:
        """Done by the deadline, of those done and those still open past it."""
        return Proportion(self.callbacks_on_time, self.callbacks_done + self.callbacks_overdue)

    @property
    def new_caller_conversion(self) -> Proportion:
        return Proportion(self.new_callers_booked, self.new_callers)

    @property
    def case_mix(self) -> CaseMix:
        return CaseMix(self.new_patients_seen, self.patients_seen)


def visible_practices(
    user, practices: Iterable[Practice | int] | None = None
) -> QuerySet[Practice]:
    """The practices the person may see, narrowed to ``practices`` when given (any they
    may not see are left out, as if they did not exist)."""
    visible = practices_for_user(user)
    if isinstance(practices, QuerySet):
        visible = visible.filter(pk__in=practices.values("pk"))
    elif practices is not None:
        visible = visible.filter(pk__in=[p if isinstance(p, int) else p.pk for p in practices])
    return visible


@dataclass(frozen=True)
class _Span:
    """Part of a range: whole months (read from the month tables) or days."""

    monthly: bool
    first: dt.date
    last: dt.date


def _spans(practices: QuerySet[Practice], first: dt.date, last: dt.date) -> list[_Span]:
    """The range as whole months and the days left over at either end.

    The range's last month counts as whole when no day after ``last`` has figures yet: a
    range ending today reads this month's row, which holds the days so far.
    """
    start = first if first.day == 1 else _month_end(first) + dt.timedelta(days=1)
    end = _month_end(last)
    if end != last:
        later = PracticeDay.objects.filter(
            practice__in=practices.values("pk"), day__gt=last, day__lte=end
        )
        if later.exists():
            end = last.replace(day=1) - dt.timedelta(days=1)
    if start > end:
        return [_Span(False, first, last)]
    spans = [_Span(True, start, end)]
    if first < start:
        spans.append(_Span(False, first, start - dt.timedelta(days=1)))
    if last > end:
        spans.append(_Span(False, end + dt.timedelta(days=1), last))
    return spans


# Each daily rollup and its monthly sums.
TABLES = {
    "days": (PracticeDay, PracticeMonth),
    "touchpoints": (PracticeDayTouchpoint, PracticeMonthTouchpoint),
    "departures": (PracticeDayDeparture, PracticeMonthDeparture),
    "people": (PracticeDayPerson, PracticeMonthPerson),
    "vendors": (PracticeDayVendor, PracticeMonthVendor),
}
TOUCHPOINT_COUNTS = ["answers", "score_sum", "satisfied", "low_scores", "defects"]
VENDOR_COUNTS = ["answers", "score_sum", "satisfied", "defects", "complaints", "cases_opened"]


def _grouped(
    practices: QuerySet[Practice],
    first: dt.date,
    last: dt.date,
    by: str | None,
    *,
    detail: bool = True,
) -> dict[object, Figures]:
    """Figures per ``by`` ("practice", "month") or, with None, one set under the key None.
    Without ``detail`` only the ``PracticeDay`` counts are read (no touchpoints,
    departures by reason, staff or vendors): what the benchmark and the trends show."""
    spans = _spans(practices, first, last)

    def rows(table: str, keys: list[str], columns: list[str]):
        """Each group's sums of ``columns`` over the spans, by (group, *keys)."""
        sums: dict[tuple, Counter] = defaultdict(Counter)
        for span in spans:
            model = TABLES[table][1 if span.monthly else 0]
            moment = "month" if span.monthly else "day"
            queryset = model.objects.filter(
                practice__in=practices.values("pk"), **{f"{moment}__range": (span.first, span.last)}
            ).order_by()
            group = []
            if by == "practice":
                group = ["practice_id"]
            elif by == "month":
                queryset = queryset.annotate(
                    period=F("month") if span.monthly else TruncMonth("day")
                )
                group = ["period"]
            totals = {name: Sum(name) for name in columns}
            if not group and not keys:
                found = [queryset.aggregate(**totals)]
            else:
                found = queryset.values(*group, *keys).annotate(**totals)
            for row in found:
                where = _as_date(row[group[0]]) if group else None
                sums[(where, *(row[k] for k in keys))].update(
                    {name: row[name] or 0 for name in columns}
                )
        return sums

    totals = {key[0]: counts for key, counts in rows("days", [], COUNTS).items()}
    touchpoints: dict[object, list[TouchpointFigures]] = defaultdict(list)
    departures: dict[object, list[DepartureFigures]] = defaultdict(list)
    people: dict[object, list[PersonFigures]] = defaultdict(list)
    vendors: dict[object, list[VendorFigures]] = defaultdict(list)
    if detail:
        for (key, slug), c in rows("touchpoints", ["touchpoint"], TOUCHPOINT_COUNTS).items():
            touchpoints[key].append(TouchpointFigures(slug, **{n: c[n] for n in TOUCHPOINT_COUNTS}))
        for (key, reason), c in rows(
            "departures", ["reason"], ["departures", "value_lost_cents"]
        ).items():
            departures[key].append(
                DepartureFigures(reason, c["departures"], _dollars(c["value_lost_cents"]))
            )
        for (key, person), c in rows("people", ["person"], ["praise", "complaints"]).items():
            people[key].append(PersonFigures(person, c["praise"], c["complaints"]))
        found = rows("vendors", ["vendor_id", "vendor__name"], VENDOR_COUNTS)
        for (key, vendor, name), c in found.items():
            vendors[key].append(VendorFigures(vendor, name, **{n: c[n] for n in VENDOR_COUNTS}))
    counted = _practice_counts(practices, by)
    result = {}
    keys = set(totals) | set(touchpoints) | set(departures) | set(people) | set(vendors)
    for key in keys | ({None} if not by else set()):
        start, end = first, last
        if by == "month":
            start = max(first, key)
            end = min(last, _month_end(key))
        result[key] = Figures(
            first=start,
            last=end,
            practices=counted.get(key, counted.get(None, 0)),
            totals=dict(totals.get(key, {})),
            # Worst first: the defect Pareto and the low scores lead.
            touchpoints=sorted(touchpoints.get(key, []), key=lambda t: (-t.defects, t.label)),
            departures_by_reason=sorted(
                departures.get(key, []), key=lambda d: (d.reason == "", -d.departures, d.label)
            ),
            # Most talked about first.
            people=sorted(people.get(key, []), key=lambda p: (-p.mentions, p.person)),
            vendors=sorted(
                vendors.get(key, []),
                key=lambda v: (-(v.defects + v.complaints + v.cases_opened), v.name),
            ),
        )
    return result


def _practice_counts(practices: QuerySet[Practice], by: str | None) -> dict[object, int]:
    if by == "practice":
        return {pk: 1 for pk in practices.values_list("pk", flat=True)}
    return {None: practices.count()}


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _month_end(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def _snapshots(
    practices: QuerySet[Practice], first: dt.date, last: dt.date
) -> dict[int, PracticeSnapshot]:
    """Each practice's last snapshot taken in the range."""
    taken = PracticeSnapshot.objects.filter(practice__in=practices.values("pk")).order_by()
    # A snapshot is taken every day: the last week of the range usually has every
    # practice's last one, and only the practices missing there are looked for further back.
    recent = (max(first, last - dt.timedelta(days=6)), last)
    latest = dict(taken.filter(day__range=recent).values_list("practice_id").annotate(Max("day")))
    if len(latest) < practices.count() and recent[0] > first:
        earlier = taken.filter(day__range=(first, recent[0])).exclude(practice__in=list(latest))
        latest |= dict(earlier.values_list("practice_id").annotate(Max("day")))
    rows = taken.filter(day__in=set(latest.values()), practice__in=list(latest))
    return {row.practice_id: row for row in rows if latest[row.practice_id] == row.day}


def _sum_snapshots(rows: Iterable[PracticeSnapshot]) -> Snapshot:
    rows = list(rows)
    return Snapshot(
        patients_scored=sum(r.patients_scored for r in rows),
        patients_at_risk=sum(r.patients_at_risk for r in rows),
        value_at_risk=_dollars(sum(r.value_at_risk_cents for r in rows)),
        practices=len(rows),
    )


def figures(
    *, user, first: dt.date, last: dt.date, practices: Iterable[Practice | int] | None = None
) -> Figures:
    """The figures of every practice the person may see (or of ``practices`` among them)
    over the local days ``first`` to ``last``, summed."""
    return _figures(visible_practices(user, practices), first, last)


def _figures(practices: QuerySet[Practice], first: dt.date, last: dt.date) -> Figures:
    result = _grouped(practices, first, last, None)[None]
    snapshot = _sum_snapshots(_snapshots(practices, first, last).values())
    return replace(result, snapshot=snapshot)


def practice_figures(*, user, practice: Practice, first: dt.date, last: dt.date) -> Figures:
    """One practice's figures; empty (``practices == 0``) if the person may not see it."""
    return figures(user=user, first=first, last=last, practices=[practice])


def figures_by_practice(
    *, user, first: dt.date, last: dt.date, practices: Iterable[Practice | int] | None = None
) -> dict[int, Figures]:
    """Each visible practice's figures, by practice id: the benchmark table's rows. A
    practice with no rollup rows in the range is there too, with zeros."""
    visible = visible_practices(user, practices)
    return _by_practice(visible, first, last, _snapshots(visible, first, last))


@dataclass(frozen=True)
class GroupFigures:
    total: Figures
    by_practice: dict[int, Figures]
    months: list[tuple[dt.date, Figures]]  # from ``trend_first`` to ``last``


def practice_dashboard_figures(
    *, user, practice: Practice, first: dt.date, last: dt.date, trend_first: dt.date
) -> GroupFigures:
    """One practice's figures and its monthly trend, as ``group_figures`` (``by_practice``
    empty), cached until the next refresh. Nothing (zeros) if the person may not see it."""
    if not visible_practices(user, [practice]).exists():
        empty = Figures(first=first, last=last, practices=0, totals={}, snapshot=Snapshot())
        return GroupFigures(total=empty, by_practice={}, months=[])
    key = f"analytics:practice:{rollups_version()}:{practice.pk}:{first}:{last}:{trend_first}"
    found = cache.get(key)
    if found is None:
        one = Practice.objects.filter(pk=practice.pk)
        found = GroupFigures(
            total=_figures(one, first, last),
            by_practice={},
            months=_by_month(one, trend_first, last),
        )
        cache.set(key, found, CACHE_SECONDS)
    return found


def group_figures(
    *,
    user,
    first: dt.date,
    last: dt.date,
    trend_first: dt.date | None = None,
    practices: Iterable[Practice | int] | None = None,
) -> GroupFigures:
    """``figures``, ``figures_by_practice`` and ``figures_by_month`` (from ``trend_first``,
    by default ``first``, to ``last``) at once, reading the snapshots once.

    Kept in the cache until the next refresh changes the rollups (``rollups_version``):
    a group of a thousand practices costs about half a second to sum, and the figures
    cannot change between refreshes."""
    trend_first = trend_first or first
    visible = visible_practices(user, practices)
    ids = sorted(visible.values_list("pk", flat=True))
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:32]
    key = f"analytics:group:{rollups_version()}:{digest}:{first}:{last}:{trend_first}"
    found = cache.get(key)
    if found is None:
        snapshots = _snapshots(visible, first, last)
        total = _grouped(visible, first, last, None)[None]
        found = GroupFigures(
            total=replace(total, snapshot=_sum_snapshots(snapshots.values())),
            by_practice=_by_practice(visible, first, last, snapshots),
            months=_by_month(visible, trend_first, last),
        )
        cache.set(key, found, CACHE_SECONDS)
    return found


def _by_practice(
    visible: QuerySet[Practice],
    first: dt.date,
    last: dt.date,
    snapshots: dict[int, PracticeSnapshot],
) -> dict[int, Figures]:
    grouped = _grouped(visible, first, last, "practice", detail=False)
    result = {}
    for pk in visible.values_list("pk", flat=True):
        found = grouped.get(pk) or Figures(first=first, last=last, practices=1, totals={})
        taken = [snapshots[pk]] if pk in snapshots else []
        result[pk] = replace(found, snapshot=_sum_snapshots(taken))
    return result


def figures_by_month(
    *, user, first: dt.date, last: dt.date, practices: Iterable[Practice | int] | None = None
) -> list[tuple[dt.date, Figures]]:
    """The visible practices' figures summed per calendar month of the range, oldest
    first (months without any rollup row are left out): the trends."""
    return _by_month(visible_practices(user, practices), first, last)


def _by_month(
    practices: QuerySet[Practice], first: dt.date, last: dt.date
) -> list[tuple[dt.date, Figures]]:
    grouped = _grouped(practices, first, last, "month", detail=False)
    return sorted(((_as_date(key), value) for key, value in grouped.items()), key=lambda kv: kv[0])


# Unscoped reads, for background jobs that act for the practice (the monthly report):
# never call these with a practice taken from a request.


def system_practice_figures(practice: Practice, first: dt.date, last: dt.date) -> Figures:
    return _figures(Practice.objects.filter(pk=practice.pk), first, last)


def system_figures_by_month(
    practice: Practice, first: dt.date, last: dt.date
) -> list[tuple[dt.date, Figures]]:
    return _by_month(Practice.objects.filter(pk=practice.pk), first, last)
