"""What the dashboards show, made from the rollups' figures: the tables (the same on the
page and in the CSV files), the charts, the benchmark's order and where each figure's rows
are listed. Nothing here queries the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from django.urls import reverse

from analytics.selectors import Figures
from analytics.stats import Nps, Proportion, case_mix_note, ranked
from core.charts import Series, bar_chart, combo_chart, line_chart
from core.models import Practice
from core.periods import Period

# The trend always covers the twelve months ending with the period, so a short period
# still shows where it sits in the year.
TREND_MONTHS = 12


def last_twelve_months(today: dt.date) -> Period:
    """This month so far and the eleven whole months before it."""
    first = today.replace(day=1)
    for _ in range(TREND_MONTHS - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return Period(first, today)


def trend_period(period: Period) -> Period:
    return Period(min(last_twelve_months(period.last).first, period.first), period.last)


def _percent(share: Proportion) -> float | None:
    return None if share.percent is None else round(share.percent, 1)


def _round(value: float | None, places: int = 1) -> float | None:
    return None if value is None else round(value, places)


# --- Tables ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """One table of a dashboard, as its CSV file has it."""

    slug: str
    header: tuple[str, ...]
    rows: list[tuple]


# Every table's name in the CSV links, by its slug (``?table=…``).
TITLES = {
    "summary": "every figure",
    "benchmark": "practices compared",
    "months": "by month",
    "touchpoints": "touchpoints",
    "departures": "departures by reason",
    "staff": "praise and complaints by staff member",
    "vendors": "labs and specialists",
}


def _nps_row(label: str, nps: Nps) -> tuple:
    low_sample = "fewer than 30 answers" if nps.is_greyed else ""
    return (
        label,
        _round(nps.score),
        nps.answers,
        nps.answers,
        _round(nps.low),
        _round(nps.high),
        low_sample,
    )


def _share_row(label: str, share: Proportion) -> tuple:
    low_sample = "fewer than 30 answers" if share.is_greyed else ""
    return (
        label,
        _percent(share),
        share.count,
        share.total,
        _round(share.low),
        _round(share.high),
        low_sample,
    )


def summary_table(figures: Figures) -> Table:
    """Every headline figure, with its sample and 95% interval where it has one."""
    snapshot = figures.snapshot
    rows = [
        _nps_row("NPS", figures.nps),
        _share_row("Response rate %", figures.response_rate),
        _share_row("CSAT % (ratings of 4-5)", figures.csat),
        _share_row("CES % (easy)", figures.ces),
        _share_row("Cases acknowledged on time %", figures.acknowledged_on_time),
        _share_row("Recovery rate %", figures.recovery_rate),
        _share_row("Records requests fulfilled on time %", figures.records_on_time),
        _share_row("Calls answered %", figures.answer_rate),
        _share_row("Call-backs within deadline %", figures.callbacks_within_deadline),
        _share_row("New callers who booked %", figures.new_caller_conversion),
        _share_row("New patients among patients seen %", figures.case_mix.new_share),
        ("Cases opened", figures.cases_opened, "", "", "", "", ""),
        (
            "Satisfaction before recovery (0-10)",
            _round(figures.satisfaction_before),
            figures.satisfaction_pairs,
            "",
            "",
            "",
            "",
        ),
        (
            "Satisfaction after recovery (0-10)",
            _round(figures.satisfaction_after),
            figures.satisfaction_pairs,
            "",
            "",
            "",
            "",
        ),
        ("Gestures cost", figures.gestures_cost, figures.gestures, "", "", "", ""),
        ("Records requests received", figures.records_received, "", "", "", "", ""),
        ("Departures", figures.departures, "", "", "", "", ""),
        ("Lifetime value lost", figures.value_lost, figures.departures, "", "", "", ""),
        ("Came back", figures.redeemed, "", "", "", "", ""),
        ("Inbound calls", figures.calls_inbound, "", "", "", "", ""),
        ("Vendor defects", figures.vendor_defects, "", "", "", "", ""),
    ]
    if snapshot is not None:
        rows += [
            (
                "Patients at risk",
                snapshot.patients_at_risk,
                snapshot.patients_scored,
                "",
                "",
                "",
                "",
            ),
            (
                "Lifetime value at risk",
                snapshot.value_at_risk,
                snapshot.patients_at_risk,
                "",
                "",
                "",
                "",
            ),
        ]
    header = ("measure", "value", "count", "out of", "95% low", "95% high", "note")
    return Table("summary", header, rows)


def months_table(months: Sequence[tuple[dt.date, Figures]]) -> Table:
    header = (
        "month",
        "NPS",
        "± margin",
        "NPS answers",
        "response rate %",
        "CSAT %",
        "cases opened",
        "cases recovered",
        "calls answered %",
    )
    rows = [
        (
            month.strftime("%Y-%m"),
            _round(f.nps.score),
            _round(f.nps.margin),
            f.nps.answers,
            _percent(f.response_rate),
            _percent(f.csat),
            f.cases_opened,
            f.cases_recovered,
            _percent(f.answer_rate),
        )
        for month, f in months
    ]
    return Table("months", header, rows)


def touchpoints_table(figures: Figures) -> Table:
    """Touchpoints by defects, most first, with the cumulative share: the Pareto."""
    total = sum(t.defects for t in figures.touchpoints)
    rows, running = [], 0
    for t in figures.touchpoints:
        running += t.defects
        cumulative = round(100 * running / total, 1) if total and t.defects else None
        rows.append(
            (
                t.label,
                t.defects,
                cumulative,
                t.answers,
                _round(t.average, 2),
                _percent(t.csat),
                t.low_scores,
            )
        )
    header = (
        "touchpoint",
        "defects",
        "cumulative % of defects",
        "rating answers",
        "average rating (1-5)",
        "CSAT %",
        "low ratings (1-2)",
    )
    return Table("touchpoints", header, rows)


def departures_table(figures: Figures) -> Table:
    rows = [(d.label, d.departures, d.value_lost) for d in figures.departures_by_reason]
    return Table("departures", ("reason", "patients", "value lost"), rows)


def staff_table(figures: Figures) -> Table:
    rows = [(p.person, p.praise, p.complaints, _percent(p.praise_share)) for p in figures.people]
    header = ("staff member", "praise", "complaints", "praise %")
    return Table("staff", header, rows)


def vendors_table(figures: Figures) -> Table:
    rows = [
        (
            v.name,
            v.answers,
            _round(v.average, 2),
            _percent(v.csat),
            v.defects,
            v.complaints,
            v.cases_opened,
        )
        for v in figures.vendors
    ]
    header = (
        "vendor",
        "rating answers",
        "average rating (1-5)",
        "CSAT %",
        "defects",
        "complaints",
        "cases opened",
    )
    return Table("vendors", header, rows)


# --- The benchmark ---------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """A column the benchmark can be sorted and ranked by."""

    key: str
    label: str
    figure: Callable[[Figures], float | None]
    answers: Callable[[Figures], int]
    higher_is_better: bool = True


def _at_risk_share(f: Figures) -> Proportion:
    snapshot = f.snapshot
    return (
        Proportion(snapshot.patients_at_risk, snapshot.patients_scored)
        if snapshot
        else (Proportion(0, 0))
    )


MEASURES = {
    m.key: m
    for m in (
        Measure("nps", "NPS", lambda f: f.nps.score, lambda f: f.nps.answers),
        Measure(
            "response",
            "Response rate",
            lambda f: f.response_rate.percent,
            lambda f: f.response_rate.total,
        ),
        Measure("csat", "CSAT", lambda f: f.csat.percent, lambda f: f.csat.total),
        Measure(
            "recovery",
            "Recovery rate",
            lambda f: f.recovery_rate.percent,
            lambda f: f.recovery_rate.total,
        ),
        Measure(
            "answered",
            "Calls answered",
            lambda f: f.answer_rate.percent,
            lambda f: f.answer_rate.total,
        ),
        Measure(
            "records",
            "Records on time",
            lambda f: f.records_on_time.percent,
            lambda f: f.records_on_time.total,
        ),
        Measure(
            "at_risk",
            "Patients at risk",
            lambda f: _at_risk_share(f).percent,
            lambda f: _at_risk_share(f).total,
            higher_is_better=False,
        ),
    )
}
DEFAULT_SORT = "nps"


@dataclass(frozen=True)
class BenchmarkRow:
    practice: Practice
    figures: Figures
    rank: int | None  # None: too few answers (or no figure) to be ranked
    group: Figures  # the practices together, for the case-mix note

    @property
    def at_risk(self) -> Proportion:
        return _at_risk_share(self.figures)

    @property
    def case_mix(self) -> str:
        return case_mix_note(self.figures.case_mix, reference=self.group.case_mix)


def benchmark(
    practices: Iterable[Practice],
    by_practice: dict[int, Figures],
    group: Figures,
    *,
    sort: str = DEFAULT_SORT,
    worst_first: bool = False,
) -> list[BenchmarkRow]:
    """The practices ranked by one measure, best first (or worst first); practices with
    fewer than 30 answers for it follow, unranked, by name."""
    measure = MEASURES.get(sort, MEASURES[DEFAULT_SORT])
    sign = 1 if measure.higher_is_better else -1
    named = sorted(practices, key=lambda p: p.name.casefold())
    order = ranked(
        named,
        figure=lambda p: _signed(measure.figure(by_practice[p.pk]), sign),
        answers=lambda p: measure.answers(by_practice[p.pk]),
    )
    if worst_first:
        ranks = [item for item in order if item[0] is not None]
        order = ranks[::-1] + [item for item in order if item[0] is None]
    return [BenchmarkRow(p, by_practice[p.pk], rank, group) for rank, p in order]


def _signed(value: float | None, sign: int) -> float | None:
    return None if value is None else sign * value


def benchmark_table(rows: Sequence[BenchmarkRow]) -> Table:
    header = (
        "rank",
        "practice",
        "NPS",
        "± margin",
        "NPS answers",
        "response rate %",
        "invitations",
        "CSAT %",
        "rating answers",
        "recovery rate %",
        "cases judged",
        "calls answered %",
        "inbound calls",
        "records on time %",
        "records fulfilled",
        "patients at risk %",
        "patients scored",
        "new patients %",
        "case mix",
    )
    body = []
    for row in rows:
        f = row.figures
        body.append(
            (
                row.rank or "",
                row.practice.name,
                _round(f.nps.score),
                _round(f.nps.margin),
                f.nps.answers,
                _percent(f.response_rate),
                f.response_rate.total,
                _percent(f.csat),
                f.csat.total,
                _percent(f.recovery_rate),
                f.recovery_rate.total,
                _percent(f.answer_rate),
                f.answer_rate.total,
                _percent(f.records_on_time),
                f.records_on_time.total,
                _percent(row.at_risk),
                row.at_risk.total,
                _percent(f.case_mix.new_share),
                row.case_mix,
            )
        )
    return Table("benchmark", header, body)


# --- Charts ----------------------------------------------------------------------------


def nps_chart(months: Sequence[tuple[dt.date, Figures]]) -> dict:
    return line_chart(
        [month.strftime("%b %Y") for month, _ in months],
        Series(
            "NPS",
            [_round(f.nps.score) for _, f in months],
            band=[_round(f.nps.margin) for _, f in months],
        ),
        y_min=-100,
        y_max=100,
    )


def pareto_chart(figures: Figures) -> dict:
    table = touchpoints_table(figures)
    with_defects = [row for row in table.rows if row[1]]
    return combo_chart(
        [row[0] for row in with_defects],
        Series("Defects", [row[1] for row in with_defects], kind="bar"),
        Series("Cumulative %", [row[2] for row in with_defects], kind="line", axis="right"),
        left={"title": "Defects", "integer": True},
        right={"min": 0, "max": 100, "title": "Cumulative %", "integer": False},
    )


def cases_chart(months: Sequence[tuple[dt.date, Figures]]) -> dict:
    return bar_chart(
        [month.strftime("%b %Y") for month, _ in months],
        Series("Opened", [f.cases_opened for _, f in months]),
        Series("Recovered", [f.cases_recovered for _, f in months]),
    )


def departures_chart(figures: Figures) -> dict:
    rows = figures.departures_by_reason
    return bar_chart(
        [d.label for d in rows],
        Series("Patients who left", [d.departures for d in rows]),
        horizontal=True,
    )


def benchmark_chart(rows: Sequence[BenchmarkRow]) -> dict:
    """Ranked practices' NPS with their margins (the first 30 shown: the table has all)."""
    shown = [row for row in rows if row.rank is not None][:30]
    return bar_chart(
        [row.practice.name for row in shown],
        Series("NPS", [_round(row.figures.nps.score) for row in shown]),
        horizontal=True,
        integer=False,
    )


# --- Where the rows are ----------------------------------------------------------------


def link(name: str, **query: object) -> str:
    """The address of a list page, filtered (blank filters left out)."""
    query = {key: value for key, value in query.items() if value not in (None, "")}
    address = reverse(name)
    return f"{address}?{urlencode(query)}" if query else address


def row_links(period: Period) -> dict[str, str]:
    """Where the rows behind each practice figure are listed, for the period."""
    dates = {"from": period.first.isoformat(), "to": period.last.isoformat()}
    return {
        "surveys": link("feedback:inbox", source="survey", **dates),
        "negative": link("feedback:inbox", label="negative", **dates),
        "positive": link("feedback:inbox", label="positive", **dates),
        "cases": link("recovery:case-inbox", **dates),
        "overdue": link("recovery:case-inbox", overdue="1"),
        "at_risk": link("loyalty:at-risk"),
        "records": link("records:request-list"),
        "departures": link(
            "records:departures", since=period.first.isoformat(), until=period.last.isoformat()
        ),
        "calls": link("calls:dashboard", **dates),
        "missed": link("calls:callback-list"),
        "vendors": link("vendors:vendor-list"),
    }


def touchpoint_link(period: Period, touchpoint: str, *, negative: bool) -> str:
    dates = {"from": period.first.isoformat(), "to": period.last.isoformat()}
    label = "negative" if negative else ""
    return link("feedback:inbox", touchpoint=touchpoint, label=label, **dates)


def person_link(period: Period, person: str, label: str) -> str:
    dates = {"from": period.first.isoformat(), "to": period.last.isoformat()}
    return link("feedback:inbox", person=person, label=label, **dates)
