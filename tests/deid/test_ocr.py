"""RapidOCR offline: bundled models, word boxes, border text, DetectText's shape."""

from __future__ import annotations

import numpy as np
import pytest

from tests.deid.conftest import render

pytest.importorskip("rapidocr")

from openmaker.deid.ocr import BUNDLED_MODELS, detect_text_response, ensure_bundled_models  # noqa: E402


def test_models_ship_inside_the_pinned_wheel():
    import rapidocr

    root = ensure_bundled_models()
    assert rapidocr.__version__ if hasattr(rapidocr, "__version__") else True
    for model in BUNDLED_MODELS:
        assert (root / model).stat().st_size > 100_000


def _words(lines):
    return [w for line in lines for w in line.words]


def test_word_boxes_cover_their_words(detector):
    image = render([("PATIENT SMITH 0123456", (40, 100))], font_size=32)
    lines = detector.detect(image)
    words = {w.text: w.box for w in _words(lines)}
    assert {"PATIENT", "SMITH", "0123456"} <= set(words), words
    # Word boxes are ordered left to right and lie on the text row.
    assert words["PATIENT"][2] <= words["SMITH"][0] + 2 <= words["0123456"][0] + 4
    for x0, y0, x1, y1 in words.values():
        assert 90 <= y1 and y0 <= 140 and x0 >= 30


def test_text_touching_the_border_is_found(detector):
    image = render([("BORDERLINE 778899", (0, 0)), ("EDGE", (560, 452))], font_size=26)
    texts = {w.text for w in _words(detector.detect(image))}
    assert "BORDERLINE" in texts and "778899" in texts and "EDGE" in texts, texts
    boxes = [w.box for w in _words(detector.detect(image))]
    assert all(0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 480 for x0, y0, x1, y1 in boxes)


def test_dark_text_on_light_background(detector):
    image = render([("INVERTED 445566", (30, 200))], fg=(0, 0, 0), bg=(235, 235, 235))
    assert "445566" in {w.text for w in _words(detector.detect(image))}


def test_blank_image_has_no_text(detector):
    assert detector.detect(np.zeros((200, 300, 3), dtype=np.uint8)) == []


def test_bad_arrays_are_refused(detector):
    from openmaker.deid.errors import OcrError

    with pytest.raises(OcrError, match="8-bit RGB"):
        detector.detect(np.zeros((10, 10, 3), dtype=np.float32))


def test_detect_text_response_has_rekognitions_shape(detector):
    import botocore.session

    image = render([("JANE ROE", (20, 20)), ("DOB 01/02/1990", (20, 80))])
    response = detect_text_response(detector.detect(image), 640, 480)
    model = botocore.session.get_session().get_service_model("rekognition")
    shape = model.operation_model("DetectText").output_shape
    assert set(response) <= set(shape.members)
    detection_shape = shape.members["TextDetections"].member
    lines = [d for d in response["TextDetections"] if d["Type"] == "LINE"]
    words = [d for d in response["TextDetections"] if d["Type"] == "WORD"]
    assert len(lines) == 2 and len(words) == 4
    ids = {d["Id"] for d in lines}
    for d in response["TextDetections"]:
        assert set(d) <= set(detection_shape.members)
        assert d["Type"] in detection_shape.members["Type"].enum
        box = d["Geometry"]["BoundingBox"]
        assert 0 <= box["Left"] <= 1 and 0 <= box["Top"] <= 1 and 0 < box["Width"] <= 1 and 0 < box["Height"] <= 1
        assert 0 <= d["Confidence"] <= 100
    assert all(w["ParentId"] in ids for w in words)
    assert lines[0]["DetectedText"] == "JANE ROE"


def test_a_bracketed_marker_glued_to_the_next_word_is_split_off():
    from openmaker.deid.ocr import Word, _split_glued_bracket

    first, second = _split_glued_bracket(Word("[M]Age:", 90.0, (0.0, 0.0, 80.0, 10.0)))
    assert (first.text, second.text) == ("[M]", "Age:")
    assert first.box[0] == 0.0 and first.box[2] < second.box[0] and second.box[2] == 80.0
    for text in ("[M]", "f(x)", "(120)", "[M]:"):  # nothing glued after it, or no word
        assert [w.text for w in _split_glued_bracket(Word(text, 90.0, (0.0, 0.0, 40.0, 10.0)))] == [text]


def test_the_outer_words_reach_the_line_ends():
    from openmaker.deid.ocr import Word, _reach_line_ends

    words = [Word("11:03:32", 99.0, (797.0, 17.0, 932.0, 49.0)), Word("AM", 99.0, (952.0, 17.0, 990.0, 49.0))]
    _reach_line_ends(words, (790.0, 16.0, 1004.0, 50.0))
    assert words[0].box == (790.0, 17.0, 932.0, 49.0)  # sideways only: the height stays the word's
    assert words[1].box == (952.0, 17.0, 1004.0, 49.0)
    _reach_line_ends(words, (800.0, 16.0, 1000.0, 50.0))  # never shrunk
    assert words[0].box[0] == 790.0 and words[1].box[2] == 1004.0

