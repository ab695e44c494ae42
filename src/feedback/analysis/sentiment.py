"""VADER's sentiment rules, in linear time, with a dental lexicon on top.

``vaderSentiment`` 3.3.2 rebuilds a lower-cased copy of the whole text for every sentiment word
it scores and looks sentiments up by value in its "but" rule, so a 20,000-character text takes
about half a second; it also cannot tell which words made the score. :class:`Scorer` follows the
same rules word by word (lexicon valence, "no"/negation within three words, boosters and
dampeners, ALL-CAPS emphasis, VADER's idioms, "least", "but", "!" and "?" emphasis, the same
normalisation) on one pre-computed token list, and keeps each word's contribution for the
reasons. With ``dental=False`` it reproduces VADER's compound score (a test checks this on the
evaluation texts); with the dental settings it also:

* uses the dental lexicon (data/sentiment.json): extra words, words made neutral, and phrases
  that count as one word ("surprise bill", "never explained", "didn't feel a thing");
* reads curly apostrophes as apostrophes ("didn’t" negates) and strips punctuation from short
  words ("no," and "ok." are words), counts "nobody"/"nor" as negations, and never counts a
  phrase such as "didn't feel a thing" as a negation of the words after it;
* limits VADER's "but" rule to its sentence (a "But" opening a sentence reaches back one), where
  VADER lets the first "but" of a long text reweigh every sentence;
* flips the praise in a sentence carrying a sarcasm marker ("oh great, another hour ...") when
  the text also reports a problem.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass
from typing import NamedTuple

from vaderSentiment import vaderSentiment as vader

# One analyser for the process: only its lexicon and emoji table are used.
_VADER = vader.SentimentIntensityAnalyzer()
VADER_LEXICON: dict[str, float] = dict(_VADER.lexicon)
_EMOJIS: dict[str, str] = _VADER.emojis
_EMOJI_CHARS = frozenset(_EMOJIS)

_BOOSTERS = vader.BOOSTER_DICT
_NEGATE = frozenset(vader.NEGATE)
_SPECIAL = vader.SPECIAL_CASES
_N_SCALAR = vader.N_SCALAR
_C_INCR = vader.C_INCR
_PUNCTUATION = string.punctuation
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'"})
_MARKS = frozenset(".!?,;:\")'")
_IDIOM_WORDS = frozenset(
    word for key in (*_SPECIAL, *(k for k in _BOOSTERS if " " in k)) for word in key.split()
)
_STRONG_MARKER = -1.5  # a sarcasm marker this negative is evidence of a problem by itself


class Contribution(NamedTuple):
    """One word's (or phrase's) final valence and the words that made it."""

    valence: float
    words: str


class Scored(NamedTuple):
    compound: float
    contributions: list[Contribution]
    notes: list[str]


@dataclass(slots=True)
class _Tokens:
    words: list[str]  # as written, punctuation stripped
    lower: list[str]  # lexicon keys
    keys: list[str]  # lexicon keys without apostrophes, for phrases
    sentence: list[int]  # sentence number of each token
    clause: list[int]  # clause number (commas, semicolons and colons also end one)
    phrase: list[bool]  # token is a merged lexicon phrase


class Scorer:
    """Scores texts with VADER's rules on a given lexicon; build once, call :meth:`score`."""

    def __init__(
        self,
        lexicon: dict[str, float],
        *,
        phrases: dict[tuple[str, ...], str] | None = None,
        negators: frozenset[str] = frozenset(),
        contrast: tuple[frozenset[str], float, float] | None = None,
        sarcasm: tuple[dict[str, float], list[tuple[str, ...]], float] | None = None,
        complaint_facts: dict[tuple[str, ...], str] | None = None,
        clause_negators: frozenset[str] = frozenset(),
        dental: bool = True,
    ) -> None:
        self.lexicon = lexicon
        self.dental = dental
        # Phrases by their first two words (every phrase has at least two).
        self._phrases: dict[tuple[str, str], list[tuple[list[str], str]]] = {}
        for words, key in (phrases or {}).items():
            self._phrases.setdefault((words[0], words[1]), []).append((list(words), key))
        for candidates in self._phrases.values():
            candidates.sort(key=lambda candidate: -len(candidate[0]))
        self._negators = _NEGATE | negators | clause_negators
        self._clause_negators = clause_negators
        self._contrast = contrast
        self._sarcasm_markers, marker_words, self._flip = sarcasm or ({}, [], 1.0)
        self._marker_keys = frozenset(self._sarcasm_markers)
        self._marker_starts: dict[str, list[tuple[str, ...]]] = {}
        for words in marker_words:
            self._marker_starts.setdefault(words[0], []).append(words)
        self._facts: dict[str, list[tuple[str, ...]]] = {}
        for words in complaint_facts or {}:
            self._facts.setdefault(words[0], []).append(words)
        # A fact may also have been merged into one phrase token ("on hold").
        self._fact_keys = frozenset(" ".join(words) for words in complaint_facts or {})

    # -- tokens ------------------------------------------------------------------------------

    def _tokens(self, text: str) -> _Tokens:
        raw = text.split()
        strip = str.strip
        # VADER keeps a token whole when stripping leaves two characters or fewer, for
        # emoticons such as ":)"; the dental scorer also strips short words ("no," "ok.").
        if self.dental:
            words = [
                w if len(w) > 2 or w.isalnum() else t
                for t in raw
                for w in (strip(t, _PUNCTUATION),)
            ]
            sentence_of, clause_of = _boundaries(raw)
        else:
            words = [w if len(w) > 2 else t for t in raw for w in (strip(t, _PUNCTUATION),)]
            sentence_of = clause_of = [0] * len(raw)
        lower = [w.lower() for w in words]
        keys = [w.replace("'", "") for w in lower] if "'" in text else lower
        tokens = _Tokens(words, lower, keys, sentence_of, clause_of, [False] * len(words))
        if self._phrases:
            found = self._phrases.keys() & set(zip(keys, keys[1:], strict=False))
            if found:
                self._merge_phrases(tokens, found)
        return tokens

    def _merge_phrases(self, tokens: _Tokens, found: set[tuple[str, str]]) -> None:
        """Replace each lexicon phrase ("surprise bill") by one token, longest first.

        ``found`` holds the phrases' first two words that occur in the text."""
        keys = tokens.keys
        phrases = self._phrases
        n = len(keys)
        firsts = {first for first, _ in found}
        spans: list[tuple[int, int, str]] = []
        taken = 0
        for i in [i for i, key in enumerate(keys) if key in firsts]:
            pair = (keys[i], keys[i + 1]) if i + 1 < n else None
            if i < taken or pair not in found:
                continue
            for phrase_words, key in phrases[pair]:
                end = i + len(phrase_words)
                if end <= n and keys[i:end] == phrase_words:
                    spans.append((i, end, key))
                    taken = end
                    break
        if not spans:
            return
        words, lower, sentence_of, clause_of = (
            tokens.words,
            tokens.lower,
            tokens.sentence,
            tokens.clause,
        )
        m_words: list[str] = []
        m_lower: list[str] = []
        m_keys: list[str] = []
        m_sentence: list[int] = []
        m_clause: list[int] = []
        m_phrase: list[bool] = []
        previous = 0
        for start, end, key in spans:
            m_words.extend(words[previous:start])
            m_lower.extend(lower[previous:start])
            m_keys.extend(keys[previous:start])
            m_sentence.extend(sentence_of[previous:start])
            m_clause.extend(clause_of[previous:start])
            m_phrase.extend([False] * (start - previous))
            m_words.append(" ".join(words[start:end]))
            m_lower.append(key)
            m_keys.append(key)
            m_sentence.append(sentence_of[start])
            m_clause.append(clause_of[end - 1])
            m_phrase.append(True)
            previous = end
        m_words.extend(words[previous:])
        m_lower.extend(lower[previous:])
        m_keys.extend(keys[previous:])
        m_sentence.extend(sentence_of[previous:])
        m_clause.extend(clause_of[previous:])
        m_phrase.extend([False] * (n - previous))
        tokens.words, tokens.lower, tokens.keys = m_words, m_lower, m_keys
        tokens.sentence, tokens.clause, tokens.phrase = m_sentence, m_clause, m_phrase

    # -- scoring -----------------------------------------------------------------------------

    def score(self, text: str, extra: tuple[Contribution, ...] = ()) -> Scored:
        """Compound score and contributions; ``extra`` valences (urgency findings) join the sum."""
        if not text.isascii():
            if self.dental:
                text = text.translate(_APOSTROPHES)
            if not _EMOJI_CHARS.isdisjoint(text):
                text = _describe_emojis(text).strip()
        tokens = self._tokens(text)
        words, lower, phrase = tokens.words, tokens.lower, tokens.phrase
        n = len(words)
        lexicon = self.lexicon
        negators = self._negators
        # VADER lets "can't tell. Perfect match" negate "perfect"; the dental scorer keeps
        # negations and boosters inside their sentence.
        bounded = self.dental
        sentence_of = tokens.sentence
        caps = sum(map(str.isupper, words))
        is_cap_diff = 0 < n - caps < n

        sentiments = [0.0] * n
        flipped_by: dict[int, int] = {}
        for i in [i for i, w in enumerate(lower) if w in lexicon]:
            lw = lower[i]
            if lw in _BOOSTERS or (i < n - 1 and lw == "kind" and lower[i + 1] == "of"):
                continue
            base = lexicon[lw]
            valence = base
            if lw == "no" and i != n - 1 and lower[i + 1] in lexicon:
                valence = 0.0
            no_at = -1
            if i > 0 and lower[i - 1] == "no":
                no_at = i - 1
            elif i > 1 and lower[i - 2] == "no":
                no_at = i - 2
            elif i > 2 and lower[i - 3] == "no" and lower[i - 1] in ("or", "nor"):
                no_at = i - 3
            if no_at >= 0 and not (bounded and sentence_of[no_at] != sentence_of[i]):
                valence = base * _N_SCALAR
                flipped_by[i] = no_at
            if is_cap_diff and words[i].isupper():
                valence = valence + _C_INCR if valence > 0 else valence - _C_INCR
            for start in range(3):
                j = i - (start + 1)
                if j < 0 or (bounded and sentence_of[j] != sentence_of[i]):
                    break
                lj = lower[j]
                if lj in lexicon:
                    continue
                if lj in _BOOSTERS:
                    boost = _scalar(words[j], lj, valence, is_cap_diff)
                    if start == 1:
                        boost *= 0.95
                    elif start == 2:
                        boost *= 0.9
                    valence += boost
                before = valence
                valence = _negation(valence, lower, phrase, negators, start, i)
                if valence != before and abs(valence - before * _N_SCALAR) < 1e-12:
                    flipped_by[i] = j
                # VADER's idioms and two-word boosters; all their words are in _IDIOM_WORDS.
                if start == 2 and (
                    lw in _IDIOM_WORDS
                    or (lower[i - 2] in _IDIOM_WORDS and lower[i - 1] in _IDIOM_WORDS)
                    or (lower[i - 2] in _IDIOM_WORDS and lower[i - 3] in _IDIOM_WORDS)
                ):
                    valence = _idioms(valence, lower, i)
            sentiments[i] = _least(valence, lower, lexicon, i)

        if not self._clause_negators.isdisjoint(lower):
            self._negate_clauses(sentiments, lower, tokens.clause, flipped_by)
        if self._contrast is not None:
            if not self._contrast[0].isdisjoint(lower):
                self._contrast_by_sentence(sentiments, lower, tokens.sentence)
        else:
            sentiments = _vader_but_check(lower, sentiments)

        notes: list[str] = []
        if self._sarcasm_markers and not (
            self._marker_keys.isdisjoint(tokens.keys)
            and self._marker_starts.keys().isdisjoint(tokens.keys)
        ):
            self._sarcasm(sentiments, tokens.keys, tokens.sentence, notes)

        contributions = [
            Contribution(
                value,
                _display(words, flipped_by[i], i) if i in flipped_by else words[i].lower(),
            )
            for i, value in enumerate(sentiments)
            if value
        ]
        for contribution in extra:
            if contribution.valence:
                sentiments.append(contribution.valence)
                contributions.append(contribution)
        compound = _compound(sentiments, text)
        return Scored(compound, contributions, notes)

    def _negate_clauses(
        self, sentiments: list[float], lower: list[str], clause_of: list[int], flipped: dict
    ) -> None:
        """ "No one at reception was friendly": a negated subject negates its whole clause,
        beyond the three words VADER looks back."""
        negator_at = -1
        for i, key in enumerate(lower):
            if negator_at >= 0 and clause_of[negator_at] != clause_of[i]:
                negator_at = -1
            if key in self._clause_negators:
                negator_at = i
            elif negator_at >= 0 and i - negator_at > 3 and sentiments[i]:
                sentiments[i] *= _N_SCALAR
                flipped[i] = negator_at

    def _contrast_by_sentence(
        self, sentiments: list[float], lower: list[str], sentence_of: list[int]
    ) -> None:
        contrast_words, before, after = self._contrast  # type: ignore[misc]
        n = len(lower)
        i = 0
        while i < n:
            if lower[i] not in contrast_words:
                i += 1
                continue
            sentence = sentence_of[i]
            opens_sentence = i == 0 or sentence_of[i - 1] != sentence
            first = sentence - 1 if opens_sentence else sentence
            j = i - 1
            while j >= 0 and sentence_of[j] >= first:
                sentiments[j] *= before
                j -= 1
            k = i + 1
            while k < n and sentence_of[k] == sentence:
                sentiments[k] *= after
                k += 1
            i = k  # one contrast per sentence, as VADER does per text

    def _sarcasm(
        self, sentiments: list[float], keys: list[str], sentence_of: list[int], notes: list[str]
    ) -> None:
        # A marker is either one merged phrase token ("thanks for nothing") or a run of words.
        markers = self._sarcasm_markers
        marked: list[int] = []
        shown = ""
        for i, key in enumerate(keys):
            if key in markers:
                marked.append(i)
                shown = shown or key
                continue
            for marker in self._marker_starts.get(key, ()):
                if tuple(keys[i : i + len(marker)]) == marker:
                    marked.append(i)
                    shown = shown or " ".join(marker)
                    break
        if not marked:
            return
        problem = any(
            value < 0 and (i not in marked or markers.get(keys[i], 0.0) <= _STRONG_MARKER)
            for i, value in enumerate(sentiments)
        )
        if not problem:
            for i, key in enumerate(keys):
                if key in self._fact_keys:
                    problem = True
                    break
                for fact in self._facts.get(key, ()):
                    if tuple(keys[i : i + len(fact)]) == fact:
                        problem = True
                        break
                if problem:
                    break
        if not problem:
            return
        # The marker's sentence and the next: "Wow, 40 minutes on hold. Amazing service."
        sentences = {sentence_of[i] + step for i in marked for step in (0, 1)}
        for i, value in enumerate(sentiments):
            if value > 0 and sentence_of[i] in sentences:
                sentiments[i] = value * self._flip
        notes.append(f"sarcasm: '{shown}'")


def _boundaries(raw: list[str]) -> tuple[list[int], list[int]]:
    """Sentence and clause number of each whitespace token ('end.' ends a sentence)."""
    n = len(raw)
    sentence_of: list[int] = []
    clause_of: list[int] = []
    sentence = clause = 0
    sentence_from = clause_from = 0
    for k in [k for k, token in enumerate(raw) if token[-1] in _MARKS]:
        token = raw[k]
        last = token[-1]
        if last in "\")'" and len(token) > 1:
            last = token[-2]
        if last in ".!?":
            sentence_of.extend([sentence] * (k + 1 - sentence_from))
            sentence += 1
            sentence_from = k + 1
        elif last not in ",;:":
            continue
        clause_of.extend([clause] * (k + 1 - clause_from))
        clause += 1
        clause_from = k + 1
    sentence_of.extend([sentence] * (n - sentence_from))
    clause_of.extend([clause] * (n - clause_from))
    return sentence_of, clause_of


def _describe_emojis(text: str) -> str:
    """VADER's emoji step: each emoji becomes its description, spaced as VADER spaces it."""
    out: list[str] = []
    prev_space = True
    for ch in text:
        description = _EMOJIS.get(ch)
        if description is not None:
            if not prev_space:
                out.append(" ")
            out.append(description)
            prev_space = False
        else:
            out.append(ch)
            prev_space = ch == " "
    return "".join(out)


def _scalar(word: str, lower: str, valence: float, is_cap_diff: bool) -> float:
    scalar = _BOOSTERS[lower]
    if valence < 0:
        scalar *= -1
    if is_cap_diff and word.isupper():
        scalar = scalar + _C_INCR if valence > 0 else scalar - _C_INCR
    return scalar


def _negated(lower: list[str], phrase: list[bool], negators: frozenset[str], j: int) -> bool:
    # A merged phrase such as "didn't feel a thing" is not a negation of what follows it.
    word = lower[j]
    return word in negators or ("n't" in word and not phrase[j])


def _negation(
    valence: float,
    lower: list[str],
    phrase: list[bool],
    negators: frozenset[str],
    start: int,
    i: int,
) -> float:
    if start == 0:
        if _negated(lower, phrase, negators, i - 1):
            return valence * _N_SCALAR
    elif start == 1:
        if lower[i - 2] == "never" and lower[i - 1] in ("so", "this"):
            return valence * 1.25
        if lower[i - 2] == "without" and lower[i - 1] == "doubt":
            return valence
        if _negated(lower, phrase, negators, i - 2):
            return valence * _N_SCALAR
    else:
        if (lower[i - 3] == "never" and lower[i - 2] in ("so", "this")) or lower[i - 1] in (
            "so",
            "this",
        ):
            return valence * 1.25
        if lower[i - 3] == "without" and "doubt" in (lower[i - 2], lower[i - 1]):
            return valence
        if _negated(lower, phrase, negators, i - 3):
            return valence * _N_SCALAR
    return valence


def _idioms(valence: float, lower: list[str], i: int) -> float:
    one_zero = f"{lower[i - 1]} {lower[i]}"
    two_one_zero = f"{lower[i - 2]} {lower[i - 1]} {lower[i]}"
    two_one = f"{lower[i - 2]} {lower[i - 1]}"
    three_two_one = f"{lower[i - 3]} {lower[i - 2]} {lower[i - 1]}"
    three_two = f"{lower[i - 3]} {lower[i - 2]}"
    for sequence in (one_zero, two_one_zero, two_one, three_two_one, three_two):
        if sequence in _SPECIAL:
            valence = _SPECIAL[sequence]
            break
    n = len(lower)
    if n - 1 > i:
        zero_one = f"{lower[i]} {lower[i + 1]}"
        if zero_one in _SPECIAL:
            valence = _SPECIAL[zero_one]
    if n - 1 > i + 1:
        zero_one_two = f"{lower[i]} {lower[i + 1]} {lower[i + 2]}"
        if zero_one_two in _SPECIAL:
            valence = _SPECIAL[zero_one_two]
    for n_gram in (three_two_one, three_two, two_one):
        if n_gram in _BOOSTERS:
            valence = valence + _BOOSTERS[n_gram]
    return valence


def _least(valence: float, lower: list[str], lexicon: dict[str, float], i: int) -> float:
    if i > 1 and lower[i - 1] not in lexicon and lower[i - 1] == "least":
        if lower[i - 2] != "at" and lower[i - 2] != "very":
            valence = valence * _N_SCALAR
    elif i > 0 and lower[i - 1] not in lexicon and lower[i - 1] == "least":
        valence = valence * _N_SCALAR
    return valence


def _vader_but_check(lower: list[str], sentiments: list[float]) -> list[float]:
    """VADER's own rule, as written (it finds each sentiment by value; kept for fidelity)."""
    if "but" not in lower:
        return sentiments
    bi = lower.index("but")
    for sentiment in sentiments:
        si = sentiments.index(sentiment)
        if si < bi:
            sentiments.pop(si)
            sentiments.insert(si, sentiment * 0.5)
        elif si > bi:
            sentiments.pop(si)
            sentiments.insert(si, sentiment * 1.5)
    return sentiments


def _compound(sentiments: list[float], text: str) -> float:
    if not sentiments:
        return 0.0
    total = float(sum(sentiments))
    emphasis = min(text.count("!"), 4) * 0.292
    questions = text.count("?")
    if questions > 1:
        emphasis += questions * 0.18 if questions <= 3 else 0.96
    if total > 0:
        total += emphasis
    elif total < 0:
        total -= emphasis
    score = total / math.sqrt(total * total + 15)
    return max(-1.0, min(1.0, score))


def _display(words: list[str], flipped_by: int, i: int) -> str:
    if not 0 <= flipped_by < i:
        return words[i].lower()
    if i - flipped_by <= 3:
        return " ".join(words[flipped_by : i + 1]).lower()
    return f"{words[flipped_by]} … {words[i]}".lower()
