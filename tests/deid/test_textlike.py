"""The classical text-region detector (``textlike``): faint, small text that OCR's detector never outlines."""

from __future__ import annotations

import numpy as np
import pytest

from openmaker.deid.textlike import TextRegion, text_regions, unexplained

from tests.deid.conftest import FONT, encode

TEXT_AT = (20, 30)


def _scan(text: str | None, delta: float = 28.0, noise: float = 4.0, font_px: int = 10) -> tuple[np.ndarray, tuple]:
    """A noisy greyscale 'scan' with an organ-like ellipse, and ``text`` drawn faintly (8 px glyphs)."""
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(7)
    h, w = 320, 480
    yy, xx = np.mgrid[:h, :w]
    background = np.full((h, w), 70.0) + rng.normal(0, noise, (h, w))
    background += 60.0 * ((((yy - 200) / 90.0) ** 2 + ((xx - 300) / 120.0) ** 2) < 1)
    alpha = np.zeros((h, w))
    box = None
    if text:
        layer = Image.new("L", (w, h), 0)
        ImageDraw.Draw(layer).text(TEXT_AT, text, fill=255, font=ImageFont.truetype(str(FONT), font_px))
        alpha = np.asarray(layer) / 255.0
        ys, xs = np.nonzero(alpha > 0.06)
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    grey = np.clip(background * (1 - alpha) + alpha * (70.0 + delta), 0, 255).astype(np.uint8)
    return np.stack([grey] * 3, axis=-1), box


def _covered(boxes, box) -> float:
    x0, y0, x1, y1 = box
    mask = np.zeros((y1 - y0, x1 - x0), bool)
    for a, b, c, d in boxes:
        mask[max(b - y0, 0) : max(d - y0, 0), max(a - x0, 0) : max(c - x0, 0)] = True
    return float(mask.mean())


@pytest.mark.skipif(not FONT.is_file(), reason="needs DejaVu Sans")
def test_faint_small_text_is_found_as_a_line():
    frame, box = _scan("SMITH, JOHN")
    assert box[3] - box[1] < 10  # glyphs under 10 px high
    regions = text_regions(frame)
    assert regions, "no text-like region found"
    assert _covered([r.box for r in regions], box) > 0.6  # unpadded: the box of the ink is a pixel larger
    for region in regions:  # nothing but the text line
        x0, y0, x1, y1 = region.box
        assert box[0] - 4 <= x0 and x1 <= box[2] + 4 and box[1] - 4 <= y0 and y1 <= box[3] + 4


def test_a_clean_region_without_text_has_no_text_regions():
    frame, _ = _scan(None)
    assert text_regions(frame) == []
    flat = np.full((256, 256, 3), 30, np.uint8)
    assert text_regions(flat) == []
    # A smooth gradient and a hard edge are no text either.
    ramp = np.tile(np.linspace(0, 255, 256, dtype=np.float32), (256, 1)).astype(np.uint8)
    assert text_regions(ramp) == []
    edge = np.zeros((256, 256), np.uint8)
    edge[128:, :] = 200
    assert text_regions(edge) == []


def test_unexplained_keeps_what_read_words_cover_and_returns_the_rest():
    region = TextRegion((100, 50, 300, 60), 10.0)
    assert unexplained([region], [(98, 49, 302, 61)]) == []
    # Words read on the left half: the right half is left, one run.
    left = unexplained([region], [(100, 50, 190, 60)])
    assert len(left) == 1 and 190 < left[0][0] < 200 and left[0][2] == 300
    # A word box much taller than the line (a sector outlined as one letter) explains nothing.
    assert unexplained([region], [(0, 0, 400, 400)]) == [region.box]
    # A sliver narrower than a glyph is the edge of a read word, not text of its own.
    assert unexplained([region], [(100, 50, 294, 60)]) == []


@pytest.mark.skipif(not FONT.is_file(), reason="needs DejaVu Sans")
def test_faint_text_the_ocr_misses_is_redacted_by_default(detector):
    from openmaker.deid.process import DeidOptions, deidentify_image, enhanced

    frame, box = _scan("SMITH, JOHN")
    # RapidOCR reads none of it, on the frame or on its CLAHE view.
    for view in (frame, enhanced(frame)):
        for line in detector.detect(view):
            assert "SMITH" not in line.text and "JOHN" not in line.text
    data = encode(frame)
    result = deidentify_image(data, "faint.png", DeidOptions(), detector)
    redactions = result.frames[0].redactions
    assert _covered([r.box for r in redactions], box) >= 0.95
    x0, y0, x1, y1 = box
    assert (result.frames[0].redacted[y0:y1, x0:x1] == (255, 0, 0)).all(axis=-1).mean() >= 0.95
    # Nothing else of the image is covered: the ellipse and the noise stay.
    assert all(r.box[1] < box[3] + 8 for r in redactions)
    off = deidentify_image(data, "faint.png", DeidOptions(faint_text=False), detector)
    assert _covered([r.box for r in off.frames[0].redactions], box) < 0.5


def test_technical_text_the_ocr_read_stays(detector):
    from PIL import Image, ImageDraw, ImageFont

    from openmaker.deid.process import DeidOptions, deidentify_image

    image = Image.new("RGB", (480, 200), (0, 0, 0))
    font = ImageFont.truetype(str(FONT), 18) if FONT.is_file() else ImageFont.load_default(18)
    ImageDraw.Draw(image).text((20, 140), "kVp 120  mAs 250", fill=(255, 255, 255), font=font)
    result = deidentify_image(encode(np.asarray(image)), "tech.png", DeidOptions(), detector)
    assert result.frames[0].redactions == []


@pytest.mark.skipif(not FONT.is_file(), reason="needs DejaVu Sans")
def test_the_faint_pass_finds_text_at_half_the_contrast(monkeypatch):
    import openmaker.deid.textlike as textlike

    frame, box = _scan("SMITH, JOHN", delta=20.0)
    assert _covered([r.box for r in text_regions(frame)], box) > 0.6
    monkeypatch.setattr(textlike, "SNR_FAINT", textlike.SNR)
    monkeypatch.setattr(textlike, "MIN_ENERGY_FAINT", textlike.MIN_ENERGY)
    assert text_regions(frame) == []  # the first pass alone misses it
    # ... and the fainter pass still finds nothing in noise and an organ's outline.
    monkeypatch.undo()
    assert text_regions(_scan(None)[0]) == []


def test_pieces_of_one_unexplained_row_are_joined_across_an_unread_gap():
    pieces = [TextRegion((20, 20, 31, 26), 6.0), TextRegion((67, 20, 146, 27), 7.0)]
    boxes = unexplained(pieces, [])
    assert (31, 20, 67, 27) in boxes  # the gap between them is redacted too
    # Not across a word the OCR read (it was decided on), nor across a wide gap or to another row.
    assert (31, 20, 67, 27) not in unexplained(pieces, [(40, 19, 60, 28)])
    far = [TextRegion((20, 20, 31, 26), 6.0), TextRegion((120, 20, 160, 27), 7.0)]
    assert len(unexplained(far, [])) == 2
    rows = [TextRegion((20, 20, 31, 26), 6.0), TextRegion((40, 40, 80, 47), 7.0)]
    assert len(unexplained(rows, [])) == 2
    # A huge box around an ultrasound sector is no read word: the gap is still joined.
    assert (31, 20, 67, 27) in unexplained(pieces, [(0, 0, 900, 700)])
