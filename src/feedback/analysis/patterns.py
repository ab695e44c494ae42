"""Word patterns from the lexicon files, compiled once and matched on a token list.

Syntax (one string per pattern): slots separated by ``" + "``; within a slot, alternatives
separated by ``"|"``, each one or more words; a slot ``"~N"`` skips up to N words without
crossing a clause break. ``"scolded|yelled at + my|our + ~3 + son|daughter"`` matches "yelled at
our eight year old daughter". Words go through the same folding and plural stemming as the text.

Patterns without gaps are expanded into plain phrases at load time, so matching them is a
dictionary look-up on the current word and a slice comparison; patterns with gaps (few) run a
small backtracking match.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import product
from typing import Any

from feedback.analysis.text import BREAKS, stems, words


class LexiconError(ValueError):
    """A lexicon data file is malformed; the message names the file and the entry."""


Slot = int | tuple[tuple[str, ...], ...]  # a gap size, or the alternatives of a slot


def parse(source: str, *, where: str) -> tuple[Slot, ...]:
    """``"a|b c + ~2 + d"`` → ``((("a",), ("b", "c")), 2, (("d",),))``."""
    if not isinstance(source, str) or not source.strip():
        raise LexiconError(f"{where}: a pattern must be a non-empty string, not {source!r}")
    slots: list[Slot] = []
    for part in source.split(" + "):
        part = part.strip()
        if part.startswith("~"):
            if not part[1:].isdigit() or not 0 < int(part[1:]) <= 10:
                raise LexiconError(f"{where}: bad gap {part!r} in {source!r} (use ~1 .. ~10)")
            slots.append(int(part[1:]))
            continue
        alternatives = []
        for alternative in part.split("|"):
            tokens = stems(words(alternative))
            if not tokens or any(t in BREAKS for t in tokens):
                raise LexiconError(f"{where}: empty or punctuated alternative in {source!r}")
            alternatives.append(tuple(tokens))
        # Longest first, so "yelled at" is tried before "yelled".
        slots.append(tuple(sorted(set(alternatives), key=lambda a: (-len(a), a))))
    if isinstance(slots[0], int) or isinstance(slots[-1], int):
        raise LexiconError(f"{where}: {source!r} may not start or end with a gap")
    return tuple(slots)


def _run(slots: tuple[Slot, ...], k: int, toks: list[str], pos: int) -> int:
    """End index of a match of ``slots[k:]`` at ``pos``, or -1."""
    if k == len(slots):
        return pos
    slot = slots[k]
    if isinstance(slot, int):
        for skip in range(slot + 1):
            at = pos + skip
            if at >= len(toks) or (skip and toks[at - 1] in BREAKS):
                break
            end = _run(slots, k + 1, toks, at)
            if end >= 0:
                return end
        return -1
    for alternative in slot:
        end = pos + len(alternative)
        if end <= len(toks) and tuple(toks[pos:end]) == alternative:
            found = _run(slots, k + 1, toks, end)
            if found >= 0:
                return found
    return -1


class Matcher:
    """Many patterns, each with a payload; finds them in a list of stemmed tokens.

    ``present`` arguments are ``set(toks)``, computed once per text by the caller: a pattern
    with gaps is only tried when a word of its last slot occurs somewhere in the text.
    """

    __slots__ = ("_phrases", "_programs", "_starts")

    def __init__(self, entries: Iterable[tuple[str, Any]], *, where: str) -> None:
        phrases: dict[str, list[tuple[list[str], Any]]] = {}
        programs: dict[str, list[tuple[tuple[Slot, ...], Any, frozenset[str]]]] = {}
        for source, payload in entries:
            slots = parse(source, where=where)
            if any(isinstance(slot, int) for slot in slots):
                last = frozenset(alternative[0] for alternative in slots[-1])  # type: ignore[union-attr]
                for first in {alternative[0] for alternative in slots[0]}:  # type: ignore[union-attr]
                    programs.setdefault(first, []).append((slots, payload, last))
                continue
            for combination in product(*slots):
                phrase = [token for alternative in combination for token in alternative]
                phrases.setdefault(phrase[0], []).append((phrase, payload))
        for candidates in phrases.values():
            candidates.sort(key=lambda candidate: -len(candidate[0]))
        self._phrases = phrases
        self._programs = programs
        self._starts = frozenset(phrases) | frozenset(programs)

    def starts(self, toks: list[str]) -> list[int]:
        """Positions where some pattern could start."""
        starts = self._starts
        return [i for i, token in enumerate(toks) if token in starts]

    def matches_at(self, toks: list[str], i: int, present: set[str]) -> list[tuple[int, Any]]:
        """Every (end, payload) of a pattern matching at ``i``; phrases longest first."""
        token = toks[i]
        found = []
        for phrase, payload in self._phrases.get(token, ()):
            size = len(phrase)
            if size == 1 or toks[i : i + size] == phrase:
                found.append((i + size, payload))
        for slots, payload, last in self._programs.get(token, ()):
            if not last.isdisjoint(present):
                end = _run(slots, 0, toks, i)
                if end > i:
                    found.append((end, payload))
        return found

    def longest_at(self, toks: list[str], i: int, present: set[str]) -> tuple[int, Any]:
        """(end, payload) of the longest pattern matching at ``i``, or (-1, None)."""
        token = toks[i]
        best_end, best = -1, None
        for phrase, payload in self._phrases.get(token, ()):
            size = len(phrase)
            if size == 1 or toks[i : i + size] == phrase:
                best_end, best = i + size, payload
                break  # longest first
        for slots, payload, last in self._programs.get(token, ()):
            if not last.isdisjoint(present):
                end = _run(slots, 0, toks, i)
                if end > best_end:
                    best_end, best = end, payload
        return best_end, best

    def scan(self, toks: list[str], present: set[str]) -> list[tuple[int, int, Any]]:
        """Non-overlapping (start, end, payload), left to right, the longest match at each word."""
        found = []
        taken = 0
        for i in self.starts(toks):
            if i >= taken:
                end, payload = self.longest_at(toks, i, present)
                if end > i:
                    found.append((i, end, payload))
                    taken = end
        return found
