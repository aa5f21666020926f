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


# ---------------------------------------------------------------------------- digits read in a month name


@pytest.mark.parametrize(
    "text, expected",
    [
        ("24 0ct 2015 06:09:25", [("24 0ct 2015", "DATE"), ("06:09:25", "DATE")]),  # zero for the O
        ("0ct 28, 2013", [("0ct 28, 2013", "DATE")]),
        ("28-0CT-2013", [("28-0CT-2013", "DATE")]),
        ("5EP 3, 2011", [("5EP 3, 2011", "DATE")]),  # five for the S
        ("Ju1 4 1999", [("Ju1 4 1999", "DATE")]),  # one for the l
        ("12 N0V 2001", [("12 N0V 2001", "DATE")]),
        ("Fe8 2010", [("Fe8 2010", "DATE")]),  # eight for the b: month and year
        ("0CT0BER 2, 2012", [("0CT0BER 2, 2012", "DATE")]),
    ],
)
def test_digit_read_for_a_letter_of_the_month(text, expected):
    assert _found(text) == expected


@pytest.mark.parametrize("text", ["10ct 2015", "3 5 2015", "1 1 2015", "0 2015", "8 10 1999", "TIS0.0 MI 0.6"])
def test_misread_months_make_no_date_of_plain_numbers(text):
    assert [t for t in _found(text) if t[1] == "DATE"] == []


def test_every_misread_month_keeps_a_letter():
    from openmaker.deid.phi.dates import _MONTHS_READ, month_number

    assert all(any(ch.isalpha() for ch in w) for w in _MONTHS_READ)
    assert month_number("0CT") == 10 and month_number("5ept") == 9 and month_number("Apr1l") == 4


# ---------------------------------------------------------------------------- DICOM names glued by OCR


@pytest.mark.parametrize(
    "text",
    [
        "HARRISAANGELAAB",  # HARRIS^ANGELA^B, "^" read as "A"
        "HARRISAANGELA/B",  # ... as "A" and "/"
        "PELEWISBRIAN",  # LEWIS^BRIAN, "^" lost, border junk "PE" in front
        "HARRIS/ANGELA",
        "LEWIS4BRIAN^B",
        "MICHAELKACEVEDO",  # "MICHAEL K ACEVEDO" set tight: given name first, its initial between
        "MICHAELACEVEDO",
    ],
)
def test_glued_dicom_name(text):
    assert _found(text) == [(text, "NAME")]


_TECHNICAL_CAPS = [
    "TRANSVERSE", "LONGITUDINAL", "ABDOMEN", "SAGITTAL", "CONTRAST", "PORTABLE", "SUPINE", "KIDNEYRIGHT",
    "CORONAL", "LATERAL", "BILATERAL", "POSTERIOR", "ANTERIOR", "ANNOTATION", "EXAMINATION", "EVALUATION",
    "GENERATION", "ACTIVATION", "CARRYING", "LEARNING", "LIVERLEFT", "GENDERARENAL", "TRANSVERSE/SAG",
    "SECONDARY", "LOCALIZER", "COMPRESSION", "DIAGNOSTIC", "PRELIMINARY",
    # technical words glued that a given name, a letter and a surname would spell (rare names)
    "AVANTOKEY", "KEYTHORACIC", "PERSISTENCER", "TOSHIBAKEY", "SHOULDERA", "STANDINGA",
]  # fmt: skip


def test_technical_words_are_not_split_into_names():
    assert {w: _found(w) for w in _TECHNICAL_CAPS} == {w: [] for w in _TECHNICAL_CAPS}


def test_glued_name_needs_listed_names():
    from openmaker.deid.phi.names import glued_name

    assert glued_name("HARRISAANGELAAB") and glued_name("PELEWISBRIAN")
    assert not glued_name("HarrisAngela")  # not ALL CAPS
    assert not glued_name("HARRIS")  # too short, one name
    assert not glued_name("XQZWVKPLMR")


# ---------------------------------------------------------------------------- city names


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Lake Ritaside", [("Lake Ritaside", "ADDRESS")]),
        ("LAKE RITASIDE", [("LAKE RITASIDE", "ADDRESS")]),
        ("Port Maria", [("Port Maria", "ADDRESS")]),
        ("North John", [("North John", "ADDRESS")]),
        ("East Joseph", [("East Joseph", "ADDRESS")]),
        ("West Alexandra", [("West Alexandra", "ADDRESS")]),
        ("South Paul", [("South Paul", "ADDRESS")]),
        ("New Kimberly", [("New Kimberly", "ADDRESS")]),
        ("Ritaside", [("Ritaside", "ADDRESS")]),
        ("Thompsonberg", [("Thompsonberg", "ADDRESS")]),
        ("MALONEFORT", [("MALONEFORT", "ADDRESS")]),
        ("Jacksonville", [("Jacksonville", "ADDRESS")]),
        ("Harrisburgh", [("Harrisburgh", "ADDRESS")]),
        ("Shelbyview", [("Shelbyview", "ADDRESS")]),
        ("Lake Ritaside, AK", [("Lake Ritaside, AK", "ADDRESS")]),  # a state but no ZIP
        ("General Hospital\nPort Maria", [("General Hospital", "ADDRESS"), ("Port Maria", "ADDRESS")]),
        ("123 Main Street\nThompsonberg", [("123 Main Street", "ADDRESS"), ("Thompsonberg", "ADDRESS")]),
        ("Mercy Hospital, Ritaside", [("Mercy Hospital", "ADDRESS"), ("Ritaside", "ADDRESS")]),  # after an institution
        ("Ritaside AK 99501", [("Ritaside", "ADDRESS"), ("AK 99501", "ADDRESS")]),
        # a facility's initials and its town, the keyword cut off by the display ("WXJQ MASONBERG CLINIC")
        ("WXJQ MASONBERG", [("WXJQ MASONBERG", "ADDRESS")]),
        ("BLCM EAST", [("BLCM EAST", "ADDRESS")]),
    ],
)
def test_city_names(text, expected):
    assert _found(text) == expected


@pytest.mark.parametrize(
    "text",
    ["Report", "Overview", "Support", "Transport", "BEDSIDE", "New Patient", "Port A", "SOUTH LATERAL",
     "Ritaside 12 cm", "TIS0.0 Jacksonville MI 0.6", "THI MASONBERG", "MI EAST", "AX WEST", "BLCM EAST 2"],
)  # fmt: skip
def test_no_city_without_a_place_shape_or_context(text):
    assert [t for t in _found(text) if t[1] == "ADDRESS"] == []


def test_a_name_line_below_an_institution_stays_a_name():
    assert ("WEST", "NAME") in _found("MERCY HOSPITAL\nWEST JOHN 61Y")


def test_place_name_word_needs_a_listed_stem():
    from openmaker.deid.phi.patterns import place_name_word

    assert place_name_word("Ritaside") and place_name_word("THOMPSONBERG")
    assert not place_name_word("Report") and not place_name_word("Overview") and not place_name_word("ritaside")
    assert _found("HAMILTON") == [("HAMILTON", "NAME")]  # a listed surname itself stays a name


# ---------------------------------------------------------------------------- a colon for a space in an institution


def test_colon_read_for_a_space_in_an_institution_name():
    assert _found("North John:General Hospital") == [("North John:General Hospital", "ADDRESS")]
    assert _found("Institution:General Hospital") == [("General Hospital", "ADDRESS")]  # a label stays out
    assert _found("W:400 L:40") == []


# ---------------------------------------------------------------------------- captions cut at the image border


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ge: 28 Sex: F", [("28", "AGE"), ("F", "GENDER")]),  # "Age:" lost its A
        ("ge:28 Sex: F", [("28", "AGE"), ("F", "GENDER")]),
        ("ex: M", [("M", "GENDER")]),
        ("ob: 03/02/1961", [("03/02/1961", "DATE")]),
        ("ame: John Smith", [("John Smith", "NAME")]),
    ],
)
def test_caption_cut_at_the_border(text, expected):
    assert _found(text) == expected


@pytest.mark.parametrize("text", ["te: 90", "TE: 90", "GE: 400", "OB: 12", "Depth ge: 28", "ame: Liver", "e: 28"])
def test_cut_caption_needs_a_value_of_its_kind(text):
    assert _found(text) == []


# ---------------------------------------------------------------------------- a time of day after a date or caption


@pytest.mark.parametrize(
    "text, expected",
    [
        ("03/18/2005 9:22 A V", [("03/18/2005", "DATE"), ("9:22 A V", "DATE")]),  # M read as V, letter-spaced
        ("03/18/2005 9:22 A M", [("03/18/2005", "DATE"), ("9:22 A M", "DATE")]),
        ("03/18/2005 9:22 AV", [("03/18/2005", "DATE"), ("9:22 AV", "DATE")]),
        ("03/18/2005 9:22 PN", [("03/18/2005", "DATE"), ("9:22 PN", "DATE")]),
        ("03/18/2005 09:22 P M", [("03/18/2005", "DATE"), ("09:22 P M", "DATE")]),
        ("03/18/2005, 9:22", [("03/18/2005", "DATE"), ("9:22", "DATE")]),  # a one-digit hour after a date
        ("Time: 9:22", [("9:22", "DATE")]),
        ("Study Time:9:22 P M", [("9:22 P M", "DATE")]),
        ("03/29/2021 13:", [("03/29/2021", "DATE"), ("13:", "DATE")]),  # minutes cut off at the line end
        ("Study Date: 03/29/2021 13:", [("03/29/2021 13:", "DATE")]),
        ("03/18/2005 13:22 A M", [("03/18/2005", "DATE"), ("13:22", "DATE")]),  # no meridiem after 13
    ],
)
def test_time_of_day_after_a_date_or_time_caption(text, expected):
    assert _found(text) == expected


@pytest.mark.parametrize(
    "text",
    ["9:22", "9:22 A V", "Ratio 1:10", "Scan Time: 4:32", "Echo Time: 1:22", "03/18/2005 3:1", "Acq Time 9:22"],
)
def test_a_bare_clock_shape_stays(text):
    assert [t for t in _found(text) if t[0] != "03/18/2005"] == []


def test_a_misread_meridiem_needs_its_letters_alone():
    # "A Vmax" is no meridiem: the time keeps its own span
    assert _found("03/18/2005 9:22 A Vmax") == [("03/18/2005", "DATE"), ("9:22", "DATE")]


# ---------------------------------------------------------------------------- phone numbers OCR spaced or cut


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Fax: ( 522) 752- 9882", [("( 522) 752- 9882", "PHONE_OR_FAX")]),  # spaces at the bracket and dash
        ("( 522) 752- 9882", [("( 522) 752- 9882", "PHONE_OR_FAX")]),
        ("Fax: ( 522 ) 752 - 9882", [("( 522 ) 752 - 9882", "PHONE_OR_FAX")]),
        ("44)9026788x856", [("44)9026788x856", "PHONE_OR_FAX")]),  # the start lost, an extension
        ("752-9882x856", [("752-9882x856", "PHONE_OR_FAX")]),
        ("Phone: 001-522-752-9882x856", [("001-522-752-9882x856", "PHONE_OR_FAX")]),
        ("Tel: 9O26788 x856", [("9O26788 x856", "PHONE_OR_FAX")]),  # mostly digits after the caption
    ],
)
def test_phone_numbers_ocr_spaced_or_cut(text, expected):
    assert _found(text) == expected


@pytest.mark.parametrize("text", ["512x512", "1024 1024x1024", "Tel: 2 pages", "Fax: -", "W:400 L:40 x3"])
def test_matrix_sizes_and_short_numbers_are_no_phones(text):
    assert [t for t in _found(text) if t[1] == "PHONE_OR_FAX"] == []


# ---------------------------------------------------------------------------- institutions split or misread


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Michaelview General", [("Michaelview General", "ADDRESS")]),  # "Hospital" on the next line
        ("Michaelview General\nHospital", [("Michaelview General", "ADDRESS"), ("Hospital", "ADDRESS")]),
        ("North John Memorial", [("North John Memorial", "ADDRESS")]),
        ("Narth John General", [("Narth John General", "ADDRESS")]),  # misread North before a listed name
        ("Ritaside Chidren's", [("Ritaside Chidren's", "ADDRESS")]),  # misread Children's
        ("Narth Christopherberg Children's Hos pital", [("Narth Christopherberg Children's Hos pital", "ADDRESS")]),
        ("Noth Christopherberg Chidren's Hospital", [("Noth Christopherberg Chidren's Hospital", "ADDRESS")]),
        ("Mercy Hos pital", [("Mercy Hos pital", "ADDRESS")]),  # a keyword split in two
        ("HOS PITAL", [("HOS PITAL", "ADDRESS")]),
        ("Mercy Hospita1", [("Mercy Hospita1", "ADDRESS")]),
        ("Mercy Hosptal", [("Mercy Hosptal", "ADDRESS")]),
        ("Mercy Medica1 Center", [("Mercy Medica1 Center", "ADDRESS")]),
        ("Mercy C1inic", [("Mercy C1inic", "ADDRESS")]),
        ("Noth Christopherberg", [("Noth Christopherberg", "ADDRESS")]),  # a misread prefix before a place name
    ],
)
def test_institutions_split_or_misread(text, expected):
    assert _found(text) == expected


@pytest.mark.parametrize(
    "text",
    ["General", "John General", "Abd General", "SOUTH LATERAL General", "Test Maria", "Last John General",
     "Narth John", "Mouth Ritaside", "HOS P", "Report General", "Sag Liver Medical"],
)  # fmt: skip
def test_no_institution_without_a_city_or_keyword(text):
    assert [t for t in _found(text) if t[1] == "ADDRESS"] == []


def test_misread_direction_keeps_its_first_letter():
    from openmaker.deid.phi.patterns import misread_direction

    assert all(misread_direction(w) for w in ("Narth", "Noth", "Nrth", "Soth", "Eas", "Wes", "NARTH"))
    assert not any(misread_direction(w) for w in ("North", "Last", "Test", "Mouth", "Worth", "narth", "Ea"))


# ---------------------------------------------------------------------------- a name line read faintly


@pytest.mark.parametrize(
    "text, expected",
    [
        ("RONIER LOPE", [("RONIER LOPE", "NAME")]),  # RONNIE R LOPEZ read faintly on the top line
        ("RONIER R LOPE", [("RONIER R LOPE", "NAME")]),
        ("RONIER LOPE\nID: 1234567", [("RONIER LOPE", "NAME"), ("1234567", "ID")]),
        ("AXIAL\nRONIER LOPE\n03/18/2005", [("RONIER LOPE", "NAME"), ("03/18/2005", "DATE")]),  # next to a date
    ],
)
def test_a_name_line_read_faintly(text, expected):
    assert _found(text) == expected


_TECHNICAL_LINES = [
    "PA ERECT", "LEFT KIDNEY", "SAG LIVER", "TRANSVERSE MIDLINE", "AXIAL T2 FLAIR", "CHEST PORTABLE",
    "ADV BREAST", "LONG RIGHT", "SUPINE AP", "WITH CONTRAST", "KEY IMAGE", "FREE FLUID", "TWIN A",
    "DUAL ENERGY", "ROTATOR CUFF", "YOLK SAC", "MITRAL VALVE", "HEAD FIRST", "TEST PATIENT", "DOSE REPORT",
    "CORPUS LUTEUM", "PORTA HEPATIS", "NUCLEAR MEDICINE", "BILE DUCT", "WEIGHT BEARING",
]  # fmt: skip


@pytest.mark.parametrize("text", _TECHNICAL_LINES)
def test_technical_lines_are_no_misread_names(text):
    assert [t for t in _found(text) if t[1] == "NAME"] == []


@pytest.mark.parametrize(
    "text",
    ["Ronier Lope", "RONIER LOPE 12", "RONIER: LOPE", "RONIER", "AXIAL\nRONIER LOPE", "RONIER XQZT"],
)  # fmt: skip
def test_a_misread_name_line_needs_its_shape_and_place(text):
    assert [t for t in _found(text) if t[0].startswith("RONIER") or t[0].startswith("Ronier")] == []


def test_a_misread_name_line_has_two_or_three_words():
    from openmaker.deid.phi.document import Document
    from openmaker.deid.phi.names import misread_name_line

    def line(text):
        return Document.from_text(text).lines[0]

    assert misread_name_line(line("RONIER LOPE")) and misread_name_line(line("RONIER R LOPE"))
    assert not misread_name_line(line("RONIER LOPE LOPE LOPE"))  # four words
    assert not misread_name_line(line("R RONIER LOPE"))  # an initial only in the middle
    assert not misread_name_line(line("RONNIE LOPEZ"))  # listed names: the name lists' to judge


def test_near_listed_name_is_one_error_from_a_frequent_name():
    from openmaker.deid.phi.names import near_listed_name

    assert near_listed_name("LOPE") and near_listed_name("RONIER")  # LOPEZ, RENIER
    assert not near_listed_name("XQZT") and not near_listed_name("ABC") and not near_listed_name("R0NIER")


# ---------------------------------------------------------------------------- split names, glued initials, split ids, units


@pytest.mark.parametrize(
    "text, expected",
    [
        ("M ARSHALL", [("M ARSHALL", "NAME")]),  # OCR put a space inside MARSHALL
        ("J ONES", [("J ONES", "NAME")]),
        ("E.WOOD MD", [("E.WOOD", "NAME")]),  # initial glued to the surname by its full stop
        ("E.Wood, PhD", [("E.Wood", "NAME")]),
        ("E. WOOD MD", [("E. WOOD", "NAME")]),
        ("Dr. E.WOOD", [("E.WOOD", "NAME")]),
        ("East Kari children's Hospital", [("East Kari children's Hospital", "ADDRESS")]),  # lower-case keyword
        ("Mercy medical Center", [("Mercy medical Center", "ADDRESS")]),
        ("PID: MR- 837917", [("MR- 837917", "ID")]),  # id split after its hyphen
        ("ACC- 12345", [("ACC- 12345", "ID")]),
        ("RAD -327294", [("RAD -327294", "ID")]),
        ("wite 475, Maryport, NE 56003", [("wite 475, Maryport, NE 56003", "ADDRESS")]),  # misread "Suite"
        ("be Suite 475, Maryport, NE 56003", [("Suite 475, Maryport, NE 56003", "ADDRESS")]),
        ("Unit 4B, Maryport, NE 56003", [("Unit 4B, Maryport, NE 56003", "ADDRESS")]),
    ],
)
def test_split_and_glued_phi(text, expected):
    assert _found(text) == expected


@pytest.mark.parametrize(
    "text",
    ["L 12-5", "MI 0.6", "T 2", "SAG LIVER", "AX T2", "TWIN A", "A LINE", "A real", "Mar shall", "J.AXIAL MD",
     "MR- 1234", "TI- 0.6", "L- 1234"],
)  # fmt: skip
def test_technical_pairs_are_no_split_phi(text):
    assert [t for t in _found(text) if t[1] in ("NAME", "ID")] == []


def test_split_name_and_unit_words():
    from openmaker.deid.phi.names import glued_initial, split_name
    from openmaker.deid.phi.patterns import unit_head

    assert split_name("M", "ARSHALL") and split_name("W", "ILSON")
    assert not split_name("SAG", "LIVER") and not split_name("TWIN", "A") and not split_name("T", "2")
    assert glued_initial("E.WOOD") and not glued_initial("E.") and not glued_initial("EWOOD")
    text = "be Suite 475, Maryport, NE 56003"
    assert unit_head(text, 0, text.index("Maryport")) == text.index("Suite")
    text = "be Suite, Maryport, NE 56003"  # no number: left as it is
    assert unit_head(text, 0, text.index("Maryport")) == text.index("Maryport")


# --------------------------------------------------------------------- a fourth round (seeds 11, 12)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("FRY\u039bJ0HN\u039bU", [("FRY\u039bJ0HN\u039bU", "NAME")]),  # the caret read as Greek capital lambda
        ("0p:FF", [("FF", "NAME")]),  # "Op:" with its O read as a zero
        ("0p: YK", [("YK", "NAME")]),
        ("Sono. CZN", [("CZN", "NAME")]),  # the caption's colon read as a full stop
        ("Tedh:RU", [("RU", "NAME")]),  # "Tech:" with one letter misread
        ("Jones, Brandon 0.", [("Jones, Brandon", "NAME"), ("0", "NAME")]),  # middle initial O read as 0
        ("10/29/23 2251", [("10/29/23", "DATE"), ("2251", "DATE")]),  # a 24-hour time without its colon
        ("ACC109", [("ACC109", "ID")]),  # an accession number the OCR cut short
        ("Acc# ACC24", [("ACC24", "ID")]),
        ("MRN#4521", [("MRN#4521", "ID")]),
        ("2005/11/2306:14", [("2005/11/2306:14", "DATE")]),  # date and time glued, the space lost
        ("2011/02/01 958 AM", [("2011/02/01", "DATE"), ("958 AM", "DATE")]),  # colon lost, AM kept
        ("2011/02/01 1375 AM", [("2011/02/01", "DATE")]),  # no minute 75
        ("GilbertMar 16, 2015", [("Mar 16, 2015", "DATE")]),
        ("2016/1008", [("2016/1008", "DATE")]),  # the second separator lost
        ("2016/1308", []),  # no month 13
        ("W00D NATALIE", [("W00D NATALIE", "NAME")]),  # O read as zero in an ALL-CAPS name
        ("Howell, Ryan\nJ. 471-86-2348", [("Howell, Ryan", "NAME"), ("J", "NAME"), ("471-86-2348", "ID")]),
        ("Howell, Ryan\nL. kidney", [("Howell, Ryan", "NAME")]),  # a wrapped side marker is no initial
        ("gammar 16, 2015", []),  # but not the end of a lower-case word
        ("12/01/2020 1024x768", [("12/01/2020", "DATE")]),  # four digits glued to more: a size, no time
        ("12/01/2020 2500", [("12/01/2020", "DATE")]),  # no valid hour and minute
    ],
)
def test_fourth_round_misreads_are_found(text, expected):
    assert _found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Op. PA",  # a dotted caption before a technical word: no initials
        "Tech. MRI Head",
        "Rate: 60",  # one letter from "Date" but no name caption
        "Gain: LOW",
        "Mode: CDI",
        "ACC1",  # one digit is no id
        "ACCEL3",
        "7.5 \u039cHz",  # Greek look-alikes read as the Latin technical word they are
    ],
)
def test_fourth_round_lookalikes_stay(text):
    assert _found(text) == []


# --------------------------------------------------------------------- a fifth round (seeds 15, 16)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("23.12,2020", [("23.12,2020", "DATE")]),  # a dot of a day.month.year date read as a comma
        ("24,11.2012", [("24,11.2012", "DATE")]),
        ("24,11,2012", [("24,11,2012", "DATE")]),
        ("Sex: F Age35", [("F", "GENDER"), ("Age35", "AGE")]),  # the age caption glued to its value
        ("AGE35Y", [("AGE35Y", "AGE")]),
        ("Op: wo", [("wo", "NAME")]),  # initials read in lower case: w and o look alike in both cases
        ("Sono: sv", [("sv", "NAME")]),
        ("COOKDUSTIN'F", [("COOKDUSTIN'F", "NAME")]),  # the caret read as a quote before an initial
        ("ST.RICHARD'S", [("ST.RICHARD'S", "ADDRESS")]),  # "ST. RICHARD'S" with its space lost
        ("14-M AY-2017", [("14-M AY-2017", "DATE")]),  # a space inside the month
        ("Occupation: Librarian, academic", [("Librarian, academic", "PROFESSION")]),
        ("ion: Librarian, academic", [("Librarian, academic", "PROFESSION")]),  # the caption cut off
        ("Teacher, kVp 120", [("Teacher", "PROFESSION")]),  # a technical word is no qualifier
        ("10-MAR-192384 yrs F", [("10-MAR-192384 yrs", "AGE"), ("F", "GENDER")]),  # the age glued to the date
        ("PatientID: 789- 21- 4894", [("789- 21- 4894", "ID")]),  # spaces after the dashes
        ("62 [M]", [("62", "AGE"), ("[M]", "GENDER")]),  # a bare age by a bracketed sex marker
        ("[F] 45", [("[F]", "GENDER"), ("45", "AGE")]),
        ("Accession: A20 30903-7747", [("A20", "ID"), ("30903-7747", "ID")]),  # OCR split the id
        ("Accession: CT050827362 76", [("CT050827362 76", "ID")]),
        ("[M] 200", [("[M]", "GENDER")]),  # no age of 200 years
        ("Mode: A20 30903", [("30903", "ID")]),  # no id caption: A20 stays
    ],
)
def test_fifth_round_misreads_are_found(text, expected):
    assert _found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "12,13.2012",  # no month 13
        "1,5 2,0",  # decimal commas
        "Stage35",  # "age" inside a word is no caption
        "Page 35",
        "Op: ab",  # a and b do not look alike in both cases: a lower-case word, no initials
        "Mode: wo",  # not a name caption ("without" contrast)
        "DON'T",  # a contraction, no caret
        "JOHN'S",  # a possessive
        "ST.Abdomen",  # a technical word after "ST."
        "14-M AB-2017",  # no month MAB
        "Size 2010.5 yrs",  # no age glued to a year
    ],
)
def test_fifth_round_lookalikes_stay(text):
    assert _found(text) == []


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Male51y", [("Male51y", "AGE")]),  # the sex glued to the age
        ("FEMALE7y", [("FEMALE7y", "AGE")]),
        (".F45y", [("F45y", "AGE")]),  # a speck read as a dot before it
        ("F 18 m0", [("F", "GENDER"), ("18 m0", "AGE")]),  # the o of "mo" read as a zero
        ("Age: 45 y0", [("45 y0", "AGE")]),
        ("11.272011", [("11.272011", "DATE")]),  # the second separator lost, the year last
        ("27/112011", [("27/112011", "DATE")]),
        ("Exam: 12/ 18/ 2015", [("12/ 18/ 2015", "DATE")]),  # spaces by the separators
        ("2015 - 12 - 18", [("2015 - 12 - 18", "DATE")]),
        ("PINEDAMEDUARDOMI", [("PINEDAMEDUARDOMI", "NAME")]),  # the carets read as M
        ("PINEDAVEDUARDONL", [("PINEDAVEDUARDONL", "NAME")]),  # ... as V and N
        ("GOODMANMEGHAN", [("GOODMANMEGHAN", "NAME")]),  # the caret lost between two long names
        ("2996 Ryan Clifs, North Zacharyiville, MD", [("2996 Ryan Clifs, North Zacharyiville, MD", "ADDRESS")]),  # street suffix misread
        ("UNIVERSITY OF\nVERMONT HOSPITAL", [("UNIVERSITY OF", "ADDRESS"), ("VERMONT HOSPITAL", "ADDRESS")]),  # wrapped after "OF"
        ("Time: 07:28:", [("07:28:", "DATE")]),  # the seconds lost, their colon left
        ("Larry Long 609-18-3868", [("Larry", "NAME"), ("Long", "NAME"), ("609-18-3868", "ID")]),  # a technical surname before an id
    ],
)
def test_sixth_round_misreads_are_found(text, expected):
    assert _found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "1.252010",  # one digit before the dot: a number
        "0.952018",
        "1 / 2 / 3",  # no four-digit year
        "12/ 18/ 3015",
        "MI0.4",
        "Liver Long 2345",  # no first name before it
        "Ratio 1:28:",  # a one-digit hour
        "1.F45y",  # after a decimal point
        "12 Gain, Depth 5, MI",  # numbers and technical words, no address
        "TRANSVERSEMODE",  # technical words glued
        "LONGITUDINAL",
        "12 mm",
    ],
)
def test_sixth_round_lookalikes_stay(text):
    assert _found(text) == []


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Jul 30.", [("Jul 30", "DATE")]),  # the day's comma read as a dot, the year lost
        ("Patient: Ray J.2014-08-23", [("Ray", "NAME"), ("J.2014-08-23", "DATE")]),  # an initial glued to the date
        ("Pitch 0.984\n03.05-2008", [("03.05-2008", "DATE")]),  # two different separators
        ("12/18-2015", [("12/18-2015", "DATE")]),
        ("Ju 22 1958 046Y F", [("Ju 22 1958", "DATE"), ("046Y", "AGE"), ("F", "GENDER")]),  # month cut to two letters
        ("DOB Ap 1 1964", [("Ap 1 1964", "DATE")]),
        ("MAge: 62", [("MAge", "GENDER"), ("62", "AGE")]),  # the sex glued to the age caption
        ("FAge: 27 Sex: F", [("FAge", "GENDER"), ("27", "AGE"), ("F", "GENDER")]),
        ("07.03 2015", [("07.03 2015", "DATE")]),  # the second separator read as a space
        ("F35 yrs", [("F35 yrs", "AGE")]),  # the sex glued to the age, its unit apart
        ("Sono: W W", [("W W", "NAME")]),  # initials OCR set apart
        ("Tech: J K Age: 40", [("J K", "NAME"), ("40", "AGE")]),
    ],
)
def test_seventh_round_misreads_are_found(text, expected):
    assert _found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Mar 3.5 cm",  # a decimal after a month-like word
        "1.2014-08-23",  # a number's dot before it, not an initial's
        "2.5-3.0",
        "1.5/2.0-2010",
        "Ju 22",  # no year: a cut month alone is no date
        "Ser No. 12 2010",  # "No." is a number
        "1.5 2010",  # one-digit parts before a space: a number
        "F35",  # no unit
        "FOV 271",
        "MRN",
        "Sono: W W W W",  # four letters are no initials
        "Probe: L R",  # not a name caption
    ],
)
def test_seventh_round_lookalikes_stay(text):
    assert _found(text) == []


# --------------------------------------------------------------------- an eighth round (seeds 35-38)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ID: 92 470 458", [("92 470 458", "ID")]),  # the id's dashes read as spaces
        ("MRN: 123 456 789 Age: 44", [("123 456 789", "ID"), ("44", "AGE")]),  # all three groups, not two
        ("ID: 123 45 6789", [("123 45 6789", "ID")]),
        ("Acc: A2023 0042", [("A2023 0042", "ID")]),  # a split id as before
        ("Pr:COOKE,SHELLEY", [("COOKE,SHELLEY", "NAME")]),  # glued to a caption OCR misread
        ("COOKE.SHELLEY", [("COOKE.SHELLEY", "NAME")]),  # the comma read as a dot
        ("Sex: F (50S)", [("F", "GENDER"), ("(50S)", "AGE")]),  # the age's Y read as S
        ("DOE, JOHN M 50X", [("DOE, JOHN", "NAME"), ("M", "GENDER"), ("50X", "AGE")]),
        ("60 yrsFemale", [("60 yrs", "AGE")]),  # the unit glued to the sex after it
        ("SIM ON CLINIC", [("SIM ON CLINIC", "ADDRESS")]),  # a name split at a wide letter gap
        ("AX ON CLINIC", [("CLINIC", "ADDRESS")]),  # "AXON" is no name
        ("Wilson, Lori\nG.89-037-798", [("Wilson, Lori", "NAME")]),  # (the id goes with the block on images)
    ],
)
def test_eighth_round_misreads_are_found(text, expected):
    assert _found(text) == expected


@pytest.mark.parametrize(
    "text",
    ["ID: 12 34", "ID: 12 Se: 3", "Se 3 Im 45 67 89", "W: 400 L: 40", "T2.FLAIR", "AX.SAG", "TIB:0.5", "Pen 50S", "L (50S)",
     "2 mM", "60 yrsFoo"],
)
def test_eighth_round_lookalikes_stay(text):
    assert _found(text) == []
