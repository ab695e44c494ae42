"""Which of the practice's people and vendors a text names.

A person is found by their full name ("Wei Chen") or by their surname after a title ("Dr. Chen",
"doctor chen", "Mrs Lee"); a bare surname is not enough, because surnames are often ordinary
words (Park, Rose, Long). A one-word entry without a title ("Maria") is matched as written. An
entry ending in organisation words ("Crestline Dental Lab") is a vendor: found by its full name
or by the words before those ("Crestline"). Case, accents and punctuation never matter, so
"José Álvarez" matches "jose alvarez".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from feedback.analysis.lexicon import LEXICON
from feedback.analysis.text import BREAKS, words

_TITLES = LEXICON.names.titles
_ORGANISATION_WORDS = LEXICON.names.organisation_words
_NOTE = re.compile(r"\([^)]*\)|\[[^\]]*\]")


@dataclass(frozen=True, slots=True)
class _NameIndex:
    entries: tuple[str, ...]
    sequences: dict[str, list[tuple[list[str], int]]]  # first word → (words, entry)
    surnames: dict[str, list[int]]  # surname → entries, found after a title


@lru_cache(maxsize=256)
def _index(people: tuple[str, ...]) -> _NameIndex:
    """Built once per distinct list of names (a practice's staff and vendors rarely change)."""
    sequences: dict[str, list[tuple[list[str], int]]] = {}
    surnames: dict[str, list[int]] = {}

    def add(sequence: list[str], entry: int) -> None:
        sequences.setdefault(sequence[0], []).append((sequence, entry))

    for entry, name in enumerate(people):
        # "Sam Rivera (hygiene)": a note in brackets is not part of the name.
        tokens = [t for t in words(_NOTE.sub(" ", name)) if t not in BREAKS]
        titled = bool(tokens) and tokens[0] in _TITLES
        while tokens and tokens[0] in _TITLES:
            tokens = tokens[1:]
        if not tokens:
            continue
        if tokens[-1] in _ORGANISATION_WORDS and len(tokens) > 1:
            add(tokens, entry)
            distinctive = list(tokens)
            while distinctive and distinctive[-1] in _ORGANISATION_WORDS:
                distinctive.pop()
            if distinctive:
                add(distinctive, entry)
            continue
        if len(tokens) > 1 or not titled:
            add(tokens, entry)
        surnames.setdefault(tokens[-1], []).append(entry)
    for candidates in sequences.values():
        candidates.sort(key=lambda candidate: -len(candidate[0]))
    return _NameIndex(people, sequences, surnames)


def find_people(tokens: list[str], people: tuple[str, ...]) -> list[tuple[str, str]]:
    """(entry, words that named it) for each entry of ``people`` the text names, first first."""
    if not people:
        return []
    index = _index(people)
    found: dict[int, tuple[int, str]] = {}
    n = len(tokens)
    for i, token in enumerate(tokens):
        for sequence, entry in index.sequences.get(token, ()):
            end = i + len(sequence)
            if entry not in found and tokens[i:end] == sequence:
                found[entry] = (i, " ".join(sequence))
        if token in _TITLES and i + 1 < n:
            for entry in index.surnames.get(tokens[i + 1], ()):
                if entry not in found:
                    found[entry] = (i, f"{token} {tokens[i + 1]}")
    ordered = sorted(found.items(), key=lambda item: (item[1][0], item[0]))
    seen: set[str] = set()
    result = []
    for entry, (_, matched) in ordered:
        name = index.entries[entry]
        if name not in seen:
            seen.add(name)
            result.append((name, matched))
    return result
