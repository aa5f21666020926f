"""Finding concept mentions in a note: longest match over the concept index, then anatomy and directions.

Each word token is tried in its normal form, as the lexicons rewrite it
("fx" -> fracture, a known misspelling -> its spelling) and, when the
vocabulary does not know it, corrected to a vocabulary word one edit away. For
every start the longest window that names a concept wins (exact form first,
then word order ignored, then the case-sensitive abbreviation); overlapping
windows are settled by length, then score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from openmaker.clinical.index import ConceptIndex, Entry
from openmaker.clinical.lexicon import Lexicon
from openmaker.clinical.textnorm import STOP, WORD, bag, canon, key, stem, tokens

#: Punctuation allowed inside a mention ("a-fib", "x-ray", "s/p", "Alzheimer's").
INNER = frozenset("-/'&.")
CORRECTED_PENALTY = 0.05
MAX_WINDOW = 10
#: Abbreviations that are routes of administration, never conditions or procedures in running text.
ROUTES = frozenset("IM IV PO SC SQ SL PR PRN NG".split())
#: A short abbreviation followed by one of these is a team, a place or an anatomical landmark ("GI f/u",
#: "EP lab", "CVA tenderness", "RA lead"), not the disease it also abbreviates.
NOT_A_DISEASE_AFTER = frozenset(
    "tenderness lead lab note study studies consult consulted f fu follow fellow team clinic service upset risk "
    "intolerance procedure doc attending signed cocktail".split()
)
SALTS = frozenset("carbonate citrate chloride gluconate sulfate supplement supplements tab tabs acetate oxide".split())
_PERCENT_BEFORE = re.compile(r"(?:\d\s*%|%)\s*$")


@dataclass
class Mention:
    begin: int
    end: int
    entries: list[Entry]
    how: str  # exact, bag, surface
    corrected: int = 0

    @property
    def entry(self) -> Entry:
        return self.entries[0]

    @property
    def score(self) -> float:
        s = self.entry.score - CORRECTED_PENALTY * self.corrected - (0.04 if self.how == "bag" else 0.0)
        ambiguous = len({e.standard_id for e in self.entries if e.standard_id}) > 1
        if ambiguous and self.entries[0].score == (self.entries[1].score if len(self.entries) > 1 else -1):
            s -= 0.25
        return round(max(0.0, min(1.0, s)), 4)


@dataclass
class Site:
    begin: int
    end: int
    type: str  # DIRECTION or SYSTEM_ORGAN_SITE
    name: str
    score: float


def _word_forms(index: ConceptIndex, tok: str) -> tuple[list[str], int]:
    """The words a token stands for, and whether a correction was needed (0/1)."""
    base = stem(tok)
    if base in index.known or base in index.first_words:
        return [base], 0
    rewritten = index.rewrites.get(base)
    if rewritten:
        return rewritten, (1 if base in index.misspelled else 0)
    fixed = index.correct(base)
    if fixed:
        return [fixed], 1
    return [base], 0


def find_mentions(text: str, index: ConceptIndex) -> list[Mention]:
    toks = tokens(text)
    n = len(toks)
    forms: list[tuple[list[str], int] | None] = []
    for tok, _, _ in toks:
        forms.append(_word_forms(index, tok) if WORD.match(tok) else None)
    found: list[Mention] = []
    limit = min(index.max_words, MAX_WINDOW)
    known = index.inner_words
    # A token whose words the vocabulary never uses can end a window but never be inside a name.
    inside = [f is not None and all(w in known for w in f[0]) for f in forms]
    for i in range(n):
        if forms[i] is None:
            continue
        if not inside[i] and toks[i][0] not in index.surface:
            continue
        words: list[str] = []
        corrected = 0
        best: Mention | None = None
        j = i
        count = 0
        while j < n and count < limit:
            tok, b, e = toks[j]
            if forms[j] is None:
                # punctuation: allowed inside a mention only between two tokens with no space around it
                if tok in INNER and j + 1 < n and toks[j + 1][1] == e and b == toks[j - 1][2]:
                    j += 1
                    continue
                break
            ws, c = forms[j]
            if not inside[j] and j > i:
                break
            words.extend(ws)
            corrected += c
            count += 1
            begin, end = toks[i][1], e
            folded = canon(words)
            hit = index.exact.get(key(folded))
            how = "exact"
            edges_ok = bool(folded) and folded[0] not in STOP and folded[-1] not in STOP
            if not hit and len(folded) >= 2 and edges_ok:
                hit = index.bags.get(bag(folded))
                how = "bag"
                inner = [w for w in folded[1:-1] if w in index.directions]
                if not hit and inner:  # "fracture of the left rib": the direction gets an entity of its own
                    hit = index.bags.get(bag(w for w in folded if w not in inner))
            if not hit and edges_ok and len(folded) >= 2:
                hit = index.reduced.get(index.reduce(folded))
                how = "reduced"
                if hit:  # the text may leave a site out, not name another one ("nasal polyps" is not the colon's)
                    sites = {w for w in folded if w in index.site_words}
                    if not sites <= index.reduced_sites.get(hit[0].standard_id, set()):
                        hit = None
            if not hit:
                hit = index.surface.get(text[begin:end])
                how = "surface"
            if hit:
                best = Mention(begin, end, hit, how, corrected)
            j += 1
        if best is not None and _plausible(text, best, toks, index):
            found.append(best)
    return _settle(found)


def _plausible(text: str, m: Mention, toks, index: ConceptIndex) -> bool:
    """Context vetoes for the classic false friends of short abbreviations and lab analytes."""
    surface = text[m.begin : m.end]
    after = text[m.end : m.end + 24].lstrip(" :/-").lower()
    next_word = re.match(r"[a-z]+", after)
    next_word = next_word.group(0) if next_word else ""
    if m.entry.kind in ("abbreviation", "short") or m.how == "surface":
        if surface.upper() in ROUTES:
            return False
        if _PERCENT_BEFORE.search(text[max(0, m.begin - 8) : m.begin]):  # "FEV1 68% pred", "SpO2 96% RA"
            return False
        if re.match(r"\s*(?:class\s+)?(?:I{1,3}|IV|V|VI)\b", text[m.end : m.end + 10]):
            return False  # "ASA II", "ASA class IV": the anaesthesia score
        if len(surface) == 1 and not re.match(r"\s*[:=]?\s*\d", text[m.end : m.end + 6]):
            return False  # "K" is potassium only before its value
        if len(surface) <= 4 and surface.isupper():
            if _PERCENT_BEFORE.search(text[max(0, m.begin - 8) : m.begin]):  # "SpO2 96% RA" is room air
                return False
            if next_word in NOT_A_DISEASE_AFTER:
                return False
    before = text[max(0, m.begin - 9) : m.begin].lower()
    urine_count = after.startswith(("hpf", "lpf")) and "/" in text[m.end : m.end + 2]
    if before.endswith(("vit ", "vitamin ", "vit. ")) or urine_count:
        return False  # "vit K" is a vitamin, "WBC/hpf" a urine count
    concept = index.concepts.get(m.entry.standard_id)
    if concept is not None and concept.domain_id == "Measurement" and next_word in SALTS:
        return False  # "calcium carbonate" is a drug, not the calcium level
    return True


def _settle(mentions: list[Mention]) -> list[Mention]:
    """Keep the longest, then best-scoring, mentions that do not overlap."""
    chosen: list[Mention] = []
    taken: list[tuple[int, int]] = []
    for m in sorted(mentions, key=lambda m: (-(m.end - m.begin), -m.score, m.begin)):
        if any(m.begin < e and b < m.end for b, e in taken):
            continue
        chosen.append(m)
        taken.append((m.begin, m.end))
    return sorted(chosen, key=lambda m: m.begin)


class AnatomyMatcher:
    """Directions (left, right, bilateral ...) and body sites (breast, knee ...) from the anatomy lexicon."""

    def __init__(self, lexicon: Lexicon):
        self.words: dict[str, list[tuple[list[str], str, str]]] = {}
        self.surface: dict[str, tuple[str, str]] = {}
        for term, kind, name, abbreviation in lexicon.anatomy:
            if abbreviation:
                self.surface[term] = (kind, name)
                continue
            ws = [stem(t) for t, _, _ in tokens(term) if WORD.match(t)]
            if ws:
                self.words.setdefault(ws[0], []).append((ws, kind, name))
        for entries in self.words.values():
            entries.sort(key=lambda e: -len(e[0]))

    def find(self, text: str) -> list[Site]:
        toks = [(t, b, e) for t, b, e in tokens(text) if WORD.match(t)]
        out: list[Site] = []
        i = 0
        while i < len(toks):
            tok, b, e = toks[i]
            hit, width = None, 1
            for ws, kind, name in self.words.get(stem(tok), ()):
                span = toks[i : i + len(ws)]
                if len(span) == len(ws) and [stem(t) for t, _, _ in span] == ws:
                    hit, width = Site(b, span[-1][2], kind, name, 0.95), len(ws)
                    break
            if hit is None and tok in self.surface and i + 1 < len(toks):
                kind, name = self.surface[tok]  # "L knee": an abbreviated direction before a word
                hit = Site(b, e, kind, name, 0.85)
            if hit is not None:
                out.append(hit)
            i += width
        return out
