"""Words for matching touchpoints, urgency rules and names.

Text is lower-cased, accents are folded ("José" → "jose"), apostrophes disappear ("won't" →
"wont", "Chen's" → "chen") and the dot after a title goes ("Dr. Chen" → "dr chen"). Clause
punctuation stays as separate tokens so a phrase or a gap never reaches across a sentence or a
comma ("thanks Sue, you were great" is not "sue you").
"""

from __future__ import annotations

import re
import unicodedata

# Tokens that end a clause; patterns never contain them, so matches cannot cross them.
BREAKS = frozenset(".!?;:,()[]—–\n")

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})
# A word (with inner apostrophes), or a clause break; the dot after a title is not a break.
# The dot is matched before the look-behinds, which would otherwise run at every space.
_TOKEN = re.compile(
    r"[^\W_]+(?:'[^\W_]+)*"
    r"|\.(?<!\bdr\.)(?<!\bdrs\.)(?<!\bmr\.)(?<!\bmrs\.)(?<!\bms\.)(?<!\bmx\.)"
    r"(?<!\bprof\.)(?<!\bst\.)(?<!\bfr\.)"
    r"|[!?;:,()\[\]—–\n]"
)


def fold(text: str) -> str:
    """Lower-case without accents: "Álvarez" → "alvarez"."""
    text = text.lower()
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """The text's words and clause breaks, folded, without apostrophes ("son's" → "son")."""
    text = text.lower()
    if not text.isascii():
        text = fold(text.translate(_APOSTROPHES))
    tokens = _TOKEN.findall(text)
    if "'" in text:
        return [
            t if "'" not in t else (t[:-2] if t.endswith("'s") else t).replace("'", "")
            for t in tokens
        ]
    return tokens


def stem(word: str) -> str:
    """Fold simple English plurals so one term matches both forms ("cavities" → "cavity")."""
    if len(word) <= 3 or word[-1] != "s" or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses", "zes")):
        return word[:-2]
    return word[:-1]


def stems(tokens: list[str]) -> list[str]:
    return [stem(t) if t[-1] == "s" else t for t in tokens]
