"""Text analysis of patient feedback: sentiment, touchpoints, urgency and people named.

    >>> from feedback.analysis import analyze
    >>> result = analyze("The hygienist was rough and I waited 40 minutes.")
    >>> result.label, result.touchpoints
    ('negative', ['hygiene', 'comfort_pain', 'waiting'])

Sentiment is VADER's rules adapted to dental language (``sentiment.py``); the words, touchpoint
terms, urgency rules and name titles are versioned data in ``data/`` (``lexicon.py``). Everything
is compiled once at import; ``analyze()`` builds no analysers or regular expressions per call.
"""

from feedback.analysis.analyzer import MAX_CHARS, Analysis, analyze
from feedback.analysis.lexicon import LEXICON, TOUCHPOINTS

LEXICON_VERSIONS = LEXICON.versions

__all__ = ["LEXICON_VERSIONS", "MAX_CHARS", "TOUCHPOINTS", "Analysis", "analyze"]
