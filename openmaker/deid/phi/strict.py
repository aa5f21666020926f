"""Strict mode: redact every word that is not technical (Philter's "safe-list" principle).

The recall ceiling: whatever the recognisers missed, a word that is not on the
technical allow-list (or the user's allow-list) is still redacted. Words the recognisers
found keep their type and score; the others become ID with score 0.5 and a
LOW_CONFIDENCE trait.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .allowlist import is_technical
from .document import Document
from .entities import ID, Span
from .recognizer import Coverage

STRICT_SCORE = 0.5


def strict_spans(doc: Document, text: str, found: Sequence[Span], allowed: Callable[[int, int], bool]) -> list[Span]:
    """Spans for the words not covered by ``found`` that are neither technical (as
    written in ``text``, the original) nor allowed by the user (``allowed(begin, end)``)."""
    out = []
    taken = Coverage(found)
    for word in doc.words:
        if taken.word(word):
            continue
        if is_technical(text[word.begin : word.end]) or allowed(word.begin, word.end):
            continue
        out.append(Span(word.begin, word.end, ID, STRICT_SCORE, "strict", low_confidence=True))
    return out
