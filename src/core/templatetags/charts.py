"""Put a chart spec (``core.charts``) on a page for ``rapport/charts.js`` to draw.

{% load charts %}
{% chart spec "nps-chart" label="NPS by month" described_by="nps-table" %}
...
{% chart_scripts %}   {# once, at the end of the page's content #}
"""

from django import template
from django.templatetags.static import static
from django.utils.html import format_html, json_script
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def chart(
    spec: dict, canvas_id: str, *, label: str, described_by: str = "", css_class: str = ""
) -> SafeString:
    """A canvas named for screen readers (``label``; ``described_by``: the id of the table with
    the same figures) and the spec beside it as JSON, in ``<canvas id>-data``. ``json_script``
    escapes ``<``, ``>`` and ``&``, so no label can close the script element."""
    data_id = f"{canvas_id}-data"
    described = format_html(' aria-describedby="{}"', described_by) if described_by else ""
    return format_html(
        '<div class="{}"><canvas id="{}" data-chart="{}" role="img" aria-label="{}"{}>'
        "</canvas></div>\n{}",
        f"chart {css_class}".strip(),
        canvas_id,
        data_id,
        label,
        described,
        json_script(spec, data_id),
    )


@register.simple_tag
def chart_scripts() -> SafeString:
    """Chart.js, then the renderer; deferred, so they run in this order once the page is read."""
    return format_html(
        '<script src="{}" defer></script>\n<script src="{}" defer></script>',
        static("chart.js/chart.umd.min.js"),
        static("rapport/charts.js"),
    )
