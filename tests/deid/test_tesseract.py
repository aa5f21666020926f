"""The optional second OCR engine (Debian's tesseract-ocr), its TSV parsing and its place in the pipeline."""

from __future__ import annotations

import os

import pytest

from openmaker.deid.tesseract import available, parse_tsv
from tests.deid.conftest import PHI_LINES, encode, render

TSV = (
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
    "1\t1\t0\t0\t0\t0\t0\t0\t664\t504\t-1\t\n"
    "5\t1\t1\t1\t1\t1\t22\t22\t60\t20\t96.5\tDOE,\n"
    "5\t1\t1\t1\t1\t2\t90\t22\t70\t20\t91.0\tJOHN\n"
    "5\t1\t2\t1\t1\t1\t600\t490\t40\t20\t30.0\tedge\n"
    "5\t1\t3\t1\t1\t1\t5\t5\t3\t3\t50.0\t \n"
)


def test_tsv_words_become_lines_in_image_coordinates():
    lines = parse_tsv(TSV, offset=12, width=640, height=480)
    assert [line.text for line in lines] == ["DOE, JOHN", "edge"]
    doe, john = lines[0].words
    assert doe.box == (10.0, 10.0, 70.0, 30.0) and doe.confidence == 96.5
    assert lines[1].words[0].box == (588.0, 478.0, 628.0, 480.0)  # clipped to the image


def _need_tesseract():
    if not available():
        if os.environ.get("CI"):
            pytest.fail("CI must test the tesseract engine: apt-get install tesseract-ocr")
        pytest.skip("tesseract is not installed")


def test_tesseract_reads_words_with_boxes():
    _need_tesseract()
    from openmaker.deid.tesseract import TesseractDetector

    lines = TesseractDetector().detect(render(PHI_LINES))
    words = {w.text: w.box for line in lines for w in line.words}
    assert "48213377" in words and "JOHN" in words
    x0, y0, x1, y1 = words["48213377"]
    assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 100


def test_both_engines_in_the_pipeline():
    pytest.importorskip("rapidocr")
    _need_tesseract()
    from openmaker.deid.process import DeidOptions, deidentify_image

    result = deidentify_image(encode(render(PHI_LINES)), "a.png", DeidOptions(engines=("rapidocr", "tesseract")))
    assert {"NAME", "ID", "DATE"} <= {r.type for r in result.frames[0].redactions}


def test_unknown_or_missing_engine_is_refused():
    from openmaker.deid.process import DeidOptions

    with pytest.raises(ValueError, match="unknown OCR engines"):
        DeidOptions(engines=("easyocr",))
    with pytest.raises(ValueError, match="unknown OCR engines"):
        DeidOptions(engines=("tesseract",))  # RapidOCR is always the first engine
