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

    sure_rows = set()
    for begin, end, word in spans:
        for e in entities:
            sure = e["Type"] in SURE_TYPES and float(e["Score"]) >= SURE_SCORE and not e.get("Traits")
            if sure and e["BeginOffset"] < end and begin < e["EndOffset"]:
                sure_rows.add(row_of.get(id(word)))
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
