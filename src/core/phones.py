"""Phone numbers stored as E.164, parsed with the ``phonenumbers`` library."""

from __future__ import annotations

import phonenumbers

# Practice regions map to the phone region used for numbers written without a country code.
PHONE_REGION = {"US": "US", "UK": "GB", "AU": "AU", "CA": "CA", "OTHER": "US"}


class PhoneError(ValueError):
    pass


def normalise_phone(raw: str, *, region: str = "US") -> str:
    """E.164 form of a number as people write it; raises ``PhoneError`` saying why not."""
    text = (raw or "").strip()
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, PHONE_REGION.get(region, region))
    except phonenumbers.NumberParseException as exc:
        raise PhoneError(f"phone {text!r} is not a phone number") from exc
    if number.extension:
        # An extension cannot be dialled to reach a patient; storing only the main
        # number would silently lose what was written.
        raise PhoneError(f"phone {text!r} has an extension; patients need a direct number")
    if not phonenumbers.is_possible_number(number):
        raise PhoneError(f"phone {text!r} has the wrong number of digits")
    if not phonenumbers.is_valid_number(number):
        raise PhoneError(f"phone {text!r} is not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str) -> str:
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
