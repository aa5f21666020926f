"""Blocks of burned-in text, and the PHI a block gives away.

Burned-in annotations come in blocks: the patient's name, id, birth date, sex and age
stacked in one corner, the institution and the study date in another, acquisition
parameters elsewhere. Once a block shows PHI surely (a name, an id, a date, a phone
number), its other words are PHI too unless they read as technical vocabulary or as a
field caption: a wrapped institution name ("Ho Imaging" over "Center CHAVEZ, JENNIFER"),
a date OCR misread ("23.12,2020" under "... CLINIC"), an age glued to its caption
("Age35"). Those words become entities of score :data:`BLOCK_SCORE`.

A block is rows of text (:func:`~openmaker.deid.redact.text_rows`) stacked on top of each
other: one under the next with less than :data:`ROW_SPACING` line heights between them,
of similar height, and sharing their left or their right edge (left- and right-aligned
corner blocks), chained.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from openmaker.deid.ocr import Line, Word
from openmaker.deid.redact import extra_entity, text_rows, with_entities

#: Score of a word found to be PHI by its block only.
BLOCK_SCORE = 0.4
#: Entity types that mark a block as PHI, at :data:`SURE_SCORE` or more (not a guess from the
#: OCR's confidence). A sex marker alone does not ("F" is many things).
SURE_TYPES = frozenset({"NAME", "ID", "DATE", "AGE", "ADDRESS", "PHONE_OR_FAX", "EMAIL", "URL"})
SURE_SCORE = 0.6
#: Most space between two stacked rows, in line heights (of the taller row).
ROW_SPACING = 0.9
#: Most offset between two stacked rows' left (or right) edges, in line heights.
ALIGN = 1.5
#: Most ratio between the heights of two stacked rows.
HEIGHT_RATIO = 1.8


def _box(row: Sequence[Line]) -> tuple[float, float, float, float]:
    return (
        min(line.box[0] for line in row),
        min(line.box[1] for line in row),
        max(line.box[2] for line in row),
        max(line.box[3] for line in row),
    )


def _height(row: Sequence[Line]) -> float:
    """The row's line height: its tallest line (the lines of a row sit at slightly different heights)."""
    return max(line.box[3] - line.box[1] for line in row)


def stacked(
    a: tuple[float, float, float, float], b: tuple[float, float, float, float], ha: float | None = None, hb: float | None = None
) -> bool:
    """Are rows ``a`` and ``b`` (boxes; line heights ``ha``/``hb``, else the boxes') one above the other in one block?"""
    ha = a[3] - a[1] if ha is None else ha
    hb = b[3] - b[1] if hb is None else hb
    if min(ha, hb) <= 0 or max(ha, hb) > HEIGHT_RATIO * min(ha, hb):
        return False
    h = max(ha, hb)
    upper, lower = (a, b) if a[1] <= b[1] else (b, a)
    gap = lower[1] - upper[3]
    if not -0.5 * min(ha, hb) <= gap <= ROW_SPACING * h:
        return False  # side by side on one row, or too far apart
    return abs(a[0] - b[0]) <= ALIGN * h or abs(a[2] - b[2]) <= ALIGN * h


def blocks(rows: Sequence[Sequence[Line]]) -> list[list[int]]:
    """The indices of ``rows`` grouped into blocks (chains of :func:`stacked` rows), each sorted."""
    boxes = [_box(row) for row in rows]
    heights = [_height(row) for row in rows]
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            if stacked(boxes[i], boxes[j], heights[i], heights[j]):
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(rows)):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values())


#: Field captions written without a colon ("D.O.B. 06.12.1962", "DOB 06/12/1962").
_CAPTIONS = frozenset({"dob", "name", "patient", "id", "mrn", "acc", "accession", "age", "sex", "date", "time", "ref", "dr"})


def reading_rows(lines: list[Line]) -> list[list[Line]]:
    """The rows of ``lines`` (:func:`~openmaker.deid.redact.text_rows`) in reading order, block by
    block: each block's rows top to bottom, the blocks in the order the OCR found them. A name and
    its initial wrapped onto the next line are then next to each other in the text, even when a row
    of another corner lies between them in height."""
    rows = text_rows(lines)
    ordered = []
    for block in blocks(rows):
        ordered += sorted((rows[i] for i in block), key=lambda row: _box(row)[1])
    return ordered


def _caption(word: Word) -> bool:
    return word.text.rstrip().endswith(":")


def block_entities(
    entities: list[dict], rows: Sequence[Sequence[Line]], spans: Sequence[tuple[int, int, Word]], text: str
) -> list[dict]:
    """``entities`` plus, in every block holding a sure entity, each word no entity covers that is
    neither technical nor a caption (``Type`` NAME, or ID when it holds a digit; ``Score``
    :data:`BLOCK_SCORE`). ``rows`` (:func:`reading_rows`), ``spans`` and ``text`` as :func:`~openmaker.deid.redact.ocr_text` made them."""
    from openmaker.deid.phi import is_technical

    row_of = {id(w): r for r, row in enumerate(rows) for line in row for w in line.words}
    taken = [(e["BeginOffset"], e["EndOffset"]) for e in entities]

    def covered(begin: int, end: int) -> bool:
        return any(b < end and begin < e for b, e in taken)

    sure_rows = _sure_rows(entities, rows, spans)
    extra = []
    for block in blocks(rows):
        if not sure_rows.intersection(block):
            continue
        members = set(block)
        for begin, end, word in spans:
            if row_of.get(id(word)) not in members or covered(begin, end):
                continue
            if _caption(word) or is_technical(word.text) or word.text.strip(".:#").lower().replace(".", "") in _CAPTIONS:
                continue
            kind = "ID" if any(ch.isdigit() for ch in word.text) else "NAME"
            extra.append(extra_entity(begin, end, text, kind, BLOCK_SCORE))
    return with_entities(entities, extra)


#: Least indent (line heights) of a PHI row against the aligned edge of the block row next to
#: it for the space between to count as unread text of that row.
INDENT = 3.0


def _sure_rows(entities: list[dict], rows: Sequence[Sequence[Line]], spans: Sequence[tuple[int, int, Word]]) -> set[int]:
    """Indices of ``rows`` holding a word of a sure entity (:data:`SURE_TYPES`, :data:`SURE_SCORE`)."""
    row_of = {id(w): r for r, row in enumerate(rows) for line in row for w in line.words}
    sure = [e for e in entities if e["Type"] in SURE_TYPES and float(e["Score"]) >= SURE_SCORE and not e.get("Traits")]
    return {
        row_of[id(word)]
        for begin, end, word in spans
        if id(word) in row_of and any(e["BeginOffset"] < end and begin < e["EndOffset"] for e in sure)
    }


def _aligned(block: Sequence[int], boxes: Sequence[tuple[float, float, float, float]], heights: Sequence[float], side: int) -> bool:
    """Do two or more rows of ``block`` share their left (``side`` 0) or right (``side`` 2) edge?"""
    edges = sorted(boxes[i][side] for i in block)
    h = max(heights[i] for i in block)
    return any(b - a <= ALIGN * h for a, b in zip(edges, edges[1:]))


def unread_row_parts(
    entities: list[dict], rows: Sequence[Sequence[Line]], spans: Sequence[tuple[int, int, Word]]
) -> list[tuple[float, float, float, float]]:
    """Boxes of the part of a PHI row its OCR did not read, from the aligned block it hangs under or over.

    A row right under (or over) a row with sure PHI of a left-aligned block, inside
    that row's extent but starting :data:`INDENT` line heights or more right of its left edge (or,
    in a right-aligned block, ending that far left of its right edge): "endan, NC 26068" read under
    "Ref. Phys: KING, MICHAEL", where "865 Kevin Trafficway, New Br" crosses from an ultrasound's
    bright ring onto the black around it and is read by nothing. The space between the block's edge
    and the row is redacted unless a word read there says what it holds.
    """
    sure = _sure_rows(entities, rows, spans)
    boxes = [_box(row) for row in rows]
    heights = [_height(row) for row in rows]
    block_of = {i: block for block in blocks(rows) for i in block}
    words = [w.box for row in rows for line in row for w in line.words]
    out = []
    for r in range(len(rows)):
        x0, y0, x1, y1 = boxes[r]
        # A row without sure PHI of its own may be the read end of an id or a date whose head is
        # not read ("9925" of "Accession: 23529925"): its first (last) word joins the part when a number.
        first, last = rows[r][0].words[:1], rows[r][-1].words[-1:]
        for n in sorted(sure):
            block = block_of[n]
            if n == r or r in block or len(block) < 2:
                continue
            a0, b0, a1, b1 = boxes[n]
            h = max(heights[r], heights[n])
            if h > HEIGHT_RATIO * min(heights[r], heights[n]):
                continue
            gap = y0 - b1 if b0 < y0 else b0 - y1
            if not -0.5 * min(heights[r], heights[n]) <= gap <= ROW_SPACING * h:
                continue
            head, tail = None, None
            if _aligned(block, boxes, heights, 0) and x0 - a0 >= INDENT * h and x0 < a1:
                head = (a0, y0, x0, y1)
            if _aligned(block, boxes, heights, 2) and a1 - x1 >= INDENT * h and x1 > a0:
                tail = (x1, y0, a1, y1)
            for part, ends in ((head, first), (tail, last)):
                if part is None or any(_inside(w, part) for w in words):
                    continue
                if r not in sure and ends and _number(ends[0].text):
                    e = ends[0].box
                    part = (min(part[0], e[0]), part[1], max(part[2], e[2]), part[3])
                out.append(part)
    return out


def _number(text: str) -> bool:
    """Digits and separators only, two digits or more ("9925", "4894", "03/14"), not "L12-5"."""
    return re.fullmatch(r"\d[\d/.:,-]*", text.strip()) is not None and sum(ch.isdigit() for ch in text) >= 2


def _inside(word: tuple[float, float, float, float], part: tuple[float, float, float, float]) -> bool:
    """Does ``word`` lie (mostly) in ``part``?"""
    w = max(0.0, min(word[2], part[2]) - max(word[0], part[0]))
    v = max(0.0, min(word[3], part[3]) - max(word[1], part[1]))
    return w * v >= 0.5 * max((word[2] - word[0]) * (word[3] - word[1]), 1.0)
