import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.template import Context, Template, TemplateSyntaxError

from core.charts import Series, bar_chart, combo_chart, line_chart

HOSTILE = '</script><script>alert("x")</script><!-- & \u2028'


def _render(source: str, **context) -> str:
    return Template("{% load charts %}" + source).render(Context(context))


def _data(html: str, data_id: str) -> dict:
    found = re.search(rf'<script id="{data_id}" type="application/json">(.*?)</script>', html)
    return json.loads(found.group(1))


def test_a_bar_chart_has_every_key_and_a_whole_number_axis():
    spec = bar_chart(["Jan", "Feb"], Series("Calls", [3, 4]), Series("Missed", [1, 0]))
    assert spec == {
        "kind": "bar",
        "title": "",
        "labels": ["Jan", "Feb"],
        "horizontal": False,
        "stacked": False,
        "axes": {"left": {"min": None, "max": None, "title": "", "integer": True}},
        "series": [
            {"label": "Calls", "kind": "bar", "axis": "left", "values": [3, 4], "band": None},
            {"label": "Missed", "kind": "bar", "axis": "left", "values": [1, 0], "band": None},
        ],
    }
    assert json.loads(json.dumps(spec)) == spec


def test_bar_chart_options_reach_the_spec():
    spec = bar_chart(
        ["Moved"], Series("Left", [2]), horizontal=True, stacked=True, title="Why", integer=False
    )
    assert (spec["horizontal"], spec["stacked"], spec["title"]) == (True, True, "Why")
    assert spec["axes"]["left"]["integer"] is False


def test_a_line_chart_carries_its_bounds_and_the_band():
    spec = line_chart(
        ["Jan", "Feb", "Mar"],
        Series("NPS", [40.5, None, 52], band=[12.1, None, 9]),
        y_min=-100,
        y_max=100,
    )
    assert spec["kind"] == "line"
    assert spec["axes"] == {"left": {"min": -100, "max": 100, "title": "", "integer": False}}
    (nps,) = spec["series"]
    assert nps["kind"] == "line"
    assert nps["values"] == [40.5, None, 52]
    assert nps["band"] == [12.1, None, 9]


def test_a_combo_chart_puts_series_on_two_scales():
    spec = combo_chart(
        ["Jan", "Feb"],
        Series("Rating", [4.5, None], kind="line"),
        Series("Defects", [1, 2], kind="bar", axis="right"),
        left={"min": 1, "max": 5, "title": "Rating"},
        right={"title": "Count", "integer": True},
    )
    assert spec["kind"] == "combo"
    assert spec["axes"] == {
        "left": {"min": 1, "max": 5, "title": "Rating", "integer": False},
        "right": {"min": None, "max": None, "title": "Count", "integer": True},
    }
    assert [(s["kind"], s["axis"]) for s in spec["series"]] == [("line", "left"), ("bar", "right")]


def test_a_combo_chart_has_a_right_scale_only_when_something_uses_it():
    spec = combo_chart(["Jan"], Series("A", [1], kind="bar"), Series("B", [2], kind="line"))
    assert list(spec["axes"]) == ["left"]
    spec = combo_chart(["Jan"], Series("A", [1], kind="bar", axis="right"))
    assert list(spec["axes"]) == ["left", "right"]


def test_dates_decimals_and_non_finite_numbers_become_json():
    spec = line_chart(
        [dt.date(2025, 1, 1), dt.datetime(2025, 2, 1, 9, 30, tzinfo=dt.UTC), 2025],
        Series(
            "Value",
            [Decimal("3500.50"), float("nan"), float("inf")],
            band=[Decimal("1.5"), 0, None],
        ),
        y_min=Decimal("0"),
    )
    assert spec["labels"] == ["2025-01-01", "2025-02-01T09:30:00+00:00", "2025"]
    (series,) = spec["series"]
    assert series["values"] == [3500.5, None, None]
    assert type(series["values"][0]) is float
    assert series["band"] == [1.5, 0, None]
    assert spec["axes"]["left"]["min"] == 0.0
    json.dumps(spec, allow_nan=False)  # strict JSON: no NaN or Infinity


@pytest.mark.parametrize(
    "build",
    [
        lambda: bar_chart(["Jan"], Series("A", [1, 2])),  # more values than labels
        lambda: bar_chart(["Jan"], Series("A", [1], kind="line")),
        lambda: bar_chart(["Jan"], Series("A", [1], axis="right")),
        lambda: bar_chart(["Jan"], Series("A", [1], band=[1])),
        lambda: line_chart(["Jan"], Series("A", [1], kind="bar")),
        lambda: combo_chart(["Jan"], Series("A", [1])),  # a combo needs each series' kind
        lambda: combo_chart(["Jan"], Series("A", [1], kind="bar", band=[1])),
        lambda: combo_chart(["Jan"], Series("A", [1], kind="bar"), left={"minimum": 0}),
        lambda: Series("A", [1], kind="pie"),
        lambda: Series("A", [1], axis="top"),
        lambda: Series("A", [1, 2], band=[1]),
    ],
)
def test_mistakes_in_a_chart_are_refused(build):
    with pytest.raises(ValueError):
        build()


def test_the_tag_draws_a_named_canvas_with_its_data_beside_it():
    spec = bar_chart(["Jan"], Series("Calls", [3]))
    html = _render(
        '{% chart spec "calls-chart" label="Calls by week" described_by="weekly-table" %}',
        spec=spec,
    )
    assert html.startswith(
        '<div class="chart"><canvas id="calls-chart" data-chart="calls-chart-data" role="img"'
        ' aria-label="Calls by week" aria-describedby="weekly-table"></canvas></div>'
    )
    assert _data(html, "calls-chart-data") == spec


def test_the_tag_leaves_out_what_it_was_not_given_and_adds_a_class():
    html = _render('{% chart spec "c" label="L" css_class="small" %}', spec=bar_chart([]))
    assert '<div class="chart small"><canvas id="c" data-chart="c-data"' in html
    assert "aria-describedby" not in html


def test_the_tag_needs_a_label_for_screen_readers():
    with pytest.raises(TemplateSyntaxError, match="label"):
        _render('{% chart spec "c" %}', spec=bar_chart([]))


def test_a_hostile_label_cannot_break_out_of_the_page():
    spec = bar_chart([HOSTILE], Series(HOSTILE, [1]), title=HOSTILE)
    html = _render(
        '{% chart spec "c" label=hostile described_by=hostile %}', spec=spec, hostile=HOSTILE
    )
    # One script element, the data, and it ends where the tag put it.
    assert html.count("<script") == 1 and html.count("</script>") == 1
    assert html.endswith("</script>")
    assert "<!--" not in html
    assert 'aria-label="&lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)' in html
    data = _data(html, "c-data")
    assert data["labels"] == [HOSTILE] and data["series"][0]["label"] == HOSTILE


def test_the_scripts_load_chart_js_before_the_renderer():
    html = _render("{% chart_scripts %}")
    assert html == (
        '<script src="/static/chart.js/chart.umd.min.js" defer></script>\n'
        '<script src="/static/rapport/charts.js" defer></script>'
    )
