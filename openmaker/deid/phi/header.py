"""Header-seeded recogniser: DICOM header values found (fuzzily) in the OCR text.

This is the strongest signal for burned-in PHI (deid.md 2.5, "Presidio reached 100% on
its sample only with use_metadata=True"). The values of a :class:`PhiContext` are split
into parts and looked for in every OCR word and word part (split on ``, ^ ; : /``):

=====================================================================  =====
exact (case- and punctuation-insensitive)                              0.99
date / time / age whose reading equals a header value (any format)     0.99
one edit away (OCR error); words of 4+ characters                      0.95
two edits away; words of 8+ characters                                 0.90
truncated word ("PATIENTFI...", "CLEVELAN\u2026") starting a value:
  stem of 5+ characters exact / one edit, stem of 3-4 characters        0.95 / 0.90 / 0.85
cut-off word without ellipsis covering 60%+ of a value (5+ characters)  0.85
value inside a merged word ("ZZZDOWNTIMEMARY", "MRN48213377")          0.95
a whole multi-word institution/address value on one line               0.99
weak part next to a matched one (see below)                            0.85
=====================================================================  =====

Weak parts count only next to a matched word of the same kind on the same line:
single-letter initials ("P" of "NEW^P" must not hit "P Med"), name parts that are
technical words, and generic institution/address words ("CLINIC", "GENERAL", "OF").
Fuzzy and prefix matches never apply to technical words ("Liver" is not "OLIVER"), nor
to numbers under 6 digits ("2000" is not the house number "20003").

Names are NAME; ids, station names and other identifiers are ID (phone numbers
PHONE_OR_FAX); institutions and addresses are ADDRESS; dates and times DATE; ages AGE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from functools import lru_cache

from .allowlist import is_technical
from .context import PhiContext
from .dates import find_ages, find_dates, find_times, parse_header_age, parse_header_time
from .document import Document, split_parts
from .entities import ADDRESS, AGE, DATE, ID, NAME, PHONE_OR_FAX, Span
from .fuzzy import allowed_distance, edit_distance, prefix_distance
from .institutions import CONNECTORS, KEYWORDS, VOCABULARY
from .patterns import STREET_SUFFIX_RE
from .recognizer import Recognizer

_GENERIC_PLACE = (
    KEYWORDS
    | VOCABULARY
    | CONNECTORS
    | frozenset(
        """inc llc ltd services partners care dept department street st avenue ave road rd boulevard blvd drive dr
        lane ln way court ct place pl terrace suite ste apt unit floor fl building bldg room po box usa us""".split()
    )
)
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")
_PHONEISH = re.compile(r"[\d\s()+.\-]{7,}")


def _norm(text: str) -> str:
    return _NON_ALNUM.sub("", text).upper()


@dataclass(frozen=True, slots=True)
class _Cand:
    value: str  # normalised (upper-case alphanumerics)
    type: str
    group: str  # "name", "id", "place": weak parts need a neighbour of the same group
    weak: bool
    phrase: bool = False  # a multi-word value, also matched as a whole on a line


class _Index:
    def __init__(self, cands: list[_Cand]) -> None:
        self.exact: dict[str, list[_Cand]] = {}
        for c in cands:
            self.exact.setdefault(c.value, []).append(c)
        self.strong = [c for c in {c.value + c.type: c for c in cands if not c.weak}.values()]
        # weak words long enough for a fuzzy match ("CLIN1C" for CLINIC): still need a neighbour
        self.weak_fuzzy = [c for c in {c.value + c.type: c for c in cands if c.weak and len(c.value) >= 5}.values()]
        self.substring = [c for c in self.strong if len(c.value) >= (5 if c.group == "id" else 4)]
        self.phrases = [c for c in cands if c.phrase]


def _split_words(value: str) -> list[str]:
    return [w for w in re.split(r"[\s,^;/]+", value) if w]


def _name_cands(raw: str) -> list[_Cand]:
    comps = raw.split("^") if "^" in raw else [raw]
    if "^" not in raw and "," in raw:  # "DOE, JOHN"
        comps = [c.strip() for c in raw.split(",", 1)]
    family = _split_words(comps[0]) if comps else []
    given = _split_words(comps[1]) if len(comps) > 1 else []
    middle = _split_words(comps[2]) if len(comps) > 2 else []
    out: list[_Cand] = []
    words = family + given + middle
    for w in words:
        for piece in {w, *w.split("-")}:
            n = _norm(piece)
            if not n:
                continue
            weak = len(n) == 1 or is_technical(piece)
            out.append(_Cand(n, NAME, "name", weak))
    for seq in (family + given + middle, given + middle + family):
        for i in range(len(seq) - 1):
            n = _norm(seq[i] + seq[i + 1])
            if len(n) >= 5:
                out.append(_Cand(n, NAME, "name", False))
    return out


def _place_cands(raw: str) -> list[_Cand]:
    out = []
    for w in _split_words(raw):
        n = _norm(w)
        if not n:
            continue
        digits = n.isdigit()
        weak = (
            w.lower().rstrip(".") in _GENERIC_PLACE
            or STREET_SUFFIX_RE.fullmatch(w.rstrip(".")) is not None
            or len(n) <= 2
            or (digits and len(n) < 5)
            or (is_technical(w) and not digits)
        )
        out.append(_Cand(n, ADDRESS, "place", weak))
    n = _norm(raw)
    if len(n) >= 6 and len(_split_words(raw)) > 1:
        out.append(_Cand(n, ADDRESS, "place", False, phrase=True))
    return out


def _id_cands(raw: str, type_: str = ID) -> list[_Cand]:
    n = _norm(raw)
    if len(n) >= 5 or (len(n) >= 4 and not n.isdigit()):
        return [_Cand(n, type_, "id", False)]
    return []


@lru_cache(maxsize=64)
def _index(key: tuple) -> _Index:
    ctx = dict(key)
    cands: list[_Cand] = []
    for raw in ctx["names"]:
        cands += _name_cands(raw)
    for raw in ctx["ids"]:
        cands += _id_cands(raw)
    for raw in ctx["other"]:
        if _PHONEISH.fullmatch(raw.strip()) and sum(ch.isdigit() for ch in raw) >= 7:
            cands += _id_cands(raw, PHONE_OR_FAX)
        elif len(_split_words(raw)) > 1:
            cands += [_Cand(c.value, ID, "id", c.weak) for c in _place_cands(raw)]
        else:
            cands += _id_cands(raw)
    for raw in ctx["institutions"] + ctx["addresses"]:
        cands += _place_cands(raw)
    return _Index(cands)


def _key(ctx: PhiContext) -> tuple:
    return tuple((f.name, tuple(getattr(ctx, f.name))) for f in fields(ctx))


def _norm_map(text: str) -> tuple[str, list[int]]:
    """Normalised text and, for each of its characters, the index in ``text``."""
    chars, pos = [], []
    for i, ch in enumerate(text):
        if ch.isascii() and ch.isalnum():
            chars.append(ch.upper())
            pos.append(i)
    return "".join(chars), pos


class HeaderRecognizer(Recognizer):
    name = "header"
    entity_types = (NAME, ID, DATE, AGE, ADDRESS, PHONE_OR_FAX)
    description = "Values of the image's DICOM header (PhiContext) matched fuzzily in the OCR text: names and their parts, ids, dates/times/ages in any display format, institution and address words, station name."

    def analyze(self, doc: Document, context: PhiContext | None, found):
        if context is None or context.is_empty():
            return []
        spans = self._dates_times_ages(doc, context)
        spans += self._words(doc, _index(_key(context)))
        best: dict[tuple[int, int], Span] = {}
        for s in spans:  # one span per place, the best score
            k = (s.begin, s.end)
            if k not in best or s.stronger_than(best[k]):
                best[k] = s
        return sorted(best.values(), key=lambda s: s.begin)

    # -- dates, times, ages: compare readings, whatever the display format
    def _dates_times_ages(self, doc: Document, ctx: PhiContext) -> list[Span]:
        spans = []
        if ctx.dates:
            days = {(d.year, d.month, d.day) for d in ctx.dates}
            months = {(d.year, d.month) for d in ctx.dates}
            for h in find_dates(doc.text):
                if any((r in days) if r[2] is not None else ((r[0], r[1]) in months) for r in h.readings):
                    spans.append(Span(h.begin, h.end, DATE, 0.99, self.name))
        times = [t for t in (parse_header_time(v) for v in ctx.times) if t]
        if times:
            full = {t for t in times}
            short = {(t[0], t[1]) for t in times}
            for h in find_times(doc.text):
                hours = {h.hour} if h.ampm else {h.hour, h.hour + 12}
                if any((hh, h.minute, h.second) in full if h.second is not None else (hh, h.minute) in short for hh in hours):
                    spans.append(Span(h.begin, h.end, DATE, 0.99, self.name))
            digits = {re.sub(r"\D", "", v)[:6] for v in ctx.times}
            for w in doc.words:
                core, b, e = w.core()
                if len(core) == 6 and core in digits:
                    spans.append(Span(b, e, DATE, 0.95, self.name))
        ages = {a for a in (parse_header_age(v) for v in ctx.ages) if a}
        if ages:
            for h in find_ages(doc.text):
                if (h.number, h.unit) in ages:
                    spans.append(Span(h.begin, h.end, AGE, 0.99, self.name))
        return spans

    # -- names, ids, places
    def _words(self, doc: Document, index: _Index) -> list[Span]:
        accepted: list[tuple[Span, str, int, int]] = []  # span, group, line, pos
        weak: list[tuple[Span, str, int, int]] = []
        for word in doc.words:
            core_end = word.core()[2]
            for text, b, e in split_parts(word, ",^;:/"):
                trunc = word.truncated and e == core_end
                end = word.end if trunc else e
                norm = _norm(text)
                if not norm:
                    continue
                technical = is_technical(text)
                hit = self._match(norm, technical, trunc, index)
                if hit is not None:
                    cand, score = hit
                    span = Span(b, end, cand.type, score, self.name)
                    if cand.weak or (technical and cand.group != "id"):
                        weak.append((span, cand.group, word.line, word.pos))
                    else:
                        accepted.append((span, cand.group, word.line, word.pos))
                    continue
                # a value inside a merged word: ZZZDOWNTIMEMARY, MRN48213377
                if len(norm) >= 5 and not technical:
                    nt, pos = _norm_map(text)
                    for c in index.substring:
                        k = nt.find(c.value)
                        if k >= 0 and c.value != nt:
                            sb, se = b + pos[k], b + pos[k + len(c.value) - 1] + 1
                            accepted.append((Span(sb, se, c.type, 0.95, self.name), c.group, word.line, word.pos))
        # a whole multi-word value on a line ("Long Imaging Center": every word alone is weak)
        for li, (a, b) in enumerate(doc.line_spans):
            if not index.phrases or not doc.lines[li]:
                continue
            nt, pos = _norm_map(doc.text[a:b])
            starts = {w.begin - a for w in doc.lines[li]} | {w.core()[1] - a for w in doc.lines[li]}
            ends = {w.end - a for w in doc.lines[li]} | {w.core()[2] - a for w in doc.lines[li]}
            for c in index.phrases:
                k = nt.find(c.value)
                while k >= 0:
                    sb, se = pos[k], pos[k + len(c.value) - 1] + 1
                    if sb in starts and se in ends:  # whole words only
                        for w in doc.words_overlapping(a + sb, a + se):
                            span = Span(max(w.begin, a + sb), min(w.end, a + se), c.type, 0.99, self.name)
                            accepted.append((span, c.group, w.line, w.pos))
                    k = nt.find(c.value, k + 1)
        # weak parts next to accepted ones of the same group
        changed = True
        while changed and weak:
            changed = False
            for item in list(weak):
                span, group, line, pos = item
                if any(g == group and ln == line and abs(p - pos) <= 1 for _, g, ln, p in accepted):
                    accepted.append((Span(span.begin, span.end, span.type, min(span.score, 0.85), self.name), group, line, pos))
                    weak.remove(item)
                    changed = True
        return [a[0] for a in accepted]

    @staticmethod
    def _match(norm: str, technical: bool, trunc: bool, index: _Index) -> tuple[_Cand, float] | None:
        exact = index.exact.get(norm)
        if exact:
            strong = [c for c in exact if not c.weak]
            return (strong or exact)[0], 0.99
        if technical:
            return None
        n = len(norm)
        digits = norm.isdigit()
        if digits and n < 6:
            return None  # short numbers ("2000", "120") are matched exactly or not at all
        best: tuple[_Cand, float] | None = None
        if n >= 4:
            for c in index.strong:
                lim = allowed_distance(min(n, len(c.value)))
                if digits and n < 10:
                    lim = min(lim, 1)
                if lim == 0 or abs(len(c.value) - n) > lim:
                    continue
                d = edit_distance(norm, c.value, lim)
                if d <= lim:
                    score = 0.95 if d == 1 else 0.9
                    if best is None or score > best[1]:
                        best = (c, score)
            if best is None:
                for c in index.weak_fuzzy:
                    lim = allowed_distance(min(n, len(c.value)))
                    if lim and abs(len(c.value) - n) <= lim and edit_distance(norm, c.value, lim) <= lim:
                        best = (c, 0.9)
                        break
            if best and not trunc:
                return best
        if trunc and n >= 3:
            for c in index.strong:
                if len(c.value) <= n:
                    continue
                lim = 0 if n < 5 else 1
                d = prefix_distance(norm, c.value, lim)
                if d <= lim:
                    score = 0.85 if n < 5 else (0.95 if d == 0 else 0.9)
                    if best is None or score > best[1]:
                        best = (c, score)
            return best
        if n >= 5:
            for c in index.strong:
                if len(c.value) > n and c.value.startswith(norm) and n >= 0.6 * len(c.value):
                    return c, 0.85
        return None
