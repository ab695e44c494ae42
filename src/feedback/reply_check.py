"""Checking a draft public reply to a review for protected health information.

A practice may thank a reviewer and invite them to call, but a public reply must not confirm
that the reviewer is a patient or say anything about their care: no names of patients, no
treatments, no visit dates or times, no insurance or billing details, no "your visit" or
"we reviewed your chart". ``reply_phi_problems`` names each kind of slip it finds, quoting the
words as the draft wrote them, so the person can rewrite them. It is a safety net for an
attentive writer, not a guarantee: it knows words, not meaning.

Matching is case- and accent-insensitive (``fold_for_search``), on whole words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

from django.db.models import Q

from core.models import Practice
from patients.models import Patient, fold_for_search

# --- The words, as data -------------------------------------------------------------------
# Written folded (lower case, no accents). A space or hyphen in a term also matches the
# other and nothing ("x-ray" matches "X ray" and "xray"); a plural "s"/"es" is allowed.

TREATMENTS = (
    "crown", "root canal", "extraction", "implant", "filling", "cleaning", "deep cleaning",
    "x-ray", "radiograph", "periodontal", "periodontitis", "gingivitis", "gum disease",
    "scaling", "root planing", "braces", "orthodontic", "orthodontics", "invisalign",
    "aligner", "retainer", "whitening", "bleaching", "denture", "partial denture", "veneer",
    "inlay", "onlay", "sealant", "fluoride", "cavity", "cavities", "decay", "wisdom tooth",
    "wisdom teeth", "toothache", "abscess", "biopsy", "oral surgery", "bone graft",
    "night guard", "bite guard", "mouthguard", "tmj", "anaesthetic", "anesthetic",
    "anaesthesia", "anesthesia", "local anaesthetic", "sedation", "nitrous", "laughing gas",
    "novocaine", "numbing", "injection", "antibiotic", "prescription", "painkiller",
)  # fmt: skip
# Everyday phrases that contain a treatment word but are not about a treatment.
NOT_TREATMENTS = {"filling": r"(?!\s+(?:out|in)\b)", "cleaning": r"(?!\s+(?:staff|crew)\b)"}

INSURANCE = (
    "insurance", "insurer", "insured", "delta dental", "medicaid", "medicare", "medi-cal",
    "denti-cal", "tricare", "aetna", "cigna", "metlife", "humana", "unitedhealthcare",
    "united healthcare", "blue cross", "blue shield", "bcbs", "dentaquest", "guardian dental",
    "bupa", "denplan", "ppo", "hmo", "claim", "coverage", "covered by", "copay", "co-pay",
    "copayment", "deductible", "out-of-pocket", "pre-authorization", "pre-authorisation",
    "preauthorization", "dental benefits", "your benefits", "explanation of benefits", "eob",
    "your bill", "your balance", "your invoice", "your payment", "payment plan", "refund",
    "collections",
)  # fmt: skip
NOT_INSURANCE = {"claim": r"(?!\s+to\b)"}  # "we don't claim to be perfect"

RELATIONSHIP = (
    "as our patient", "as a patient", "our patient", "you are a patient", "you're a patient",
    "we reviewed your", "we have reviewed your", "we've reviewed your", "we looked at your",
    "we checked your", "we pulled your", "our records show", "according to our records",
    "in our records", "in our system", "when you were here", "when you were in",
    "when you came in", "when you visited", "you were seen", "during your",
)  # fmt: skip
# "your <noun>", optionally "your last/recent/... <noun>".
RELATIONSHIP_NOUNS = (
    "visit", "appointment", "treatment", "procedure", "records", "record", "chart", "file",
    "dentist", "hygienist", "doctor", "surgeon", "results", "history", "care plan",
    "treatment plan", "exam", "check-up", "checkup", "consultation", "diagnosis", "mouth",
    "teeth", "tooth", "gums",
)  # fmt: skip
RELATIONSHIP_ADJECTIVES = ("last", "recent", "previous", "next", "upcoming", "first", "dental")

MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
WEEKDAYS = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
ORDINAL = r"\d{1,2}(?:st|nd|rd|th)?"
TIME = r"(?:\d{1,2}(?::\d{2})?\s*(?:a\.?m\b\.?|p\.?m\b\.?)|\d{1,2}:\d{2}|\d{1,2}\s+o'clock)"
VISIT_WORDS = r"(?:appointment|visit|cleaning|check-?up|exam|seen|arrived|came in|checked in)"
# Dates and times of a visit. Office hours ("call us 9am to 5pm", "on Monday") are fine:
# a time counts only next to "your" or a visit word; weekdays only as "last Tuesday".
DATE_PATTERNS = (
    rf"\b(?:on\s+)?{MONTHS}\.?\s+{ORDINAL}\b",
    rf"\b(?:on\s+)?(?:the\s+)?{ORDINAL}\s+(?:of\s+)?{MONTHS}\b",
    r"\b(?:on\s+)?(?!24/7\b)\d{1,2}/\d{1,2}(?:/\d{2,4})?\b",
    r"\b(?:on\s+)?\d{4}-\d{2}-\d{2}\b",
    r"\b(?:on\s+)?\d{1,2}\.\d{1,2}\.\d{4}\b",
    rf"\b(?:last|this past|past)\s+(?:{WEEKDAYS}|week|weekend|month)\b",
    r"\b(?:yesterday|earlier today|the other day)\b",
    rf"\byour\s+(?P<hit>{TIME})",
    rf"\b(?P<hit>{TIME})\s+{VISIT_WORDS}\b",
    rf"\b{VISIT_WORDS}\b[^.!?\n]{{0,30}}?\b(?P<hit>at\s+{TIME})",
)

TITLES = r"(?:mr|mrs|ms|miss|mx)\.?"
# Words that are also names. A patient called "Will Young" is named only when the draft
# writes the words like a name ("Will Young"), not in "you will young…"; with a title
# ("Mr Young") always.
COMMON_WORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "best", "bill", "bird", "black", "bell", "brown",
    "call", "care", "cash", "chase", "cook", "day", "dawn", "dean", "dear", "do", "drew",
    "faith", "fair", "field", "for", "frank", "free", "gene", "glad", "good", "grace", "gray",
    "green", "grey", "guy", "hall", "hill", "holly", "hope", "hunter", "it", "iris", "ivy",
    "jack", "joy", "june", "king", "kind", "lane", "little", "long", "love", "major", "mark",
    "may", "miles", "new", "nice", "page", "park", "pat", "penny", "price", "rich", "rob",
    "rose", "ruby", "short", "sky", "smart", "star", "stone", "summer", "sunny", "the", "to",
    "wall", "ward", "way", "well", "white", "will", "wood", "woods", "young", "you", "your",
    "we", "our", "us", "he", "she", "they", "them", "one", "april", "august", "autumn",
    "brook", "cliff", "crystal", "daisy", "early", "fox", "gold", "hardy", "heart", "herb",
    "jay", "jewel", "lucky", "meadow", "noble", "storm", "sue", "victor", "winter",
))  # fmt: skip

LABELS = {
    "names": "names a patient",
    "treatments": "names a treatment",
    "dates": "mentions a visit date or time",
    "insurance": "mentions insurance or billing",
    "relationship": "confirms a patient relationship",
}

Span = tuple[int, int]

_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")
_SAME_CHARACTER = str.maketrans({"’": "'", "‘": "'", "‐": "-", "‑": "-", "–": "-", "—": "-"})


def reply_phi_problems(draft: str, *, practice: Practice) -> list[str]:
    """Why a draft public reply may disclose health information; an empty list when none.

    Each reason names the words found, e.g. ``names a treatment: 'root canal'``.
    """
    text = _Folded.of(draft or "")
    if not text.folded.strip():
        return []
    found = {
        "names": _patient_names(text, practice),
        "treatments": text.find(_patterns("treatments")),
        "dates": text.find(_patterns("dates")),
        "insurance": text.find(_patterns("insurance")),
        "relationship": text.find(_patterns("relationship")),
    }
    return [
        LABELS[kind] + ": " + ", ".join(f"'{words}'" for words in text.quoted(spans))
        for kind, spans in found.items()
        if spans
    ]


@dataclass(frozen=True)
class _Folded:
    """The draft folded for matching, with where each folded character came from."""

    original: str
    folded: str
    origin: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> _Folded:
        pieces, origin = [], []
        for index, char in enumerate(text.translate(_SAME_CHARACTER)):
            piece = " " if char.isspace() else fold_for_search(char)
            pieces.append(piece)
            origin.extend([index] * len(piece))
        return cls(text, "".join(pieces), tuple(origin))

    def find(self, patterns: Iterable[re.Pattern]) -> list[Span]:
        spans = []
        for pattern in patterns:
            group = "hit" if "hit" in pattern.groupindex else 0
            spans += [match.span(group) for match in pattern.finditer(self.folded)]
        return spans

    def quoted(self, spans: list[Span]) -> Iterator[str]:
        """The draft's own words for the spans, in order, overlapping spans as one, each once
        ("we reviewed your" and "your chart" are "we reviewed your chart")."""
        merged: list[list[int]] = []
        for start, end in sorted(spans):
            if merged and start < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        seen = set()
        for start, end in merged:
            words = " ".join(self.original[self.origin[start] : self.origin[end - 1] + 1].split())
            if fold_for_search(words) not in seen:
                seen.add(fold_for_search(words))
                yield words


def _term(term: str, exceptions: dict[str, str] | None = None, *, plural: bool = True) -> str:
    words = [re.escape(word) for word in re.split(r"[\s-]+", term)]
    body = r"[\s-]?".join(words)
    ending = r"(?:e?s)?" if plural else ""
    return rf"\b{body}{ending}\b{(exceptions or {}).get(term, '')}"


@cache
def _patterns(kind: str) -> tuple[re.Pattern, ...]:
    if kind == "treatments":
        terms = [_term(t, NOT_TREATMENTS) for t in TREATMENTS]
    elif kind == "insurance":
        terms = [_term(t, NOT_INSURANCE) for t in INSURANCE]
    elif kind == "relationship":
        nouns = "|".join(_term(noun).removeprefix(r"\b") for noun in RELATIONSHIP_NOUNS)
        adjectives = "|".join(RELATIONSHIP_ADJECTIVES)
        terms = [_term(t, plural=False) for t in RELATIONSHIP]
        # "our patient" ends on a word boundary, so "all our patients" is not caught.
        terms.append(rf"\byour\s+(?:(?:{adjectives})\s+)?(?:{nouns})")
    else:
        terms = list(DATE_PATTERNS)
    return tuple(re.compile(term) for term in terms)


# --- Patients' names ----------------------------------------------------------------------


def _patient_names(text: _Folded, practice: Practice) -> list[Span]:
    spans = []
    for first_names, last_name in _candidates(text, practice):
        last = r"\s+".join(re.escape(word) for word in last_name.split())
        for first in first_names:
            full = r"\s+".join(re.escape(word) for word in first.split())
            pattern = re.compile(rf"(?<![\w'-]){full}\s+{last}(?![\w'-])")
            for match in pattern.finditer(text.folded):
                if not _reads_as_common_words(text, *match.span()):
                    spans.append(match.span())
        titled = re.compile(rf"(?<![\w'-]){TITLES}\s+{last}(?![\w'-])")
        spans += [match.span() for match in titled.finditer(text.folded)]
    return spans


def _candidates(text: _Folded, practice: Practice) -> Iterator[tuple[set[str], str]]:
    """The practice's patients whose last name ends with a word of the draft.

    ``search_name`` is the folded "first preferred last", so the database narrows the
    practice's patients to a handful before any name is compared here.
    """
    words = sorted({w for w in _WORD.findall(text.folded) if len(w) >= 2})
    if not words:
        return  # an empty filter would match every patient
    seen: set[tuple[frozenset[str], str]] = set()
    for start in range(0, len(words), 200):
        query = Q()
        for word in words[start : start + 200]:
            query |= Q(search_name__endswith=f" {word}")
        patients = Patient.objects.filter(practice=practice).filter(query).order_by()
        for first, preferred, last in patients.values_list(
            "first_name", "preferred_name", "last_name"
        ):
            names = {fold_for_search(name) for name in (first, preferred) if name.strip()}
            key = (frozenset(names), fold_for_search(last))
            if key[1] and key not in seen:
                seen.add(key)
                yield names, key[1]


def _reads_as_common_words(text: _Folded, start: int, end: int) -> bool:
    """Everyday words written in lower case ("will young"), not a name ("Will Young")."""
    parts = _WORD.findall(text.original[text.origin[start] : text.origin[end - 1] + 1])
    if not all(fold_for_search(part) in COMMON_WORDS for part in parts):
        return False
    return not all(part[0].isupper() for part in parts)
