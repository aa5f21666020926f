"""The concept index: every way the loaded vocabulary (plus the room's lexicons) names a concept.

Built once from the CDM's ``CONCEPT``, ``CONCEPT_SYNONYM`` and
``CONCEPT_RELATIONSHIP`` tables. Names are keyed three ways: exact normal form
(case, plurals, possessives, punctuation normalised), word-order-free bag of
content words, and -- for short abbreviations that are ordinary words in lower
case -- the exact surface. Non-standard concepts follow ``Maps to`` to their
standard concept. Tokens the vocabulary does not know are corrected to a known
word within one edit (a SymSpell-style delete index), which is the approximate
matching that catches "pnuemonia" and "fibrilation".

Read-only lookups for the ontology-linking answers: the ICD10CM and RxNorm
concepts whose ``Maps to`` (or the reverse ``Mapped from``) leads to a standard
concept (:meth:`ConceptIndex.mapped_to`), the RxNorm products named after an
ingredient (:meth:`ConceptIndex.drug_products`), and each vocabulary's version
from the ``VOCABULARY`` table (``versions``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import select

from openmaker.clinical.cdm import Cdm
from openmaker.clinical.lexicon import Lexicon, load_lexicon
from openmaker.clinical.errors import ClinicalError
from openmaker.clinical.schema import existing_tables, require_tables, tables
from openmaker.clinical.textnorm import CANON, CANON_PAIRS, STOP, TAG, bag, key, stem, words

#: Domains whose concepts the detector looks for, and how Comprehend Medical would file them.
DOMAIN_CATEGORY = {
    "Condition": "MEDICAL_CONDITION",
    "Observation": "MEDICAL_CONDITION",
    "Drug": "MEDICATION",
    "Procedure": "TEST_TREATMENT_PROCEDURE",
    "Measurement": "TEST_TREATMENT_PROCEDURE",
    "Spec Anatomic Site": "ANATOMY",
}
DEFAULT_VOCABULARIES = ("SNOMED", "RxNorm", "RxNorm Extension", "LOINC", "ICD10CM", "ICD9CM", "CVX")
DRUG_CLASSES = ("Ingredient", "Brand Name")
#: How much a way of naming a concept is worth before context.
KIND_SCORE = {
    "name": 0.99, "synonym": 0.97, "derived": 0.95, "brand": 0.95, "lay": 0.93,
    "abbreviation": 0.92, "short": 0.75,
}  # fmt: skip
_ABBREV_SYNONYM = re.compile(r"^([A-Za-z][A-Za-z0-9]{1,5}) - (.+)$")
_LOINC_NOISE = re.compile(
    r"\s*\[[^\]]*\]|\s*\([^)]*\)|\s+(?:serum/plasma|in serum or plasma|in serum|in plasma|in blood|in urine|by calculation|"
    r"by automated count|lab)\b|\s+Ab\b",
    re.I,
)
_BRACKET_BRAND = re.compile(r"\[([^\]]+)\]")
DOMAIN_PRIORITY = {"Condition": 0, "Procedure": 1, "Measurement": 2, "Drug": 3, "Observation": 4}
#: Vocabularies whose non-standard concepts are kept by the standard concept they map to (InferICD10CM, InferRxNorm).
LINKED_VOCABULARIES = ("ICD10CM", "RxNorm")
#: RxNorm classes of a whole product (ingredient, strength and form): what InferRxNorm offers beside the ingredient.
PRODUCT_CLASSES = ("Clinical Drug", "Branded Drug", "Quant Clinical Drug", "Quant Branded Drug")
#: A quantity or an NDA number before the ingredient: "12 HR Cefaclor ...", "NDA020800 0.3 ML Epinephrine ...".
_PRODUCT_PREFIX = re.compile(r"^(?:NDA\d+\s+)?(?:\d+(?:\.\d+)?\s+[A-Z]+\s+)?")


@dataclass(frozen=True, slots=True)
class Concept:
    concept_id: int
    name: str
    domain_id: str
    vocabulary_id: str
    concept_class_id: str
    concept_code: str
    standard: bool


@dataclass(frozen=True, slots=True)
class Entry:
    """One way of naming a concept: the concept it names and the standard concept it stands for."""

    source_id: int
    standard_id: int
    kind: str
    score: float
    brand: bool = False


@dataclass
class ConceptIndex:
    concepts: dict[int, Concept] = field(default_factory=dict)
    exact: dict[str, list[Entry]] = field(default_factory=lambda: defaultdict(list))
    bags: dict[str, list[Entry]] = field(default_factory=lambda: defaultdict(list))
    surface: dict[str, list[Entry]] = field(default_factory=lambda: defaultdict(list))
    reduced: dict[str, list[Entry]] = field(default_factory=lambda: defaultdict(list))
    site_words: frozenset = frozenset()
    reduced_sites: dict[int, set[str]] = field(default_factory=dict)
    rewrites: dict[str, list[str]] = field(default_factory=dict)
    misspelled: set[str] = field(default_factory=set)
    inner_words: frozenset = frozenset()  # words that can be inside a name (known, folded synonyms, directions)
    directions: frozenset = frozenset()
    known: set[str] = field(default_factory=set)
    first_words: set[str] = field(default_factory=set)
    deletes: dict[str, str | tuple[str, ...]] = field(default_factory=dict)
    max_words: int = 1
    by_code: dict[tuple[str, str], int] = field(default_factory=dict)
    by_name: dict[str, int] = field(default_factory=dict)
    mapped_from: dict[int, tuple[int, ...]] = field(default_factory=dict)  # standard id -> LINKED_VOCABULARIES ids
    map_targets: dict[int, int] = field(default_factory=dict)  # such an id -> how many concepts it maps to (when > 1)
    versions: dict[str, str] = field(default_factory=dict)  # vocabulary_id -> VOCABULARY.vocabulary_version

    # -- building ---------------------------------------------------------------------------------
    def add(self, text: str, entry: Entry, case_sensitive: bool = False) -> None:
        ws = words(text)
        if not ws or (not case_sensitive and not any(len(w) > 1 or w.isdigit() for w in ws)):
            return  # a lone letter is a name only as a case-sensitive abbreviation ("K" before its value)
        if case_sensitive:
            self.surface[text.strip()].append(entry)
            return
        k = key(ws)
        if entry not in self.exact[k]:
            self.exact[k].append(entry)
        self.first_words.add(ws[0])
        content = [w for w in ws if w not in STOP]
        if len(content) >= 2:
            b = bag(ws)
            if entry not in self.bags[b]:
                self.bags[b].append(entry)
            r = self.reduce(ws)
            if r and r != b and len(r.split()) >= 2:
                reduced = Entry(entry.source_id, entry.standard_id, entry.kind, round(entry.score - 0.08, 4), entry.brand)
                if reduced not in self.reduced[r]:
                    self.reduced[r].append(reduced)
                self.reduced_sites.setdefault(entry.standard_id, set()).update(w for w in ws if w in self.site_words)
        self.max_words = max(self.max_words, len(ws))
        self.known.update(ws)

    def reduce(self, ws) -> str:
        """The bag of content words without body sites and directions ("MCL injury" meets "... of knee")."""
        return bag(w for w in ws if w not in self.site_words)

    def finish(self) -> None:
        canon_sources = set(CANON) | {w for pair in CANON_PAIRS for w in pair}
        self.inner_words = frozenset(self.known | canon_sources | self.directions)
        # A reduced key stands for one concept only: "fracture" alone must not mean the ankle's.
        self.reduced = {k: v for k, v in self.reduced.items() if len({e.standard_id for e in v}) == 1}
        # Lists become tuples and the delete index holds a word (or a tuple of them) per variant: a full
        # Athena vocabulary has millions of names, and these are most of the index's memory.
        self.exact = {k: tuple(sorted(v, key=self._rank)) for k, v in self.exact.items()}
        self.bags = {k: tuple(sorted(v, key=self._rank)) for k, v in self.bags.items()}
        self.surface = {k: tuple(sorted(v, key=self._rank)) for k, v in self.surface.items()}
        self.reduced = {k: tuple(sorted(v, key=self._rank)) for k, v in self.reduced.items()}
        self.reduced_sites = {k: frozenset(v) for k, v in self.reduced_sites.items()}
        deletes: dict[str, str | tuple[str, ...]] = {}
        for word in self.known:
            if len(word) >= 5 and word.isalpha():
                for variant in _deletes(word):
                    held = deletes.get(variant)
                    if held is None:
                        deletes[variant] = word
                    elif isinstance(held, str):
                        deletes[variant] = (held, word)
                    else:
                        deletes[variant] = held + (word,)
        self.deletes = deletes

    def _rank(self, entry: Entry):
        concept = self.concepts.get(entry.standard_id) or self.concepts.get(entry.source_id)
        domain = DOMAIN_PRIORITY.get(concept.domain_id, 9) if concept else 9
        return (-entry.score, entry.standard_id == 0, domain, entry.standard_id)

    # -- lookups ----------------------------------------------------------------------------------
    def correct(self, word: str) -> str | None:
        """A vocabulary word within one edit of ``word`` (None when none, or when it is ambiguous)."""
        if len(word) < 5 or not word.isalpha() or word in self.known:
            return None
        found = set(_words_of(self.deletes.get(word)))
        for variant in _deletes(word):
            if variant in self.known:
                found.add(variant)
            found.update(_words_of(self.deletes.get(variant)))
        # Same first and last letter (misspellings keep the ends: "pnuemonia", "fibrilation"), and one edit
        # (two for long words): "pancreatic" is not "pancreatin", "hearing" is not "heparin".
        allowed = 2 if len(word) >= 10 else 1
        found = {w for w in found if w[0] == word[0] and w[-1] == word[-1] and edit_distance(word, w) <= allowed}
        return found.pop() if len(found) == 1 else None

    def lookup_concept(self, name: str) -> int:
        """The standard concept exactly named ``name`` (0 when the vocabulary has none)."""
        return self.by_name.get(key(words(name)), 0)

    def lookup_code(self, vocabulary_id: str, code: str) -> int:
        return self.by_code.get((vocabulary_id, code), 0)

    def category(self, concept_id: int) -> str | None:
        concept = self.concepts.get(concept_id)
        return DOMAIN_CATEGORY.get(concept.domain_id) if concept else None

    def mapped_to(self, concept_id: int, vocabulary_id: str) -> list[Concept]:
        """The ``vocabulary_id`` concepts (one of :data:`LINKED_VOCABULARIES`) that map to ``concept_id``.

        ICD10CM codes are non-standard and ``Maps to`` their SNOMED concept, so this is the way back from
        a finding to its ICD10CM codes; a vocabulary without such rows gives none.
        """
        found = (self.concepts.get(cid) for cid in self.mapped_from.get(concept_id, ()))
        return sorted((c for c in found if c is not None and c.vocabulary_id == vocabulary_id),
                      key=lambda c: c.concept_code)  # fmt: skip

    def drug_products(self, ingredient: str) -> list[Concept]:
        """RxNorm products (:data:`PRODUCT_CLASSES`) of the one ingredient named ``ingredient``, by concept code.

        Matched by name, as RxNorm writes its products: "Warfarin Sodium 5 MG Oral Tablet" is a product of
        "Warfarin"; combinations ("... / ...") are left out.
        """
        name = ingredient.strip().lower()
        first = name.split(" ", 1)[0] if name else ""
        return [c for c in self._products.get(first, ()) if _product_head(c.name).lower().startswith(name + " ")]

    @cached_property
    def _products(self) -> dict[str, tuple[Concept, ...]]:
        by_word: dict[str, list[Concept]] = defaultdict(list)
        for c in self.concepts.values():
            if c.vocabulary_id == "RxNorm" and c.concept_class_id in PRODUCT_CLASSES and " / " not in c.name:
                head = _product_head(c.name).lower()
                if head:
                    by_word[head.split(" ", 1)[0]].append(c)
        return {word: tuple(sorted(found, key=lambda c: c.concept_code)) for word, found in by_word.items()}


def _product_head(name: str) -> str:
    """An RxNorm product's name from its ingredient on ("1 ML Morphine Sulfate 5 MG/ML ..." -> "Morphine ...")."""
    return _PRODUCT_PREFIX.sub("", name, count=1)


def _is_abbreviation(short: str, long_name: str) -> bool:
    """SNOMED's "CAD - Coronary artery disease" (yes) versus "Burn - lesion" (no)."""
    return sum(ch.isupper() for ch in short) >= 2 and short[0].lower() == long_name[:1].lower()


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Optimal string alignment distance (a transposition counts 1), stopping early past ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if prev2 is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def _words_of(held) -> tuple[str, ...]:
    if held is None:
        return ()
    return (held,) if isinstance(held, str) else held


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def derived_names(concept: Concept) -> list[str]:
    """Extra names a clinician would write: a LOINC name without its specimen/scale decorations."""
    out = []
    if concept.vocabulary_id == "LOINC" or concept.domain_id == "Measurement":
        short = _LOINC_NOISE.sub("", concept.name).strip(" ,")
        if short and short.lower() != concept.name.lower():
            out.append(short)
    return out


def _indexable(name: str) -> bool:
    lowered = name.lower()
    return not lowered.startswith(("history of ", "family history of ", "h/o ", "fh: ", "no history of "))


def build_index(cdm: Cdm, vocabularies=DEFAULT_VOCABULARIES, lexicon: Lexicon | None = None) -> ConceptIndex:
    """Read the vocabulary tables of ``cdm`` and build the index (plus the room's lexicons).

    A database without the vocabulary tables, or with no concepts in them, is a :class:`ClinicalError`
    naming it: there would be nothing to match.
    """
    require_tables(cdm.engine, cdm.schema, ("concept", "concept_synonym", "concept_relationship"))
    has_versions = "vocabulary" in existing_tables(cdm.engine, cdm.schema)
    t = tables(cdm.schema)
    concept, synonym, relationship = t["concept"], t["concept_synonym"], t["concept_relationship"]
    lexicon = lexicon or load_lexicon()
    index = ConceptIndex()
    index.site_words = frozenset(w for term, _, _, abbreviation in lexicon.anatomy if not abbreviation
                                 for w in words(term))  # fmt: skip
    index.directions = frozenset(w for term, kind, _, abbreviation in lexicon.anatomy
                                 if kind == "DIRECTION" and not abbreviation for w in words(term))  # fmt: skip
    with cdm.engine.connect() as conn:
        query = select(
            concept.c.concept_id, concept.c.concept_name, concept.c.domain_id, concept.c.vocabulary_id,
            concept.c.concept_class_id, concept.c.concept_code, concept.c.standard_concept,
        ).where(concept.c.invalid_reason.is_(None))  # fmt: skip
        if vocabularies:
            query = query.where(concept.c.vocabulary_id.in_(list(vocabularies)))
        for cid, name, domain, vocab, klass, code, standard in conn.execute(query):
            index.concepts[int(cid)] = Concept(int(cid), name, domain, vocab, klass, code, standard == "S")
            index.by_code[(vocab, code)] = int(cid)
        if not index.concepts:
            raise ClinicalError(
                f"the CONCEPT table of {cdm.describe()} has no concepts to match: load a vocabulary first "
                "('openmaker omop vocab load ATHENA_DIR') or build the demo CDM ('openmaker omop demo')"
            )
        maps_to: dict[int, int] = {}
        rel_rows = conn.execute(
            select(relationship.c.concept_id_1, relationship.c.concept_id_2, relationship.c.relationship_id).where(
                relationship.c.invalid_reason.is_(None)
            )
        )
        brand_links: dict[int, set[int]] = defaultdict(set)
        linked: dict[int, set[int]] = defaultdict(set)
        for c1, c2, rel in rel_rows:
            c1, c2 = int(c1), int(c2)
            if rel == "Maps to" and c1 != c2:
                maps_to.setdefault(c1, c2)
            if rel in ("Maps to", "Mapped from") and c1 != c2:
                source, target = (c1, c2) if rel == "Maps to" else (c2, c1)
                if source in index.concepts and index.concepts[source].vocabulary_id in LINKED_VOCABULARIES:
                    linked[source].add(target)
            a, b = index.concepts.get(c1), index.concepts.get(c2)
            if a and b and a.concept_class_id == "Brand Name" and b.concept_class_id == "Ingredient":
                brand_links[c1].add(c2)
        synonyms = defaultdict(list)
        for cid, name in conn.execute(select(synonym.c.concept_id, synonym.c.concept_synonym_name)):
            synonyms[int(cid)].append(name)
        if has_versions:
            index.versions = _vocabulary_versions(conn, t["vocabulary"])
    _link(index, linked)

    def standard_of(cid: int) -> int:
        c = index.concepts.get(cid)
        if c is not None and c.standard:
            return cid
        target = maps_to.get(cid)
        if target is not None and target in index.concepts and index.concepts[target].standard:
            return target
        return 0

    ingredients_by_name: dict[str, int] = {}
    for c in index.concepts.values():
        if c.standard:
            index.by_name.setdefault(key(words(c.name)), c.concept_id)
        if c.domain_id not in DOMAIN_CATEGORY:
            continue
        if c.domain_id == "Drug":
            if c.concept_class_id == "Ingredient":
                ingredients_by_name[key(words(c.name))] = c.concept_id
            elif c.concept_class_id not in DRUG_CLASSES:
                continue
        if c.concept_class_id == "Brand Name":
            continue  # brands are named below, linked to their ingredient
        std = standard_of(c.concept_id)
        if std == 0:
            continue
        names = [(c.name, "name")] + [(s, "synonym") for s in synonyms.get(c.concept_id, [])]
        names += [(d, "derived") for d in derived_names(c)]
        for name, kind in names:
            if not _indexable(name) or ";" in name or len(name) > 120:
                continue
            abbrev = _ABBREV_SYNONYM.match(name)
            if abbrev and _is_abbreviation(*abbrev.groups()):  # SNOMED's "CAD - Coronary artery disease": the abbreviation, then the name
                short, long_name = abbrev.groups()
                index.add(long_name, Entry(c.concept_id, std, "synonym", KIND_SCORE["synonym"]))
                _add_abbreviation(index, short, Entry(c.concept_id, std, "abbreviation", KIND_SCORE["abbreviation"]))
                continue
            if " - " in name and sum(ch.isupper() for ch in name.split(" - ")[0]) >= 2:
                # "Recurrent UTI - urinary tract infection": both halves are names
                left, right = name.split(" - ", 1)
                index.add(left, Entry(c.concept_id, std, "synonym", KIND_SCORE["synonym"]))
                continue
            index.add(TAG.sub("", name), Entry(c.concept_id, std, kind, KIND_SCORE[kind]))

    # Brands: RxNorm Brand Name concepts linked to their ingredient, "[Brand]" in branded drug names.
    for c in list(index.concepts.values()):
        if c.domain_id != "Drug":
            continue
        if c.concept_class_id == "Brand Name":
            links = brand_links.get(c.concept_id, ())
            for ing in links:
                index.add(c.name, Entry(c.concept_id, standard_of(ing), "brand", KIND_SCORE["brand"], True))
            if not links:  # a medication all the same, with no ingredient to stand for
                index.add(c.name, Entry(c.concept_id, 0, "brand", KIND_SCORE["brand"] - 0.1, True))
        elif c.concept_class_id.startswith(("Branded", "Quant Branded")):
            lowered = c.name.lower()
            found = [cid for name, cid in ingredients_by_name.items() if name and name in key(words(lowered))]
            for brand in _BRACKET_BRAND.findall(c.name):
                brand = re.sub(r"\s+\d.*$", "", brand).strip()  # "Levora 0.15/30 28 Day" -> "Levora"
                if len(found) == 1 and len(brand) > 2:
                    index.add(brand, Entry(found[0], standard_of(found[0]), "brand", KIND_SCORE["brand"], True))
    _add_lexicon(index, lexicon, ingredients_by_name, standard_of)
    index.finish()
    return index


def _vocabulary_versions(conn, vocabulary) -> dict[str, str]:
    """``vocabulary_id -> vocabulary_version`` from the ``VOCABULARY`` table."""
    rows = conn.execute(select(vocabulary.c.vocabulary_id, vocabulary.c.vocabulary_version))
    return {vid: version.strip() for vid, version in rows if version and version.strip()}


def _link(index: ConceptIndex, linked: dict[int, set[int]]) -> None:
    """Keep, for each standard concept, the ICD10CM/RxNorm concepts mapping to it (and which map to several)."""
    mapped_from: dict[int, list[int]] = defaultdict(list)
    for source, targets in linked.items():
        for target in targets:
            mapped_from[target].append(source)
    index.mapped_from = {target: tuple(sorted(sources)) for target, sources in mapped_from.items()}
    index.map_targets = {source: len(targets) for source, targets in linked.items() if len(targets) > 1}


def _add_abbreviation(index: ConceptIndex, short: str, entry: Entry, case_sensitive: bool | None = None,
                      curated: bool = False) -> None:  # fmt: skip
    """An abbreviation: the room's curated list is trusted more than the vocabulary's "XX - name" synonyms."""
    if case_sensitive is None:
        case_sensitive = len(short) <= 3 or short.isupper()
    if len(short) <= 2:
        score = 0.86 if curated else KIND_SCORE["short"]
        entry = Entry(entry.source_id, entry.standard_id, "short", score, entry.brand)
    elif not curated:
        entry = Entry(entry.source_id, entry.standard_id, entry.kind, 0.88, entry.brand)
    index.add(short, entry, case_sensitive=case_sensitive)


def _resolve(index: ConceptIndex, term: str) -> list[Entry]:
    ws = words(term)
    found = index.exact.get(key(ws)) or index.bags.get(bag(ws)) or []
    return [e for e in found if e.kind in ("name", "synonym", "derived")]


def _add_lexicon(index: ConceptIndex, lex: Lexicon, ingredients_by_name, standard_of) -> None:
    rewrites: dict[str, list[str]] = {}
    for ab in lex.abbreviations:
        targets = _resolve(index, ab.expansion)
        if targets:
            best = targets[0]
            _add_abbreviation(
                index, ab.text, Entry(best.source_id, best.standard_id, "abbreviation", KIND_SCORE["abbreviation"]),
                case_sensitive=ab.case_sensitive or None, curated=True,
            )  # fmt: skip
        elif len(words(ab.text)) == 1 and not ab.case_sensitive:
            rewrites.setdefault(stem(ab.text), words(ab.expansion))
    for lay, clinical in lex.lay_terms.items():
        for target in _resolve(index, clinical)[:1]:
            index.add(lay, Entry(target.source_id, target.standard_id, "lay", KIND_SCORE["lay"]))
        if len(words(lay)) == 1 and not _resolve(index, clinical) and len(words(clinical)) <= 2:
            rewrites.setdefault(stem(lay), words(clinical))
    for brand, ingredients in lex.brands.items():
        ids = [ingredients_by_name.get(key(words(i))) for i in ingredients]
        if len(ids) == 1 and ids[0]:
            index.add(brand, Entry(ids[0], standard_of(ids[0]), "brand", KIND_SCORE["brand"], True))
        elif all(ids) and ids:  # a combination product: a medication, but no single ingredient to name
            index.add(brand, Entry(0, 0, "brand", KIND_SCORE["brand"] - 0.1, True))
    for wrong, right in lex.misspellings.items():
        if len(words(wrong)) == 1 and stem(wrong) not in rewrites:
            rewrites[stem(wrong)] = words(right)
            index.misspelled.add(stem(wrong))
    index.rewrites = rewrites
