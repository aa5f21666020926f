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
