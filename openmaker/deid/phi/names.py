"""Person-name recognisers: name lists, name layouts, initials and name context.

Name lists: Philter's ``firstnames`` and ``lastnames`` (BSD-3-Clause, see
``data/README.md``), loaded once on first use. Names that Philter also lists as
ordinary words (its ``nonames`` list: "mary", "doe", "white", "will") are
*ambiguous*: they count only next to other name evidence.

Scores:

* word in both name lists, not ambiguous: 0.80; in one list: 0.75; hyphenated surname
  with a listed part ("SANCHEZ-MEJIA"): 0.75;
* truncated word ("CLEVELAN...") whose stem starts a listed name: 0.60;
* first + last name pair (either order, an initial between allowed) where a word is
  ambiguous, technical or a month ("Mary White", "SHARP JACOB", "BALL APRIL"): 0.65;
* "LAST,FIRST" / "LAST, FIRST" / "LAST^FIRST": 0.80 when a part is a listed name,
  else 0.65 ("^" always 0.80); "LAST\"FIRST", "LAST'FIRST", "LAST~FIRST" (OCR's reading
  of "^"), with a listed part: 0.80;
* initial + surname ("A. WILSON"): 0.75; up to three names before a credential
  ("K. WARD MD", "Jane Roe, MD"): 0.80;
* name context, next to a name scoring >= 0.6: a listed (even ambiguous or technical)
  name 0.60, another capitalised non-technical word 0.55, an initial 0.55, "LAST," before
  it 0.60, a technical surname ending an ALL-CAPS "LAST FIRST" line or following a first
  name at the end of a line ("Jessica Long") 0.55;
* line context: an unknown capitalised word on a line that carries an id, a name or a
  phone/e-mail (on a line with only a date or age: ALL-CAPS or cut-off words only), as
  in "ZZZ TEST PATIENTFI... 00079241539": 0.50.

Only capitalised or ALL-CAPS words are considered; technical words (see
``allowlist.py``), field labels and month names are not, except where said above.
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
_MONTH_FIRST_NAMES = frozenset({"april", "may", "june", "august"})
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


#: Frequent given names and surnames that Philter's safe-word list also holds, though in an image
#: annotation they are next to never anything but a name ("Sandra", "OWEN", "MILLER"): not ambiguous.
#: Words with a medical or technical sense (Foley, Gleason, Nissen, Penrose, Allegra, Mayo) stay ambiguous.
_NOT_AMBIGUOUS = frozenset(
    {"sandra", "gillian", "glenn", "humphrey", "irving", "jude", "owen", "joe", "ahmed",
     "mohamed", "hameed", "bilal", "asad", "masako", "rupinder", "zoran", "aviva", "davies", "hoffman",
     "gardner", "crawford", "waddell", "lennox", "moore", "pratt", "ewing", "brady", "conway"}
)


@lru_cache(maxsize=1)
def name_lists() -> NameLists:
    """The vendored name lists, loaded on first use and cached."""
    common = _read("common_names.txt.gz") - _NOT_AMBIGUOUS
    return NameLists(_read("firstnames.txt.gz"), _read("lastnames.txt.gz"), common)


def listed_name(text: str) -> bool:
    """In the first or last name list and not an ordinary word ("MAX", "GRAY" count; "MARY" not)."""
    f, la, common = name_lists().lookup(text)
    return (f or la) and not common


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
                elif "-" in text and self._hyphenated(text, lists):
                    spans.append(Span(b, e, NAME, 0.75, self.name))  # "SANCHEZ-MEJIA"
                elif word.truncated and e == word.core()[2] and len(text) >= 4 and lists.has_prefix(text):
                    spans.append(Span(b, word.end, NAME, 0.6, self.name))
        # "Mary White", "Amy Gray", "SHARP JACOB", "BALL APRIL": first + last name (either
        # order) that are also ordinary or technical words, not both technical
        # (also with a middle initial between them: "AMY B MILLER")
        for line in doc.lines:
            for i in range(len(line) - 1):
                w1 = line[i]
                w2 = line[i + 1]
                if _INITIAL_WORD.fullmatch(w2.text) and i + 2 < len(line):
                    w2 = line[i + 2]
                a, b = w1.core(), w2.core()
                if w1.text != a[0] or not (_pairable(a[0]) and _pairable(b[0])):
                    continue
                if not (candidate(a[0]) or candidate(b[0])) and not (
                    a[0].lower() in _MONTH_FIRST_NAMES or b[0].lower() in _MONTH_FIRST_NAMES
                ):
                    continue
                la, lb = a[0].lower(), b[0].lower()
                plain = candidate(a[0]) and candidate(b[0]) and la not in lists.common and lb not in lists.common
                if plain and w2 is line[i + 1]:
                    continue  # two plain names: already found one by one
                if (la in lists.first and lb in lists.last) or (la in lists.last and lb in lists.first):
                    spans.append(Span(a[1], b[2], NAME, 0.75 if plain else 0.65, self.name))
        return spans


    @staticmethod
    def _hyphenated(text: str, lists: NameLists) -> bool:
        parts = [p for p in text.split("-") if p]
        if len(parts) < 2 or not all(p.isalpha() and len(p) >= 2 for p in parts):
            return False
        looked = [lists.lookup(p) for p in parts]
        return any((f or la) and not c for f, la, c in looked)


def _pairable(text: str) -> bool:
    low = text.lower()
    return (
        len(text) >= 2
        and text.isalpha()
        and text[0].isupper()
        and (low not in MONTH_WORDS or low in _MONTH_FIRST_NAMES)
        and low not in _NOT_NAMES
    )


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
                if self._misread_caret(word, spans):
                    continue
                for sep in ("^", ","):
                    if sep in t.strip(sep + " "):
                        parts = split_parts(word, sep)
                        ok = all(candidate(p[0]) or _initial(p[0]) or _tech_name(p[0]) for p in parts)
                        if len(parts) >= 2 and ok and (candidate(parts[0][0]) or _tech_name(parts[0][0])):
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
                    b_ok = candidate(bcore[0]) or _tech_name(bcore[0])
                    # the surname may be a technical word when the given name is a listed name: "WALL, AMY"
                    a_ok = candidate(a[0]) or _tech_name(a[0]) or (_pairable(a[0]) and len(a[0]) >= 3 and _listed(bcore[0]))
                    both = a_ok and b_ok
                    if both and (candidate(a[0]) or candidate(bcore[0])) and not nxt.text.endswith(":"):
                        hit = _listed(a[0]) or _listed(bcore[0])
                        end = nxt.end if nxt.truncated else bcore[2]
                        spans.append(Span(a[1], end, NAME, 0.8 if hit else 0.65, self.name))
        return spans


    @staticmethod
    def _misread_caret(word: Word, spans: list[Span]) -> bool:
        """'COOPER"MARY', "COOPER'MARY", "COOPER~MARY^J": OCR reads the DICOM "^" as a quote or tilde.

        Every part but a last initial has two letters or more and is capitalised, the first a possible
        name, and one part is a listed name ("O'BRIEN", "WOMEN'S", "Children's" are not split here).
        """
        t = word.text
        if "^" in t or not any(c in t for c in _MISREAD_CARET):
            return False
        parts = split_parts(word, _MISREAD_CARET)
        if len(parts) < 2 or len(parts[0][0]) < 2 or len(parts[1][0]) < 2:
            return False
        if not (candidate(parts[0][0]) or _tech_name(parts[0][0])):
            return False
        if not all(candidate(p[0]) or _tech_name(p[0]) or (k >= 2 and _initial(p[0])) for k, p in enumerate(parts)):
            return False
        if not any(_listed(p[0]) for p in parts):
            return False
        end = word.end if word.truncated else parts[-1][2]
        spans.append(Span(parts[0][1], end, NAME, 0.8, NamePatternRecognizer.name))
        return True


_MISREAD_CARET = "\"'~`\u201c\u201d\u2018\u2019"


def _initial(text: str) -> bool:
    return len(text) == 1 and text.isupper()


def _tech_name(text: str) -> bool:
    """A technical-looking word that the name lists know ("MAX", "LONG", "GRAY"), for
    layouts that already say "name" (LAST, FIRST; an initial before it)."""
    return len(text) >= 3 and text.isalpha() and text[0].isupper() and _listed(text)


_CREDENTIALS = frozenset({"md", "m.d", "do", "phd", "rn", "rdms", "rvt", "rdcs", "mbbs", "frcr", "dds", "np", "rt(r)"})
_INITIAL = re.compile(r"[A-Z]\.")


class InitialsRecognizer(Recognizer):
    name = "initials"
    entity_types = (NAME,)
    description = 'Initial + surname and names before a credential: "A. WILSON", "K. WARD MD", "Jane Roe, MD".'

    def analyze(self, doc, context, found):
        spans = []
        for line in doc.lines:
            for k, w in enumerate(line):
                # "A. WILSON": an initial with its dot, then a capitalised word
                if _INITIAL.fullmatch(w.text) and k + 1 < len(line):
                    core, b, e = line[k + 1].core()
                    if core and core.isalpha() and core[0].isupper() and len(core) >= 2 and (
                        candidate(core) or _tech_name(core) or core.lower() in LABEL_WORDS
                    ):
                        spans.append(Span(w.begin, e, NAME, 0.75, self.name))
                # "WARD MD", "Jane Roe, MD": up to three name-like words before a credential
                if k > 0 and w.core()[0].lower().rstrip(".") in _CREDENTIALS and w.core()[0][:1].isupper():
                    j = k
                    while j > 0 and k - j < 3:
                        prev = line[j - 1]
                        pc = prev.core()[0]
                        if not pc or not (pc[0].isupper() and (pc.replace("-", "").replace("'", "").isalpha())):
                            break
                        if prev.text.endswith(":") or pc.lower() in LABEL_WORDS:
                            break  # "Ref: Dr. Jane Roe MD" keeps "Dr."; "N. SMALL MD" takes SMALL
                        j -= 1
                    if j < k:
                        b = line[j].core()[1]
                        e = line[k - 1].core()[2]
                        spans.append(Span(b, e, NAME, 0.8, self.name))
        return spans


class NameContextRecognizer(Recognizer):
    name = "name_context"
    entity_types = (NAME,)
    description = (
        "Words right next to a detected name are part of it: capitalised non-technical words "
        '("ZZZ TEST PATIENT"), listed names even if technical or labels ("WARD MELANIE"), initials '
        '("HOMER J", "APRIL F BELL"), "LAST," before a name, a capitalised surname ending the line after a first name ("Jessica Long").'
    )
    phase = 2

    def analyze(self, doc, context, found: Sequence[Span]):
        spans: list[Span] = []
        names = [s for s in found if s.type == NAME and s.score >= 0.6]
        if not names:
            return spans
        taken = Coverage(found)
        done: set[tuple[int, int]] = set()  # words added here, by (line, pos)

        def add(word: Word, score: float) -> None:
            done.add((word.line, word.pos))
            core, b, e = word.core()
            if word.truncated:
                e = word.end
            new.append(Span(b, e, NAME, score, self.name))

        frontier = names
        for _ in range(4):
            new: list[Span] = []
            for s in frontier:
                for w in doc.words_overlapping(s.begin, s.end):
                    for step in (-1, 1):
                        nb = doc.neighbour(w, step)
                        if nb is None or (nb.line, nb.pos) in done:
                            continue
                        if _INITIAL_WORD.fullmatch(nb.text):
                            # an initial (maybe already a sex marker: "APRIL F BELL"), and the word beyond it
                            if not taken.word(nb):
                                add(nb, 0.55)
                            far = doc.neighbour(nb, step)
                            if far is not None and (far.line, far.pos) not in done and not taken.word(far):
                                score = self._accept(doc, far, step, s)
                                if score:
                                    add(far, score)
                            continue
                        if taken.word(nb):
                            continue
                        score = self._accept(doc, nb, step, s)
                        if score:
                            add(nb, score)
                        else:
                            done.add((nb.line, nb.pos))
            if not new:
                break
            spans.extend(new)
            frontier = [s for s in new if s.score >= 0.6] or new  # chain through unknown words too
        return spans

    @staticmethod
    def _accept(doc: Document, nb: Word, step: int, seed: Span) -> float:
        """Score for ``nb`` as part of the name next to it, or 0."""
        core = nb.core()[0]
        if not core or nb.text.endswith(":"):
            return 0.0
        low = core.lower()
        if candidate(core):
            return 0.6 if _listed(core) else 0.55
        if not (core.isalpha() or ("-" in core and core.replace("-", "").isalpha())) or not core[0].isupper() or len(core) < 2:
            return 0.0
        if low in _MONTH_FIRST_NAMES or (len(core) >= 3 and _listed(core)):
            return 0.6  # "APRIL", "WARD", "SHARP": names that are also words
        if step == -1 and nb.text.endswith(","):
            return 0.6  # "SMALL, LYNN"
        seed_word = doc.neighbour(nb, -step)
        if (
            step == -1
            and nb.pos == 0
            and core.isupper()
            and len(core) >= 3
            and seed_word is not None
            and seed_word.core()[0].isupper()
            and seed_word.core()[0].lower() in name_lists().first
            and (doc.neighbour(seed_word, 1) is None or _INITIAL_WORD.fullmatch(doc.neighbour(seed_word, 1).text))
        ):
            return 0.55  # "SMALL KEITH": an ALL-CAPS LAST FIRST line whose surname is a technical word
        prev = doc.neighbour(nb, -1)
        if prev is not None and _INITIAL_WORD.fullmatch(prev.text):
            prev = doc.neighbour(prev, -1)  # "CAROL J LONG"
        if (
            step == 1
            and seed.score >= 0.75
            and len(core) >= 3
            and doc.neighbour(nb, 1) is None
            and low not in LABEL_WORDS
            and prev is not None
            and prev.core()[0].lower() in name_lists().first
        ):
            return 0.55  # "Jessica Long": a surname that is also a technical word, after a first name, ending the line
        return 0.0


_INITIAL_WORD = re.compile(r"[A-Z]\.?")


class LineContextRecognizer(Recognizer):
    name = "line_context"
    entity_types = (NAME,)
    description = "Unknown capitalised words on a line that carries an id, date, age, phone or name: burned-in header lines hold PHI only."
    phase = 2

    def analyze(self, doc, context, found: Sequence[Span]):
        spans: list[Span] = []
        strong = Coverage([s for s in found if s.type in (ID, NAME, PHONE_OR_FAX, EMAIL) and s.score >= 0.6])
        weak = Coverage([s for s in found if s.type in (DATE, AGE) and s.score >= 0.6])
        taken = Coverage(found)
        for line in doc.lines:
            if not line:
                continue
            by_id = any(strong.word(w) for w in line)
            if not by_id and not any(weak.word(w) for w in line):
                continue
            for w in line:
                if taken.word(w):
                    continue
                core, b, e = w.core()
                if w.text.endswith(":") or not candidate(core):
                    continue
                if not by_id and not (core.isupper() or w.truncated):
                    continue  # on a date line only ALL-CAPS or cut-off words: "Comparison 03/02/2017" stays
                if w.truncated:
                    e = w.end
                spans.append(Span(b, e, NAME, 0.5, self.name))
        return spans
