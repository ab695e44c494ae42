"""Caller ids and caller names as telephone systems send them, made safe and classified.

A caller id may be a phone number in any notation, an internal extension (``101``,
``client1``), a SIP address, a marker for a withheld number (``anonymous``, ``Restricted``)
or garbage. Only a valid phone number that is not the practice's own line can be called back.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from core.phones import PhoneError, normalise_phone

NAME_MAX = 80
RAW_MAX = 40
# Markers telephone systems put in place of a withheld or unknown caller id.
WITHHELD = frozenset(
    {
        "anonymous",
        "restricted",
        "private",
        "withheld",
        "unavailable",
        "unknown",
        "blocked",
        "no caller id",
        "out of area",
        "o",
        "p",
    }
)
# Bidirectional controls reorder what a person reads (U+202E makes "evil.exe" look harmless).
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
URI = re.compile(r"(?:sips?|tel):([^@;]*)(@.*)?", re.IGNORECASE)
# Enough digits that it was meant as a phone number rather than an extension.
NUMBER_DIGITS = 7


def clean_text(raw: str, *, max_length: int) -> str:
    """Text without control or bidi characters, on one line, cut to ``max_length``.

    HTML stays as it is: it is text, and templates escape it when they show it.
    """
    kept = []
    for char in raw or "":
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp"):
            kept.append(" ")  # a line break or tab between two words still separates them
        elif category != "Cs":  # lone surrogates come from undecodable bytes
            kept.append(char)
    text = BIDI_CONTROLS.sub("", "".join(kept))
    return " ".join(text.split())[:max_length]


def clean_name(raw: str) -> str:
    """A caller name (CNAM) as it may be stored and shown."""
    return clean_text(raw, max_length=NAME_MAX)


class Kind(StrEnum):
    NUMBER = "number"  # a valid phone number outside the practice: callable
    OWN = "own"  # one of the practice's own lines
    WITHHELD = "withheld"  # the caller hid their number
    BAD_NUMBER = "bad_number"  # meant as an outside number, but not a valid one
    EXTENSION = "extension"  # an internal extension or device name
    EMPTY = "empty"

    @property
    def is_outside(self) -> bool:
        """Whether the party is outside the practice (a caller or a number dialled out)."""
        return self in (Kind.NUMBER, Kind.WITHHELD, Kind.BAD_NUMBER)


@dataclass(frozen=True)
class Party:
    """One end of a call: what to store, and the number to call back if there is one."""

    kind: Kind
    stored: str  # E.164 when valid, else the cleaned caller id (at most 40 characters)
    e164: str = ""

    @property
    def callable_number(self) -> str:
        return self.e164 if self.kind is Kind.NUMBER else ""


def classify(raw: str, *, region: str, own_numbers: frozenset[str] = frozenset()) -> Party:
    """What a caller id (or a dialled number) is, given the practice's region and lines."""
    text = clean_text(raw, max_length=200)
    if not text:
        return Party(Kind.EMPTY, "")
    stored = text[:RAW_MAX]
    if text.lower() in WITHHELD:
        return Party(Kind.WITHHELD, stored)
    uri = URI.fullmatch(text)
    if uri:
        user, host = uri.groups()
        if host and not any(ch.isdigit() for ch in user):
            # sip:alice@host names a device or a person, never a number to dial.
            return Party(Kind.EXTENSION, stored)
        text = user
    try:
        e164 = normalise_phone(text, region=region)
    except PhoneError:
        digits = sum(ch.isdigit() for ch in text)
        if text.startswith("+") or digits >= NUMBER_DIGITS:
            return Party(Kind.BAD_NUMBER, stored)
        return Party(Kind.EXTENSION, stored)
    if e164 in own_numbers:
        return Party(Kind.OWN, e164, e164)
    return Party(Kind.NUMBER, e164, e164)


def own_numbers_of(phone: str, *, region: str) -> frozenset[str]:
    """The practice's own line(s) in E.164; an unparseable practice phone gives none."""
    numbers = set()
    for part in re.split(r"[,;/]", phone or ""):
        try:
            number = normalise_phone(part, region=region)
        except PhoneError:
            continue
        if number:
            numbers.add(number)
    return frozenset(numbers)
