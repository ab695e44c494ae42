"""The practice and group dashboards and their CSV files. Figures only, read from the
rollups: no patient is named on these pages, so nothing here is audited."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.text import slugify

from analytics import dashboard as d
from analytics.selectors import group_figures, practice_dashboard_figures
from analytics.stats import case_mix_note
from core.periods import Period, PeriodError
from core.selectors import CASE_ROLES, can_manage, managed_practices_for_user, roles_at
from core.spreadsheets import csv_bytes

MAX_DAYS = 3 * 366
# Practices per page of the benchmark table (the CSV file has them all).
BENCHMARK_PAGE = 50


def _period(request: HttpRequest, zone) -> tuple[Period, str | None]:
    """The period asked for, or this month and the eleven before it (whole months: they
    are read from the month rollups)."""
    today = timezone.now().astimezone(zone).date()
    default = d.last_twelve_months(today)
    first, last = request.GET.get("from", ""), request.GET.get("to", "")
    try:
        period = Period.parse(
            first or default.first.isoformat(),
            last or default.last.isoformat(),
            today=today,
            max_days=MAX_DAYS,
        )
    except PeriodError as problem:
        return default, f"{problem} Showing the last 12 months."
    return period, None


def _practice_tables(request: HttpRequest) -> tuple[dict, str | None] | HttpResponse:
    """The current practice's figures for the period asked for, or the page to show."""
    practice = request.practice
    if not practice:
        return render(request, "core/no_practice.html")
    if not roles_at(request.user, practice) & CASE_ROLES:
        return render(request, "errors/403.html", status=403)
    period, error = _period(request, practice.zone)
    trend = d.trend_period(period)
    both = practice_dashboard_figures(
        user=request.user,
        practice=practice,
        first=period.first,
        last=period.last,
        trend_first=trend.first,
    )
    found, months = both.total, both.months
    tables = {
        "summary": lambda: d.summary_table(found),
        "months": lambda: d.months_table(months),
        "touchpoints": lambda: d.touchpoints_table(found),
        "departures": lambda: d.departures_table(found),
        "staff": lambda: d.staff_table(found),
        "vendors": lambda: d.vendors_table(found),
    }
    context = {
        "practice": practice,
        "period": period,
        "figures": found,
        "months": months,
        # Made only when downloaded: the benchmark of a thousand practices takes a while.
        "tables": tables,
        "csv_tables": [(slug, d.TITLES[slug]) for slug in tables],
    }
    return context, error


@login_required
def practice_dashboard(request: HttpRequest) -> HttpResponse:
    found = _practice_tables(request)
    if isinstance(found, HttpResponse):
        return found
    context, error = found
    shown, months, period = context["figures"], context["months"], context["period"]
    context |= {
        "error": error,
        "links": d.row_links(period),
        "touchpoints": [
            (t, d.touchpoint_link(period, t.touchpoint, negative=True)) for t in shown.touchpoints
        ],
        "people": [
            (
                p,
                d.person_link(period, p.person, "positive"),
                d.person_link(period, p.person, "negative"),
            )
            for p in shown.people
        ],
        "nps_chart": d.nps_chart(months),
        "pareto_chart": d.pareto_chart(shown),
        "cases_chart": d.cases_chart(months),
        "departures_chart": d.departures_chart(shown),
        "can_manage": can_manage(request.user, context["practice"]),
        "case_mix_note": case_mix_note(shown.case_mix),
    }
    return render(request, "analytics/practice.html", context, status=400 if error else 200)


def _group_context(request: HttpRequest) -> tuple[dict, str | None] | HttpResponse:
    managed = managed_practices_for_user(request.user)
    practices = list(managed.order_by("name").only("id", "name", "timezone"))
    if not practices:
        return render(request, "errors/403.html", status=403)
    zone = request.practice.zone if request.practice else practices[0].zone
    period, error = _period(request, zone)
    trend = d.trend_period(period)
    found = group_figures(
        user=request.user,
        practices=managed,
        first=period.first,
        last=period.last,
        trend_first=trend.first,
    )
    group, by_practice, months = found.total, found.by_practice, found.months
    sort = request.GET.get("sort", d.DEFAULT_SORT)
    sort = sort if sort in d.MEASURES else d.DEFAULT_SORT
    worst_first = request.GET.get("order") == "worst"
    rows = d.benchmark(practices, by_practice, group, sort=sort, worst_first=worst_first)
    tables = {
        "benchmark": lambda: d.benchmark_table(rows),
        "summary": lambda: d.summary_table(group),
        "months": lambda: d.months_table(months),
        "touchpoints": lambda: d.touchpoints_table(group),
        "departures": lambda: d.departures_table(group),
        "vendors": lambda: d.vendors_table(group),
    }
    context = {
        "period": period,
        "figures": group,
        "months": months,
        "rows": rows,
        "page": Paginator(rows, BENCHMARK_PAGE).get_page(request.GET.get("page")),
        "sort": sort,
        "worst_first": worst_first,
        "measures": d.MEASURES.values(),
        "measure_label": d.MEASURES[sort].label,
        "case_mix_note": "Across the practices: " + case_mix_note(group.case_mix),
        # Made only when downloaded: the benchmark of a thousand practices takes a while.
        "tables": tables,
        "csv_tables": [(slug, d.TITLES[slug]) for slug in tables],
    }
    return context, error


@login_required
def group_dashboard(request: HttpRequest) -> HttpResponse:
    found = _group_context(request)
    if isinstance(found, HttpResponse):
        return found
    context, error = found
    context |= {
        "error": error,
        "nps_chart": d.nps_chart(context["months"]),
        "pareto_chart": d.pareto_chart(context["figures"]),
        "benchmark_chart": d.benchmark_chart(context["rows"]),
        "departures_chart": d.departures_chart(context["figures"]),
    }
    return render(request, "analytics/group.html", context, status=400 if error else 200)


def _csv(request: HttpRequest, found, stem: str) -> HttpResponse:
    if isinstance(found, HttpResponse):
        return found
    context, error = found
    if error:
        return HttpResponse(error, status=400, content_type="text/plain; charset=utf-8")
    tables = context["tables"]
    slug = request.GET.get("table", "summary")
    if slug not in tables:
        known = ", ".join(tables)
        return HttpResponse(
            f"No such table {slug!r}: choose one of {known}.",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    table = tables[slug]()
    period = context["period"]
    name = f"{stem}-{slug}-{period.first.isoformat()}-to-{period.last.isoformat()}.csv"
    response = HttpResponse(
        csv_bytes(table.header, table.rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
def practice_export(request: HttpRequest) -> HttpResponse:
    """One table of the practice dashboard as CSV (``?table=…``, the summary by default)."""
    found = _practice_tables(request)
    stem = slugify(request.practice.name) if request.practice else "practice"
    return _csv(request, found, stem or "practice")


@login_required
def group_export(request: HttpRequest) -> HttpResponse:
    """One table of the group dashboard as CSV (the benchmark with ``?table=benchmark``)."""
    return _csv(request, _group_context(request), "group")
