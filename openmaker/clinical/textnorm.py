"""Tokens and their normal forms, shared by the concept index and the note matcher.

A token is a run of letters/digits (with an inner apostrophe), or one other
non-space character. Its normal form is lower case with a light English
plural/possessive stem, so "Gallstones", "gallstone" and "Alzheimer's" meet
their vocabulary entries.
"""

from __future__ import annotations

import re

TOKEN = re.compile(r"[A-Za-z0-9]+(?:['\u2019][A-Za-z]+)?|[^\sA-Za-z0-9]")
WORD = re.compile(r"[A-Za-z0-9]")

#: Words that carry no meaning for matching (dropped from word-order keys).
STOP = frozenset(
    "of the a an and in on to with without by for or at from nos unspecified due its".split()
)
#: Trailing semantic tags on SNOMED-style names: "(disorder)", "(procedure)".
TAG = re.compile(r"\s*\((?:disorder|finding|procedure|substance|body structure|qualifier value|"
                 r"morphologic abnormality|observable entity|regime/therapy|situation|event|"
                 r"clinical drug|product|medicinal product|physical object|navigational concept)\)\s*$", re.I)
_KEEP_S = ("ss", "us", "is", "ys", "as", "os")


def stem(word: str) -> str:
    w = word.lower().replace("\u2019", "'")
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith(_KEEP_S):
        return w[:-1]
    return w


def tokens(text: str) -> list[tuple[str, int, int]]:
    """``(token, begin, end)`` for every token of ``text``."""
    return [(m.group(0), m.start(), m.end()) for m in TOKEN.finditer(text)]


def words(text: str) -> list[str]:
    """Normal forms of the word tokens of ``text`` (punctuation dropped)."""
    return [stem(t) for t, _, _ in tokens(TAG.sub("", text)) if WORD.match(t)]


def key(ws) -> str:
    return " ".join(ws)


def bag(ws) -> str:
    """Word-order-free key: content words sorted ("fracture of rib" == "rib fracture")."""
    content = sorted(w for w in ws if w not in STOP)
    return " ".join(content)
