"""From OCR lines and PHI entities to filled rectangles.

The OCR lines are joined into one text (words by spaces, lines by newlines)
that the PHI detector reads; each word keeps its character span, so an
entity's ``BeginOffset``/``EndOffset`` lead back to the words it covers. A
word is redacted when its span overlaps a kept entity's; its box is padded
(OCR word boxes sit a few pixels inside the glyphs) and clipped to the image.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np

from openmaker.deid.ocr import Line, Word

#: Padding around a word box, as fractions of the word's height plus ``PAD_MIN`` pixels. Sideways
#: more: RapidOCR's word boxes come from character positions and can cut into the first and last
#: glyphs; its box height already spans the line, and annotation lines are often packed tight.
PAD_X = 0.25
PAD_Y = 0.1
PAD_MIN = 3
#: A time read without its minutes ("13:") is redacted this many of its heights further right.
DANGLING_MINUTES = 1.2
#: Pixels the sideways padding may still reach into a kept word of the same line.
SIDE_OVERLAP = 2


@dataclass
class Redaction:
    """One redacted word box (pixels, ``x1``/``y1`` exclusive), with what it was found to be."""

    type: str
    score: float
    box: tuple[int, int, int, int]

    def as_report(self) -> dict:
        x0, y0, x1, y1 = self.box
        return {
            "type": self.type,
            "score": round(self.score, 4),
            "box": {"left": x0, "top": y0, "width": x1 - x0, "height": y1 - y0},
        }


#: Two OCR lines on one row are one run of text when the gap between them is at most this many
#: line heights (a word space is about 0.3): RapidOCR sometimes cuts a phrase in two ("20 Mar" |
#: "2010 07:28"), and the halves must reach the PHI detector together.
JOIN_GAP = 0.8


def _same_run(a: Line, b: Line) -> bool:
    """Does ``b`` continue ``a`` on the same row, just to its right?"""
    ha, hb = a.box[3] - a.box[1], b.box[3] - b.box[1]
    h = min(ha, hb)
    if h <= 0 or max(ha, hb) > 1.8 * h:
        return False
    overlap = min(a.box[3], b.box[3]) - max(a.box[1], b.box[1])
    gap = b.box[0] - a.box[2]
    return overlap >= 0.6 * h and -0.8 * h <= gap <= JOIN_GAP * h and b.box[2] > a.box[2]


def text_rows(lines: list[Line]) -> list[list[Line]]:
    """The read lines chained into runs of text: each run's lines in reading order, runs in
    the order of their first line. A line continues at most one other, the nearest."""
    read = [line for line in lines if not line.unread and line.words]
    after: dict[int, int] = {}
    taken: set[int] = set()
    for i, a in enumerate(read):
        nexts = [j for j, b in enumerate(read) if j != i and j not in taken and _same_run(a, b)]
        if nexts:
            j = min(nexts, key=lambda j: read[j].box[0])
            after[i] = j
            taken.add(j)
    rows = []
    for i in range(len(read)):
        if i in taken:
            continue
        row, k, seen = [read[i]], i, {i}
        while k in after and after[k] not in seen:
            k = after[k]
            seen.add(k)
            row.append(read[k])
        rows.append(row)
    return rows


def ocr_text(lines: list[Line]) -> tuple[str, list[tuple[int, int, Word]]]:
    """The text the PHI detector reads, and ``(begin, end, word)`` for every word in it (in line order).

    Lines that continue each other on one row (:func:`text_rows`) are one line of the text, and
    rows come block by block (:func:`openmaker.deid.blocks.reading_rows`).
    """
    from openmaker.deid.blocks import reading_rows

    parts: list[str] = []
    spans: list[tuple[int, int, Word]] = []
    pos = 0
    for i, row in enumerate(reading_rows(lines)):
        if i:
            parts.append("\n")
            pos += 1
        for j, word in enumerate(w for line in row for w in line.words):
            if j:
                parts.append(" ")
                pos += 1
            parts.append(word.text)
            spans.append((pos, pos + len(word.text), word))
            pos += len(word.text)
    return "".join(parts), spans


def extra_entity(begin: int, end: int, text: str, type_: str, score: float, low_confidence: bool = False) -> dict:
    """A ``DetectPHI`` entity for ``text[begin:end]`` found by the image pipeline (not the text detector)."""
    traits = [{"Name": "LOW_CONFIDENCE", "Score": score}] if low_confidence else []
    return {
        "Id": 0, "BeginOffset": begin, "EndOffset": end, "Score": score, "Text": text[begin:end],
        "Category": "PROTECTED_HEALTH_INFORMATION", "Type": type_, "Traits": traits,
    }  # fmt: skip


def with_entities(entities: list[dict], extra: list[dict]) -> list[dict]:
    """``entities`` and ``extra`` in offset order, numbered again (``Id``)."""
    if not extra:
        return entities
    merged = sorted(entities + extra, key=lambda e: e["BeginOffset"])
    for i, entity in enumerate(merged):
        entity["Id"] = i
    return merged


def pad_box(box, width: int, height: int) -> tuple[int, int, int, int]:
    """``box`` grown by the redaction padding and clipped to the image, as integer pixels."""
    x0, y0, x1, y1 = box
    h = max(y1 - y0, 1.0)
    pad_x, pad_y = PAD_MIN + PAD_X * h, PAD_MIN + PAD_Y * h
    return (
        max(0, int(np.floor(x0 - pad_x))),
        max(0, int(np.floor(y0 - pad_y))),
        min(width, int(np.ceil(x1 + pad_x))),
        min(height, int(np.ceil(y1 + pad_y))),
    )


def redactions_for(
    entities: list[dict], spans: list[tuple[int, int, Word]], width: int, height: int, threshold: float
) -> list[Redaction]:
    """The padded boxes of every word overlapping an entity with ``Score >= threshold``."""
    kept = [e for e in entities if float(e["Score"]) >= threshold]
    hits: list[tuple[int, int, Word, dict] | None] = []
    for begin, end, word in spans:
        found = [e for e in kept if e["BeginOffset"] < end and begin < e["EndOffset"]]
        hits.append((begin, end, word, max(found, key=lambda e: float(e["Score"]))) if found else None)
    _take_stray_letters(hits, spans)
    # Only words read surely and long enough to matter: a stray fragment must not shrink a box.
    kept_words = [
        span[2].box for span, hit in zip(spans, hits) if hit is None and span[2].confidence >= 80 and len(span[2].text) >= 2
    ]
    out: list[Redaction] = []
    for run in _runs(hits):
        # Neighbouring redacted words of one line become one box: OCR's word boxes are estimates,
        # and a gap between them can show the edge of a glyph.
        x0 = min(h[2].box[0] for h in run)
        y0 = min(h[2].box[1] for h in run)
        x1 = max(h[2].box[2] for h in run)
        y1 = max(h[2].box[3] for h in run)
        best = max((h[3] for h in run), key=lambda e: float(e["Score"]))
        if run[-1][3]["Type"] == "DATE" and run[-1][2].text.endswith(":"):
            # "13:" - a time whose minutes the OCR could not read: they follow, too faint or cut
            x1 += DANGLING_MINUTES * (y1 - y0)
        box = _spare(pad_box((x0, y0, x1, y1), width, height), (x0, y0, x1, y1), kept_words)
        if box[2] > box[0] and box[3] > box[1]:
            out.append(Redaction(best["Type"], float(best["Score"]), box))
    return out


#: Two redactions on one row this close (in heights of the lower one) become one box: what lies
#: between them is the edge of a glyph that neither reached (faint text is found in pieces).
ROW_GAP = 0.8


def _row_neighbours(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    ha, hb = a[3] - a[1], b[3] - b[1]
    h = min(ha, hb)
    if h <= 0 or max(ha, hb) > 2.5 * h:
        return False
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    gap = max(a[0], b[0]) - min(a[2], b[2])
    return overlap >= 0.5 * h and gap <= ROW_GAP * h


def join_row_neighbours(redactions: list[Redaction]) -> list[Redaction]:
    """``redactions`` with boxes close together on one row merged into their union (the more
    certain one's type and score), until no two are; other boxes unchanged, in order."""
    out = list(redactions)
    merged = True
    while merged:  # a union can reach a box it did not reach before: pass again until none does
        merged = False
        i = 0
        while i < len(out):
            j = i + 1
            while j < len(out):
                a, b = out[i], out[j]
                if a.box != b.box and _row_neighbours(a.box, b.box):
                    best = a if a.score >= b.score else b
                    box = (min(a.box[0], b.box[0]), min(a.box[1], b.box[1]), max(a.box[2], b.box[2]), max(a.box[3], b.box[3]))
                    out[i] = Redaction(best.type, best.score, box)
                    del out[j]
                    merged = True
                else:
                    j += 1
            i += 1
    return out


def _spare(box, core, kept_words) -> tuple[int, int, int, int]:
    """Pull the padding back where it would reach into a word that is kept (tight annotation lines)."""
    x0, y0, x1, y1 = box
    cx0, cy0, cx1, cy1 = core
    for kx0, ky0, kx1, ky1 in kept_words:
        if kx0 < cx1 and cx0 < kx1:  # overlaps horizontally: a line above or below
            if ky0 >= cy0 + 0.5 * (cy1 - cy0) and y1 > ky0:
                y1 = max(int(np.ceil(cy1)), int(np.floor(ky0)))
            elif ky1 <= cy1 - 0.5 * (cy1 - cy0) and y0 < ky1:
                y0 = min(int(np.floor(cy0)), int(np.ceil(ky1)))
        elif min(ky1, cy1) - max(ky0, cy0) >= 0.5 * min(ky1 - ky0, cy1 - cy0):  # same line: left or right
            # Word boxes of one line are estimates from character positions: the boundary between
            # two words is uncertain by a pixel or two, so the padding may reach that far into the kept word.
            if kx0 >= cx1 and x1 > kx0 + SIDE_OVERLAP:
                x1 = max(int(np.ceil(cx1)), int(np.floor(kx0)) + SIDE_OVERLAP)
            elif kx1 <= cx0 and x0 < kx1 - SIDE_OVERLAP:
                x0 = min(int(np.floor(cx0)), int(np.ceil(kx1)) - SIDE_OVERLAP)
    return x0, y0, x1, y1


#: A one-character word at most this many heights from a redacted word of its line is a piece of it.
STRAY_GAP = 0.6


#: A capital letter at most this many heights from a redacted name of its line is an initial of
#: it: "FRANK V", "Rachel H" (a word space wider than :data:`STRAY_GAP`).
INITIAL_GAP = 1.2


def _take_stray_letters(hits: list, spans: list[tuple[int, int, Word]]) -> None:
    """Redact, with its neighbour, a lone letter or digit OCR split off a redacted word: the "C" of
    "CLIN C" (CLINIC), the "N" of "JESSETOW N"; and a name's initial beside it. Changes ``hits`` in place."""
    for i, (begin, end, word) in enumerate(spans):
        if hits[i] is not None or sum(ch.isalnum() for ch in word.text) != 1:
            continue
        initial = re.fullmatch(r"[A-Z]\.?", word.text) is not None
        for j in (i - 1, i + 1):
            if not (0 <= j < len(spans) and hits[j] is not None):
                continue
            gap = INITIAL_GAP if initial and hits[j][3]["Type"] == "NAME" else STRAY_GAP
            if _touching(spans[min(i, j)], spans[max(i, j)], gap):
                hits[i] = (begin, end, word, hits[j][3])
                break
        if hits[i] is None and initial:
            # An initial read as a line of its own ("B" of "B. BURTON", its dot too faint to read)
            # need not sit next to the name in the text: look beside it on the image.
            for hit in hits:
                if hit is not None and hit[3]["Type"] == "NAME" and _beside(word.box, hit[2].box, INITIAL_GAP):
                    hits[i] = (begin, end, word, hit[3])
                    break


def _touching(a: tuple[int, int, Word], b: tuple[int, int, Word], gap: float = STRAY_GAP) -> bool:
    """Are words ``a`` and ``b`` (in text order) neighbours on one line, less than ``gap`` heights apart?"""
    if b[0] != a[1] + 1:
        return False
    ba, bb = a[2].box, b[2].box
    h = max(ba[3] - ba[1], bb[3] - bb[1], 1.0)
    same_row = abs((ba[1] + ba[3]) - (bb[1] + bb[3])) < h
    return same_row and -2 <= bb[0] - ba[2] <= gap * h


def _beside(a, b, gap: float) -> bool:
    """Are boxes ``a`` and ``b`` on one row, either left of the other by less than ``gap`` heights?"""
    h = max(a[3] - a[1], b[3] - b[1], 1.0)
    if abs((a[1] + a[3]) - (b[1] + b[3])) >= h:
        return False
    return -2 <= max(b[0] - a[2], a[0] - b[2]) <= gap * h


def _runs(hits):
    """Consecutive redacted words of the same line that sit close together (gap under two heights)."""
    run: list = []
    for hit in hits + [None]:
        if hit is not None and run:
            last = run[-1][2].box
            box = hit[2].box
            height = max(last[3] - last[1], box[3] - box[1], 1.0)
            same_line = hit[0] == run[-1][1] + 1 and abs((box[1] + box[3]) - (last[1] + last[3])) < height
            if same_line and 0 <= box[0] - last[2] + 2 and box[0] - last[2] < 2 * height:
                run.append(hit)
                continue
        if run:
            yield run
        run = [hit] if hit is not None else []


def draw(frame: np.ndarray, boxes, color: tuple[int, int, int]) -> np.ndarray:
    """A copy of ``frame`` with every ``(x0, y0, x1, y1)`` box filled with ``color``."""
    out = np.array(frame, copy=True)
    for x0, y0, x1, y1 in boxes:
        out[y0:y1, x0:x1] = color
    return out


def parse_color(value: str | tuple[int, int, int]) -> tuple[int, int, int]:
    """A colour name (``red``), ``#rrggbb`` or an RGB triple; ``ValueError`` naming the value otherwise."""
    if isinstance(value, (tuple, list)):
        if len(value) == 3 and all(isinstance(c, int) and 0 <= c <= 255 for c in value):
            return tuple(value)  # type: ignore[return-value]
        raise ValueError(f"colour {value!r} is not three integers 0..255")
    from PIL import ImageColor

    try:
        rgb = ImageColor.getrgb(str(value).strip())
    except ValueError:
        raise ValueError(f"unknown colour {value!r}: use a name such as red or black, or #rrggbb") from None
    return tuple(rgb[:3])  # type: ignore[return-value]


def encode_png(frame: np.ndarray, dpi: int) -> bytes:
    """``frame`` as PNG bytes carrying ``dpi`` in its pHYs chunk."""
    from PIL import Image

    buffer = io.BytesIO()
    # compress_level 1: a tenth of the default's encoding time for files about a fifth larger.
    Image.fromarray(frame).save(buffer, format="PNG", dpi=(dpi, dpi), compress_level=1)
    return buffer.getvalue()
