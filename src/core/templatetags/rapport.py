from django import template

from core.phones import display_phone

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """A stored E.164 number as people read it at the practice."""
    return display_phone(value)
