"""Person-name recognisers: name lists, "LAST, FIRST" patterns and name context.

Name lists: Philter's ``firstnames`` and ``lastnames`` (BSD-3-Clause, see
``data/README.md``), loaded once on first use. Names that Philter also lists as
ordinary words (its ``nonames`` list: "mary", "doe", "white", "will") are
*ambiguous*: they count only next to other name evidence.

Scores:

* word in both name lists, not ambiguous: 0.80; in one list: 0.75;
* truncated word ("CLEVELAN...") whose stem starts a listed name: 0.60;
* "LAST,FIRST" / "LAST, FIRST" / "LAST^FIRST": 0.80 when a part is a listed name,
  else 0.65;
* name context: a capitalised, non-technical word right next to a name (score >= 0.6):
  0.60 if it is a listed (even ambiguous) name, else 0.55;
* line context: an unknown capitalised word on a line that carries an id, a date, an
  age or a name ("ZZZ TEST PATIENTFI... 00079241539"): 0.50.

Only capitalised or ALL-CAPS words are considered; technical words (see
``allowlist.py``), field labels and month names never are.
"""

from __future__ import annotations

import bisect
import gzip
import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

from .allowlist import is_technical
from .dates import MONTH_WORDS
from .document import Document, Word, split_parts
from .entities import AGE, DATE, EMAIL, ID, NAME, PHONE_OR_FAX, Span
from .patterns import LABEL_WORDS
from .recognizer import Coverage, Recognizer

_NAMEISH = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_NOT_NAMES = frozenset(
    {"am", "pm", "the", "and", "of", "for", "with", "without", "to", "in", "on", "at", "by", "no", "yes", "not",
     "left", "right", "mode", "view", "image", "report", "comments", "comment", "history", "findings", "impression",
     "normal", "abnormal", "unknown", "none", "other", "male", "female"}
)


class NameLists:
    """First/last name sets and a sorted list for prefix look-ups."""

    def __init__(self, first: frozenset[str], last: frozenset[str], common: frozenset[str]) -> None:
        self.first = first
        self.last = last
        self.common = common
        self.sorted = sorted(first | last)

    def lookup(self, word: str) -> tuple[bool, bool, bool]:
        """(in first names, in last names, ambiguous)."""
        w = word.lower()
        return w in self.first, w in self.last, w in self.common

    def has_prefix(self, stem: str) -> bool:
        s = stem.lower()
        i = bisect.bisect_left(self.sorted, s)
        return i < len(self.sorted) and self.sorted[i].startswith(s)


def _read(name: str) -> frozenset[str]:
    with resources.files(__package__ + ".data").joinpath(name).open("rb") as raw:
        with gzip.open(raw, "rt", encoding="utf-8") as fh:
            return frozenset(line.strip() for line in fh if line.strip() and not line.startswith("#"))


@lru_cache(maxsize=1)
def name_lists() -> NameLists:
    """The vendored name lists, loaded on first use and cached."""
    return NameLists(_read("firstnames.txt.gz"), _read("lastnames.txt.gz"), _read("common_names.txt.gz"))


def candidate(text: str) -> bool:
    """Could this word (core, without edge punctuation) be part of a person's name?"""
    if len(text) < 2 or not _NAMEISH.fullmatch(text) or not text[0].isupper():
        return False
    low = text.lower()
    if low in LABEL_WORDS or low in MONTH_WORDS or low in _NOT_NAMES:
        return False
    return not is_technical(text)


class NameListRecognizer(Recognizer):
    name = "name_list"
    entity_types = (NAME,)
    description = "Capitalised/ALL-CAPS words found in Philter's first/last name lists (ambiguous common words excluded here)."

    def analyze(self, doc, context, found):
        lists = name_lists()
        spans = []
        for word in doc.words:
            for text, b, e in split_parts(word, ",^;/"):
                if not candidate(text):
                    continue
                in_first, in_last, ambiguous = lists.lookup(text)
                if (in_first or in_last) and not ambiguous and len(text) >= 3:
                    spans.append(Span(b, e, NAME, 0.8 if in_first and in_last else 0.75, self.name))
                elif word.truncated and e == word.core()[2] and len(text) >= 4 and lists.has_prefix(text):
                    spans.append(Span(b, word.end, NAME, 0.6, self.name))
        # "Mary White": a first name then a last name, even when both are ordinary words
        for line in doc.lines:
            for w1, w2 in zip(line, line[1:]):
                a, b = w1.core(), w2.core()
                if w1.text != a[0] or not candidate(a[0]) or not candidate(b[0]):
                    continue
                la, lb = a[0].lower(), b[0].lower()
                if not (la in lists.common or lb in lists.common):
                    continue  # both plain names: already found one by one
                if la in lists.first and lb in lists.last:
                    spans.append(Span(a[1], b[2], NAME, 0.65, self.name))
        return spans


def _listed(text: str) -> bool:
    f, la, _ = name_lists().lookup(text)
    return f or la


class NamePatternRecognizer(Recognizer):
    name = "name_pattern"
    entity_types = (NAME,)
    description = 'Name layouts: "DOE,JOHN", "DOE, JOHN", "DOE^JOHN^Q" (DICOM PN as burned in).'

    def analyze(self, doc, context, found):
        spans = []
        for line in doc.lines:
            for k, word in enumerate(line):
                t = word.text
                # one word: LAST,FIRST or LAST^FIRST^MIDDLE
                for sep in ("^", ","):
                    if sep in t.strip(sep + " "):
                        parts = split_parts(word, sep)
                        if len(parts) >= 2 and all(candidate(p[0]) or (len(p[0]) == 1 and p[0].isupper()) for p in parts) and candidate(parts[0][0]):
                            hit = any(_listed(p[0]) for p in parts)
                            score = 0.8 if hit or sep == "^" else 0.65
                            end = word.end if word.truncated else parts[-1][2]
                            spans.append(Span(parts[0][1], end, NAME, score, self.name))
                            break
                # two words: "LAST, FIRST"
                if t.endswith(",") and k + 1 < len(line):
                    a = word.core()
                    nxt = line[k + 1]
                    bcore = nxt.core()
                    if candidate(a[0]) and candidate(bcore[0]) and not nxt.text.endswith(":"):
                        hit = _listed(a[0]) or _listed(bcore[0])
                        end = nxt.end if nxt.truncated else bcore[2]
                        spans.append(Span(a[1], end, NAME, 0.8 if hit else 0.65, self.name))
        return spans


class NameContextRecognizer(Recognizer):
    name = "name_context"
    entity_types = (NAME,)
    description = "A capitalised, non-technical word right next to a detected name is part of it (\"ZZZ TEST PATIENT\", \"JOHN Q DOE\")."
    phase = 2

    def analyze(self, doc, context, found: Sequence[Span]):
        spans: list[Span] = []
        names = [s for s in found if s.type == NAME and s.score >= 0.6]
        if not names:
            return spans
        taken = Coverage(found)
        done: set[tuple[int, int]] = set()  # words added here, by (line, pos)
        frontier = names
        for _ in range(4):
            new: list[Span] = []
            for s in frontier:
                for w in doc.words_overlapping(s.begin, s.end):
                    for step in (-1, 1):
                        nb = doc.neighbour(w, step)
                        if nb is None or (nb.line, nb.pos) in done or taken.word(nb):
                            continue
                        done.add((nb.line, nb.pos))
                        core, b, e = nb.core()
                        if nb.text.endswith(":"):
                            continue
                        if step == 1 and re.fullmatch(r"[A-Z]\.?", nb.text) and s.score >= 0.6:
                            new.append(Span(b, e, NAME, 0.55, self.name))  # middle initial: "HOMER J"
                            continue
                        if not candidate(core):
                            continue
                        if nb.truncated:
                            e = nb.end
                        new.append(Span(b, e, NAME, 0.6 if _listed(core) else 0.55, self.name))
            if not new:
                break
            spans.extend(new)
            frontier = [s for s in new if s.score >= 0.6] or []
            if not frontier:
                frontier = new  # chain through unknown words too, at the lower score
        return spans


class LineContextRecognizer(Recognizer):
    name = "line_context"
    entity_types = (NAME,)
    description = "Unknown capitalised words on a line that carries an id, date, age, phone or name: burned-in header lines hold PHI only."
    phase = 2

    _ANCHORS = (ID, DATE, AGE, NAME, PHONE_OR_FAX, EMAIL)

    def analyze(self, doc, context, found: Sequence[Span]):
        spans: list[Span] = []
        anchors = Coverage([s for s in found if s.type in self._ANCHORS and s.score >= 0.6])
        taken = Coverage(found)
        for line in doc.lines:
            if not line or not any(anchors.word(w) for w in line):
                continue
            for w in line:
                if taken.word(w):
                    continue
                core, b, e = w.core()
                if w.text.endswith(":") or not candidate(core):
                    continue
                if w.truncated:
                    e = w.end
                spans.append(Span(b, e, NAME, 0.5, self.name))
        return spans
