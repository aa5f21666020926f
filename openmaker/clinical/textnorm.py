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
    "of the a an and in on to with by for or at from nos unspecified due its".split()
)
#: Words that name the same thing in procedure and test names ("knee XR" = "radiologic examination of knee").
CANON = {
    "xr": ["radiograph"], "xray": ["radiograph"], "film": ["radiograph"], "radiography": ["radiograph"],
    "cx": ["culture"], "rehab": ["rehabilitation"], "exam": ["examination"], "ultrasonography": ["ultrasound"],
    "sonography": ["ultrasound"], "plain": [], "microbial": [],
}
CANON_PAIRS = {("x", "ray"): "radiograph", ("radiologic", "examination"): "radiograph",
               ("radiographic", "examination"): "radiograph"}  # fmt: skip
#: Trailing semantic tags on SNOMED-style names: "(disorder)", "(procedure)".
TAG = re.compile(r"\s*\((?:disorder|finding|procedure|substance|body structure|qualifier value|"
                 r"morphologic abnormality|observable entity|regime/therapy|situation|event|"
                 r"clinical drug|product|medicinal product|physical object|navigational concept)\)\s*$", re.I)
_KEEP_S = ("ss", "us", "is", "ys", "as", "os")
ORDINALS = {"1st": "first", "2nd": "second", "3rd": "third", "4th": "fourth", "1": "first", "2": "second",
            "3": "third"}  # fmt: skip


def stem(word: str) -> str:
    """Lower case, possessive and plural gone, "-ing" gone (bleeding = bleed), ordinals spelled out."""
    if len(word) >= 3 and word.endswith("s") and word[:-1].isupper():
        return word[:-1].lower()  # "UTIs", "CVAs": an abbreviation's plural
    w = word.lower().replace("\u2019", "'")
    if w.endswith("'s"):
        w = w[:-2]
    if w in ("1st", "2nd", "3rd", "4th"):
        return ORDINALS[w]
    if len(w) > 6 and w.endswith("ing"):
        return w[:-3]
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith(_KEEP_S):
        return w[:-1]
    return w


def tokens(text: str) -> list[tuple[str, int, int]]:
    """``(token, begin, end)`` for every token of ``text``."""
    return [(m.group(0), m.start(), m.end()) for m in TOKEN.finditer(text)]


def canon(ws: list[str]) -> list[str]:
    """Words with the synonyms of :data:`CANON` folded together."""
    out: list[str] = []
    i = 0
    while i < len(ws):
        if i + 1 < len(ws) and (ws[i], ws[i + 1]) in CANON_PAIRS:
            out.append(CANON_PAIRS[(ws[i], ws[i + 1])])
            i += 2
            continue
        out.extend(CANON.get(ws[i], (ws[i],)))
        i += 1
    return out


def words(text: str) -> list[str]:
    """Normal forms of the word tokens of ``text`` (punctuation dropped, synonyms folded)."""
    return canon([stem(t) for t, _, _ in tokens(TAG.sub("", text)) if WORD.match(t)])


def key(ws) -> str:
    return " ".join(ws)


def bag(ws) -> str:
    """Word-order-free key: content words sorted ("fracture of rib" == "rib fracture")."""
    content = sorted(w for w in ws if w not in STOP)
    return " ".join(content)
