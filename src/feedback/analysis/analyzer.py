"""``analyze()``: sentiment, touchpoints, urgency and people named in one feedback text."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from feedback.analysis.lexicon import LEXICON, UrgencyRule
from feedback.analysis.people import find_people
from feedback.analysis.sentiment import Contribution, Scored
from feedback.analysis.text import BREAKS, stems, words

MAX_CHARS = 20_000
TRUNCATED = f"text truncated to {MAX_CHARS:,} characters"
EMPTY = "empty text"
MINUS = "\u2212"

_SCORER = LEXICON.sentiment.scorer
_NEGATIVE_AT = LEXICON.sentiment.negative_below
_POSITIVE_AT = LEXICON.sentiment.positive_above
_TOUCHPOINTS = LEXICON.touchpoints.matcher
_URGENCY = LEXICON.urgency
_URGENCY_MATCHER = _URGENCY.matcher


@dataclass(frozen=True, slots=True)
class Analysis:
    """What a feedback text says, with a short human reason for each finding.

    ``sentiment`` runs from -1 (very negative) to 1; ``touchpoints`` are slugs of DESIGN.md in
    order of first mention; ``people`` are the entries of the ``people`` argument the text names.
    """

    sentiment: float
    label: str
    touchpoints: list[str]
    urgent: bool
    reasons: list[str]
    people: list[str]

    def as_json(self) -> dict[str, Any]:
        """The fields ``rapport analyze`` prints, sentiment rounded to 4 places."""
        return {
            "sentiment": round(self.sentiment, 4) + 0.0,  # + 0.0 turns -0.0 into 0.0
            "label": self.label,
            "touchpoints": self.touchpoints,
            "urgent": self.urgent,
            "reasons": self.reasons,
        }


def analyze(text: str, *, people: Iterable[str] = ()) -> Analysis:
    """Analyse one feedback text; ``people`` are staff and vendor names to look for."""
    if not isinstance(text, str):
        raise TypeError(f"analyze() needs a str, not {type(text).__name__}")
    reasons: list[str] = []
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS]
        reasons.append(TRUNCATED)
    if not text or text.isspace():
        reasons.append(EMPTY)
        return Analysis(0.0, "neutral", [], False, reasons, [])

    tokens = words(text)
    stemmed = stems(tokens)
    present = set(stemmed)
    findings = _urgency(tokens, stemmed, present)
    scored = _SCORER.score(
        text,
        tuple(Contribution(rule.valence, matched) for rule, matched in findings if rule.valence),
    )
    compound = scored.compound
    if compound <= _NEGATIVE_AT:
        label = "negative"
    elif compound >= _POSITIVE_AT:
        label = "positive"
    else:
        label = "neutral"
    _sentiment_reasons(label, scored, reasons)

    touchpoints: list[str] = []
    for start, end, slug in _TOUCHPOINTS.scan(stemmed, present):
        if slug is not None and slug not in touchpoints:
            touchpoints.append(slug)
            reasons.append(f"touchpoint {slug}: '{' '.join(tokens[start:end])}'")
    for rule, matched in findings:
        reasons.append(f"urgent: {rule.reason} ('{matched}')")

    named: list[str] = []
    if isinstance(people, str):  # one name, not an iterable of its letters
        people = (people,)
    if people:
        found = find_people(tokens, people if isinstance(people, tuple) else tuple(people))
        for name, matched in found:
            named.append(name)
            reasons.append(f"names {name} ('{matched}')")
    return Analysis(compound, label, touchpoints, bool(findings), reasons, named)


def _signed(value: float, digits: int = 1) -> str:
    return f"{MINUS}{-value:.{digits}f}" if value < 0 else f"+{value:.{digits}f}"


def _sentiment_reasons(label: str, scored: Scored, reasons: list[str]) -> None:
    contributions = scored.contributions
    if not contributions:
        reasons.append("neutral: no sentiment words")
        return
    # The strongest words, those that agree with the label first.
    agree = 1 if label == "positive" else -1 if label == "negative" else 0
    ranked = sorted(contributions, key=lambda c: (agree * c.valence < 0, -abs(c.valence)))
    for contribution in ranked[:3]:
        side = "positive" if contribution.valence > 0 else "negative"
        reasons.append(f"{side}: '{contribution.words}' ({_signed(contribution.valence)})")
    reasons.extend(scored.notes)
    if label == "neutral":
        reasons.append(
            f"neutral: score {_signed(scored.compound, 2)} is between "
            f"{_signed(_NEGATIVE_AT, 2)} and {_signed(_POSITIVE_AT, 2)}"
        )


def _urgency(
    tokens: list[str], stemmed: list[str], present: set[str]
) -> list[tuple[UrgencyRule, str]]:
    """The urgency rules the text meets, each with the words that met it, first first."""
    rules = _URGENCY.rules
    found: dict[int, tuple[int, str]] = {}
    pairs: set[str] | None = None
    for i in _URGENCY_MATCHER.starts(stemmed):
        for end, (rule, needs) in _URGENCY_MATCHER.matches_at(stemmed, i, present):
            if rule in found or _negated(stemmed, i):
                continue
            if needs is not None and needs.isdisjoint(present):
                if pairs is None:  # two-word needs such as "year old"
                    pairs = {" ".join(stemmed[j : j + 2]) for j in range(len(stemmed) - 1)}
                if needs.isdisjoint(pairs):
                    continue
            found[rule] = (i, " ".join(tokens[i:end]))
        if len(found) == len(rules):
            break
    ordered = sorted(found.items(), key=lambda item: item[1][0])
    return [(rules[rule], matched) for rule, (_, matched) in ordered]


def _negated(stemmed: list[str], i: int) -> bool:
    """A negator shortly before ``i`` in the same clause ("no swelling", "if any swelling")."""
    negators = _URGENCY.negators
    for j in range(i - 1, max(-1, i - 1 - _URGENCY.window), -1):
        token = stemmed[j]
        if token in BREAKS:
            return False
        if token in negators:
            return True
    return False
