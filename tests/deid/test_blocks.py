"""Blocks of burned-in text: which rows stack into one, and the PHI a block gives away."""

from __future__ import annotations

from openmaker.deid.blocks import BLOCK_SCORE, block_entities, blocks, reading_rows, stacked, unread_row_parts
from openmaker.deid.ocr import Line, Word
from openmaker.deid.phi import detect_phi
from openmaker.deid.process import DeidOptions, find_phi
from openmaker.deid.redact import ocr_text


def _line(text, box, confidence=99.0):
    x0, y0, x1, y1 = box
    words, x = [], x0
    step = (x1 - x0) / max(len(text.split()), 1)
    for w in text.split():
        words.append(Word(w, confidence, (x, y0, x + step - 4, y1)))
        x += step
    return Line(text, confidence, box, [], words)


def test_rows_stack_when_left_or_right_aligned_and_close():
    top = (10, 10, 300, 30)
    assert stacked(top, (10, 34, 200, 54))  # left-aligned, the next line
    assert stacked(top, (150, 34, 301, 54))  # right-aligned (a top-right corner block)
    assert stacked((10, 34, 200, 54), top)  # either order
    assert not stacked(top, (500, 10, 700, 30))  # side by side on one row
    assert not stacked(top, (10, 70, 200, 90))  # two lines of space between them
    assert not stacked(top, (100, 34, 250, 54))  # neither edge shared
    assert not stacked(top, (10, 34, 200, 84))  # two and a half times taller


def test_blocks_chain_stacked_rows():
    rows = [[_line(t, b)] for t, b in [
        ("A", (10, 10, 100, 30)), ("B", (10, 34, 120, 54)), ("C", (10, 58, 90, 78)),
        ("D", (10, 400, 100, 420)), ("E", (800, 10, 1000, 30)), ("F", (850, 34, 1001, 54)),
    ]]  # fmt: skip
    assert blocks(rows) == [[0, 1, 2], [3], [4, 5]]


def _block_words(lines):
    rows = reading_rows(lines)
    text, spans = ocr_text(lines)
    entities = detect_phi(text)["Entities"]
    out = block_entities([dict(e) for e in entities], rows, spans, text)
    added = [(e["Text"], e["Type"]) for e in out if e["Score"] == BLOCK_SCORE]
    return added, out


def test_a_block_with_sure_phi_gives_away_its_other_words():
    lines = [
        _line("Ho Imaging", (20, 22, 175, 58)),  # an institution wrapped over two lines
        _line("Center CHAVEZ, JENNIFER", (25, 54, 355, 99)),
        _line("23.12,2O2O", (20, 96, 140, 130)),
        _line("Mode: kVp 120", (20, 132, 200, 166)),  # technical words and captions stay
        _line("Smith Clinic", (20, 700, 200, 734)),  # another block, with no PHI found in it
    ]
    added, entities = _block_words(lines)
    assert ("Ho", "NAME") in added and ("Imaging", "NAME") in added
    assert not any(t in ("Mode:", "kVp", "120", "Smith") for t, _ in added)
    assert [e["Id"] for e in entities] == list(range(len(entities)))


def test_no_block_context_without_a_sure_entity():
    lines = [_line("Ho Imaging", (20, 22, 175, 58)), _line("Center Street", (25, 54, 355, 99))]
    added, _ = _block_words(lines)
    assert added == []
    # a guess from the OCR's confidence (LOW_CONFIDENCE) does not mark a block either
    rows = reading_rows(lines)
    text, spans = ocr_text(lines)
    guess = {"Id": 0, "BeginOffset": 0, "EndOffset": 2, "Score": 0.9, "Text": "Ho", "Type": "ID",
             "Traits": [{"Name": "LOW_CONFIDENCE", "Score": 0.9}]}  # fmt: skip
    assert block_entities([guess], rows, spans, text) == [guess]


def test_find_phi_redacts_the_block_words_unless_the_threshold_excludes_them():
    lines = [_line("Ho Imaging", (20, 22, 175, 58)), _line("Center CHAVEZ, JENNIFER", (25, 54, 355, 99))]
    _, boxes = find_phi(lines, 1024, 1024, DeidOptions(), None)
    assert any(b.box[1] < 30 and b.score == BLOCK_SCORE for b in boxes)  # the first line is covered
    _, boxes = find_phi(lines, 1024, 1024, DeidOptions(threshold=0.6), None)
    assert boxes and all(b.box[1] > 40 for b in boxes)  # only the name line's sure entities


def test_rows_come_block_by_block_so_a_wrapped_initial_follows_its_name():
    # RapidOCR reads rows by height: the top-right corner's date lies between the name and its initial.
    lines = [
        _line("Taylor, Nicholas", (2, 2, 187, 35)),
        _line("25-MAY-2009 11:16", (800, 10, 1020, 40)),
        _line("V. CH956490", (5, 31, 154, 57)),
    ]
    assert [[line.text for line in row] for row in reading_rows(lines)] == [
        ["Taylor, Nicholas"], ["V. CH956490"], ["25-MAY-2009 11:16"]
    ]
    text, _ = ocr_text(lines)
    assert ("V", "NAME") in [(e["Text"], e["Type"]) for e in detect_phi(text)["Entities"]]


def _row_parts(lines):
    rows = reading_rows(lines)
    text, spans = ocr_text(lines)
    entities = detect_phi(text)["Entities"]
    return unread_row_parts(entities, rows, spans)


def test_the_unread_head_of_an_indented_phi_row_is_found():
    # "865 Kevin Trafficway, New Br" crossed onto the black around an ultrasound's ring: unread.
    lines = [
        _line("MRN: 0003474300", (23, 66, 347, 102)),
        _line("Ref. Phys: KING, MICHAEL", (20, 104, 491, 149)),
        _line("endan, NC 26068", (375, 156, 582, 185)),
    ]
    assert _row_parts(lines) == [(20, 156, 375, 185)]


def test_the_unread_tail_of_a_right_aligned_block_row_is_found():
    lines = [
        _line("DOE, JOHN", (800, 10, 1000, 40)),
        _line("MRN: 48213377", (700, 44, 1001, 74)),
        _line("DOB: 03/14/1962", (600, 78, 760, 108)),  # its tail unread: it ends far left of the block's edge
    ]
    assert _row_parts(lines) == [(760, 78, 1001, 108)]


def test_the_read_end_of_an_id_whose_head_is_unread_joins_it():
    block = [_line("F 050Y", (0, 40, 143, 88)), _line("Pat ID: 00042562", (0, 92, 338, 140))]
    # "Accession: 2352" on black, unread; "9925" read on a bright ring. A technical row keeps its words.
    assert _row_parts([*block, _line("9925", (315, 144, 418, 188))]) == [(0, 144, 414, 188)]  # to the end of "9925" (its word box)
    assert _row_parts([*block, _line("L12-5 36Hz", (315, 144, 418, 188))]) == [(0, 144, 315, 188)]


def test_no_unread_part_where_the_row_is_aligned_read_or_alone():
    aligned = [_line("Ref. Phys: KING, MICHAEL", (20, 104, 491, 149)), _line("NC 26068", (24, 156, 200, 185))]
    read_between = [
        _line("Ref. Phys: KING, MICHAEL", (20, 104, 491, 149)),
        _line("kVp 120", (20, 156, 200, 185)),  # the space holds a read word
        _line("NC 26068", (375, 156, 582, 185)),
    ]
    lone_row = [_line("Ref. Phys: KING, MICHAEL", (20, 104, 491, 149)), _line("NC 26068", (375, 156, 582, 185))]  # no block
    far_below = [_line("Ref. Phys: KING, MICHAEL", (20, 104, 491, 149)), _line("NC 26068", (375, 300, 582, 329))]
    outside = [_line("Ref. Phys: KING, MICHAEL", (20, 104, 491, 149)), _line("NC 26068", (600, 156, 800, 185))]
    for lines in (aligned, read_between, lone_row, far_below, outside):
        assert _row_parts(lines) == [], lines
