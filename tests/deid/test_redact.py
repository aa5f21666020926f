"""From entities to boxes: offsets, padding, threshold, colours, PNG dpi."""

from __future__ import annotations

import io

import numpy as np
import pytest

from openmaker.deid.ocr import Line, Word
from openmaker.deid.redact import draw, encode_png, ocr_text, pad_box, parse_color, redactions_for


def _lines():
    a = Word("DOE,", 99, (10, 10, 60, 30))
    b = Word("JOHN", 99, (70, 10, 130, 30))
    c = Word("kVp", 99, (10, 50, 50, 70))
    return [Line("DOE, JOHN", 99, (10, 10, 130, 30), [], [a, b]), Line("kVp", 99, (10, 50, 50, 70), [], [c])]


def test_ocr_text_spans_lead_back_to_words():
    text, spans = ocr_text(_lines())
    assert text == "DOE, JOHN\nkVp"
    assert [text[b:e] for b, e, _ in spans] == ["DOE,", "JOHN", "kVp"]


def _entity(text, begin, end, score=0.9, type_="NAME"):
    return {"BeginOffset": begin, "EndOffset": end, "Score": score, "Type": type_, "Text": text[begin:end]}


def test_only_words_overlapping_kept_entities_are_redacted():
    text, spans = ocr_text(_lines())
    entities = [_entity(text, 0, 3), _entity(text, 5, 9, score=0.2)]
    kept = redactions_for(entities, spans, 200, 100, threshold=0.5)
    assert len(kept) == 1 and kept[0].type == "NAME"
    x0, y0, x1, y1 = kept[0].box  # padded beyond the word box
    assert x0 < 10 and y0 < 10 and 60 < x1 < 70 and y1 > 30
    # Neighbouring redacted words on a line become one box, gap included.
    both = redactions_for(entities, spans, 200, 100, threshold=0.0)
    assert len(both) == 1
    x0, y0, x1, y1 = both[0].box
    assert x0 < 10 and x1 > 130 and both[0].score == 0.9


def test_words_on_other_lines_or_far_apart_stay_separate():
    far = [Line("A B", 99, (0, 0, 400, 20), [], [Word("SMITH", 99, (0, 0, 50, 20)), Word("JONES", 99, (300, 0, 350, 20))])]
    text, spans = ocr_text(far + _lines()[:1])
    entities = [_entity(text, 0, len(text), type_="NAME")]
    assert len(redactions_for(entities, spans, 500, 100, threshold=0.0)) == 3


def test_padding_is_clipped_to_the_image():
    assert pad_box((0, 0, 50, 20), 40, 15) == (0, 0, 40, 15)


def test_draw_fills_boxes_only():
    frame = np.zeros((20, 20, 3), dtype=np.uint8)
    out = draw(frame, [(2, 3, 5, 6)], (255, 0, 0))
    assert (out[3:6, 2:5] == (255, 0, 0)).all()
    assert out.sum() == 9 * 255 and frame.sum() == 0


def test_colours():
    assert parse_color("red") == (255, 0, 0)
    assert parse_color("#00ff00") == (0, 255, 0)
    assert parse_color((1, 2, 3)) == (1, 2, 3)
    with pytest.raises(ValueError, match="unknown colour 'reddish'"):
        parse_color("reddish")
    with pytest.raises(ValueError, match="three integers"):
        parse_color((1, 2, 300))


def test_png_carries_dpi():
    from PIL import Image

    data = encode_png(np.zeros((4, 4, 3), dtype=np.uint8), 150)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and round(image.info["dpi"][0]) == 150


def test_padding_stays_off_kept_words_of_tight_neighbouring_lines():
    # A PHI line and a technical line packed tight, as on ultrasound headers.
    phi = Word("08/29/1951", 99, (100, 0, 180, 23))
    kept = Word("TIS0.0", 99, (100, 21, 170, 47))
    lines = [Line("08/29/1951", 99, phi.box, [], [phi]), Line("TIS0.0", 99, kept.box, [], [kept])]
    text, spans = ocr_text(lines)
    (redaction,) = redactions_for([_entity(text, 0, 10, type_="DATE")], spans, 400, 100, threshold=0.0)
    x0, y0, x1, y1 = redaction.box
    assert y1 == 23  # not into the kept line below (padding would reach 28)
    assert x0 < 100 and x1 > 180  # sideways padding kept


def test_sideways_padding_reaches_a_pixel_or_two_into_a_kept_word_of_the_line():
    # "Age: 73": the label is kept, and the estimated boundary between the words is uncertain.
    label = Word("Age:", 90, (126, 28, 152, 51))
    age = Word("73", 100, (154, 28, 168, 51))
    lines = [Line("Age: 73", 98, (126, 28, 168, 51), [], [label, age])]
    text, spans = ocr_text(lines)
    (redaction,) = redactions_for([_entity(text, 5, 7, type_="AGE")], spans, 400, 100, threshold=0.0)
    assert redaction.box[0] == 150  # two pixels into the label's box, no further


def _line(text, box):
    x0, y0, x1, y1 = box
    words, x = [], x0
    step = (x1 - x0) / max(len(text.split()), 1)
    for w in text.split():
        words.append(Word(w, 99, (x, y0, x + step - 4, y1)))
        x += step
    return Line(text, 99, box, [], words)


def test_lines_continuing_each_other_on_a_row_are_one_text_line():
    # RapidOCR cut "20 Mar 2010 07:28" in two; a column far to the right and a line below stay apart.
    lines = [
        _line("2010 07:28", (111, 40, 200, 60)),
        _line("20 Mar", (60, 41, 116, 60)),
        _line("kVp 120", (400, 40, 480, 60)),
        _line("DOE", (60, 70, 100, 90)),
    ]
    text, spans = ocr_text(lines)
    # the line below the date is stacked under it in one block: it comes before the far column
    assert text == "20 Mar 2010 07:28\nDOE\nkVp 120"
    assert [text[b:e] for b, e, _ in spans] == ["20", "Mar", "2010", "07:28", "DOE", "kVp", "120"]


def test_lines_of_different_sizes_or_rows_are_not_joined():
    big = _line("SMITH", (10, 10, 100, 50))
    small = _line("kVp", (102, 30, 130, 40))  # a fifth of the height
    below = _line("JOHN", (101, 35, 160, 75))  # half a line lower
    assert ocr_text([big, small])[0] == "SMITH\nkVp"
    assert ocr_text([big, below])[0] == "SMITH\nJOHN"


def test_a_time_read_without_its_minutes_is_redacted_past_its_colon():
    word = Word("13:", 99, (250, 55, 280, 80))
    text, spans = ocr_text([Line("13:", 99, word.box, [], [word])])
    date = redactions_for([_entity(text, 0, 3, type_="DATE")], spans, 800, 600, 0.0)[0]
    other = redactions_for([_entity(text, 0, 3, type_="ID")], spans, 800, 600, 0.0)[0]
    assert date.box[2] >= 280 + 1.2 * 25 and other.box[2] < 280 + 25


def test_redactions_close_on_a_row_become_one_box():
    from openmaker.deid.redact import Redaction, join_row_neighbours

    a = Redaction("ADDRESS", 0.9, (100, 10, 200, 30))
    b = Redaction("ID", 0.5, (210, 8, 260, 28))  # 10 px further on: a glyph edge between them
    far = Redaction("ID", 0.5, (400, 10, 450, 30))  # a column away
    below = Redaction("DATE", 0.9, (100, 40, 200, 60))  # the next line
    out = join_row_neighbours([a, b, far, below])
    assert [(r.type, r.box) for r in out] == [
        ("ADDRESS", (100, 8, 260, 30)),
        ("ID", (400, 10, 450, 30)),
        ("DATE", (100, 40, 200, 60)),
    ]
    tall = Redaction("ID", 0.5, (205, 0, 260, 90))  # a box of another size is no neighbour
    assert len(join_row_neighbours([a, tall])) == 2


def test_a_lone_letter_split_off_a_redacted_word_goes_with_it():
    # OCR read "CLINIC" as "CLIN C"; a side marker two heights away stays.
    words = [Word("CLIN", 99, (100, 10, 160, 30)), Word("C", 99, (165, 10, 176, 30)), Word("L", 99, (220, 10, 231, 30))]
    text, spans = ocr_text([Line("CLIN C L", 99, (100, 10, 231, 30), [], words)])
    boxes = redactions_for([_entity(text, 0, 4)], spans, 400, 100, threshold=0.0)
    assert len(boxes) == 1
    x0, _, x1, _ = boxes[0].box
    assert x1 >= 176 and x1 < 220


@pytest.mark.parametrize("type_, taken", [("NAME", True), ("ADDRESS", False)])
def test_an_initial_read_as_a_line_of_its_own_goes_with_the_name_beside_it(type_, taken):
    # "B. BURTON": the dot too faint to read, so "B" and "BURTON" are two lines a word and a dot
    # apart, and "B" comes after "BURTON" in the text. A side marker far to the left stays.
    lines = [
        Line("BURTON", 99, (86, 150, 212, 185), [], [Word("BURTON", 99, (86, 150, 212, 185))]),
        Line("B", 99, (31, 153, 56, 181), [], [Word("B", 99, (31, 153, 56, 181))]),
        Line("R", 99, (10, 600, 30, 630), [], [Word("R", 99, (10, 600, 30, 630))]),
    ]
    text, spans = ocr_text(lines)
    begin = text.index("BURTON")
    boxes = redactions_for([_entity(text, begin, begin + 6, type_=type_)], spans, 400, 700, threshold=0.0)
    assert any(b.box[0] <= 31 for b in boxes) is taken
    assert all(b.box[1] < 600 for b in boxes)


@pytest.mark.parametrize("type_, taken", [("NAME", True), ("ADDRESS", False)])
def test_an_initial_a_word_space_after_a_name_goes_with_it(type_, taken):
    # "FRANK V": the initial sits 0.67 heights after the name, wider than a split-off letter's gap.
    words = [Word("FRANK", 99, (22, 13, 97, 43)), Word("V", 99, (117, 13, 132, 43))]
    text, spans = ocr_text([Line("FRANK V", 99, (12, 13, 137, 43), [], words)])
    boxes = redactions_for([_entity(text, 0, 5, type_=type_)], spans, 400, 100, threshold=0.0)
    assert len(boxes) == 1
    assert (boxes[0].box[2] >= 132) is taken
