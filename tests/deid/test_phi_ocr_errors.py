"""What OCR does to burned-in PHI, and the rules that still catch it."""

from __future__ import annotations

import pytest

from openmaker.deid.ocr import Word, _join_spaced_letters, _normalise
from openmaker.deid.phi import detect_phi


def _found(text):
    return [(e["Text"], e["Type"]) for e in detect_phi(text)["Entities"]]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("M070Y", [("M070Y", "AGE")]),  # sex glued to the age
        ("24YF", [("24YF", "AGE")]),
        ("F87y", [("F87y", "AGE")]),
        ("1MM", [("1MM", "AGE")]),  # one month, male
        ("0.40394284", [("0.40394284", "ID")]),  # "O. 40394284": no measurement has eight decimals
        ("Study Date 27-Dec-2007 11 38.57", [("27-Dec-2007", "DATE"), ("11 38.57", "DATE")]),  # lost colon
        ("03-AUG-2022 08:06:440AM", [("03-AUG-2022", "DATE"), ("08:06:440AM", "DATE")]),  # extra digit
        ("2007-07-2811:17 AM", [("2007-07-2811:17 AM", "DATE")]),  # date glued to time
        ("D.0.8. Jan 22. 1940", [("Jan 22. 1940", "DATE")]),  # full stop for a comma
        ("BARNESCLINIC", [("BARNESCLINIC", "ADDRESS")]),  # name glued to its keyword
        ("PORT JESSETOW N MEDICAL CENTER", [("PORT JESSETOW N MEDICAL CENTER", "ADDRESS")]),
        ("5174Moore Rapids, Port Amy, AK 04322", [("5174Moore Rapids, Port Amy, AK 04322", "ADDRESS")]),
        ("pcampbell@exam e.org", [("pcampbell@exam", "EMAIL"), ("e.org", "URL")]),  # split domain
    ],
)
def test_ocr_damaged_phi_is_found(text, expected):
    assert _found(text) == expected


@pytest.mark.parametrize("text", ["13:45 PM", "TIS0.0 MI 0.6", "4.0cm 0.5 12.35 1.4", "W:400 L:40", "H4.00 MHz", "2D 60%"])
def test_technical_text_stays(text):
    assert _found(text) == []


def test_letter_spaced_words_are_joined_at_punctuation():
    letters = "H U G H E S , B R Y A N".split()
    words = [Word(ch, 99.0, (10.0 * i, 0.0, 10.0 * i + 8, 20.0)) for i, ch in enumerate(letters)]
    joined = _join_spaced_letters(words)
    assert [w.text for w in joined] == ["HUGHES,", "BRYAN"]
    assert joined[0].box == (0.0, 0.0, 68.0, 20.0)
    # Short runs and ordinary words are left alone.
    plain = [Word("L", 99, (0, 0, 8, 20)), Word("HO", 99, (40, 0, 60, 20))]
    assert [w.text for w in _join_spaced_letters(plain)] == ["L", "HO"]


def test_full_width_forms_become_ascii():
    assert _normalise("HUGHES\uff0cBRYAN\uff1a") == "HUGHES,BRYAN:"


# ---------------------------------------------------------------------------- misreads the rules used to miss


@pytest.mark.parametrize(
    "text, expected",
    [
        ('COOPER"MARY', [('COOPER"MARY', "NAME")]),  # the DICOM "^" read as a quote
        ("COOPER'MARY", [("COOPER'MARY", "NAME")]),
        ("COOPER~MARY~J", [("COOPER~MARY~J", "NAME")]),  # ... or a tilde, with a middle initial
        ("Cooper\u201cMary", [("Cooper\u201cMary", "NAME")]),
    ],
)
def test_quote_or_tilde_for_the_name_separator(text, expected):
    assert _found(text) == expected


@pytest.mark.parametrize("text", ["WOMEN'S", "Children's", "ZZZ'YYY", "TIS\"MI", "L'R"])
def test_apostrophes_and_quotes_that_are_no_name_separator(text):
    assert [t for t in _found(text) if t[1] == "NAME"] == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Dallas, TX 7534", [("Dallas, TX 7534", "ADDRESS")]),  # ZIP read a digit short
        ("North Jamie, MS 9364", [("North Jamie, MS 9364", "ADDRESS")]),
        ("5 Oak Street, Dallas, TX 7534", [("5 Oak Street, Dallas, TX 7534", "ADDRESS")]),
        ("Dallas, TX 75342", [("Dallas, TX 75342", "ADDRESS")]),  # the full ZIP as before
    ],
)
def test_zip_code_a_digit_short_after_city_and_state(text, expected):
    assert _found(text) == expected


@pytest.mark.parametrize("text", ["MS 9364", "CT 1234", "PA 1200", "Dallas, TX 7534.5"])
def test_four_digits_after_a_state_alone_are_no_zip(text):
    assert [t for t in _found(text) if t[1] == "ADDRESS"] == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2013:12:13", [("2013:12:13", "DATE")]),  # year and time, the space read as a colon
        ("20 Mar 2013:12:13", [("20 Mar 2013:12:13", "DATE")]),
        ("2013:12:13:05", [("2013:12:13:05", "DATE")]),
    ],
)
def test_time_glued_to_the_year_by_a_colon(text, expected):
    assert _found(text) == expected


@pytest.mark.parametrize("text", ["Sandra", "SANDRA", "Owen", "GLENN"])
def test_frequent_given_names_count_alone(text):
    # Philter's safe-word list holds them, but in an annotation they are names.
    assert _found(text) == [(text, "NAME")]


def test_ordinary_words_among_names_still_need_evidence():
    assert _found("MARY") == [] and _found("Foley") == [] and _found("Gleason 3+4") == []
