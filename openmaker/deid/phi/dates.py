"""Finding dates, times and ages in OCR text, with every reading of each.

Shared by the pattern recognisers (``patterns.py``), which score by the form found,
and the header-seeded recogniser (``header.py``), which checks whether any reading
equals a header value ("03/02/2017" read as MM/DD or DD/MM is the header's 20170302).
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from functools import lru_cache

_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}  # fmt: skip
MONTH_WORDS = frozenset(_MONTHS)

# Digits that OCR reads for a letter of a month name: "0ct", "N0V", "5EP", "Ju1", "Apr1l", "FE8", "Au9".
_MONTH_LOOKALIKES = {"o": "0", "i": "1", "l": "1", "s": "5", "b": "8", "g": "9"}


def _misread_months(word: str) -> set[str]:
    """The spellings of month word ``word`` with any of its letters read as a look-alike
    digit ("oct" -> "0ct"). Every one keeps a letter that has no look-alike ("ct" of
    "0ct", "n" and "v" of "n0v"), so that no plain number reads as a month."""
    spellings = {""}
    for ch in word:
        spellings = {s + c for s in spellings for c in (ch, _MONTH_LOOKALIKES.get(ch)) if c}
    return spellings - {word}


#: Month words as written and as OCR misreads them -> month number.
_MONTHS_READ = {**_MONTHS, **{s: n for w, n in _MONTHS.items() for s in _misread_months(w)}}


def _month_alternative(spelling: str) -> str:
    # A misread month that starts with a digit must not continue a number: "10ct" is no "0ct".
    return (r"(?<!\d)" if spelling[0].isdigit() else "") + re.escape(spelling)


_MONTH = "(?:" + "|".join(_month_alternative(w) for w in sorted(_MONTHS_READ, key=len, reverse=True)) + ")"


def month_number(word: str) -> int:
    """1-12 for a month word as written or misread by OCR ("Oct", "0CT", "5ept")."""
    return _MONTHS_READ[word.lower()]


_SEP = r"[ \t\-/.,]"

# Each regex names groups a (first number), b, c, mon.
# An initial's dot may touch it ("J.2014-08-23"); a number's may not ("1.2014-08-23" is no date).
_NUMERIC = re.compile(r"(?<!\d)(?<![\d.]\.)(?P<a>\d{1,4})(?P<s>[/.\-])(?P<b>\d{1,2})(?P=s)(?P<c>\d{4}|\d{1,2})(?!\.?\d)")
_COMPACT = re.compile(r"(?<![\d.])(?P<a>\d{8})(?![\d])")
_DMY_TEXT = re.compile(
    rf"(?<![A-Za-z\d])(?P<a>\d{{1,2}})(?:st|nd|rd|th)?{_SEP}*(?P<mon>{_MONTH})\.?{_SEP}*(?P<c>\d{{4}}|\d{{2}})(?![\d])",
    re.IGNORECASE,
)
# A capitalised month may be glued to a word before it, the space lost: "GilbertMar 16, 2015".
_MONTH_START = r"(?:(?<![A-Za-z])|(?<=[a-z])(?-i:(?=[A-Z][a-z])))"
_MDY_TEXT = re.compile(
    rf"{_MONTH_START}(?P<mon>{_MONTH})\.?{_SEP}*(?P<a>\d{{1,2}})(?:st|nd|rd|th)?{_SEP}+(?P<c>\d{{4}}|\d{{2}})(?![\d])",
    re.IGNORECASE,
)
_MY_TEXT = re.compile(rf"(?<![A-Za-z])(?P<mon>{_MONTH})\.?{_SEP}*(?P<c>(?:19|20)\d\d)(?![\d])", re.IGNORECASE)
_DM_TEXT = re.compile(
    rf"(?<![A-Za-z\d.])(?P<a>\d{{1,2}})(?:st|nd|rd|th)?[ \-](?P<mon>{_MONTH})(?![A-Za-z])"
    # the day's comma read as a dot: "Jul 30." (not a decimal: "Mar 3.5")
    rf"|(?<![A-Za-z])(?P<mon2>{_MONTH})\.?[ \-](?P<a2>\d{{1,2}})(?:st|nd|rd|th)?(?![\d:A-Za-z])(?!\.\w)",
    re.IGNORECASE,
)

_TIME = re.compile(
    r"(?<![\d:.])(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d)(?:[.,]\d{1,6})?)?"
    r"(?:[ ]?(?P<ap>[AaPp])\.?[Mm]\.?(?![A-Za-z]))?(?![\d:])"
)

_TIME_MISREAD = re.compile(
    r"(?<![\d:.])(?P<h>[01]\d|2[0-3])(?:[ .](?P<m>[0-5]\d)[.:]|:(?P<m2>[0-5]\d)\.)(?P<s>[0-5]\d)(?![\d:.])"
)
# A clock time with AM/PM that OCR glued to what precedes it ("2007-07-2811:17 AM") or gave a
# third seconds digit ("08:06:440AM"): the time and its AM/PM are still PHI.
# Not inside a plain 24-hour time: "13:45 PM" is no time at all.
_TIME_GLUED = re.compile(
    r"(?<![\s:(\[]\d)(?<!^\d)\d:[0-5]\d(?::\d{2,3})?[ ]?[AaPp]\.?[Mm]\.?(?![A-Za-z])"
    r"|(?<![\d:.])(?:[01]?\d|2[0-3]):[0-5]\d:\d{3}[ ]?[AaPp]\.?[Mm]\.?(?![A-Za-z])"
)
# A time whose seconds OCR lost, its last colon left: "07:28:" (a two-digit hour).
_TIME_SECONDS_LOST = re.compile(r"(?<![\d:.])(?P<h>[01]\d|2[0-3]):(?P<m>[0-5]\d):(?=[ ]|$)", re.MULTILINE)
# A year-first date whose second separator OCR lost: "2016/1008" (month and day both two digits).
_SEPARATOR_LOST = re.compile(
    r"(?<![\w/.:-])(?P<y>(?:19|20)\d\d)[/.-](?P<m>0[1-9]|1[0-2])(?P<d>0[1-9]|[12]\d|3[01])(?![\w/.:-])"
)
# A day-MON-year date with a space OCR put inside its month: "14-M AY-2017", "03-DE C-2019".
_MONTH_SPLIT = re.compile(
    r"(?<![A-Za-z\d])(?P<a>[0-3]?\d)(?P<s>[-/.])(?P<m1>[A-Za-z]{1,2}) (?P<m2>[A-Za-z]{1,2})(?P=s)(?P<c>(?:19|20)\d\d)(?![\d])"
)
# A month- or day-first date whose second separator OCR lost: "11.272011", "27/112011" (a four-digit
# year; with a dot the first part has two digits, so "1.252010" stays a number).
_SEPARATOR_LOST_YEAR_LAST = re.compile(
    r"(?<![\w/.:-])(?:(?P<a>[0-3]\d)[.]|(?P<a2>[0-3]?\d)[/-])(?P<b>[0-3]\d)(?P<y>(?:19|20)\d\d)(?![\w/.:-])"
)
# A numeric date OCR read with spaces by its separators: "12/ 18/ 2015", "2015 - 12 - 18" (a four-digit year).
_SPACED_NUMERIC = re.compile(
    r"(?<![\d.])(?:(?P<a>[0-3]?\d)|(?P<y1>(?:19|20)\d\d))[ ]?(?P<s>[/.\-])[ ]?(?P<b>[0-3]?\d)[ ]?(?P=s)[ ]?"
    r"(?(a)(?P<y>(?:19|20)\d\d)|(?P<d>[0-3]?\d))(?![\d/.-])"
)
# A numeric date with two different separators, one misread: "03.05-2008", "12/18-2015", or the
# second lost to a space: "07.03 2015" (then day and month of two digits). A four-digit year last;
# the same separator twice is :data:`_NUMERIC`'s.
_MIXED_SEPARATORS = re.compile(
    r"(?<![\d.,/-])(?:(?P<a>[0-3]?\d)(?P<s1>[./-])(?P<b>[0-3]?\d)(?!(?P=s1))[./-]|(?P<a2>[0-3]\d)[./-](?P<b2>[0-3]\d)[ ])"
    r"(?P<c>(?:19|20)\d\d)(?![\d])"
)
# A month name cut to its first two letters before a day and a four-digit year: "Ju 22 1958",
# "Ap 1 1964" (every month the two letters can start is a reading). No dot after the letters:
# "No. 12 2010" is a number.
_TRUNCATED_MONTH_DAY_YEAR = re.compile(
    r"(?<![A-Za-z\d])(?P<mon>Ja|Fe|Ma|Ap|Ju|Au|Se|Oc|No|De|JA|FE|MA|AP|JU|AU|SE|OC|NO|DE)[ ,]{1,2}"
    r"(?P<a>[0-3]?\d)[ ,.]{1,2}(?P<c>(?:19|20)\d\d)(?![\d])"
)
#: A month's first two letters -> the months they can start ("ju" -> June, July).
_MONTH_PREFIXES = {w[:2]: {n for v, n in _MONTHS.items() if v[:2] == w[:2]} for w in _MONTHS}
# A day.month.year date with a dot OCR read as a comma: "23.12,2020", "24,11.2012" (a four-digit year).
_COMMA_MISREAD = re.compile(
    r"(?<![\d.,])(?P<a>[0-3]?\d)(?P<s1>[.,])(?P<b>[01]?\d)(?P<s2>[.,])(?P<c>(?:19|20)\d\d)(?![\d])"
)
# A numeric date OCR glued to the 24-hour time after it, the space lost: "2005/11/2306:14",
# "11.23.200506:14:02" (a year of four digits on the side that touches the time, or a day after it).
_DATE_TIME_GLUED = re.compile(
    r"(?<![\d/.:-])(?:(?:19|20)\d\d(?P<s1>[-/.])[01]?\d(?P=s1)[0-3]\d|[0-3]?\d(?P<s2>[-/.])[0-3]?\d(?P=s2)(?:19|20)\d\d)"
    r"(?P<h>[01]\d|2[0-3]):(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d))?(?![\d:])"
)
# A time OCR glued to the year before it with a colon: "20 Mar 2013:12:13", "2013:12:13:05".
_TIME_AFTER_YEAR = re.compile(
    r"(?<![\d:.])(?:19|20)\d\d:(?P<h>[01]\d|2[0-3]):(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d))?(?![\d:])"
)
# A clock time anchored by what stands before it (a date, a "Time:" caption): there even a
# one-digit hour ("03/18/2005 9:22") is a time of day, and OCR's misreadings of AM/PM after it
# count: letter-spaced ("A M", "P M"), the M read as N, V or W ("A V", "AV", "PN").
_MERIDIEM_READ = r"(?:[ ]?(?P<ap>[AaPp])\.?[ ]?[MmNnVvWw]\.?(?![A-Za-z]))"
_ANCHORED_CLOCK = re.compile(
    r"(?P<c>(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d)(?:[.,]\d{1,6})?)?)" + _MERIDIEM_READ + r"?(?![\d:])"
)
# An hour whose minutes the image border or OCR cut off, ending the line after a date: "03/29/2021 13:".
# A minute digit may be left of a two-digit hour ("13:2"); "3:1" is a ratio.
_DANGLING_HOUR = re.compile(r"(?:(?P<h>[01]\d|2[0-3]):\d?|(?P<h1>\d):)(?=[ ]*(?:\n|$))")
# Four digits right after a date, its hour and minute valid, nothing glued after: a time ("2251").
_MILITARY_TIME = re.compile(r"(?P<h>[01]\d|2[0-3])(?P<m>[0-5]\d)(?![\w:./-])")
# Three or four digits and AM/PM right after a date: a time whose colon was lost ("958 AM").
_HMM_MERIDIEM = re.compile(r"(?P<h>1[0-2]|0?[1-9])(?P<m>[0-5]\d)[ ]?(?P<ap>[AaPp])\.?[Mm]\.?(?![A-Za-z])")
_AFTER_DATE = re.compile(r",?[ ]{1,3}")
# Captions of a time of day: "Time:", "Study Time:", "Acq Time:"; not "Scan Time:" or "Echo
# Time:" (durations): a word before "Time" must be one of these.
_TIME_CAPTION = re.compile(
    r"(?i)(?:(?<![A-Za-z])(?:study|exam|acq\.?|acquisition|content|series|image)[ ]|(?<![A-Za-z][ ])(?<![A-Za-z.]))"
    r"time[ ]?:[ ]*(?=\d)"
)
_AGE = re.compile(
    r"(?<![\w.])(?P<n>\d{1,3})[ ]?-?[ ]?(?P<u>y/o|y\.o\.?|yrs?\.?|years?(?:[ -]old)?|year-old|yo|yoa|y0|y|mos?\.?|m0|months?(?:[ -]old)?|month-old|wks?\.?|weeks?(?:[ -]old)?|week-old)(?![A-Za-z])",
    re.IGNORECASE,
)
_AGE_DICOM = re.compile(r"(?<![\w.])(?P<n>\d{3})(?P<u>[DWMY])(?![A-Za-z\d])")
# An age glued to a sex marker by OCR: "M070Y", "24YF", "Male51y", "F35 yrs"; a speck read as a dot before it
# (".F45y") does not hide it, a decimal point does.
_AGE_GLUED = re.compile(
    r"(?<!\w)(?<!\d[.,])(?:(?:[MF]|Male|MALE|Female|FEMALE)(?P<n>\d{1,3})(?P<u>[YyMmWwDd]|[ ](?:yrs?|years?|yo|y/o)\.?)[MF]?"
    r"|(?P<n2>\d{1,3})(?P<u2>[YyMWD])[MF])(?![A-Za-z\d])"
)
# An age caption OCR glued to its value: "Age35", "AGE:61Y".
_AGE_CAPTION_GLUED = re.compile(r"(?<![A-Za-z])(?:Age|AGE|age)[:.]?(?P<n>\d{1,3})(?P<u>[YyMmWwDd])?(?![\w.])")
# An age OCR glued to the birth date before it, the space lost: "10-MAR-192384 yrs" (a unit after it).
_AGE_AFTER_YEAR = re.compile(
    r"(?<=[-/.](?:19|20)\d\d)(?P<n>\d{1,3})[ ]?(?P<u>yrs?\.?|years?|yo|y/o)(?![A-Za-z])", re.IGNORECASE
)
# An age whose unit OCR glued to the sex after it: "60 yrsFemale", "45yM".
_AGE_SEX_GLUED = re.compile(
    r"(?<![\w.])(?P<n>\d{1,3})[ ]?(?P<u>[Yy](?:rs?|RS?|ears?|EARS?|[Oo])?)(?=(?:Female|FEMALE|Male|MALE|[MF])(?![a-z]))"
)
_AGE_OLD = re.compile(
    r"(?<![\w.])(?P<n>\d{1,3})[ ]?-?[ ]?(?P<u>days?|d|wks?|weeks?|w|mos?|months?|m)[ -]old(?![A-Za-z])",
    re.IGNORECASE,
)

DateTriple = tuple[int, int, int | None]


@dataclass(frozen=True, slots=True)
class DateHit:
    begin: int
    end: int
    readings: frozenset[DateTriple]  # (year, month, day or None)
    kind: str  # numeric4, numeric2, compact, text, month_year, day_month


@dataclass(frozen=True, slots=True)
class TimeHit:
    begin: int
    end: int
    hour: int  # 0-23 when am/pm was given; otherwise as written
    minute: int
    second: int | None
    ampm: bool
    anchored: bool = False  # right after a date or a "Time:" caption; minute -1 when cut off


@dataclass(frozen=True, slots=True)
class AgeHit:
    begin: int
    end: int
    number: int
    unit: str  # Y, M, W or D


def _valid(y: int, m: int, d: int | None) -> bool:
    if not (1900 <= y <= 2099 and 1 <= m <= 12):
        return False
    if d is None:
        return True
    try:
        _dt.date(y, m, d)
    except ValueError:
        return False
    return True


def _years(text: str) -> list[int]:
    v = int(text)
    if len(text) == 4:
        return [v]
    return [1900 + v, 2000 + v]


@lru_cache(maxsize=16)
def find_dates(text: str) -> tuple[DateHit, ...]:
    """Dates in ``text``, sorted, not overlapping (the first form tried wins)."""
    hits: list[DateHit] = []
    taken = bytearray(len(text))

    def add(m: re.Match[str], readings: set[DateTriple], kind: str) -> None:
        readings = {r for r in readings if _valid(*r)}
        if not readings:
            return
        b, e = m.span()
        if any(taken[b:e]):
            return
        taken[b:e] = b"\x01" * (e - b)
        hits.append(DateHit(b, e, frozenset(readings), kind))

    for m in _NUMERIC.finditer(text):
        a, b, c = m.group("a"), m.group("b"), m.group("c")
        readings: set[DateTriple] = set()
        if len(a) == 4:
            if len(c) <= 2:
                readings.add((int(a), int(b), int(c)))
        elif len(a) <= 2 and len(c) != 1:
            for y in _years(c):
                readings.add((y, int(a), int(b)))  # M/D/Y
                readings.add((y, int(b), int(a)))  # D/M/Y
        add(m, readings, "numeric4" if len(c) == 4 or len(a) == 4 else ("numeric2" if m.group("s") != "." else "numeric2dot"))
    for m in _MONTH_SPLIT.finditer(text):
        month = m.group("m1") + m.group("m2")
        if len(month) == 3 and month.lower() in _MONTHS_READ:
            add(m, {(int(m.group("c")), month_number(month), int(m.group("a")))}, "text")
    for m in _COMMA_MISREAD.finditer(text):  # "23.12,2020": day first, as dotted dates are written
        if "," in (m.group("s1"), m.group("s2")):
            add(m, {(int(m.group("c")), int(m.group("b")), int(m.group("a")))}, "numeric4")
    for m in _MIXED_SEPARATORS.finditer(text):  # "03.05-2008"
        a, b, y = int(m.group("a") or m.group("a2")), int(m.group("b") or m.group("b2")), int(m.group("c"))
        add(m, {(y, a, b), (y, b, a)}, "numeric4")
    for m in _TRUNCATED_MONTH_DAY_YEAR.finditer(text):  # "Ju 22 1958"
        day, y = int(m.group("a")), int(m.group("c"))
        add(m, {(y, mon, day) for mon in _MONTH_PREFIXES[m.group("mon").lower()]}, "text")
    for m in _SEPARATOR_LOST.finditer(text):  # "2016/1008": the second separator lost
        add(m, {(int(m.group("y")), int(m.group("m")), int(m.group("d")))}, "numeric4")
    for m in _SPACED_NUMERIC.finditer(text):  # "12/ 18/ 2015"
        if " " in m.group(0):
            b = int(m.group("b"))
            if m.group("a"):
                a, y = int(m.group("a")), int(m.group("y"))
                add(m, {(y, a, b), (y, b, a)}, "numeric4")
            else:
                add(m, {(int(m.group("y1")), b, int(m.group("d")))}, "numeric4")
    for m in _SEPARATOR_LOST_YEAR_LAST.finditer(text):  # "11.272011"
        a, b, y = int(m.group("a") or m.group("a2")), int(m.group("b")), int(m.group("y"))
        add(m, {(y, a, b), (y, b, a)}, "numeric4")
    # Four-digit years first: in "8. Jan 22. 1940" the date is "Jan 22. 1940", not "8. Jan 22".
    for four_digit_year in (True, False):
        for rx in (_DMY_TEXT, _MDY_TEXT):
            for m in rx.finditer(text):
                if (len(m.group("c")) == 4) == four_digit_year:
                    mon = month_number(m.group("mon"))
                    add(m, {(y, mon, int(m.group("a"))) for y in _years(m.group("c"))}, "text")
    for m in _MY_TEXT.finditer(text):
        add(m, {(int(m.group("c")), month_number(m.group("mon")), None)}, "month_year")
    for m in _DM_TEXT.finditer(text):
        mon_s = m.group("mon") or m.group("mon2")
        day_s = m.group("a") or m.group("a2")
        mon, day = month_number(mon_s), int(day_s)
        if 1 <= day <= 31:
            # no year: give every year a reading so that header dates can match
            readings = {(y, mon, day) for y in range(1900, 2100) if _valid(y, mon, day)}
            add(m, readings, "day_month")
    for m in _COMPACT.finditer(text):
        s = m.group("a")
        readings = {
            (int(s[:4]), int(s[4:6]), int(s[6:8])),  # YYYYMMDD
            (int(s[4:]), int(s[:2]), int(s[2:4])),  # MMDDYYYY
            (int(s[4:]), int(s[2:4]), int(s[:2])),  # DDMMYYYY
        }
        add(m, readings, "compact")
    hits.sort(key=lambda h: h.begin)
    return tuple(hits)


@lru_cache(maxsize=16)
def find_times(text: str) -> tuple[TimeHit, ...]:
    hits = []
    for m in _TIME.finditer(text):
        h, mi = int(m.group("h")), int(m.group("m"))
        s = m.group("s")
        ap = m.group("ap")
        if ap:
            if not 1 <= h <= 12:
                continue
            h = h % 12 + (12 if ap.lower() == "p" else 0)
        elif s is None and len(m.group("h")) < 2:
            continue  # "1:10" is more likely a ratio or scale than a time
        hits.append(TimeHit(m.start(), m.end(), h, mi, int(s) if s else None, bool(ap)))
    # OCR drops or swaps a colon: "11 38.57", "11.38:57" -- hours, minutes and seconds all two digits.
    for m in _TIME_MISREAD.finditer(text):
        if not any(h.begin < m.end() and m.start() < h.end for h in hits):
            minute = m.group("m") or m.group("m2")
            hits.append(TimeHit(m.start(), m.end(), int(m.group("h")), int(minute), int(m.group("s")), False))
    for m in _TIME_SECONDS_LOST.finditer(text):
        if not any(h.begin < m.end() and m.start() < h.end for h in hits):
            hits.append(TimeHit(m.start(), m.end(), int(m.group("h")), int(m.group("m")), None, False))
    for m in _TIME_AFTER_YEAR.finditer(text):
        if not any(h.begin < m.end() and m.start() < h.end for h in hits):
            s = m.group("s")
            hits.append(TimeHit(m.start(), m.end(), int(m.group("h")), int(m.group("m")), int(s) if s else None, False))
    for m in _DATE_TIME_GLUED.finditer(text):
        # the date and the time as one hit: neither part alone is a date or a time any more
        hits = [h for h in hits if not (m.start() <= h.begin and h.end <= m.end())]
        s = m.group("s")
        hits.append(TimeHit(m.start(), m.end(), int(m.group("h")), int(m.group("m")), int(s) if s else None, False))
    for m in _TIME_GLUED.finditer(text):
        if not any(h.begin <= m.start() and m.end() <= h.end for h in hits):
            hits.append(TimeHit(m.start(), m.end(), 0, 0, None, True))
    for a in _anchored_times(text):
        # it replaces what it holds ("09:22" of "09:22 A M"), and gives way to what holds it
        if not any(h.begin <= a.begin and a.end <= h.end for h in hits):
            hits = [h for h in hits if not (a.begin <= h.begin and h.end <= a.end)]
            hits.append(a)
    hits.sort(key=lambda t: t.begin)
    return tuple(hits)


def _time_anchors(text: str) -> list[int]:
    """Where a clock time would be a time of day: after a date and its separator
    ("03/18/2005 |9:22"), after a time caption ("Study Time: |9:22")."""
    anchors = []
    for d in find_dates(text):
        sep = _AFTER_DATE.match(text, d.end)
        if sep:
            anchors.append(sep.end())
    for m in _TIME_CAPTION.finditer(text):
        anchors.append(m.end())
    return sorted(set(anchors))


def _anchored_times(text: str) -> list[TimeHit]:
    """Times of day that only their place shows: right after a date or a "Time:" caption.

    OCR errors handled there: a one-digit hour, which alone could be a ratio ("9:22"); an AM/PM
    letter-spaced or misread ("9:22 A M", "9:22 A V", "9:22AV", "9:22 PN"); the colon lost ("2251", "958 AM"),
    only after a date; minutes cut off at the
    end of the line ("03/29/2021 13:", hour kept, minute -1). A meridiem after an hour over 12 is
    no meridiem ("13:45 PN" keeps "13:45")."""
    hits = []
    for at in _time_anchors(text):
        m = _ANCHORED_CLOCK.match(text, at)
        if m:
            h, ap = int(m.group("h")), m.group("ap")
            end = m.end()
            if ap and not 1 <= h <= 12:
                ap, end = None, m.end("c")
            if ap:
                h = h % 12 + (12 if ap.lower() == "p" else 0)
            s = m.group("s")
            hits.append(TimeHit(at, end, h, int(m.group("m")), int(s) if s else None, bool(ap), True))
            continue
        m = _HMM_MERIDIEM.match(text, at)
        if m:  # "2011/02/01 958 AM": the colon lost before the minutes
            h = int(m.group("h")) % 12 + (12 if m.group("ap").lower() == "p" else 0)
            hits.append(TimeHit(at, m.end(), h, int(m.group("m")), None, True, True))
            continue
        m = _MILITARY_TIME.match(text, at)
        if m:  # "10/29/23 2251": a 24-hour time with its colon lost
            hits.append(TimeHit(at, m.end(), int(m.group("h")), int(m.group("m")), None, False, True))
            continue
        m = _DANGLING_HOUR.match(text, at)
        if m:
            hits.append(TimeHit(at, m.end(), int(m.group("h") or m.group("h1")), -1, None, False, True))
    return hits


def _unit(u: str) -> str:
    u = u.lower()
    if u.startswith("d"):
        return "D"
    if u.startswith("w"):
        return "W"
    if u.startswith("m"):
        return "M"
    return "Y"


@lru_cache(maxsize=16)
def find_ages(text: str) -> tuple[AgeHit, ...]:
    hits: list[AgeHit] = []
    taken = bytearray(len(text))
    for rx in (_AGE_OLD, _AGE_GLUED, _AGE_DICOM, _AGE, _AGE_CAPTION_GLUED, _AGE_AFTER_YEAR, _AGE_SEX_GLUED):
        for m in rx.finditer(text):
            b, e = m.span()
            groups = m.groupdict()
            n = int(groups.get("n") or groups.get("n2"))
            if n > 130 or any(taken[b:e]):
                continue
            taken[b:e] = b"\x01" * (e - b)
            hits.append(AgeHit(b, e, n, _unit(groups.get("u") or groups.get("u2") or "y")))
    hits.sort(key=lambda h: h.begin)
    return tuple(hits)


def parse_header_time(value: str) -> tuple[int, int, int | None] | None:
    """'172457' -> (17, 24, 57); '0848' -> (8, 48, None)."""
    digits = re.sub(r"\D", "", value)
    if len(digits) < 4:
        return None
    h, m = int(digits[:2]), int(digits[2:4])
    s = int(digits[4:6]) if len(digits) >= 6 else None
    if h > 23 or m > 59 or (s is not None and s > 59):
        return None
    return h, m, s


def parse_header_age(value: str) -> tuple[int, str] | None:
    """DICOM AS '065Y' -> (65, 'Y'); also '65', '65 y'."""
    m = re.fullmatch(r"\s*(\d{1,3})\s*([DWMYdwmy]?)\s*", value or "")
    if not m:
        return None
    return int(m.group(1)), (m.group(2) or "Y").upper()
