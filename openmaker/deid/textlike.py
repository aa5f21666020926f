"""A classical detector of text-like regions: faint and small text that OCR's detector never outlines.

RapidOCR's DBNet detector misses glyphs under about 10 px high at low
contrast (under about 0.15), and now and then a whole plainly readable line.
This finds text the way text looks, without reading it:

1. stroke energy: the squared horizontal gradient (the vertical strokes of
   glyphs) of the lightly smoothed luminance, pooled over about a glyph's
   width along the row;
2. text-like pixels: energy well above the background floor of their 64 px
   tile (a low percentile, so sparse text does not raise it), above an
   absolute floor, and not dominated by horizontal edges;
3. lines: connected runs of such pixels 5-40 px high and at least 1.5 times
   as wide as high, mostly filled (a row of glyphs, not a scattered texture);
   a second pass at half the energy thresholds adds the faintest rows (7-10 px
   glyphs at contrasts under 0.1), which the same shape tests keep from texture.

``process`` redacts the lines that no word read by the OCR explains: a line
mostly covered by read words was read, and the PHI detector has already
decided on it (technical text stays kept); one that is not was either never
outlined or read too wrongly to classify, and cannot be shown not to be PHI.
Unexplained pieces of one row a few glyph heights apart, with no read word
between them, are joined: a faint row is often found only in pieces.
Everything is NumPy and OpenCV on the whole frame, about 30 ms for 1024x1024.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Glyph heights (pixels) the detector looks for; larger text is left to the OCR, which reads it.
MIN_GLYPH = 5
MAX_GLYPH = 40
#: Gaussian smoothing (sigma, px) before the gradients: grain is not stroke.
SMOOTH = 0.8
#: Stroke energy is pooled over this window (px): about a glyph's width along the row, a few rows high.
POOL_X = 7
POOL_Y = 3
#: A pixel is text-like when its vertical-stroke energy is this many times its tile's background floor ...
SNR = 8.0
#: ... above an absolute floor, and not dominated by horizontal edges (an organ's outline, a ruler).
MIN_ENERGY = 400.0
#: A second, fainter pass (7-10 px glyphs at contrasts under 0.1 give about half the energy).
SNR_FAINT = 4.0
MIN_ENERGY_FAINT = 200.0
#: Unexplained pieces of one row this many glyph heights apart are joined (the gap is faint text too).
BRIDGE_GAP = 6.0
#: The background floor: this percentile of a 64 px tile's energy (text is sparse in a tile).
FLOOR_PERCENTILE = 40
#: Read words explain this many region heights beyond their boxes, left and right.
EXPLAIN_PAD = 0.4


@dataclass
class TextRegion:
    """A row of text-like strokes; ``box`` is ``(x0, y0, x1, y1)`` in pixels (exclusive), ``height`` its glyphs'."""

    box: tuple[int, int, int, int]
    height: float


def luminance(frame: np.ndarray) -> np.ndarray:
    """8-bit luminance of an RGB or greyscale frame."""
    import cv2

    if frame.ndim == 2:
        return frame.astype(np.uint8, copy=False)
    return cv2.cvtColor(np.ascontiguousarray(frame[..., :3]), cv2.COLOR_RGB2GRAY)


def text_regions(frame: np.ndarray) -> list[TextRegion]:
    """Text-like lines of ``frame`` (uint8, ``(H, W)`` or ``(H, W, 3)``)."""
    import cv2

    gray = luminance(frame).astype(np.float32)
    smooth = cv2.GaussianBlur(gray, (0, 0), SMOOTH)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    # Stroke energy: vertical strokes (x gradient) pooled along the row, over a glyph's width.
    ex = cv2.blur(gx * gx, (POOL_X, POOL_Y))
    ey = cv2.blur(gy * gy, (POOL_X, POOL_Y))
    floor = _tile_floor(ex)
    strokes = ex > 0.25 * ey
    out: list[TextRegion] = []
    for snr, min_energy in ((SNR, MIN_ENERGY), (SNR_FAINT, MIN_ENERGY_FAINT)):
        mask = ((ex > snr * floor) & (ex > min_energy) & strokes).astype(np.uint8)
        out += _rows(mask)
    return out


def _rows(mask: np.ndarray) -> list[TextRegion]:
    """The connected runs of ``mask`` shaped like a row of glyphs."""
    import cv2

    _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out: list[TextRegion] = []
    for x, y, w, h, area in stats[1:]:
        core_h = h - (POOL_Y - 1)
        core_w = w - (POOL_X - 1)
        if not MIN_GLYPH <= core_h <= MAX_GLYPH or core_w < 1.5 * core_h:
            continue
        if area < 0.45 * w * h:
            continue
        box = (int(x + POOL_X // 2), int(y + POOL_Y // 2), int(x + w - POOL_X // 2), int(y + h - POOL_Y // 2))
        out.append(TextRegion(box, float(core_h)))
    return out


def _tile_floor(energy: np.ndarray, tile: int = 64) -> np.ndarray:
    """Per-pixel background energy: a low percentile of each tile (text is sparse), interpolated."""
    import cv2

    h, w = energy.shape
    th, tw = -(-h // tile), -(-w // tile)
    pad = np.empty((th * tile, tw * tile), np.float32)
    pad[:h, :w] = energy
    pad[h:, :w] = energy[-1:, :] if h < th * tile else 0
    pad[:, w:] = pad[:, w - 1 : w] if w < tw * tile else 0
    tiles = pad.reshape(th, tile, tw, tile).transpose(0, 2, 1, 3).reshape(th, tw, -1)
    low = np.percentile(tiles, FLOOR_PERCENTILE, axis=2).astype(np.float32)
    low = cv2.erode(low, np.ones((3, 3), np.uint8))  # a text-heavy tile borrows its neighbours' floor
    return cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR) + 1.0


def unexplained(
    regions: list[TextRegion], explained: list[tuple[float, float, float, float]], min_run: float = 0.8
) -> list[tuple[int, int, int, int]]:
    """The parts of ``regions`` that no box of ``explained`` accounts for, as ``(x0, y0, x1, y1)``.

    ``explained``: boxes of words the OCR read (any view, any confidence: what it
    read, the PHI detector has decided on) and of redactions already made. A box
    explains the columns of a region it spans when it overlaps the region's rows
    by half the region's height and is not much taller than it (a huge box
    around an ultrasound sector is no word). What is left of a region in runs at
    least ``min_run`` glyph heights wide is returned, one box per run.
    """
    out: list[tuple[int, int, int, int]] = []
    for region in regions:
        x0, y0, x1, y1 = region.box
        height = max(y1 - y0, 1)
        covered = np.zeros(max(x1 - x0, 0), bool)
        for a, b, c, d in explained:
            if c <= x0 or a >= x1 or d - b > 3.0 * height + 6:
                continue
            if min(d, y1) - max(b, y0) < 0.5 * height:
                continue
            # OCR word boxes are estimates that can stop short of the glyphs, and the space between two
            # read words is no text of its own: a box explains a little more than itself.
            pad = EXPLAIN_PAD * height
            covered[max(int(np.floor(a - pad)) - x0, 0) : max(int(np.ceil(c + pad)) - x0, 0)] = True
        if covered.all():
            continue
        # Runs of uncovered columns.
        edges = np.flatnonzero(np.diff(np.concatenate([[1], covered.astype(np.int8), [1]])))
        for start, stop in zip(edges[::2], edges[1::2]):
            if stop - start >= min_run * height:
                out.append((x0 + int(start), y0, x0 + int(stop), y1))
    return _bridge(out, explained)


def _bridge(boxes: list[tuple[int, int, int, int]], explained) -> list[tuple[int, int, int, int]]:
    """Join unexplained runs of one row across a gap no read word lies in (up to ``BRIDGE_GAP`` heights):
    the detector finds a faint row only in pieces, and what lies between them is the same row of text."""
    boxes = sorted(set(boxes))
    joined = list(boxes)
    for i, (a0, b0, a1, b1) in enumerate(boxes):
        ha = b1 - b0
        for c0, d0, c1, d1 in boxes[i + 1 :]:
            hc = d1 - d0
            gap = c0 - a1
            if gap <= 0 or gap > BRIDGE_GAP * max(ha, hc) or max(ha, hc) > 1.6 * min(ha, hc):
                continue
            if min(b1, d1) - max(b0, d0) < 0.5 * min(ha, hc):
                continue
            top, bottom = min(b0, d0), max(b1, d1)
            tall = 3.0 * (bottom - top) + 6  # a huge box around an ultrasound sector is no word
            if any(
                x0 < c0 and a1 < x1 and min(y1, bottom) - max(y0, top) > 0 and y1 - y0 <= tall
                for x0, y0, x1, y1 in explained
            ):
                continue
            joined.append((a1, top, c0, bottom))
    return joined
