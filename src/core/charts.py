"""Chart specs: what a page's chart shows, as plain JSON for one renderer
(``rapport/charts.js``), instead of a Chart.js script per page.

Build a spec with ``bar_chart``, ``line_chart`` or ``combo_chart`` and put it on the page with
``{% chart spec "nps-chart" label="NPS by month" described_by="nps-table" %}``
(``core/templatetags/charts.py``). Every key is always present::

    {
      "kind": "bar" | "line" | "combo",
      "title": "",                       # drawn above the chart when not empty
      "labels": ["Jan 2025", ...],       # one per category; dates as ISO strings
      "horizontal": false,               # bars run left to right, categories down the side
      "stacked": false,                  # bars of one category stacked, not side by side
      "axes": {                          # value axes; "right" only when a series uses it
        "left": {"min": null, "max": null, "title": "", "integer": true},
        "right": {...}
      },
      "series": [
        {"label": "NPS", "kind": "line", "axis": "left",
         "values": [12.5, null, ...],    # one per label, null where there is no figure
         "band": [8.1, null, ...] | null}  # ± margin per point, lines only
      ]
    }

``integer`` axes show whole-number ticks only (counts). The renderer tells series apart by
colour and, per series, by a fill pattern (bars) or a point style and dash (lines), so the
chart reads without colour; the page still keeps a table with the same figures beside it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass

KINDS = ("bar", "line")
AXES = ("left", "right")
AXIS_KEYS = frozenset({"min", "max", "title", "integer"})


@dataclass(frozen=True)
class Series:
    """One named row of figures, one value per label."""

    label: str
    values: list[float | int | None]
    kind: str | None = None  # "bar" or "line" inside a combo chart; None = the chart's kind
    axis: str = "left"  # "left" or "right" (combo charts with two scales)
    band: list[float | None] | None = None  # ± margin per point: a shaded 95% band around a line

    def __post_init__(self):
        if self.kind not in (None, *KINDS):
            raise ValueError(f"Series {self.label!r}: kind is one of {', '.join(KINDS)}")
        if self.axis not in AXES:
            raise ValueError(f"Series {self.label!r}: axis is one of {', '.join(AXES)}")
        if self.band is not None and len(self.band) != len(self.values):
            raise ValueError(f"Series {self.label!r}: one band margin per value")


def bar_chart(
    labels: Iterable,
    *series: Series,
    horizontal: bool = False,
    stacked: bool = False,
    title: str = "",
    integer: bool = True,
) -> dict:
    """Bars, one colour and pattern per series; counts by default (whole-number axis)."""
    for one in series:
        if one.kind not in (None, "bar") or one.axis != "left" or one.band is not None:
            raise ValueError(f"Series {one.label!r}: bar charts take plain bars; see combo_chart")
    return _spec(
        "bar",
        labels,
        series,
        axes={"left": _axis({"integer": integer})},
        title=title,
        horizontal=horizontal,
        stacked=stacked,
    )


def line_chart(
    labels: Iterable,
    *series: Series,
    y_min: float | None = None,
    y_max: float | None = None,
    title: str = "",
) -> dict:
    """Lines on one scale; a series' ``band`` shades its margin of error."""
    for one in series:
        if one.kind not in (None, "line") or one.axis != "left":
            raise ValueError(f"Series {one.label!r}: line charts take plain lines; see combo_chart")
    return _spec(
        "line", labels, series, axes={"left": _axis({"min": y_min, "max": y_max})}, title=title
    )


def combo_chart(
    labels: Iterable,
    *series: Series,
    left: dict | None = None,
    right: dict | None = None,
) -> dict:
    """Bars and lines together, each series on the left or right scale.
    ``left``/``right``: ``{"min": ..., "max": ..., "title": ..., "integer": bool}``."""
    for one in series:
        if one.kind is None:
            raise ValueError(f"Series {one.label!r}: say kind='bar' or kind='line' in a combo")
        if one.band is not None and one.kind != "line":
            raise ValueError(f"Series {one.label!r}: only lines carry a band")
    axes = {"left": _axis(_checked(left))}
    if right is not None or any(one.axis == "right" for one in series):
        axes["right"] = _axis(_checked(right))
    return _spec("combo", labels, series, axes=axes)


def _checked(axis: dict | None) -> dict:
    unknown = set(axis or ()) - AXIS_KEYS
    if unknown:
        raise ValueError(f"Unknown axis setting: {', '.join(sorted(unknown))}")
    return axis or {}


def _axis(settings: dict) -> dict:
    return {
        "min": _number(settings.get("min")),
        "max": _number(settings.get("max")),
        "title": str(settings.get("title") or ""),
        "integer": bool(settings.get("integer", False)),
    }


def _spec(
    kind: str,
    labels: Iterable,
    series: tuple[Series, ...],
    *,
    axes: dict,
    title: str = "",
    horizontal: bool = False,
    stacked: bool = False,
) -> dict:
    labels = [_label(label) for label in labels]
    for one in series:
        if len(one.values) != len(labels):
            raise ValueError(f"Series {one.label!r}: one value per label ({len(labels)})")
    return {
        "kind": kind,
        "title": str(title),
        "labels": labels,
        "horizontal": horizontal,
        "stacked": stacked,
        "axes": axes,
        "series": [
            {
                "label": str(one.label),
                # In a bar or line chart every series is of the chart's kind.
                "kind": one.kind or kind,
                "axis": one.axis,
                "values": [_number(value) for value in one.values],
                "band": None if one.band is None else [_number(value) for value in one.band],
            }
            for one in series
        ],
    }


def _label(value) -> str:
    if isinstance(value, dt.date):  # and datetime
        return value.isoformat()
    return str(value)


def _number(value) -> float | int | None:
    """JSON-safe: Decimals become floats; NaN and infinities, which JSON cannot carry, None."""
    if value is None or type(value) is int:
        return value
    number = float(value)
    return number if math.isfinite(number) else None
