"""The dental lexicon: JSON files in ``data/``, checked and compiled once at import.

Each file carries a ``version`` and a ``changelog`` whose first entry is that version, so a
change to the words is a reviewed, dated change to data rather than to code. A malformed file
stops the import with a :class:`LexiconError` naming the file and the entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from itertools import product
from typing import Any

from feedback.analysis import text
from feedback.analysis.patterns import LexiconError, Matcher
from feedback.analysis.sentiment import VADER_LEXICON, Scorer
from feedback.touchpoints import TOUCHPOINTS as TOUCHPOINT_LABELS

# The stable touchpoint slugs of DESIGN.md, in the experience cycle's order.
TOUCHPOINTS = tuple(TOUCHPOINT_LABELS)

_FILES = ("sentiment.json", "touchpoints.json", "urgency.json", "people.json")


@dataclass(frozen=True, slots=True)
class SentimentLexicon:
    scorer: Scorer
    negative_below: float
    positive_above: float


@dataclass(frozen=True, slots=True)
class TouchpointLexicon:
    matcher: Matcher  # payload: a slug, or None for words to ignore


@dataclass(frozen=True, slots=True)
class UrgencyRule:
    id: str
    reason: str
    valence: float


@dataclass(frozen=True, slots=True)
class UrgencyRules:
    rules: tuple[UrgencyRule, ...]
    matcher: Matcher  # payload: (rule index, words one of which must appear, or None)
    negators: frozenset[str]
    window: int


@dataclass(frozen=True, slots=True)
class NameRules:
    titles: frozenset[str]
    organisation_words: frozenset[str]


@dataclass(frozen=True, slots=True)
class Lexicon:
    sentiment: SentimentLexicon
    touchpoints: TouchpointLexicon
    urgency: UrgencyRules
    names: NameRules
    versions: dict[str, str]


def _read(name: str) -> dict[str, Any]:
    path = resources.files("feedback.analysis") / "data" / name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise LexiconError(f"{name}: cannot be read as JSON: {error}") from None
    if not isinstance(data, dict):
        raise LexiconError(f"{name}: the top level must be an object")
    version, changelog = data.get("version"), data.get("changelog")
    if not isinstance(version, str) or not version:
        raise LexiconError(f"{name}: 'version' must be a non-empty string")
    if (
        not isinstance(changelog, list)
        or not changelog
        or not all(isinstance(e, dict) and e.get("note") and e.get("date") for e in changelog)
    ):
        raise LexiconError(f"{name}: 'changelog' must list entries with a date and a note")
    if changelog[0].get("version") != version:
        raise LexiconError(f"{name}: the first changelog entry must be version {version}")
    return data


def _need(data: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        raise LexiconError(f"{where}: '{key}' must be a {kind.__name__}")
    return value


def _valence(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not -4 <= value <= 4:
        raise LexiconError(f"{where}: a valence must be a number from -4 to 4, not {value!r}")
    return float(value)


def _phrase_words(source: str, where: str) -> list[tuple[str, ...]]:
    """Sentiment phrases in VADER's word world: ``"a|b + c"`` → ``[("a", "c"), ("b", "c")]``."""
    if not isinstance(source, str) or not source.strip():
        raise LexiconError(f"{where}: a phrase must be a non-empty string")
    slots = []
    for part in source.split(" + "):
        alternatives = [tuple(a.lower().replace("'", "").split()) for a in part.split("|")]
        if not all(alternatives) or part.strip().startswith("~"):
            raise LexiconError(f"{where}: empty alternative or gap in phrase {source!r}")
        slots.append(alternatives)
    return [tuple(w for alt in combo for w in alt) for combo in product(*slots)]


def _sentiment(data: dict[str, Any]) -> SentimentLexicon:
    where = "sentiment.json"
    lexicon = dict(VADER_LEXICON)
    for word in _need(data, "neutral", list, where):
        lexicon.pop(str(word).lower(), None)
    for word, value in _need(data, "words", dict, where).items():
        if len(word.split()) != 1:
            raise LexiconError(f"{where}: words: {word!r} is not one word (use 'phrases')")
        lexicon[word.lower()] = _valence(value, f"{where}: words: {word!r}")

    phrases: dict[tuple[str, ...], str] = {}

    def add_phrase(words: tuple[str, ...], value: float, entry: str) -> None:
        key = " ".join(words)
        if len(words) == 1:
            lexicon[key] = value
            return
        if key in phrases.values() and lexicon.get(key) != value:
            raise LexiconError(f"{where}: {entry!r}: phrase {key!r} has two valences")
        phrases[words] = key
        lexicon[key] = value

    # VADER's own multi-word entries ("fed up", "can't stand"), which VADER itself never matches.
    for key, value in VADER_LEXICON.items():
        if " " in key and key.replace("'", "").replace(" ", "").isalpha():
            add_phrase(tuple(key.replace("'", "").split()), value, key)
    for entry, value in _need(data, "phrases", dict, where).items():
        valence = _valence(value, f"{where}: phrases: {entry!r}")
        for words in _phrase_words(entry, f"{where}: phrases"):
            add_phrase(words, valence, entry)

    sarcasm = _need(data, "sarcasm", dict, where)
    markers: dict[str, float] = {}
    marker_words: list[tuple[str, ...]] = []
    for entry, value in _need(sarcasm, "markers", dict, f"{where}: sarcasm").items():
        valence = _valence(value, f"{where}: sarcasm: {entry!r}")
        for words in _phrase_words(entry, f"{where}: sarcasm"):
            if valence:  # a marker with its own valence scores as a phrase
                add_phrase(words, valence, entry)
            markers[" ".join(words)] = valence
            marker_words.append(words)
    facts = {
        words: " ".join(words)
        for entry in _need(sarcasm, "complaint_facts", list, f"{where}: sarcasm")
        for words in _phrase_words(entry, f"{where}: sarcasm: complaint_facts")
    }
    flip = _valence(sarcasm.get("flip", -0.5), f"{where}: sarcasm: flip")

    contrast = _need(data, "contrast", dict, where)
    if contrast.get("scope") != "sentence":
        raise LexiconError(f"{where}: contrast: only 'sentence' scope is supported")
    negators = frozenset(w.lower() for w in _need(data, "negators", list, where))
    if any(" " in w for w in negators):
        raise LexiconError(f"{where}: negators must be single words")
    clause_negators = frozenset()
    for entry in _need(data, "clause_negators", list, where):
        for words in _phrase_words(entry, f"{where}: clause_negators"):
            if len(words) > 1:
                add_phrase(words, 0.0, entry)
            clause_negators |= {" ".join(words)}
    scorer = Scorer(
        lexicon,
        phrases=phrases,
        negators=negators,
        contrast=(
            frozenset(_need(contrast, "words", list, f"{where}: contrast")),
            _valence(contrast.get("before", 0.5), f"{where}: contrast: before"),
            _valence(contrast.get("after", 1.5), f"{where}: contrast: after"),
        ),
        sarcasm=(markers, marker_words, flip),
        complaint_facts=facts,
        clause_negators=clause_negators,
        dental=True,
    )
    thresholds = _need(data, "label_thresholds", dict, where)
    negative = _valence(thresholds.get("negative"), f"{where}: label_thresholds: negative")
    positive = _valence(thresholds.get("positive"), f"{where}: label_thresholds: positive")
    if not -1 <= negative <= positive <= 1:
        raise LexiconError(f"{where}: label_thresholds need -1 <= negative <= positive <= 1")
    return SentimentLexicon(scorer, negative, positive)


def _touchpoints(data: dict[str, Any]) -> TouchpointLexicon:
    where = "touchpoints.json"
    entries: list[tuple[str, str | None]] = []
    for source in _need(data, "ignore", list, where):
        entries.append((source, None))
    touchpoints = _need(data, "touchpoints", dict, where)
    if set(touchpoints) != set(TOUCHPOINTS):
        missing = sorted(set(TOUCHPOINTS) - set(touchpoints))
        unknown = sorted(set(touchpoints) - set(TOUCHPOINTS))
        raise LexiconError(f"{where}: touchpoints missing {missing}, unknown {unknown}")
    for slug, spec in touchpoints.items():
        for source in _need(spec, "terms", list, f"{where}: {slug}"):
            entries.append((source, slug))
    return TouchpointLexicon(Matcher(entries, where=where))


def _urgency(data: dict[str, Any]) -> UrgencyRules:
    where = "urgency.json"
    rules: list[UrgencyRule] = []
    entries: list[tuple[str, tuple[int, frozenset[str] | None]]] = []
    for index, spec in enumerate(_need(data, "rules", list, where)):
        rule = UrgencyRule(
            id=_need(spec, "id", str, f"{where}: rule {index}"),
            reason=_need(spec, "reason", str, f"{where}: rule {index}"),
            valence=_valence(spec.get("valence", 0.0), f"{where}: rule {index}: valence"),
        )
        rules.append(rule)
        for pattern in _need(spec, "patterns", list, f"{where}: {rule.id}"):
            needs = None
            if isinstance(pattern, dict):
                needs = frozenset(
                    " ".join(_stemmed(alternative))
                    for alternative in _need(pattern, "needs", str, f"{where}: {rule.id}").split(
                        "|"
                    )
                )
                pattern = _need(pattern, "match", str, f"{where}: {rule.id}")
            entries.append((pattern, (index, needs)))
    window = _need(data, "negation_window", int, where)
    negators = frozenset(" ".join(_stemmed(w)) for w in _need(data, "negators", list, where))
    return UrgencyRules(tuple(rules), Matcher(entries, where=where), negators, window)


def _stemmed(source: str) -> list[str]:
    return text.stems(text.words(source))


def _names(data: dict[str, Any]) -> NameRules:
    where = "people.json"
    return NameRules(
        titles=frozenset(w.lower() for w in _need(data, "titles", list, where)),
        organisation_words=frozenset(
            w.lower() for w in _need(data, "organisation_words", list, where)
        ),
    )


def load() -> Lexicon:
    data = {name: _read(name) for name in _FILES}
    return Lexicon(
        sentiment=_sentiment(data["sentiment.json"]),
        touchpoints=_touchpoints(data["touchpoints.json"]),
        urgency=_urgency(data["urgency.json"]),
        names=_names(data["people.json"]),
        versions={name.removesuffix(".json"): data[name]["version"] for name in _FILES},
    )


LEXICON = load()
