"""The engine: run the registered recognisers, merge, apply modes and allow-lists."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .context import PhiContext
from .document import Document, ocr_clean
from .entities import Span, merge_spans, to_response
from .header import HeaderRecognizer
from .institutions import InstitutionRecognizer
from .names import (
    InitialsRecognizer,
    LineContextRecognizer,
    MisreadNameLineRecognizer,
    NameContextRecognizer,
    NameListRecognizer,
    NamePatternRecognizer,
    SplitNameRecognizer,
)
from .patterns import (
    AddressRecognizer,
    AgeRecognizer,
    CityRecognizer,
    DateRecognizer,
    EmailRecognizer,
    IdRecognizer,
    LabelledFieldRecognizer,
    PhoneRecognizer,
    ProfessionRecognizer,
    SexRecognizer,
    SsnRecognizer,
    TimeRecognizer,
    UrlRecognizer,
)
from .recognizer import Recognizer
from .strict import strict_spans

MODES = ("default", "strict")

# Phase 1 (independent) first, then phase 2 (context rules), in this order.
_REGISTRY: tuple[Recognizer, ...] = (
    HeaderRecognizer(),
    LabelledFieldRecognizer(),
    DateRecognizer(),
    TimeRecognizer(),
    AgeRecognizer(),
    IdRecognizer(),
    SsnRecognizer(),
    PhoneRecognizer(),
    EmailRecognizer(),
    UrlRecognizer(),
    AddressRecognizer(),
    InstitutionRecognizer(),
    NameListRecognizer(),
    NamePatternRecognizer(),
    InitialsRecognizer(),
    SplitNameRecognizer(),
    ProfessionRecognizer(),
    CityRecognizer(),
    MisreadNameLineRecognizer(),
    SexRecognizer(),
    NameContextRecognizer(),
    LineContextRecognizer(),
)


def recognizers() -> tuple[Recognizer, ...]:
    """The registered recognisers, in the order they run. Each has ``name``,
    ``entity_types``, ``description``, ``phase`` and ``analyze(doc, context, found)``."""
    return _REGISTRY


def _allow_regex(allow_list: Iterable[str]) -> re.Pattern[str] | None:
    if isinstance(allow_list, str):
        allow_list = [allow_list]
    phrases = []
    for p in allow_list:
        if not isinstance(p, str):
            raise TypeError(f"allow_list holds str values, got {type(p).__name__}")
        words = p.split()
        if words:
            phrases.append(r"\s+".join(re.escape(w) for w in words))
    if not phrases:
        return None
    phrases.sort(key=len, reverse=True)
    return re.compile(r"(?<![0-9A-Za-z])(?:" + "|".join(phrases) + r")(?![0-9A-Za-z])", re.IGNORECASE)


def _subtract(span: Span, ranges: list[tuple[int, int]], text: str) -> list[Span]:
    pieces = [(span.begin, span.end)]
    for rb, re_ in ranges:
        nxt = []
        for b, e in pieces:
            if re_ <= b or rb >= e:
                nxt.append((b, e))
                continue
            if b < rb:
                nxt.append((b, rb))
            if re_ < e:
                nxt.append((re_, e))
        pieces = nxt
    out = []
    for b, e in pieces:
        while b < e and not text[b].isalnum():
            b += 1
        while e > b and not (text[e - 1].isalnum() or text[e - 1] in ".\u2026"):
            e -= 1
        if b < e and any(ch.isalnum() for ch in text[b:e]):
            out.append(Span(b, e, span.type, span.score, span.source, span.low_confidence))
    return out


def detect_phi(
    text: str,
    *,
    context: PhiContext | None = None,
    mode: str = "default",
    allow_list: Iterable[str] = (),
) -> dict:
    """Find PHI in OCR text; the result is shaped like Comprehend Medical ``DetectPHI``.

    ``text``: lines separated by "\\n", words by spaces. ``context``: header values of the
    image (:meth:`PhiContext.from_dataset`). ``mode``: "default" (the recognisers) or
    "strict" (also every word that is not technical). ``allow_list``: words/phrases
    never redacted (case-insensitive).

    Returns ``{"Entities": [{"Id", "BeginOffset", "EndOffset", "Score", "Text",
    "Category": "PROTECTED_HEALTH_INFORMATION", "Type", "Traits"}], "ModelVersion"}``,
    entities sorted by offset and not overlapping.
    """
    if not isinstance(text, str):
        raise TypeError(f"detect_phi() text must be a str, got {type(text).__name__}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; valid modes: {', '.join(MODES)}")
    if context is not None and not isinstance(context, PhiContext):
        raise TypeError(f"detect_phi() context must be a PhiContext or None, got {type(context).__name__}")
    allow_rx = _allow_regex(allow_list)
    if not text.strip():
        return to_response(text, [])

    # Recognisers read the text with OCR look-alikes undone ("2O07", "CLIN1C"); every
    # offset is unchanged, and entity texts come from the original.
    doc = Document.from_text(ocr_clean(text))
    found: list[Span] = []
    for r in _REGISTRY:
        if r.phase == 1:
            found.extend(r.analyze(doc, context, ()))
    for r in _REGISTRY:
        if r.phase == 2:
            found.extend(r.analyze(doc, context, list(found)))
    spans = merge_spans(found)

    ranges: list[tuple[int, int]] = []
    if allow_rx is not None:
        ranges = [m.span() for m in allow_rx.finditer(text)]
        if ranges:
            spans = [p for s in spans for p in _subtract(s, ranges, text)]

    if mode == "strict":

        def allowed(b: int, e: int) -> bool:
            core = doc.words_overlapping(b, e)[0].core()
            cb, ce = (core[1], core[2]) if core[0] else (b, e)
            return any(rb <= cb and ce <= re_ for rb, re_ in ranges)

        spans = merge_spans(spans + strict_spans(doc, text, spans, allowed))
    return to_response(text, spans)
