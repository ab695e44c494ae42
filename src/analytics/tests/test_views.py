"""The practice and group dashboards on the story's March: the figures shown, the rows
behind them, who may see what, the CSV files and bad input."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
from django.urls import reverse

from analytics.rollups import rollups_refresh
from analytics.tests.story import MARCH, NOW
from conftest import OTHER_CANARY
from core.models import Membership
from core.tests.factories import member
from feedback.models import FeedbackItem

pytestmark = pytest.mark.django_db

MARCH_QUERY = {"from": "2026-03-01", "to": "2026-03-31"}


@pytest.fixture
def rolled_up(history, maple, harbor):
    rollups_refresh(days=MARCH, now=NOW)


def page(client, user, name="analytics:practice", practice=None, **query):
    client.force_login(user)
    if practice is not None:
        client.post(reverse("core:practice-switch"), {"practice": practice.pk})
    return client.get(reverse(name), {**MARCH_QUERY, **query})


def figure(text: str, figure_id: str) -> str:
    """The visible text of the element with ``figure_id`` (tags stripped)."""
    found = re.search(rf'id="{figure_id}"[^>]*>(.*?)</(?:p|strong|a)>', text, re.S)
    assert found, f"no #{figure_id}"
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


def test_the_practice_dashboard_shows_the_month_figures(client, rolled_up, manager, maple):
    response = page(client, manager, practice=maple)
    text = response.content.decode()

    assert response.status_code == 200
    # Maple in March: Dana a 10, Finn a 5 (Sam's 8 is Harbor's).
    assert figure(text, "figure-nps").startswith("0")
    assert "2 answers: 1 promoters, 0 passives, 1 detractors" in text
    assert "Fewer than 30 answers: read this figure with care." in text
    assert figure(text, "figure-response-rate") == "67%"  # 2 of Dana, Nora, Finn
    assert figure(text, "figure-cases-opened") == "2"
    assert figure(text, "figure-ack-on-time") == "50%"
    assert figure(text, "figure-before-after") == "5.0 → 9.0"
    assert figure(text, "figure-at-risk") == "1"
    assert figure(text, "figure-records-on-time") == "100%"
    assert figure(text, "figure-answer-rate") == "33%"  # 1 of 3 inbound
    assert figure(text, "figure-conversion") == "100%"
    # Staff and vendor tables, the charts' data and the case-mix note.
    assert re.search(
        r"<td>Jo</td><td class=\"num\"><a [^>]*>0</a></td><td class=\"num\"><a [^>]*>2", text
    )
    assert "Crestline Dental Lab" in text
    for chart in ("nps-trend-chart", "pareto-chart", "cases-chart", "departures-chart"):
        assert f'data-chart="{chart}-data"' in text, chart
    assert "50% of patients seen were new" in text
    assert "Harbor" not in text.split("<main", 1)[-1].split("Compare practices")[-1]


def test_every_figure_links_to_its_rows(client, rolled_up, manager, maple):
    text = page(client, manager, practice=maple).content.decode()

    # The defects of "Waiting": the two complaints naming it.
    waiting = re.search(r"<td>Waiting</td><td class=\"num\"><a href=\"([^\"]+)\">2</a>", text)
    assert waiting, "the waiting defects link"
    listed = client.get(html.unescape(waiting.group(1))).content.decode()
    assert listed.count('class="feedback negative') == 2
    assert "as counted on the dashboard" in listed
    # Jo's complaints: two items name Jo.
    jo = re.search(
        r"<td>Jo</td><td class=\"num\"><a [^>]*>0</a></td><td class=\"num\"><a href=\"([^\"]+)\"",
        text,
    )
    listed = client.get(html.unescape(jo.group(1))).content.decode()
    assert listed.count('class="feedback negative') == 2
    assert "naming <strong>Jo</strong>" in listed
    # The cases opened in March, whatever their state now: the open one and the closed one.
    cases = re.search(r'id="figure-cases-opened" href="([^"]+)"', text).group(1)
    listed = client.get(html.unescape(cases)).content.decode()
    assert listed.count('class="case ') == 2


def test_a_person_filter_matches_the_whole_name_only(client, maple, manager):
    for people in (["Zoë Ng"], ["Zoë Nguyen"], ["Jo"]):
        FeedbackItem.objects.create(
            practice=maple, source="web", text="…", received_at=NOW, label="positive", people=people
        )
    client.force_login(manager)
    listed = client.get(reverse("feedback:inbox"), {"person": "Zoë Ng"}).content.decode()
    assert listed.count('class="feedback positive') == 1


def test_front_desk_may_not_open_the_dashboard(client, rolled_up, front_desk, maple):
    response = page(client, front_desk, practice=maple)
    assert response.status_code == 403
    assert "Net Promoter" not in response.content.decode()


def test_a_clinician_sees_the_dashboard_without_the_staff_table(client, rolled_up, clinician):
    text = page(client, clinician).content.decode()
    assert "Net Promoter Score" in text
    assert 'id="staff-table"' not in text


def test_another_organisation_sees_none_of_the_group(client, rolled_up, outsider):
    for name in ("analytics:practice", "analytics:group"):
        response = page(client, outsider, name)
        text = response.content.decode()
        assert response.status_code == 200
        assert "Maple" not in text and "Harbor" not in text
        assert "No answers in this period." in text
    assert OTHER_CANARY in page(client, outsider, "analytics:group").content.decode()


def test_the_group_dashboard_ranks_only_practices_with_enough_answers(client, rolled_up, director):
    response = page(client, director, "analytics:group")
    text = response.content.decode()

    assert response.status_code == 200
    assert "2 practices" in text
    table = text.split('id="benchmark-table"', 1)[1].split("</table>", 1)[0]
    # Both practices have fewer than 30 answers: listed, grey, unranked, by name.
    rows = re.findall(r"<tr class=\"greyed\">.*?<button[^>]*>([^<]+)</button>", table, re.S)
    assert rows == ["Harbor Dental", "Maple Street Dental"]
    assert "(1)" in table and "(2)" in table  # the NPS answers behind each
    assert "Across the practices:" in text


def test_the_benchmark_sorts_by_any_measure_and_either_way(client, rolled_up, director):
    for sort in ("nps", "response", "csat", "recovery", "answered", "records", "at_risk"):
        for order in ("", "worst"):
            response = page(client, director, "analytics:group", sort=sort, order=order)
            assert response.status_code == 200, (sort, order)
            assert "Practices compared" in response.content.decode()
    # An unknown measure falls back to NPS.
    text = page(client, director, "analytics:group", sort="'; DROP TABLE x").content.decode()
    assert "by NPS, best first" in text


def test_managers_compare_only_the_practices_they_manage(client, rolled_up, maple, harbor):
    user = member(maple, Membership.Role.MANAGER, username="mira")
    Membership.objects.create(
        user=user, organisation=harbor.organisation, practice=harbor, role="clinician"
    )
    text = page(client, user, "analytics:group").content.decode()
    table = text.split('id="benchmark-table"', 1)[1].split("</table>", 1)[0]
    assert "Maple Street Dental" in table and "Harbor Dental" not in table
    assert "1 practice ·" in text


@pytest.mark.parametrize("role", ["front_desk", "clinician"])
def test_the_group_dashboard_is_for_managers(client, request, rolled_up, role):
    response = page(client, request.getfixturevalue(role), "analytics:group")
    assert response.status_code == 403


def read_csv(response) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


@pytest.mark.parametrize(
    "table, header",
    [
        ("summary", "measure"),
        ("months", "month"),
        ("touchpoints", "touchpoint"),
        ("departures", "reason"),
        ("staff", "staff member"),
        ("vendors", "vendor"),
    ],
)
def test_every_practice_table_downloads_as_csv(client, rolled_up, manager, table, header):
    response = page(client, manager, "analytics:practice-export", table=table)
    rows = read_csv(response)
    assert rows[0][0] == header
    assert len(rows) > 1
    assert f"-{table}-2026-03-01-to-2026-03-31.csv" in response["Content-Disposition"]


def test_csv_values_equal_the_page(client, rolled_up, manager):
    summary = read_csv(page(client, manager, "analytics:practice-export"))
    by_measure = {row[0]: row for row in summary[1:]}
    assert by_measure["Response rate %"][1:4] == ["66.7", "2", "3"]
    assert by_measure["NPS"][6] == "fewer than 30 answers"
    touchpoints = read_csv(page(client, manager, "analytics:practice-export", table="touchpoints"))
    # The Pareto: waiting 2 defects of 3, then the front desk: 66.7% then 100%.
    assert [row[:3] for row in touchpoints[1:3]] == [
        ["Waiting", "2", "66.7"],
        ["Arrival, reception, front desk", "1", "100.0"],
    ]


def test_the_benchmark_downloads_in_the_order_shown(client, rolled_up, director):
    rows = read_csv(page(client, director, "analytics:group-export", table="benchmark"))
    assert rows[0][:3] == ["rank", "practice", "NPS"]
    assert [row[1] for row in rows[1:]] == ["Harbor Dental", "Maple Street Dental"]


def test_a_name_that_looks_like_a_formula_is_quoted_in_the_csv(client, maple, manager):
    FeedbackItem.objects.create(
        practice=maple, source="web", text="…", received_at=NOW, label="negative",
        people=["=HYPERLINK(\"http://x\")"],
    )  # fmt: skip
    rollups_refresh(days=MARCH, now=NOW)
    rows = read_csv(page(client, manager, "analytics:practice-export", table="staff"))
    assert rows[1][0] == '\'=HYPERLINK("http://x")'


@pytest.mark.parametrize(
    "query, message",
    [
        ({"from": "2026-13-45"}, "Dates: write them as YYYY-MM-DD."),
        ({"from": "<script>alert(1)</script>"}, "Dates: write them as YYYY-MM-DD."),
        ({"from": "2026-03-31", "to": "2026-03-01"}, "must end on or after its first day"),
        ({"from": "2010-01-01", "to": "2026-03-01"}, "at most 1098 days"),
        ({"to": "9" * 5000}, "Dates: write them as YYYY-MM-DD."),
    ],
)
def test_a_bad_period_is_explained_and_the_last_year_shown(
    client, rolled_up, director, query, message
):
    for name in ("analytics:practice", "analytics:group"):
        client.force_login(director)
        response = client.get(reverse(name), query)
        text = response.content.decode()
        assert response.status_code == 400
        assert message in text and "Showing the last 12 months." in text
        assert "<script>alert" not in text
    response = client.get(reverse("analytics:practice-export"), query)
    assert response.status_code == 400 and message in response.content.decode()


def test_an_unknown_table_is_refused_with_the_choices(client, rolled_up, manager):
    response = page(client, manager, "analytics:practice-export", table="../../etc/passwd")
    assert response.status_code == 400
    assert "choose one of summary, months, touchpoints" in response.content.decode()


def test_the_dashboards_read_a_fixed_number_of_queries(
    client, rolled_up, director, django_assert_max_num_queries
):
    client.force_login(director)
    with django_assert_max_num_queries(30):
        client.get(reverse("analytics:practice"), MARCH_QUERY)
    with django_assert_max_num_queries(40):
        client.get(reverse("analytics:group"), MARCH_QUERY)
