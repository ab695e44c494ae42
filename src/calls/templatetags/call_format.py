"""Filters for call pages: durations as people read them."""

from django import template

register = template.Library()


@register.filter
def seconds(value) -> str:
    """Whole seconds as ``m:ss`` (``h:mm:ss`` from an hour); ``—`` for none."""
    try:
        total = int(value)
    except (TypeError, ValueError):
        return "—"
    if total <= 0:
        return "—"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@register.filter
def minutes(value) -> str:
    """Minutes (a float) as ``45 min``, ``2 h 05 min`` or ``3 d 4 h``; ``—`` for none."""
    if value is None:
        return "—"
    total = round(float(value))
    days, rest = divmod(total, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins:02d} min"
    return f"{mins} min"
