"""Patterns: medication attributes, test values and units, and PHI (names, dates, IDs, ages, contacts).

Attributes are looked for after their entity, on the same line and before the
next entity, the way a prescription or a lab result is written
("warfarin 5 mg PO daily x 3 days", "Hgb 9.8 g/dL").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUM = r"\d+(?:[.,]\d+)?"
_UNITS = r"(?:mg|mcg|µg|ug|g|gm|kg|mEq|meq|mmol|units?|u|iu|IU|mL|ml|L|%|puffs?|drops?|tabs?|tablets?|caps?|capsules?)"
MED_PATTERNS = (
    ("STRENGTH", re.compile(rf"\b{_NUM}\s?(?:mg|mcg|µg|ug|g|gm|mEq|meq|units?|iu|IU|%)(?:/(?:mL|ml|kg|hr|h|dose|L))?(?![A-Za-z])", re.I)),
    ("DOSAGE", re.compile(rf"\b(?:{_NUM}|one|two|three|half|1/2)\s?(?:tabs?|tablets?|caps?|capsules?|puffs?|drops?|patch(?:es)?|sprays?|units?)\b", re.I)),
    ("ROUTE_OR_MODE", re.compile(r"\b(?:PO|p\.o\.|IV|i\.v\.|IM|SC|SQ|subq|subcut|SL|PR|NG|topical(?:ly)?|inhaled|nebulized|"
                                 r"transdermal|oral(?:ly)?|intravenous(?:ly)?|intramuscular(?:ly)?|by mouth|per rectum)\b", re.I)),
    ("FREQUENCY", re.compile(r"\b(?:daily|qd|q\.d\.|bid|b\.i\.d\.|tid|t\.i\.d\.|qid|q\.i\.d\.|qhs|qam|qpm|qod|prn|"
                             r"q\s?\d+\s?(?:h|hr|hrs|hours)|every\s+\d+\s+(?:hours?|days?|weeks?)|once\s+(?:daily|a\s+day)|"
                             r"twice\s+(?:daily|a\s+day)|(?:three|four)\s+times\s+(?:daily|a\s+day)|nightly|at\s+bedtime|"
                             r"weekly|monthly|as\s+needed)\b", re.I)),
    ("DURATION", re.compile(r"\b(?:for|x|times)\s?\d+\s?(?:days?|d|weeks?|wks?|months?|mos?)\b", re.I)),
    ("FORM", re.compile(r"\b(?:tablets?|capsules?|solution|suspension|inhaler|cream|ointment|patch|injection|"
                        r"syrup|elixir|suppository|drops|spray|lozenge)\b", re.I)),
)  # fmt: skip
TEST_VALUE = re.compile(rf"(?<![\w.])(?:[<>]=?\s?)?-?{_NUM}(?![\w.])")
TEST_UNIT = re.compile(r"\s?(g/dL|mg/dL|mmol/L|mEq/L|K/uL|x10\^?9/L|U/L|IU/L|ng/mL|pg/mL|uIU/mL|mIU/L|%|fL|"
                       r"mm\[?Hg\]?|bpm|kg|lbs?|cm|°[CF]|F|C)\b", re.I)


@dataclass
class Attr:
    type: str
    begin: int
    end: int
    text: str
    score: float


def medication_attributes(text: str, begin: int, limit: int) -> list[Attr]:
    """Attributes of the drug ending at ``begin``, up to ``limit`` (the next entity or the end of the line)."""
    window = text[begin:limit]
    out: list[Attr] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in MED_PATTERNS:
        for m in pattern.finditer(window):
            b, e = begin + m.start(), begin + m.end()
            if any(b < te and tb < e for tb, te in taken):
                continue
            taken.append((b, e))
            out.append(Attr(kind, b, e, text[b:e], 0.9))
    return sorted(out, key=lambda a: a.begin)


def test_attributes(text: str, begin: int, limit: int) -> list[Attr]:
    """The value (and unit) right after a test name: "Hgb 9.8 g/dL", "Cr: 1.4", "TSH of 6.2"."""
    window = text[begin:limit]
    m = re.match(r"[\s:=]*(?:was|of|is|at|-)?\s*", window)
    start = m.end() if m else 0
    value = TEST_VALUE.match(window, start)
    if not value or value.start() - 0 > 14:
        return []
    out = [Attr("TEST_VALUE", begin + value.start(), begin + value.end(), value.group(0), 0.9)]
    unit = TEST_UNIT.match(window, value.end())
    if unit:
        ub = begin + unit.start() + (len(unit.group(0)) - len(unit.group(0).lstrip()))
        out.append(Attr("TEST_UNIT", ub, begin + unit.end(), text[ub : begin + unit.end()], 0.85))
    return out


_MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
PHI_PATTERNS = (
    ("DATE", re.compile(rf"\b(?:\d{{1,2}}[/-]\d{{1,2}}[/-](?:\d{{4}}|\d{{2}})|\d{{4}}-\d{{2}}-\d{{2}}|"
                        rf"{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}\s+{_MONTHS}\s+\d{{4}})\b")),
    ("ID", re.compile(r"\b(?:MRN|MR#|Med Rec|Acct|Account|SSN|ID)\s*(?:#|no\.?|number)?\s*[:#]?\s*([A-Z0-9-]{4,})\b", re.I)),
    ("PHONE_OR_FAX", re.compile(r"(?<!\d)(?:\(\d{3}\)\s?|\d{3}[-.\s])\d{3}[-.]\d{4}(?!\d)")),
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")),
    ("AGE", re.compile(r"\b(\d{1,3})\s?(?:yo|y/o|y\.o\.|yr old|year[- ]old|years? old|-year-old|yoM|yoF|M|F)\b")),
    ("NAME", re.compile(r"\b(?:Dr|Mr|Mrs|Ms|Miss|Prof)\.?\s+([A-Z][a-z]+(?:[ -][A-Z][a-z]+)?)")),
    ("NAME", re.compile(r"\b(?:Patient|Pt|Name|Attending|Resident|PCP|Signed by|Dictated by)\s*(?:name)?\s*:\s*"
                        r"([A-Z][a-z]+(?:,?\s+[A-Z][a-z]+){1,2})")),
)  # fmt: skip


def phi_entities(text: str) -> list[Attr]:
    out: list[Attr] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in PHI_PATTERNS:
        for m in pattern.finditer(text):
            group = 1 if pattern.groups else 0
            b, e = m.span(group)
            if kind == "AGE" and m.group(0).rstrip().endswith(("M", "F")) and not re.search(r"y", m.group(0), re.I):
                continue  # "5 M" alone is not an age
            if any(b < te and tb < e for tb, te in taken):
                continue
            taken.append((b, e))
            out.append(Attr(kind, b, e, text[b:e], 0.9 if kind != "NAME" else 0.85))
    return sorted(out, key=lambda a: a.begin)
