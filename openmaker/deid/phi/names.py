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
* "HARRISAANGELAAB", "HARRISAANGELA/B", "PELEWISBRIAN": an ALL-CAPS DICOM name whose "^" OCR
  read as another character or lost, split into a listed surname and first name
  (:func:`glued_name`): 0.75;
* initial + surname ("A. WILSON"): 0.75; up to three names before a credential
  ("K. WARD MD", "Jane Roe, MD"): 0.80;
* name context, next to a name scoring >= 0.6: a listed (even ambiguous or technical)
  name 0.60, another capitalised non-technical word 0.55, an initial 0.55, "LAST," before
  it 0.60, a technical surname ending an ALL-CAPS "LAST FIRST" line or following a first
  name at the end of a line or before an id ("Jessica Long", "Larry Long 609-18-3868") 0.55;
* a line of two or three ALL-CAPS words one OCR error from frequent names ("RONIER LOPE" for
  "RONNIE R LOPEZ"), on the top line or next to a line with other PHI
  (:func:`misread_name_line`): 0.60;
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
from .entities import ADDRESS, AGE, DATE, EMAIL, ID, NAME, PHONE_OR_FAX, Span
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
                # one word: LAST,FIRST or LAST^FIRST^MIDDLE, maybe glued to a caption OCR misread ("Pr:COOKE,SHELLEY")
                word = _after_colon(word)
                t = word.text
                if self._misread_caret(word, spans) or self._dotted(word, spans):
                    continue
                before = len(spans)
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
                if len(spans) == before:
                    self._glued_caret(word, spans)
        return spans


    @staticmethod
    def _dotted(word: Word, spans: list[Span]) -> bool:
        """"COOKE.SHELLEY": "LAST,FIRST" in capitals with its comma read as a dot. Both parts are
        listed names of two letters or more, neither technical ("T2.FLAIR", "AX.SAG" stay)."""
        core, b, _ = word.core()
        parts = core.split(".")
        if len(parts) != 2 or not all(len(p) >= 2 and p.isalpha() and p.isupper() for p in parts):
            return False
        if not all(_listed(p) and not is_technical(p) for p in parts):
            return False
        spans.append(Span(b, b + len(core), NAME, 0.75, NamePatternRecognizer.name))
        return True

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


    @staticmethod
    def _glued_caret(word: Word, spans: list[Span]) -> bool:
        """"HARRISAANGELAAB", "HARRISAANGELA/B", "PELEWISBRIAN", "LEWIS4BRIAN^B": a DICOM
        "LAST^FIRST^M" whose "^" OCR read as a letter or symbol, or lost, maybe with border junk at
        an end (see :func:`glued_name`). Tried when no other layout took the word."""
        core, b, e = word.core()
        if "," in word.text or not glued_name(core):
            return False
        spans.append(Span(b, word.end if word.truncated else e, NAME, 0.75, NamePatternRecognizer.name))
        return True


_MISREAD_CARET = "\"'~`\u201c\u201d\u2018\u2019"
#: What OCR makes of the DICOM "^" between glued name parts: a slash, a "4", a tilde, a quote, a
#: dash, or a letter shaped like it, "A", "M", "V" or "N" (or nothing at all).
_GLUED_SEPARATORS = "^/4~'\"-AMVN"
#: The letters among them: a letter separates names only with initials after the given name.
_LETTER_SEPARATORS = "AMVN"
_GLUED_JUNK = 2  # characters of border junk at the start and end together ("PE" of "PELEWISBRIAN")


def _glued_part(part: str, names: frozenset[str], min_len: int = 3) -> bool:
    """A listed, unambiguous, non-technical name: one part of a glued name."""
    low = part.lower()
    if len(part) < min_len or not part.isalpha() or low not in names:
        return False
    return low not in name_lists().common and candidate(part)


def _frequent_part(part: str) -> bool:
    """A glued part without a separator to mark it: 5+ letters, listed both as a first name and
    as a surname. The lists hold many rare names ("TION", "ATES", "YING") that would split
    ordinary words ("ANNOTATION", "CARRYING"); names listed both ways are the common ones."""
    lists = name_lists()
    low = part.lower()
    return _glued_part(part, lists.first, 5) and low in lists.last


def _long_parts(surname: str, given: str) -> bool:
    """"GOODMANMEGHAN": the "^" lost between a listed surname and a listed given name, both
    unambiguous, each of 5+ letters and 12+ together (shorter parts split ordinary words)."""
    lists = name_lists()
    return (
        len(surname) + len(given) >= 12
        and _glued_part(surname, lists.last, 5)
        and _glued_part(given, lists.first, 5)
    )


def _middle_tail(tail: str) -> bool:
    """A separator and 1-2 initials or a middle name after the given name: "AB", "/B", "^JO", "AMARIE"."""
    if len(tail) < 2 or tail[0] not in _GLUED_SEPARATORS or not tail[1:].isalpha():
        return False
    lists = name_lists()
    return len(tail) <= 3 or _glued_part(tail[1:], lists.first) or _glued_part(tail[1:], lists.last)


def _technical_compound(text: str) -> bool:
    """Two technical words (or a letter and a word) glued, maybe over a separator: "KIDNEYRIGHT",
    "GENDERARENAL", "SAG/TRANS", "KASONOLINE"."""
    for i in range(1, len(text) - 1):
        if is_technical(text[:i]):
            rest = text[i + 1 :] if text[i] in _GLUED_SEPARATORS else text[i:]
            if rest and (is_technical(text[i:]) or is_technical(rest)):
                return True
    return False


def glued_name(text: str) -> bool:
    """An ALL-CAPS token (8+ characters) that is a DICOM person name "LAST^FIRST^M" whose "^"
    OCR read as another character or lost: "HARRISAANGELAAB", "HARRISAANGELA/B", "PELEWISBRIAN".

    A listed surname, then a listed first name, maybe a separator and initials or a middle name
    after it, and up to two characters of border junk at the start or end. How sure the split
    must be depends on what separates the names:

    * a symbol (``^ / 4 ~ ' " -``), or a letter ("A", "M", "V", "N") with a separator and middle initials after
      the first name and no junk before it ("HARRISAANGELAAB"): both names of 3+ letters,
      unambiguous, not technical;
    * nothing, or a lone "A" (also a plain letter): both names of 5+ letters and listed both as
      first names and as surnames (:func:`_frequent_part`); or, with nothing at all between
      them and no junk, 12+ letters together (:func:`_long_parts`).

    Technical words ("TRANSVERSE"), two technical words glued ("KIDNEYRIGHT") and single names
    are never split.
    """
    n = len(text)
    if n < 8 or text != text.upper() or is_technical(text) or _listed(text) or _technical_compound(text):
        return False
    lists = name_lists()
    for lead in range(_GLUED_JUNK + 1):
        junk = _GLUED_JUNK - lead
        for i in range(lead + 3, n - 2):
            surname = text[lead:i]
            if not surname.isalpha():
                break
            if not _glued_part(surname, lists.last):
                continue
            sep = text[i]
            starts = (i, i + 1) if sep in _GLUED_SEPARATORS else (i,)
            for k in starts:
                symbol = k > i and sep not in _LETTER_SEPARATORS
                for m in range(k + 3, n + 1):
                    given, tail = text[k:m], text[m:]
                    if not given.isalpha():
                        break
                    if not (tail == "" or len(tail) <= junk or _middle_tail(tail)):
                        continue
                    if symbol or (k > i and lead == 0 and 2 <= len(tail) <= 3 and _middle_tail(tail)):
                        if _glued_part(given, lists.first):
                            return True
                    elif _frequent_part(surname) and _frequent_part(given):
                        return True
                    elif lead == 0 and not tail and k == i and _long_parts(surname, given):
                        return True
    return _given_first(text)


def _given_first(text: str) -> bool:
    """A name glued in reading order, given name first: "MICHAELKACEVEDO" ("MICHAEL K ACEVEDO" set
    tight), with its middle initial between a listed given name and a listed surname of 5+ letters
    each (6+ unless the given name is a :func:`frequent_name`); or, without the initial,
    "MICHAELACEVEDO" as sure as :func:`_long_parts`, with a :func:`frequent_name` first.
    Shorter or rarer parts split glued technical words ("AVANTOKEY", "KEYTHORACIC")."""
    lists = name_lists()
    n = len(text)
    for i in range(5, n - 4):
        given = text[:i]
        if not _glued_part(given, lists.first, 5):
            continue
        surname = text[i + 1 :]
        # A rare given name ("KEYTH", "PERSIS") only with a long surname: short rare parts split technical words.
        sure = frequent_name(given) or (len(given) >= 6 and len(surname) >= 6)
        if sure and text[i].isalpha() and _glued_part(surname, lists.last, 5):
            return True
        if frequent_name(given) and _long_parts(text[i:], given):
            return True
    return False


def _after_colon(word: Word) -> Word:
    """The part of ``word`` after a colon inside it ("COOKE,SHELLEY" of "Pr:COOKE,SHELLEY"), or ``word``."""
    t = word.text.rstrip(":")
    i = t.rfind(":")
    if i < 0 or i + 1 >= len(t):
        return word
    return Word(word.text[i + 1 :], word.begin + i + 1, word.end, word.line, word.pos)


def _initial(text: str) -> bool:
    return len(text) == 1 and text.isupper()


def _tech_name(text: str) -> bool:
    """A technical-looking word that the name lists know ("MAX", "LONG", "GRAY"), for
    layouts that already say "name" (LAST, FIRST; an initial before it)."""
    return len(text) >= 3 and text.isalpha() and text[0].isupper() and _listed(text)


_GLUED_INITIAL = re.compile(r"[A-Z]\.[A-Z][A-Za-z'\-]+")


def glued_initial(text: str) -> bool:
    """An initial glued to the surname by its full stop, OCR having lost the space: "E.WOOD",
    "E.Wood" (as in "E.WOOD MD"). Counts as a name only where a credential follows it."""
    return _GLUED_INITIAL.fullmatch(text) is not None and not is_technical(text[2:])


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
                        if not pc or not (
                            pc[0].isupper() and (pc.replace("-", "").replace("'", "").isalpha() or glued_initial(pc))
                        ):
                            break
                        if prev.text.endswith(":") or pc.lower() in LABEL_WORDS:
                            break  # "Ref: Dr. Jane Roe MD" keeps "Dr."; "N. SMALL MD" takes SMALL
                        j -= 1
                    if j < k:
                        b = line[j].core()[1]
                        e = line[k - 1].core()[2]
                        spans.append(Span(b, e, NAME, 0.8, self.name))
        return spans


def _a_word(text: str) -> bool:
    """Is ``text`` a word in its own right: a listed name, an ordinary, technical or label word, a
    month or a safe word of the name lists?"""
    low = text.lower()
    return (
        _listed(text)
        or is_technical(text)
        or low in ORDINARY_WORDS
        or low in LABEL_WORDS
        or low in MONTH_WORDS
        or low in _NOT_NAMES
        or low in name_lists().common
    )


def split_name(first: str, second: str) -> bool:
    """Two adjacent words that are one name OCR split with a space: "M ARSHALL" (MARSHALL), "Mars hall".

    Letters only; joined ALL-CAPS or capitalised with 5+ letters, a listed first name or surname
    (no ordinary, technical or safe word); and the first part 1-2 letters or a part no word on its
    own, so two real words ("SAG LIVER", "TEST PATIENT", "TWIN A", "A LINE") stay apart."""
    if not (first.isalpha() and second.isalpha()) or len(first) + len(second) < 5:
        return False
    joined = first + second
    if not (joined.isupper() or (first[0].isupper() and joined[1:].islower())):
        return False
    if not listed_name(joined) or _a_word_but_name(joined):
        return False
    short = len(first) <= 2 and first.lower() not in ORDINARY_WORDS and first.lower() not in _NOT_NAMES  # not "A LINE"
    return short or not _a_word(first) or not _a_word(second)


def _a_word_but_name(text: str) -> bool:
    low = text.lower()
    return is_technical(text) or low in ORDINARY_WORDS or low in LABEL_WORDS or low in MONTH_WORDS or low in _NOT_NAMES


class SplitNameRecognizer(Recognizer):
    name = "split_name"
    entity_types = (NAME,)
    description = 'A listed name OCR split in two with a space: "M ARSHALL" for MARSHALL (see :func:`split_name`).'

    def analyze(self, doc, context, found):
        spans = []
        for line in doc.lines:
            for w1, w2 in zip(line, line[1:]):
                if w1.text != w1.core()[0]:
                    continue  # "SMITH, J ONES": punctuation between them separates two words
                core2, _, e = w2.core()
                if split_name(w1.text, core2):
                    spans.append(Span(w1.begin, e, NAME, 0.75, self.name))
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
                        if _INITIAL_WORD.fullmatch(nb.text) or (step == 1 and _ZERO_INITIAL.fullmatch(nb.text)):
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
        spans.extend(self._wrapped_initials(doc, names + spans, taken))
        return spans

    @staticmethod
    def _wrapped_initials(doc: Document, names: Sequence[Span], taken: Coverage) -> list[Span]:
        """A middle initial wrapped onto the next line: "Howell, Ryan" then "J. 471-86-2348". Only an
        initial with its full stop, first on the line right after a line that ends in a name, and not
        before a technical word."""
        out = []
        for s in names:
            words = doc.words_overlapping(s.begin, s.end)
            if not words:
                continue
            last = words[-1]
            if last.pos != len(doc.lines[last.line]) - 1 or last.line + 1 >= len(doc.lines):
                continue
            nxt = doc.lines[last.line + 1]
            after = nxt[1].core()[0] if len(nxt) > 1 else ""
            if after and any(ch.isalpha() for ch in after) and is_technical(after):
                continue  # "R. Breast", "L. kidney": a side, not an initial
            if nxt and _WRAPPED_INITIAL.fullmatch(nxt[0].text) and not taken.word(nxt[0]):
                core, b, e = nxt[0].core()
                if all(not (sp.begin <= b < sp.end) for sp in out):
                    out.append(Span(b, e, NAME, 0.55, NameContextRecognizer.name))
        return out

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
            and _name_ends_after(doc.neighbour(nb, 1))
            and low not in LABEL_WORDS
            and prev is not None
            and prev.core()[0].lower() in name_lists().first
        ):
            return 0.55  # "Jessica Long": a surname that is also a technical word, after a first name, ending the line
        return 0.0


def _name_ends_after(word: Word | None) -> bool:
    """Nothing after it, or a number of 4+ digits (an id or a date: "Larry Long 609-18-3868")."""
    return word is None or sum(ch.isdigit() for ch in word.text) >= 4


_INITIAL_WORD = re.compile(r"[A-Z]\.?")
_WRAPPED_INITIAL = re.compile(r"[A-Z]\.")
_ZERO_INITIAL = re.compile(r"0\.")  # a middle initial O read as a zero after a name: "Jones, Brandon 0."


# ---------------------------------------------------------------------------- a name line OCR misread

#: Ordinary English words (and words of image annotations that the technical allow-list does not
#: hold) that an ALL-CAPS line of two or three words often is: never a misread name.
ORDINARY_WORDS = frozenset(
    """a an the and or but if of to in on at by for from with without into onto over under up down out off
    as is are was were be been being has have had do does did not no yes all any each every some most more
    less few many much one two three four five six seven eight nine ten first second third last next new old
    only also again than then there here this that these those it its he she his her him they them their we
    our you your who what which when where why how can could may might must shall should will would
    about above across after against along among around before behind below beneath beside between beyond
    during except inside near outside past since through toward towards until upon within
    good bad best better big small great little long short high low full empty open close closed end start
    stop begin pause play record save store print freeze live ready done wait busy error warning alert
    please press enter exit cancel menu home back front top bottom side center centre middle edge line
    area point level mark marker clip needle target arrow cursor trace caliper measure measurement calc
    test demo phantom research service quality control system setup preset user mode review study only
    view views image images picture photo frame frames page copy original final draft sample
    fluid free mass lesion cyst cysts stone stones calculus nodule nodules polyp lump tumor tumour cancer
    mets duct ducts jet jets sac cord hilum lumen wall walls flow reflux void voiding hold breath rate
    crown rump trimester twin twins baby fetus heart beat head feet foot toe toes face lips nose mouth
    spine stomach bowel colon appendix rectum anus skin scar wound graft stent shunt catheter tube line
    lines drain port pump valve valves root arch bulb hilar junction aspect cycle phase rest stress load
    exercise peak early late delayed fill filling empty emptying normal abnormal routine screening
    follow followup pre post preop postop biopsy guided guidance aspiration injection drainage ablation
    marking localization localisation survey series scout protocol sequence run pass check cal
    patient patients doctor nurse staff room bed floor ward unit department service clinic lab
    emergency urgent stat portable mobile bedside outpatient inpatient trauma surgery
    water air gas blood bone bones fat muscle tissue soft hard dense bright dark black white red blue
    green yellow gray grey color colour clear smooth rough thin thick wide narrow deep superficial
    north south east west inner outer lying sitting standing weight bearing dual energy device wire wires
    leads lead pacer donor embryo yolk edema hernia apex axis chamber cuff rotator dome bile calyx sella
    talus tract vessel vessels mitral radial basilic fascia finger fingers heel areola penis previa ovarian
    achilles angio dexa merchant newborn""".split()
)
#: How sure a misread name line is: next to other evidence it holds, alone it is weak.
_MISREAD_LINE_SCORE = 0.6
_ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def _one_edit(word: str) -> set[str]:
    """Every spelling one OCR error from ``word``: a letter changed, lost or added, two swapped."""
    cuts = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    lost = {a + b[1:] for a, b in cuts if b}
    swapped = {a + b[1] + b[0] + b[2:] for a, b in cuts if len(b) > 1}
    changed = {a + c + b[1:] for a, b in cuts if b for c in _ALPHABET}
    added = {a + c + b for a, b in cuts for c in _ALPHABET}
    return (lost | swapped | changed | added) - {word}


def frequent_name(word: str) -> bool:
    """Listed as a first name and as a surname, and no ordinary word: "RONNIE", "LOPEZ", "MARIA"."""
    f, la, common = name_lists().lookup(word)
    return f and la and not common


def near_listed_name(word: str) -> bool:
    """Is ``word`` (4+ letters) one OCR error from a frequent name of 4+ letters: listed as a first
    name and as a surname, not an ordinary word? "LOPE" is LOPEZ with its Z lost, "RONIER" one
    letter from RENIER and ROSIER. The name lists hold many rare entries, so only names listed
    both ways count."""
    if len(word) < 4 or not word.isalpha():
        return False
    return any(len(n) >= 4 and frequent_name(n) for n in _one_edit(word.lower()))


def _misread_line_word(core: str) -> bool:
    """Could this ALL-CAPS word be part of a faintly read name: letters (an apostrophe or hyphen),
    no technical or ordinary word, no field label, month or safe word."""
    low = core.lower()
    return (
        _NAMEISH.fullmatch(core) is not None
        and core.isupper()
        and not is_technical(core)
        and low not in ORDINARY_WORDS
        and low not in LABEL_WORDS
        and low not in MONTH_WORDS
        and low not in _NOT_NAMES
    )


def misread_name_line(words: Sequence[Word]) -> bool:
    """A line that is a person's name OCR read faintly ("RONIER LOPE" for "RONNIE R LOPEZ"): two or
    three ALL-CAPS words (a one-letter middle initial besides), none technical, ordinary or a label,
    no digit and no colon on the line; every word a frequent listed name (:func:`frequent_name`) or
    one OCR error from one (:func:`near_listed_name`: "LOPE"), and a word not listed at all
    ("RONIER"; lines of listed names are the name recognisers' to judge). Ordinary words are often
    one error from a name ("ROUND", "SHAPE"), so :class:`MisreadNameLineRecognizer` also wants the
    line where headers stand."""
    if not 2 <= len(words) <= 4 or any(ch.isdigit() or ch == ":" for w in words for ch in w.text):
        return False
    cores = [w.core()[0] for w in words]
    initials = [c for c in cores[1:-1] if len(c) == 1]  # a middle initial only: "RONIER R LOPE"
    full = [cores[0], *(c for c in cores[1:-1] if len(c) > 1), cores[-1]]
    if len(initials) > 1 or not 2 <= len(full) <= 3 or not all(_INITIAL_WORD.fullmatch(c) for c in initials):
        return False
    if not all(_misread_line_word(c) for c in full):
        return False
    if all(_listed(c) for c in full):
        return False
    return all(frequent_name(c) or near_listed_name(c) for c in full)


def _header_line(doc: Document, index: int, evidence: Coverage) -> bool:
    """Is line ``index`` where burned-in patient headers stand: the top line of the text, or right
    above or below a line with a name, id, date, age or institution found?"""
    if not any(doc.lines[:index]):
        return True
    return any(
        0 <= j < len(doc.lines) and any(evidence.word(w) for w in doc.lines[j]) for j in (index - 1, index + 1)
    )


class MisreadNameLineRecognizer(Recognizer):
    name = "misread_name_line"
    entity_types = (NAME,)
    description = (
        'A line of two or three ALL-CAPS words that is a name OCR read faintly ("RONIER LOPE" for '
        '"RONNIE R LOPEZ"): words one letter from frequent listed names, none technical or ordinary, '
        "on the top line or next to a line with a name, id, date, age or institution."
    )
    phase = 2

    def analyze(self, doc, context, found: Sequence[Span]):
        evidence = Coverage([s for s in found if s.type in (NAME, ID, DATE, AGE, ADDRESS) and s.score >= 0.6])
        other = Coverage([s for s in found if s.type != NAME])
        spans = []
        for index, line in enumerate(doc.lines):
            if not line or not misread_name_line(line) or not _header_line(doc, index, evidence):
                continue
            if any(other.word(w) for w in line):
                continue  # an address or institution found before
            spans.append(Span(line[0].core()[1], line[-1].core()[2], NAME, _MISREAD_LINE_SCORE, self.name))
        return spans


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
