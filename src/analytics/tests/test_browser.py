"""Both dashboards in headless Chromium: the charts draw, the benchmark opens a practice,
the period filter narrows the figures. Screenshots go to the CI artefacts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from analytics.rollups import rollups_refresh
from analytics.tests import factories as f
from analytics.tests.story import build_history
from conftest import shot
from core.models import Membership
from core.tests.factories import PASSWORD, OrganisationFactory, PracticeFactory, member
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.browser

# The charts Chart.js draws on each page.
PRACTICE_CHARTS = ["nps-trend-chart", "pareto-chart", "cases-chart", "departures-chart"]
GROUP_CHARTS = ["benchmark-chart", "nps-trend-chart", "pareto-chart", "departures-chart"]


@pytest.fixture
def group(transactional_db):
    organisation = OrganisationFactory(name="Bright Smiles Group", slug="smiles-group")
    maple = PracticeFactory(organisation=organisation, name="Maple Street Dental", slug="maple")
    harbor = PracticeFactory(
        organisation=organisation,
        name="Harbor Dental",
        slug="harbor",
        timezone="Australia/Sydney",
    )
    build_history(maple, harbor)
    # Thirty more answers each, so both practices are ranked on NPS.
    for practice, scores in ((maple, [10, 9, 7, 3]), (harbor, [10, 8, 6])):
        for n in range(30):
            patient = PatientFactory(practice=practice)
            answered = f.at(f"2026-03-{2 + n % 7:02d} 12:00", practice.timezone)
            invited = f.invitation(patient, created_at=answered - dt.timedelta(hours=2))
            f.respond(invited, submitted_at=answered, nps=scores[n % len(scores)])
    member(maple, Membership.Role.GROUP_ADMIN, username="grace", first_name="Grace")
    rollups_refresh(days=(dt.date(2026, 3, 1), dt.date(2026, 3, 31)), now=timezone.now())
    return maple, harbor


def _sign_in(page, live_server) -> None:
    page.goto(live_server.url + "/login/")
    page.get_by_label("Username").fill("grace")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _drawn(page, canvas_id: str) -> bool:
    """Chart.js made a chart on the canvas and drew something other than blank pixels."""
    return page.evaluate(
        """(id) => {
            const canvas = document.getElementById(id);
            const chart = window.Chart && window.Chart.getChart(canvas);
            if (!chart) return false;
            const pixels = canvas.getContext('2d')
                .getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
            return false;
        }""",
        canvas_id,
    )


def test_both_dashboards_draw_their_charts(browser_page, live_server, group):
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _sign_in(page, live_server)

    page.goto(live_server.url + "/analytics/group/?from=2026-03-01&to=2026-03-31")
    page.locator("#benchmark-table").wait_for()
    page.wait_for_function("() => window.Chart !== undefined")
    for canvas in GROUP_CHARTS:
        assert _drawn(page, canvas), canvas
    ranks = page.locator("#benchmark-table tbody tr td:first-child").all_inner_texts()
    assert ranks == ["1", "2"]
    shot(page, "analytics-group-dashboard")

    # The benchmark opens a practice's own dashboard for the same period.
    page.get_by_role("button", name="Maple Street Dental").click()
    page.wait_for_url("**/analytics/?from=2026-03-01&to=2026-03-31")
    page.wait_for_function("() => window.Chart !== undefined")
    for canvas in PRACTICE_CHARTS:
        assert _drawn(page, canvas), canvas
    # 17 promoters and 8 detractors of 32 answers, with its margin.
    assert page.locator("#figure-nps").inner_text().startswith("28 ±")
    assert "Maple Street Dental" in page.locator("h1").inner_text()
    shot(page, "analytics-practice-dashboard")

    # Narrowing the period to the 12th leaves every answer out.
    page.get_by_label("From").fill("2026-03-12")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/analytics/?from=2026-03-12*")
    assert page.locator("#figure-nps").inner_text() == "No answers in this period."
    assert errors == []
