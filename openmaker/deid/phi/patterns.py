"""Pattern recognisers: dates, times, ages, ids, phone, email, URL, SSN, postal
addresses, city names, labelled fields and sex markers.

Scores (the probability-like confidence the caller thresholds on):

===================================================  =====
labelled value ("MRN: 123", "DOB: ...", "Name: ...")  0.95
value after a caption cut at the border ("ge: 28")    0.95
e-mail                                                0.99
SSN 123-45-6789                                       0.95
date with 4-digit year or month name                  0.90
time with seconds or AM/PM                            0.90
age "61Y", "061Y", "61 yo", "61-year-old"             0.90
URL with scheme or www.                               0.95 (bare domain 0.75)
phone / fax number (also OCR-spaced, with extension)  0.85
postal address (number + street + suffix)             0.90, zip after a state 0.90
zip read a digit short after "City, ST" ("TX 7534")   0.85
city name alone or after an address ("Port Maria")    0.85
sex marker "[M]", "(F)"                               0.90
sex marker "M"/"F" next to a date, age or name        0.85; "Male"/"Female" 0.85
id: digit run of 8+ / 6-7 / 5 digits                  0.85 / 0.75 / 0.65
id: letters with 5+ digits ("A20230915-0042")         0.80
id: dashed digit groups, 7+ digits ("99-922-698")     0.70
age in months/weeks/days "22M" next to a date/sex     0.75
date with 2-digit year (slashes/dashes)               0.85, with dots 0.60
date YYYYMMDD (8 digits)                              0.80
month + year / day + month                            0.80 / 0.70
time right after a date or a "Time:" caption         0.85 (seconds or AM/PM 0.90)
time HH:MM                                            0.75
year 1900-2099 right after a date word                0.75
===================================================  =====
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .allowlist import UNIT_WORDS, is_technical
from .context import PhiContext
from .dates import MONTH_WORDS, TimeHit, find_ages, find_dates, find_times
from .document import Document, Word, split_parts
from .entities import ADDRESS, AGE, DATE, EMAIL, GENDER, ID, NAME, PHONE_OR_FAX, PROFESSION, URL, Span, merge_spans
from .fuzzy import edit_distance
from .recognizer import Coverage, Recognizer

# ---------------------------------------------------------------------------- dates


_DATE_SCORES = {
    "numeric4": 0.9,
    "text": 0.9,
    "numeric2": 0.85,
    "numeric2dot": 0.6,
    "compact": 0.8,
    "month_year": 0.8,
    "day_month": 0.7,
}
_DATE_WORDS = frozenset({"dob", "d.o.b", "born", "birth", "date", "year", "yr", "since", "in", "bd"})
_YEAR = re.compile(r"(?<![\d.])(?:19|20)\d\d(?![\d.])")


class DateRecognizer(Recognizer):
    name = "date"
    entity_types = (DATE,)
    description = "Dates in numeric (M/D/Y, D/M/Y, Y-M-D, dots, dashes, 2- and 4-digit years, YYYYMMDD) and month-name forms; a lone year after a date word."

    def analyze(self, doc, context, found):
        spans = [Span(h.begin, h.end, DATE, _DATE_SCORES[h.kind], self.name) for h in find_dates(doc.text)]
        dated = Coverage(spans)
        for m in _YEAR.finditer(doc.text):
            if dated.overlaps(m.start(), m.end()):
                continue
            word = doc.word_at(m.start())
            if word is None:
                continue
            prev = doc.neighbour(word, -1)
            if prev is not None:
                p = prev.core()[0].lower().rstrip(":")
                if p in _DATE_WORDS or p in MONTH_WORDS:
                    spans.append(Span(m.start(), m.end(), DATE, 0.75, self.name))
        return spans


class TimeRecognizer(Recognizer):
    name = "time"
    entity_types = (DATE,)
    description = (
        "Times of day: HH:MM:SS, H:MM:SS AM/PM, HH:MM, and H:MM with a misread AM/PM or cut-off minutes right "
        'after a date or a "Time:" caption (Comprehend Medical reports times as DATE).'
    )

    def analyze(self, doc, context, found):
        return [Span(h.begin, h.end, DATE, _time_score(h), self.name) for h in find_times(doc.text)]


def _time_score(hit: TimeHit) -> float:
    if hit.second is not None or hit.ampm:
        return 0.9
    return 0.85 if hit.anchored else 0.75


class AgeRecognizer(Recognizer):
    name = "age"
    entity_types = (AGE,)
    description = 'Ages: "61Y", "061Y" (DICOM AS), "61 yo", "61 yrs", "61-year-old", "3 mo old". Not "2D"/"3D".'

    def analyze(self, doc, context, found):
        return [Span(h.begin, h.end, AGE, 0.9, self.name) for h in find_ages(doc.text)]


# ---------------------------------------------------------------------------- ids & contacts

_DIGIT_RUN = re.compile(r"\d+")
_SSN_OR_PHONE = re.compile(r"\d{3}-\d{2}-\d{4}|(?:\d{1,3}-)?\d{3}-\d{3}-\d{4}|\d{3}-\d{4}|\d{4}-\d{2}-\d{2}|\d{2}-\d{2}-\d{4}")
_SSN = re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])|(?<![\d-])\d{3}[ ]?-[ ]?\d{2}[ ]?-[ ]?\d{4}(?![\d-])")
_PHONE = re.compile(
    r"(?<![\d\w/.-])(?:\+?1[ .-]?)?(?:\(\d{3}\)[ ]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\d/.-]?\d)"
    r"|(?<![\d\w])\+\d{1,3}(?:[ .-]\d{2,4}){2,5}(?![\d])"
)
# A phone number with spaces OCR put next to its brackets and dashes: "( 522) 752- 9882",
# "(522 ) 752 - 9882", "522 -752- 9882". Only with a bracketed area code or two separators,
# so that plain runs of numbers ("120 340 1234") stay.
_PHONE_SPACED = re.compile(
    r"(?<![\d\w/.-])\([ ]?\d{3}[ ]?\)[ ]?\d{3}[ ]?[.-]?[ ]?\d{4}(?![\d/.-]?\d)"
    r"|(?<![\d\w/.-])\d{3}[ ]?[.-][ ]?\d{3}[ ]?[.-][ ]?\d{4}(?![\d/.-]?\d)"
)
# A phone number with an extension, maybe with its start lost: "44)9026788x856", "752-9882x856".
_PHONE_EXTENSION = re.compile(r"(?<![\w.])[(+]?\d[\d)(.\- ]{5,}x\d{1,5}(?![\w.])")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")  # OCR may split off ".org"
_URL = re.compile(r"(?<![\w@])(?:https?://|www\.)[^\s]+", re.IGNORECASE)
_DOMAIN = re.compile(
    r"(?<![\w@.])[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|org|net|edu|gov|mil|io|health|info|us|uk|ca|au|de|fr|nl)(?:/[^\s]*)?(?![\w.])",
    re.IGNORECASE,
)


class IdRecognizer(Recognizer):
    name = "id"
    entity_types = (ID,)
    description = "Identifiers: digit runs of 5+ (MRN, accession, patient id), alphanumerics with 5+ digits (A20230915-0042, E20202020202), an id caption glued to digits (ACC109, MRN#4521), dotted UIDs."

    def analyze(self, doc, context, found):
        spans = []
        for word in doc.words:
            nxt = doc.neighbour(word, 1)
            unit_follows = nxt is not None and nxt.core()[0].lower() in UNIT_WORDS
            for text, b, e in split_parts(word, ",;:"):
                if _CAPTIONED_ID.fullmatch(text):
                    spans.append(Span(b, e, ID, 0.8, self.name))  # "ACC109": the rest cut off or unread
                    continue
                if is_technical(text) or (unit_follows and text.replace(".", "").isdigit()):
                    continue
                digits = sum(ch.isdigit() for ch in text)
                if digits < 5:
                    continue
                longest = max((len(r) for r in _DIGIT_RUN.findall(text)), default=0)
                letters = any(ch.isalpha() for ch in text)
                if letters:
                    if longest < 4:
                        continue  # "5G_1.5.6.850" is a version, not an id
                    score = 0.8
                elif longest >= 8:
                    score = 0.85
                elif longest >= 6:
                    score = 0.75
                elif longest == 5:
                    score = 0.65
                elif digits >= 7 and re.fullmatch(r"\d+(?:-\d+)+", text) and not _SSN_OR_PHONE.fullmatch(text):
                    score = 0.7  # "99-922-698"; dates, phones and SSNs score higher where they apply
                else:
                    continue  # digits split by separators: dates, phones, SSNs have their own recognisers
                spans.append(Span(b, e, ID, score, self.name))
        spans.extend(self._split_prefix(doc))
        return spans

    def _split_prefix(self, doc: Document) -> list[Span]:
        """"MR- 837917", "ACC- 12345", "RAD -327294": an id whose letter prefix OCR split off at the
        hyphen (a space read after or before it). An ALL-CAPS prefix of 2-5 letters, the hyphen, and
        5+ digits: one id over both words."""
        spans = []
        for line in doc.lines:
            for w1, w2 in zip(line, line[1:]):
                t1, (t2, _, e) = w1.text, w2.core()
                head = _SPLIT_ID_HEAD.fullmatch(t1) and _SPLIT_ID_DIGITS.fullmatch(t2)  # "MR- 837917"
                tail = _SPLIT_ID_PREFIX.fullmatch(t1) and _SPLIT_ID_TAIL.fullmatch(t2)  # "RAD -327294"
                if head or tail:
                    spans.append(Span(w1.begin, e, ID, 0.8, self.name))
        return spans


# An id caption glued to its value, however short the OCR read it: "ACC109", "MRN#4521", "PID0042".
_CAPTIONED_ID = re.compile(r"(?i)(?:acc|accn|acct|mrn|pid)#?\d{2,}[A-Z]?")
_SPLIT_ID_PREFIX = re.compile(r"[A-Z]{2,5}")
_SPLIT_ID_HEAD = re.compile(r"[A-Z]{2,5}-")
_SPLIT_ID_DIGITS = re.compile(r"\d{5,}")
_SPLIT_ID_TAIL = re.compile(r"-\d{5,}")


class SsnRecognizer(Recognizer):
    name = "ssn"
    entity_types = (ID,)
    description = "US social security numbers 123-45-6789, also with spaces OCR put by the dashes (Comprehend Medical reports them as ID)."

    def analyze(self, doc, context, found):
        return [Span(m.start(), m.end(), ID, 0.95, self.name) for m in _SSN.finditer(doc.text)]


def _extension_phone(text: str) -> bool:
    """Digits before an "x" extension that make a phone number and no matrix size ("1024 1024x1024"):
    7+ digits, and a bracket, dot or dash between them or a run of 7 ("44)9026788x856")."""
    number = text[: text.rindex("x")]
    digits = sum(ch.isdigit() for ch in number)
    return digits >= 7 and (any(ch in number for ch in "().-") or re.search(r"\d{7}", number) is not None)


class PhoneRecognizer(Recognizer):
    name = "phone"
    entity_types = (PHONE_OR_FAX,)
    description = (
        "Phone, fax and pager numbers: (216) 555-0100, 216-555-0100, +44 20 7946 0958; with OCR's spaces at "
        'the brackets and dashes ("( 522) 752- 9882"); with an extension, maybe its start lost ("44)9026788x856").'
    )

    def analyze(self, doc, context, found):
        spans = [Span(m.start(), m.end(), PHONE_OR_FAX, 0.85, self.name) for m in _PHONE.finditer(doc.text)]
        spans += [Span(m.start(), m.end(), PHONE_OR_FAX, 0.85, self.name) for m in _PHONE_SPACED.finditer(doc.text)]
        for m in _PHONE_EXTENSION.finditer(doc.text):
            if _extension_phone(m.group()):
                spans.append(Span(m.start(), m.end(), PHONE_OR_FAX, 0.85, self.name))
        return merge_spans(spans)


class EmailRecognizer(Recognizer):
    name = "email"
    entity_types = (EMAIL,)
    description = "E-mail addresses."

    def analyze(self, doc, context, found):
        return [Span(m.start(), m.end(), EMAIL, 0.99, self.name) for m in _EMAIL.finditer(doc.text)]


class UrlRecognizer(Recognizer):
    name = "url"
    entity_types = (URL,)
    description = "URLs with a scheme or www., and bare domains with a common top-level domain."

    def analyze(self, doc, context, found):
        spans = [Span(m.start(), m.end(), URL, 0.95, self.name) for m in _URL.finditer(doc.text)]
        full = Coverage(spans)
        for m in _DOMAIN.finditer(doc.text):
            if "@" in doc.text[max(0, m.start() - 1) : m.start()] or full.overlaps(m.start(), m.end()):
                continue
            spans.append(Span(m.start(), m.end(), URL, 0.75, self.name))
        return spans


# ---------------------------------------------------------------------------- addresses

# USPS street suffixes (common ones, full and abbreviated) plus UK/CA forms.
_STREET_SUFFIX = (
    "streets?|st|avenues?|ave|av|roads?|rd|boulevard|blvd|drives?|dr|lanes?|ln|ways?|courts?|ct|places?|pl|"
    "terrace|ter|parkways?|pkwy|highway|hwy|circles?|cir|squares?|sq|trail|trl|crescent|close|row|plaza|plz|"
    "alley|aly|route|rte|ridges?|villages?|vlg|falls|pike|track|mountains?|mtn|centers?|ctr|haven|unions?|"
    "prairie|lakes?|ford|fields|crossing|xing|estates?|gardens?|glens?|groves?|harbors?|heights|hts|hills?|"
    "islands?|junctions?|keys?|knolls?|landing|lights?|lodge|loop|manors?|meadows?|mills?|mission|orchard|"
    "parks?|pass|path|pines|plains?|points?|ports?|ranch|rapids?|rest|rivers?|run|shoals?|shores?|springs?|"
    "stations?|stream|summit|throughway|tunnel|turnpike|valleys?|via|views?|ville|vista|walks?|wells?|creek|"
    "cove|coves|bypass|branch|brooks?|bridge|bluffs?|bend|beach|causeway|canyon|cape|camp|cliffs?|club|"
    "commons?|corners?|course|crest|curve|dale|dam|divide|expressway|expy|extensions?|fall|ferry|flats?|"
    "forest|forges?|forks?|fort|freeway|fwy|gateway|greens?|hollow|inlet|isle|locks?|mall|motorway|neck|oval|"
    "overpass|pine|radial|ramp|shoal|skyway|spur|stravenue|trace|trafficway|underpass|wall"
)
#: A street suffix word ("Street", "Key", "Mill"): generic in an address, never PHI alone.
STREET_SUFFIX_RE = re.compile(f"(?:{_STREET_SUFFIX}|apt|suite|ste|unit)", re.IGNORECASE)
_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|"
    "NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|DC|PR|VI|GU|AS|MP|PW|FM|MH|AA|AE|AP|"
    "ON|QC|BC|AB|MB|SK|NS|NB|NL|PE"
)
_CAPWORD = r"(?:[A-Z][A-Za-z'.-]*)"
_STREET = re.compile(
    rf"(?<![\w/.-])\d{{1,6}}[A-Za-z]?(?:[ ]+{_CAPWORD}){{1,4}}[ ]+(?:{_STREET_SUFFIX})\b\.?"
    rf"(?:,?[ ]+(?:(?:apt|suite|ste|unit|#)\.?[ ]?#?\w+))?"
    rf"(?:,[ ]?{_CAPWORD}(?:[ ]{_CAPWORD}){{0,2}})?"
    rf"(?:,?[ ](?:{_STATES}))?(?:[ ]\d{{4,5}}(?:-\d{{4}})?(?!\d))?",
    re.IGNORECASE,
)
_CITY_STATE_ZIP = re.compile(
    rf"(?<![\w])(?:{_CAPWORD}(?:[ ]{_CAPWORD}){{0,2}},[ ]?)?(?:{_STATES})[ ]+\d{{5}}(?:-\d{{4}})?(?!\d)"
)
# A ZIP code OCR read a digit short ("Dallas, TX 7534" for 75342): only after "City, ST", where
# four digits are no technical value.
_CITY_STATE_ZIP4 = re.compile(
    rf"(?<![\w]){_CAPWORD}(?:[ ]{_CAPWORD}){{0,2}},[ ]?(?:{_STATES})[ ]+\d{{4}}(?![\d.,:/-]?\d)"
)
# "2996 Ryan Clifs, North Zacharyiville, MD": a house number, words, a city and a state, when the
# street's suffix was misread ("Clifs") or is not a listed one.
_STREET_CITY_STATE = re.compile(
    rf"(?<![\w/.-])\d{{1,6}}[A-Za-z]?(?:[ ]+{_CAPWORD}){{1,4}},[ ]?{_CAPWORD}(?:[ ]{_CAPWORD}){{0,2}},?[ ](?:{_STATES})(?![A-Za-z])"
    rf"(?:[ ]\d{{4,5}}(?:-\d{{4}})?(?!\d))?"
)
_PO_BOX = re.compile(r"\bP\.?[ ]?O\.?[ ]?Box[ ]+\d+", re.IGNORECASE)
# What may stand before "City, ST 12345" on the same line and still be the address:
# "7249 Bradley Village Suite 828, " - a house number, words, unit numbers, commas.
# OCR may glue the house number to the street: "5174Moore Rapids, ".
_ADDRESS_HEAD = re.compile(r"\d{1,6}(?:[A-Za-z]?(?:[ ]+[A-Za-z0-9#.'-]+){1,8}|[A-Z][a-z]+(?:[ ]+[A-Za-z0-9#.'-]+){0,7}),?[ ]*$")


_UNIT_WORDS = ("suite", "ste", "apt", "unit", "floor", "fl")
_UNIT_NUMBER = re.compile(r"#?\d{1,6}[A-Za-z]?,?")


def _unit_word(token: str) -> bool:
    """A unit word ("Suite", "Ste.", "Apt", "Unit", "#", "Floor", "Fl"), or OCR's misreading of one:
    "Suite" read "wite", "Unit" read "Umit" (two errors allowed in a 5-letter word, one in "Unit";
    three-letter words exactly)."""
    low = token.lower().rstrip(".,")
    if low == "#" or low in _UNIT_WORDS:
        return True
    if not low.isalpha() or len(low) < 4:
        return False
    return any(len(w) >= 4 and edit_distance(low, w, len(w) - 3) <= len(w) - 3 for w in _UNIT_WORDS)


def unit_head(text: str, line_begin: int, begin: int) -> int:
    """Where an address starts that OCR read as "wite 475, Maryport, NE 56003" (a misread "Suite"):
    the short tokens right before "City, ST ZIP" on its line - unit numbers with an optional comma
    and unit words or their misreads (:func:`_unit_word`) - belong to it when one is a number."""
    tokens = [(m.start(), m.group()) for m in re.finditer(r"\S+", text[line_begin:begin])]
    start, number = begin, False
    for pos, tok in reversed(tokens):
        if _UNIT_NUMBER.fullmatch(tok):
            number = True
        elif not _unit_word(tok):
            break
        start = line_begin + pos
    return start if number else begin


class AddressRecognizer(Recognizer):
    name = "address"
    entity_types = (ADDRESS,)
    description = 'Postal addresses: "120 Oak Street, Springfield", "Cleveland, OH 44195", "PO Box 12".'

    def analyze(self, doc, context, found):
        spans = []
        patterns = ((_STREET, 0.9), (_STREET_CITY_STATE, 0.85), (_CITY_STATE_ZIP, 0.9), (_CITY_STATE_ZIP4, 0.85), (_PO_BOX, 0.9))
        for rx, score in patterns:
            for m in rx.finditer(doc.text):
                text = m.group()
                # A street match must not be only technical words ("4 L Dr").
                words = text.split()
                if rx in (_STREET, _STREET_CITY_STATE) and all(is_technical(w) for w in words[1:-1]):
                    continue
                begin = m.start()
                if rx is _CITY_STATE_ZIP or rx is _CITY_STATE_ZIP4:
                    a, _ = doc.line_spans[doc.text.count("\n", 0, begin)]
                    head = _ADDRESS_HEAD.search(doc.text, a, begin)
                    if head and head.end() == begin and ":" not in head.group():
                        begin = head.start()
                    else:
                        begin = unit_head(doc.text, a, begin)
                spans.append(Span(begin, m.end(), ADDRESS, score, self.name))
        return merge_spans(spans)


# ---------------------------------------------------------------------------- city names (phase 2)

#: Words that start a US place name: "Lake Ritaside", "Port Maria", "North John", "Mount Vernon".
CITY_PREFIXES = frozenset({"north", "south", "east", "west", "new", "lake", "port", "mount", "fort"})
#: Endings of US place names built on a person's name: "Ritaside", "Thompsonberg", "Jacksonville".
_PLACE_SUFFIXES = tuple(
    sorted(
        "town ton land ville berg burgh borough bury view port mouth stad furt chester fort haven side shire".split(),
        key=len,
        reverse=True,
    )
)
_STATE_ZIP = re.compile(rf"(?:{_STATES}),?(?: \d{{4,5}}(?:-\d{{4}})?)?")


def _place_case(core: str) -> bool:
    """Capitalised or ALL CAPS letters: "Ritaside", "RITASIDE" (not "ritaside", "RitaSide")."""
    return len(core) >= 2 and core.isalpha() and (core.isupper() or (core[0].isupper() and core[1:].islower()))


def _place_stem(word: str) -> bool:
    """A listed first name or surname (an ambiguous one too: "Mary", "Brown"), not technical,
    not a field label or month."""
    from .names import name_lists  # names imports this module

    low = word.lower()
    lists = name_lists()
    return (
        (low in lists.first or low in lists.last)
        and not is_technical(word)
        and low not in LABEL_WORDS
        and low not in MONTH_WORDS
    )


def place_name_word(core: str) -> bool:
    """A listed first name or surname and a place suffix: "Ritaside" (Rita + side),
    "THOMPSONBERG", "Malonefort", "Jacksonville". Technical words do not qualify, nor do
    words whose stem is no listed name ("Report", "Overview", "Inside"), nor listed names
    themselves ("HAMILTON", "CLEVELAND": a surname is more likely)."""
    if len(core) < 6 or not _place_case(core) or is_technical(core) or _place_stem(core):
        return False
    low = core.lower()
    for suffix in _PLACE_SUFFIXES:
        stem = core[: -len(suffix)]
        if low.endswith(suffix) and len(stem) >= 3 and _place_stem(stem):
            return True
    return False


_DIRECTIONS = ("north", "south", "east", "west")


def misread_direction(core: str) -> bool:
    """A compass prefix of a place name that OCR misread by one letter, its first letter kept:
    "Narth", "Noth", "Nrth" (North), "Soth" (South), "Eas" (East), "Wes" (West). "Last", "Test",
    "Mouth" keep no first letter of one and do not count."""
    from .fuzzy import edit_distance

    low = core.lower()
    return (
        len(core) >= 3
        and _place_case(core)
        and low not in CITY_PREFIXES
        and any(low[0] == d[0] and edit_distance(low, d, 1) == 1 for d in _DIRECTIONS)
    )


def city_at(line: Sequence[Word], k: int, *, misread: bool = False) -> int:
    """How many words (2, 1 or 0) of a US-style city name start at ``line[k]``: a prefix
    (:data:`CITY_PREFIXES`) and a listed name or place-name word ("Lake Ritaside", "PORT
    MARIA", "North John"), or a place-name word alone ("Thompsonberg"). A compass prefix
    OCR misread (:func:`misread_direction`: "Noth Christopherberg") counts before a place-name
    word, and before a listed name too where ``misread`` says the context is a place's
    ("Narth John General")."""
    word = line[k]
    core = word.core()[0]
    if k + 1 < len(line) and word.text == core:
        nxt = line[k + 1].core()[0]
        if _place_case(core) and _place_case(nxt):
            if core.lower() in CITY_PREFIXES and (_place_stem(nxt) or place_name_word(nxt)):
                return 2
            if misread_direction(core) and (place_name_word(nxt) or (misread and _place_stem(nxt))):
                return 2
    return 1 if place_name_word(core) else 0


class CityRecognizer(Recognizer):
    name = "city"
    entity_types = (ADDRESS,)
    description = (
        'City names built like US place names ("Lake Ritaside", "Port Maria", "Thompsonberg") on a line of '
        'their own (maybe with a state and ZIP) or right after an institution or street ("Mercy Hospital, Ritaside").'
    )
    phase = 2

    def analyze(self, doc, context, found: Sequence[Span]):
        addresses = Coverage([s for s in found if s.type == ADDRESS and s.score >= 0.6])
        spans = []
        for line in doc.lines:
            k = 0
            while k < len(line):
                n = city_at(line, k)
                if not n:
                    k += 1
                    continue
                rest = [w.text for w in line[k + n :]]
                alone = not rest or _STATE_ZIP.fullmatch(" ".join(rest))
                if (k == 0 and alone) or (k > 0 and addresses.word(line[k - 1])):
                    spans.append(Span(line[k].core()[1], line[k + n - 1].core()[2], ADDRESS, 0.85, self.name))
                elif k == 1 and alone and facility_acronym(line[0]):
                    # "WXJQ MASONBERG": a facility's initials and its town, its keyword cut off by the display
                    spans.append(Span(line[0].core()[1], line[k + n - 1].core()[2], ADDRESS, 0.85, self.name))
                k += n
            if len(line) == 2 and facility_acronym(line[0]) and _cut_city_prefix(line[1]):
                spans.append(Span(line[0].core()[1], line[1].core()[2], ADDRESS, 0.85, self.name))  # "BLCM EAST"
        return spans


def facility_acronym(word: Word) -> bool:
    """Three to five capitals that are no technical term, label or listed name: a facility's
    initials ("WXJQ", "CCHS"), not "MI", "THI" or "ANN"."""
    from .names import name_lists  # names imports this module

    core = word.core()[0]
    if not (3 <= len(core) <= 5 and core.isalpha() and core.isupper()) or is_technical(core):
        return False
    low = core.lower()
    return low not in LABEL_WORDS and low not in CITY_PREFIXES and not any(name_lists().lookup(core))


def _cut_city_prefix(word: Word) -> bool:
    """A compass or city prefix in capitals ending a line, the place name after it cut off: "EAST"."""
    core = word.core()[0]
    return core.isupper() and core.lower() in CITY_PREFIXES


# ---------------------------------------------------------------------------- labelled fields

# label words (lower case, without trailing ':' '#' '.') -> (type, needs a colon)
_LABELS: dict[tuple[str, ...], tuple[str, bool]] = {}


def _label(type_: str, needs_colon: bool, *phrases: str) -> None:
    for p in phrases:
        _LABELS[tuple(p.lower().split())] = (type_, needs_colon)


_label(NAME, True, "name", "patient name", "pt name", "patient", "pt", "pat", "pat name", "physician", "phys",
       "ref", "ref phys", "ref. phys", "referring", "referring physician", "referring phys", "referred by",
       "ref dr", "ref. dr", "attending", "radiologist", "operator", "op", "operators", "sonographer", "sono",
       "tech", "technologist", "technician", "performed by", "performing", "performing physician", "read by",
       "reader", "reading physician", "requested by", "requesting physician", "ordering", "ordered by",
       "ordering physician", "doctor", "surgeon", "nurse", "resident", "fellow", "cardiologist", "provider",
       "family name", "given name", "last name", "first name", "surname", "mother", "father", "guardian")
_label(NAME, False, "dr", "mr", "mrs", "ms", "miss", "prof")
_label(DATE, True, "date", "bd", "exam date", "study date", "scan date", "acq date", "acquisition date",
       "visit date", "admit date", "admission date", "discharge date", "service date", "procedure date")
_label(DATE, False, "dob", "d.o.b", "birth date", "birthdate", "date of birth", "born")
_label(AGE, False, "age", "pt age", "patient age")
_label(GENDER, False, "sex", "gender", "pt sex", "patient sex")
_label(ID, True, "id", "case", "order", "visit", "encounter", "enc", "account", "acct", "record", "serial",
       "sn", "req", "requisition", "chart", "exam", "exam no", "exam #", "study", "study no", "study #")
_label(ID, False, "mrn", "mr#", "mr no", "med rec", "med rec no", "medical record", "medical record number",
       "pt id", "patient id", "pid", "acc", "acc#", "acc no", "accession", "accession no", "accession number",
       "study id", "exam id", "visit id", "encounter id", "account no", "ssn", "social security", "nhs",
       "nhs no", "nhs number", "hospital no", "hospital number", "insurance", "policy", "member id")
_label(ADDRESS, True, "institution", "hospital", "facility", "site", "location", "address", "addr", "dept",
       "department", "clinic", "ward", "unit", "room", "city", "state", "zip", "country", "referring hospital")
_label(PHONE_OR_FAX, True, "tel", "phone", "ph", "fax", "mobile", "cell", "pager", "telephone")
_label(PROFESSION, True, "occupation", "profession", "employer", "job")

_NAME_CAPTIONS = [k for k, (t, _) in _LABELS.items() if t == NAME and len(k) == 1 and len(k[0]) >= 4]

#: Every word used in a field label ("dob", "mrn", "patient", ...), lower case.
LABEL_WORDS: frozenset[str] = frozenset(w for k in _LABELS for w in k)
_MAX_LABEL = max(len(k) for k in _LABELS)
_LABEL_SCORES = {NAME: 0.95, DATE: 0.95, AGE: 0.95, GENDER: 0.95, ID: 0.95, ADDRESS: 0.9, PHONE_OR_FAX: 0.95, PROFESSION: 0.9}
_TITLE_SCORE = 0.9
_SEX_VALUES = frozenset({"m", "f", "male", "female", "o", "u", "x", "other", "unknown", "unk", "man", "woman"})
_INSTITUTION_VOCAB = frozenset(
    {"general", "medical", "med", "center", "centre", "ctr", "hospital", "clinic", "health", "university", "st",
     "saint", "of", "the", "and", "&", "regional", "community", "memorial", "county", "children's", "childrens",
     "radiology", "imaging", "dept", "department", "ward", "unit", "floor"}
)


def _name_like(word: Word) -> bool:
    """A technical-looking word that is still a name here: "LONG," of "Name: LONG, STEVEN"."""
    core = word.core()[0]
    if len(core) < 3 or not core.isalpha():
        return False
    if word.text.endswith(",") or "^" in word.text:
        return True
    from .names import name_lists  # names imports this module

    lists = name_lists()
    low = core.lower()
    return low in lists.first or low in lists.last


#: A sex marker OCR glued to the caption after it: "MAge: 27" is "M Age: 27".
_GLUED_SEX = re.compile(r"[MF](?=[A-Z][a-z])")


def _norm_label_word(text: str) -> str:
    low = text[1:] if _GLUED_SEX.match(text) else text
    low = low.lower().rstrip(":#.").rstrip(":")
    # a caption's first letter read as a digit: "0p:" is "Op:"
    return "o" + low[1:] if low[:1] == "0" and low[1:2].isalpha() else low


def label_at(doc: Document, word: Word) -> tuple[str, int, bool, str] | None:
    """A field label starting at ``word``: (type, number of words, colon seen, value text
    after a colon inside the last label word) or None."""
    line = doc.lines[word.line]
    best = None
    for n in range(min(_MAX_LABEL, len(line) - word.pos), 0, -1):
        ws = line[word.pos : word.pos + n]
        last = ws[-1].text
        inner = ""
        if ":" in last and not last.endswith(":"):
            head, _, inner = last.partition(":")
            words = [w.text for w in ws[:-1]] + [head]
        else:
            words = [w.text for w in ws]
        key = tuple(_norm_label_word(w) for w in words)
        if key in _LABELS:
            type_, needs_colon = _LABELS[key]
            colon = words[-1].endswith((":", "#")) or ":" in last or last.endswith("#")
            nxt = line[word.pos + n] if word.pos + n < len(line) else None
            if not colon and nxt is not None and nxt.text in (":", "#", ":#"):
                colon = True
            if needs_colon and not colon and not _dotted_initials_caption(type_, words[-1], nxt):
                continue
            best = (type_, n, colon, inner)
            break
    return best


def _dotted_initials_caption(type_: str, last: str, nxt: Word | None) -> bool:
    """A name caption whose colon OCR read as a dot, before initials: "Sono. CZN", "Op. YK"."""
    return type_ == NAME and last.endswith(".") and nxt is not None and re.fullmatch(r"[A-Z]{2,3}", nxt.text) is not None


# A caption whose first letters the image border cut off: "ge: 28" is "Age: 28", "ex: F" is
# "Sex: F". Only captions whose values can be checked (an age, a date, a sex, a name).
_CLIPPED_TYPES = (AGE, DATE, GENDER, NAME)


def _clipped_captions() -> dict[tuple[str, ...], str | None]:
    """Caption word tuples with the first word cut at the front -> the caption's type (None
    where captions of two types clip to the same letters). Half the word is left ("ge" of
    "age"), of a name caption two thirds and three letters ("ame" of "name"); a cut that is a
    caption of its own ("id" of "pid") is left to :func:`label_at`."""
    clipped: dict[tuple[str, ...], str | None] = {}
    for key, (type_, _) in _LABELS.items():
        if type_ not in _CLIPPED_TYPES:
            continue
        head = key[0]
        for cut in range(1, len(head) - 1):
            clip = head[cut:]
            if len(clip) * 2 < len(head) or (type_ == NAME and (len(clip) < 3 or len(clip) * 3 < len(head) * 2)):
                continue
            ckey = (clip, *key[1:])
            if ckey in _LABELS:
                continue
            clipped[ckey] = type_ if clipped.get(ckey, type_) == type_ else None
    return clipped


_CLIPPED_LABELS = _clipped_captions()
_CLIPPED_AGE = re.compile(r"(?i)(\d{1,3})(?:y|yrs?|yo|m|mo|w|d)?")


def _clipped_value_ok(doc: Document, value: Word, type_: str) -> bool:
    """Is ``value`` (the first word after a clipped caption) a value of that caption?"""
    core, b, _ = value.core()
    if type_ == AGE:
        m = _CLIPPED_AGE.fullmatch(core)
        return m is not None and int(m.group(1)) <= 130
    if type_ == DATE:
        return any(h.begin == b for h in find_dates(doc.text))
    if type_ == GENDER:
        return core.lower() in _SEX_VALUES
    from .names import candidate  # names imports this module

    return candidate(core)


def clipped_label_at(doc: Document, word: Word) -> tuple[str, int, bool, str] | None:
    """A field caption at the start of a line that lost its first letters at the image border
    ("ge: 28 Sex: F", "OB: 03/02/1961"), as :func:`label_at` gives it. The clipped word keeps at
    least two letters and half of the caption word, a colon follows, and the next word is a
    value of that caption (an age, a date, a sex, a name): "te: 90" (TE, echo time) is no date."""
    if word.pos != 0:
        return None
    line = doc.lines[word.line]
    for n in range(min(_MAX_LABEL, len(line)), 0, -1):
        ws = line[:n]
        last = ws[-1].text
        inner = ""
        if ":" in last and not last.endswith(":"):
            head, _, inner = last.partition(":")
            words = [w.text for w in ws[:-1]] + [head + ":"]
        else:
            words = [w.text for w in ws]
        if not words[-1].endswith(":"):
            continue
        type_ = _CLIPPED_LABELS.get(tuple(_norm_label_word(w) for w in words))
        if type_ is None:
            continue
        if inner:
            b = ws[-1].begin + last.index(":") + 1
            value: Word | None = Word(inner, b, ws[-1].end, word.line, n - 1)
        else:
            value = line[n] if n < len(line) else None
        if value is not None and _clipped_value_ok(doc, value, type_):
            return type_, n, True, inner
        return None
    return None


def _one_substitution(a: str, b: str) -> bool:
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b)) == 1


def misread_name_caption_at(doc: Document, word: Word) -> tuple[str, int, bool, str] | None:
    """A one-word name caption with one letter misread, its colon kept, before initials or a
    capitalised word: "Tedh:RU", "Sonc: AB" (as :func:`label_at` gives it). Captions of 4+ letters
    only, and never a word that is a caption or a technical term itself."""
    head, colon, inner = word.text.partition(":")
    low = head.lower()
    if not colon or len(low) < 4 or not low.isalpha() or (low,) in _LABELS or is_technical(head):
        return None
    if not any(_one_substitution(low, key[0]) for key in _NAME_CAPTIONS):
        return None
    value = inner if inner else (nxt.text if (nxt := doc.neighbour(word, 1)) is not None else "")
    if not re.fullmatch(r"[A-Z]{2,3}|[A-Z][A-Za-z'-]+,?", value):
        return None
    return NAME, 1, True, inner


def _is_label_start(doc: Document, word: Word) -> bool:
    """Does a field label start at ``word``? Without a colon only when what follows looks
    like the label's value ("MRN 123"; but "Insurance risk surveyor" is a value itself)."""
    r = label_at(doc, word)
    if r is None:
        return False
    type_, n, colon, inner = r
    if colon:
        return True
    if type_ not in (DATE, ID, AGE, GENDER):
        return False
    nxt = doc.neighbour(word, n)
    if nxt is None:
        return False
    core = nxt.core()[0]
    if type_ == GENDER:
        return core.lower() in _SEX_VALUES
    return any(ch.isdigit() for ch in core) or core.lower().rstrip(".") in MONTH_WORDS


class LabelledFieldRecognizer(Recognizer):
    name = "labelled"
    entity_types = (NAME, DATE, AGE, GENDER, ID, ADDRESS, PHONE_OR_FAX, PROFESSION)
    description = 'The value after a field label on the same line: "Name:", "Patient:", "DOB:", "MRN:", "Acc:", "Age:", "Sex:", "Dr.", "Ref:", "Operator:", "Institution:", "Tel:".'

    def analyze(self, doc, context, found):
        spans: list[Span] = []
        for line in doc.lines:
            i = 0
            while i < len(line):
                word = line[i]
                hit = label_at(doc, word) or clipped_label_at(doc, word) or misread_name_caption_at(doc, word)
                if hit is None:
                    i += 1
                    continue
                type_, n, colon, inner = hit
                if _GLUED_SEX.match(word.text):
                    spans.append(Span(word.begin, word.begin + 1, GENDER, _LABEL_SCORES[GENDER], self.name))
                last = line[i + n - 1]
                value_words: list[Word] = []
                if inner:
                    b = last.text.index(":") + 1 + last.begin
                    value_words.append(Word(last.text[b - last.begin :], b, last.end, last.line, last.pos))
                j = i + n
                while j < len(line) and line[j].text in (":", "#"):
                    j += 1
                picked = self._value(doc, line, j, type_, value_words, colon)
                if picked:
                    score = _LABEL_SCORES[type_] if colon or type_ != NAME else _TITLE_SCORE
                    b, e = picked[0].begin, picked[-1].end
                    text = doc.text[b:e]
                    strip = len(text) - len(text.rstrip(",;"))
                    if e - strip > b:
                        spans.append(Span(b, e - strip, type_, score, self.name))
                i = j if j > i else i + 1
        return spans

    def _value(self, doc, line, j, type_, first, colon):
        picked = list(first)
        limit = {NAME: 4, DATE: 4, AGE: 2, GENDER: 1, ID: 2, ADDRESS: 8, PHONE_OR_FAX: 7, PROFESSION: 8}[type_]
        k = j
        while k < len(line) and len(picked) < limit:
            w = line[k]
            core = w.core()[0]
            if type_ == PHONE_OR_FAX and _phone_punctuation(w.text):
                picked.append(w)  # "Fax: ( 522) 752- 9882": a bracket or dash OCR set apart
                k += 1
                continue
            if not core or _is_label_start(doc, w):
                break
            low = core.lower()
            if type_ == NAME:
                if colon and not picked and _lowercase_initials(line, k, doc):
                    picked.append(w)  # "Op: wo": initials whose letters look the same in lower case
                    break
                if any(ch.isdigit() for ch in core) or not core[0].isalpha() or not core[0].isupper():
                    break
                if is_technical(core) and not (len(core) == 1 and picked) and not _name_like(w):
                    nxt = line[k + 1] if k + 1 < len(line) else None
                    alone = nxt is None or _is_label_start(doc, nxt)
                    initials = colon and not picked and (
                        (alone and re.fullmatch(r"[A-Z]{2,3}", core)) or _spaced_initials(doc, line, k)
                    )
                    # "Patient: WALL JENNIFER": a surname that is a technical word, a name after it
                    last_first = (
                        colon and not picked and core.isalpha() and low not in LABEL_WORDS and nxt is not None and _name_like(nxt)
                    )
                    if not (initials or last_first):
                        break  # "Op: PA" is the operator's initials; "Patient: DOE Breast" stops at Breast
            elif type_ == DATE:
                if not (any(ch.isdigit() for ch in core) or low.rstrip(".") in MONTH_WORDS):
                    break
            elif type_ == AGE:
                if picked and any(ch.isalpha() for ch in picked[-1].core()[0]):
                    break
                if picked and not re.fullmatch(r"(?i)y|yrs?|years?|yo|m|mo|mos|months?|w|wks?|d|days?", core):
                    break
                if not picked and not any(ch.isdigit() for ch in core):
                    break
            elif type_ == GENDER:
                if low not in _SEX_VALUES:
                    break
            elif type_ == ID:
                # ids hold digits; "Exam: US KIDNEY" has no id; a second word only continues
                # a split number ("A2023 0042"), a date or time after it is not the id
                if not any(ch.isdigit() for ch in core):
                    break
                groups = 0 if picked else _spaced_id_groups(line, k)
                if groups:
                    picked += line[k : k + groups]  # "ID: 92 470 458": the id's dashes read as spaces
                    break
                if picked and not re.fullmatch(r"[A-Za-z]{0,3}\d+[A-Za-z]?", core):
                    break
                split_tail = picked and core.isdigit() and picked[-1].text[-1:].isdigit()  # "CT050827362 76"
                if is_technical(core) and not re.search(r"\d{3}", core) and not (not picked and _id_continues(line, k)) and not split_tail:
                    break  # "Acc: A20 30903-7747": OCR split the id after a probe-like head
            elif type_ == PHONE_OR_FAX:
                if not _phone_part(core):
                    break
            elif type_ == ADDRESS:
                if is_technical(core) and low not in _INSTITUTION_VOCAB and not any(ch.isdigit() for ch in core):
                    break
            # PROFESSION: the rest of the line ("Occupation: Site engineer")
            picked.append(w)
            k += 1
            if type_ == NAME and not colon and len(picked) >= 3:
                break
        if type_ == PHONE_OR_FAX:
            while picked and not any(ch.isdigit() for ch in picked[-1].text):
                picked.pop()  # a dash or bracket left over at the end
            if sum(ch.isdigit() for w in picked for ch in w.text) < 4:
                picked = []  # "Tel: 2 pages" holds no number
        return picked


def _spaced_initials(doc, line: list[Word], k: int) -> bool:
    """Are ``line[k:]`` two or three capital letters OCR set apart, alone after a name caption ("Sono: W W")?"""
    n = 0
    while k + n < len(line) and re.fullmatch(r"[A-Z]\.?", line[k + n].text):
        n += 1
    return 2 <= n <= 3 and (k + n == len(line) or _is_label_start(doc, line[k + n]))


def _spaced_id_groups(line: list[Word], k: int) -> int:
    """How many words from ``line[k]`` are one id whose separators OCR read as spaces: two to four
    groups of 2-4 digits, 6 digits or more in all ("92 470 458", "123 45 6789"); else 0."""
    n = digits = 0
    while k + n < len(line) and n < 4 and re.fullmatch(r"\d{2,4}", line[k + n].text):
        digits += len(line[k + n].text)
        n += 1
    return n if n >= 2 and digits >= 6 else 0


def _id_continues(line: list[Word], k: int) -> bool:
    """Does the word after ``line[k]`` carry on an id (four or more digits, no letters but a suffix)?"""
    nxt = line[k + 1] if k + 1 < len(line) else None
    return nxt is not None and re.fullmatch(r"\d{4,}(?:-\d+)*[A-Za-z]?", nxt.core()[0]) is not None


#: Letters whose small form is their capital made smaller: OCR cannot tell "WO" from "wo".
_CASELESS_LETTERS = re.compile(r"[cosuvwxz]{2,3}")


def _lowercase_initials(line: list[Word], k: int, doc) -> bool:
    """Is ``line[k]``, right after a name caption, initials OCR read in lower case ("Op: wo")?
    Two or three letters that look alike in both cases, alone after the caption."""
    nxt = line[k + 1] if k + 1 < len(line) else None
    return _CASELESS_LETTERS.fullmatch(line[k].text) is not None and (nxt is None or _is_label_start(doc, nxt))


def _phone_punctuation(text: str) -> bool:
    """A bracket, dash or dot OCR split off a phone number as a word of its own: "(", "-", ")"."""
    return text in ("(", ")", "-", ".", "+")


def _phone_part(core: str) -> bool:
    """A word of a phone number after a "Fax:"/"Tel:" caption: mostly digits ("752-", "9882",
    "x856", "(522)", "9O26788" read with a letter) - not a word ("Fax: 2 pages" stops at "pages")."""
    digits = sum(ch.isdigit() for ch in core)
    letters = sum(ch.isalpha() for ch in core)
    return digits > 0 and digits >= 2 * letters


# ---------------------------------------------------------------------------- sex markers (phase 2)

_BRACKETED_SEX = re.compile(r"[\[(<]([MFmf])[\])>]")
_SEX_WORD = re.compile(r"(?i)male|female")
_SHORT_AGE = re.compile(r"(\d{1,2})([MWD])")
_SEX_CONTEXT_LABELS = frozenset({"age", "dob", "d.o.b", "sex", "gender", "born"})
_AGE_SLASH_SEX = re.compile(r"(?P<age>\d{1,3}[ ]?[Yy]?)/(?P<sex>[MF])|(?P<sex2>[MF])/(?P<age2>\d{1,3}[ ]?[Yy]?)")


def _bare_ages_by(doc: Document, marker: Word, source: str) -> list[Span]:
    """A bare number of years (1-130, no unit) right before or after a bracketed sex marker: "62 [M]"."""
    spans = []
    for step in (-1, 1):
        nb = doc.neighbour(marker, step)
        if nb is not None and re.fullmatch(r"\d{1,3}", nb.text.rstrip(",;")) and 0 < int(nb.text.rstrip(",;")) <= 130:
            core, b, e = nb.core()
            spans.append(Span(b, e, AGE, 0.75, source))
    return spans


#: An age whose unit OCR misread, as it follows a sex marker: "(50S)", "(50V)", "50V" for "50Y".
_MISREAD_AGE = re.compile(r"\((\d{1,3})[A-Z]\)|(\d{1,3})[YVSX]")


def _misread_ages_after(doc: Document, sexes: Coverage, source: str) -> list[Span]:
    """The word right after a sex marker when it is an age with its unit misread ("F (50S)")."""
    spans = []
    for word in doc.words:
        m = _MISREAD_AGE.fullmatch(word.text.rstrip(",;"))
        prev = doc.neighbour(word, -1)
        if m and prev is not None and sexes.word(prev) and 0 < int(m.group(1) or m.group(2)) <= 130:
            spans.append(Span(word.begin, word.begin + m.end(), AGE, 0.75, source))
    return spans


class SexRecognizer(Recognizer):
    name = "sex"
    entity_types = (GENDER, AGE)
    description = 'Sex markers: "[M]", "(F)", "Male", "Female", "61Y/M", and a bare "M"/"F" next to a date, age or name (not the M of "M-mode" or "L-M", not a lone M on a technical line).'
    phase = 2

    def analyze(self, doc, context, found: Sequence[Span]):
        anchor_spans = [s for s in found if s.type in (DATE, AGE, NAME) and s.score >= 0.5]
        spans = self._short_ages(doc, Coverage(anchor_spans))
        anchors = Coverage(anchor_spans + spans)
        # the first letter of a name OCR split off ("M ARSHALL") is no sex marker
        split_names = Coverage([s for s in found if s.source == "split_name"])
        for word in doc.words:
            t = word.text
            core, b, e = word.core()
            m = _BRACKETED_SEX.fullmatch(t.rstrip(",;"))
            if m:
                spans.append(Span(word.begin + m.start(1) - 1, word.begin + m.end(1) + 1, GENDER, 0.9, self.name))
                spans += _bare_ages_by(doc, word, self.name)  # "62 [M]", "[F] 45"
                continue
            if _SEX_WORD.fullmatch(core):
                spans.append(Span(b, e, GENDER, 0.85, self.name))
                continue
            m = _AGE_SLASH_SEX.fullmatch(core)
            if m:
                age_g, sex_g = ("age", "sex") if m.group("age") else ("age2", "sex2")
                spans.append(Span(b + m.start(sex_g), b + m.end(sex_g), GENDER, 0.9, self.name))
                spans.append(Span(b + m.start(age_g), b + m.end(age_g), AGE, 0.9, self.name))
                continue
            if core in ("M", "F") and t.rstrip(",;") == core and not split_names.word(word):
                for step in (-1, 1):
                    nb = doc.neighbour(word, step)
                    if nb is not None and (anchors.word(nb) or _norm_label_word(nb.text) in _SEX_CONTEXT_LABELS):
                        spans.append(Span(b, e, GENDER, 0.85, self.name))
                        break
        return spans + _misread_ages_after(doc, Coverage([s for s in [*found, *spans] if s.type == GENDER]), self.name)

    def _short_ages(self, doc: Document, anchors: Coverage) -> list[Span]:
        """"22M", "6W", "10D" next to a date, a name, a sex marker or an age/sex label: an age
        in months/weeks/days (alone they are too ambiguous)."""
        spans = []
        for word in doc.words:
            core, b, e = word.core()
            m = _SHORT_AGE.fullmatch(core)
            if not m or (m.group(2) == "D" and len(m.group(1)) == 1):  # 2D/3D/4D are modes
                continue
            for step in (-1, 1):
                nb = doc.neighbour(word, step)
                if nb is None:
                    continue
                nbc = nb.core()[0]
                if (
                    anchors.word(nb)
                    or nbc in ("M", "F")
                    or _SEX_WORD.fullmatch(nbc)
                    or _BRACKETED_SEX.fullmatch(nb.text)
                    or _norm_label_word(nb.text) in _SEX_CONTEXT_LABELS
                ):
                    spans.append(Span(b, e, AGE, 0.75, self.name))
                    break
        return spans


# ---------------------------------------------------------------------------- professions

_PROFESSIONS = frozenset(
    """accountant actor actress architect artist attorney baker banker barber bartender butcher carpenter cashier
    chef clerk cook dancer dentist designer developer driver economist electrician engineer farmer firefighter
    fisherman journalist judge labourer laborer lawyer librarian machinist mechanic miner musician painter
    pharmacist photographer pilot plumber poet policeman policewoman professor programmer realtor
    salesman saleswoman scientist secretary soldier student teacher trucker veterinarian waiter waitress
    welder writer""".split()
)


class ProfessionRecognizer(Recognizer):
    name = "profession"
    entity_types = (PROFESSION,)
    description = "A small list of occupations (clinical roles are field labels, not PHI)."

    def analyze(self, doc, context: PhiContext | None, found):
        spans = []
        for word in doc.words:
            core, b, e = word.core()
            if core.lower() in _PROFESSIONS:
                spans.append(Span(b, _qualifier_end(doc, word, e), PROFESSION, 0.6, self.name))
        return spans


def _qualifier_end(doc, word: Word, end: int) -> int:
    """Where an occupation ends: after its lower-case qualifier, as job titles are listed
    ("Librarian, academic", "Engineer, civil"), up to three words and not over a technical one."""
    if not word.text.endswith(","):
        return end
    k = 1
    while k <= 3:
        nxt = doc.neighbour(word, k)
        if nxt is None:
            break
        core, _, e = nxt.core()
        if not core.isalpha() or not core.islower() or is_technical(core):
            break
        end = e
        k += 1
    return end
