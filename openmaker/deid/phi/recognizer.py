"""The recogniser interface (as in Presidio: independent recognisers, one engine).

A recogniser looks at the tokenised OCR text and returns candidate :class:`Span` s.
Phase-1 recognisers work alone. Phase-2 recognisers also see what was found before
them (context rules: a sex marker next to a date, a capitalised word next to a name,
unknown words on a line that carries an id); they run in registry order.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from .context import PhiContext
from .document import Document, Word
from .entities import Span


class Recognizer:
    name: str = ""
    entity_types: tuple[str, ...] = ()
    description: str = ""
    phase: int = 1

    def analyze(self, doc: Document, context: PhiContext | None, found: Sequence[Span]) -> list[Span]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {'/'.join(self.entity_types)}>"


class Coverage:
    """Which character ranges a set of spans touches; O(log n) per query."""

    def __init__(self, spans: Sequence[Span]) -> None:
        ordered = sorted(spans, key=lambda s: s.begin)
        self._begins = [s.begin for s in ordered]
        self._max_end: list[int] = []
        m = -1
        for s in ordered:
            m = max(m, s.end)
            self._max_end.append(m)

    def overlaps(self, begin: int, end: int) -> bool:
        i = bisect.bisect_left(self._begins, end)
        return i > 0 and self._max_end[i - 1] > begin

    def word(self, word: Word) -> bool:
        return self.overlaps(word.begin, word.end)



def word_span(word: Word, type_: str, score: float, source: str, *, core: bool = True) -> Span:
    """A span over the word (its core without edge punctuation, when it has one)."""
    if core:
        text, b, e = word.core()
        if text:
            if word.truncated:
                e = word.end  # keep the ellipsis with the value it cuts
            return Span(b, e, type_, score, source)
    return Span(word.begin, word.end, type_, score, source)
