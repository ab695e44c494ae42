from django import template

from core.phones import display_phone

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """A stored E.164 number as people read it at the practice."""
    return display_phone(value)


@register.filter
def get_item(mapping, key):
    """``mapping|get_item:key`` — a dictionary lookup with a variable key, empty if missing."""
    return mapping.get(key, ()) if mapping else ()


@register.filter
def person(user, empty: str = "—") -> str:
    """A staff member's full name, else their username; ``empty`` when there is nobody."""
    if user is None:
        return empty
    return user.get_full_name() or user.get_username()


@register.filter
def divide(value, by):
    """Whole-number division for display (days → years)."""
    try:
        return int(value) // int(by)
    except (TypeError, ValueError, ZeroDivisionError):
        return ""
