"""The entity detector: concept mentions, anatomy, attributes, PHI, context -- offline, per note.

``Detector(index).detect(text)`` returns :class:`Entity` objects; ``shapes``
turns them into the ``DetectEntitiesV2`` / ``DetectEntities`` /
``InferSNOMEDCT`` / ``InferICD10CM`` / ``InferRxNorm`` JSON (the last two
look codes up in ``detector.index``). Notes longer than :data:`MAX_CHARS` are
split on line (or sentence) boundaries and their offsets shifted back, so
offsets always index the original text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from openmaker.clinical.attributes import Attr, medication_attributes, phi_entities, test_attributes
from openmaker.clinical.context import apply_context
from openmaker.clinical.errors import NoteError
from openmaker.clinical.index import ConceptIndex
from openmaker.clinical.lexicon import Lexicon, load_lexicon
from openmaker.clinical.matcher import AnatomyMatcher, find_mentions

MAX_CHARS = 20_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_SYMPTOMS = re.compile(r"(?:acute |chronic |severe |mild )?(pain|ache|nausea|vomiting|cough|fever|fatigue|dizziness|headache|dyspnea|malaise|"
                       r"chills|itch|pruritus|sore throat|diarrhea|constipation|palpitation|wheez)", re.I)  # fmt: skip
_SIGNS = re.compile(r"(?:\w+ )?(edema|murmur|rash|tenderness|swelling|erythema|crackles|rales|bruit|jaundice)", re.I)
_TESTS = re.compile(r"(x-ray|radiograph|radiologic|scan\b|ultraso|examination|exam\b|test\b|screening|culture|"
                    r"electrocardio|electroenceph|spirometry|measurement|endoscopy|review of systems|"
                    r"evaluation|assessment|specimen)", re.I)  # fmt: skip
_TREATMENTS = re.compile(r"(therapy|rehabilitation|immunotherapy|transfusion|reconciliation|follow-up|counsel)", re.I)
PHI = "PROTECTED_HEALTH_INFORMATION"
_BREAK = re.compile(r"[.;,:\n()]")


@dataclass
class Entity:
    id: int
    begin: int
    end: int
    text: str
    category: str
    type: str
    score: float
    traits: dict[str, float] = field(default_factory=dict)
    attributes: list[Attr] = field(default_factory=list)
    concept_id: int = 0
    source_concept_id: int = 0
    concept_name: str | None = None
    concept_code: str | None = None
    vocabulary_id: str | None = None
    section: str | None = None

    @property
    def negated(self) -> bool:
        return "NEGATION" in self.traits

    @property
    def term_exists(self) -> str:
        return "N" if {"NEGATION", "HYPOTHETICAL", "PERTAINS_TO_FAMILY"} & self.traits.keys() else "Y"

    @property
    def term_temporal(self) -> str:
        return "past" if "PAST_HISTORY" in self.traits else "present"


def check_text(text, note_id=None) -> str:
    """The note as ``str``; invalid UTF-8, control characters or an empty note raise :class:`NoteError`."""
    label = "text" if note_id is None else note_id
    if isinstance(text, (bytes, bytearray, memoryview)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError(label, f"not valid UTF-8 (byte {exc.start})") from exc
    if text is None or not isinstance(text, str):
        raise NoteError(label, "no text")
    bad = _CONTROL.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise NoteError(label, f"control character U+{ord(bad.group(0)):04X} at offset {bad.start()} (line {line})")
    if not text.strip():
        raise NoteError(label, "empty note")
    return text


def chunks(text: str, limit: int = MAX_CHARS) -> list[tuple[int, str]]:
    """``(offset, piece)`` pieces of at most ``limit`` characters, cut at a line break, sentence or space."""
    out, start = [], 0
    while len(text) - start > limit:
        window = text[start : start + limit]
        cut = max(window.rfind("\n"), window.rfind(". ") + 1)
        if cut <= limit // 2:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit
        out.append((start, text[start : start + cut]))
        start += cut
    out.append((start, text[start:]))
    return out


class Detector:
    """Finds entities in notes against one concept index (build it once, reuse it for every note)."""

    def __init__(self, index: ConceptIndex, lexicon: Lexicon | None = None, with_context: bool = True):
        self.index = index
        self.lexicon = lexicon or load_lexicon()
        self.anatomy = AnatomyMatcher(self.lexicon)
        self.with_context = with_context
        self._sites: dict[str, int] = {}

    @classmethod
    def from_cdm(cls, cdm, **index_options) -> "Detector":
        """A detector over the vocabulary in ``cdm`` (``index_options``: see :func:`build_index`)."""
        from openmaker.clinical.index import build_index

        return cls(build_index(cdm, **index_options))

    def detect(self, text, note_id=None) -> list[Entity]:
        """The entities of one note, sorted by offset; a bad note raises :class:`NoteError`."""
        text = check_text(text, note_id)
        entities: list[Entity] = []
        for offset, piece in chunks(text):
            for e in self._detect_piece(piece):
                e.begin += offset
                e.end += offset
                for a in e.attributes:
                    a.begin += offset
                    a.end += offset
                entities.append(e)
        for i, e in enumerate(entities):
            e.id = i
        return entities

    # ------------------------------------------------------------------------------------------------
    def _detect_piece(self, text: str) -> list[Entity]:
        mentions = find_mentions(text, self.index)
        concept_entities = [self._entity(text, m) for m in mentions]
        sites = [self._site_entity(text, s) for s in self.anatomy.find(text)]
        phi = [Entity(0, a.begin, a.end, a.text, PHI, a.type, a.score) for a in phi_entities(text)]
        taken = [(e.begin, e.end) for e in concept_entities]
        phi = [p for p in phi if not any(p.begin < e and b < p.end for b, e in taken)]
        if self.with_context and concept_entities:
            spans = [(e.begin, e.end) for e in concept_entities]
            tests = [e.category == "TEST_TREATMENT_PROCEDURE" for e in concept_entities]
            for entity, ctx in zip(concept_entities, apply_context(text, spans, tests)):
                entity.section = ctx.section
                if ctx.negated:
                    entity.traits["NEGATION"] = 0.9
                if ctx.hypothetical:
                    entity.traits["HYPOTHETICAL"] = 0.85
                if ctx.historical or ctx.section == "past_medical_history":
                    entity.traits["PAST_HISTORY"] = 0.85
                if ctx.family or ctx.section == "family_history":
                    entity.traits["PERTAINS_TO_FAMILY"] = 0.85
        self._attach(text, concept_entities, sites)
        return sorted(concept_entities + sites + phi, key=lambda e: (e.begin, -e.end))

    def _entity(self, text: str, m) -> Entity:
        entry = m.entry
        concept = self.index.concepts.get(entry.standard_id) or self.index.concepts.get(entry.source_id)
        category = self.index.category(concept.concept_id) if concept else ("MEDICATION" if entry.brand else None)
        category = category or "MEDICAL_CONDITION"
        name = concept.name if concept else None
        if category == "MEDICATION":
            kind = "BRAND_NAME" if entry.brand else "GENERIC_NAME"
        elif category == "MEDICAL_CONDITION":
            kind = "DX_NAME"
        elif category == "ANATOMY":
            kind = "SYSTEM_ORGAN_SITE"
        elif concept is not None and concept.domain_id == "Measurement":
            kind = "TEST_NAME"
        elif name and _TREATMENTS.search(name):
            kind = "TREATMENT_NAME"
        elif name and _TESTS.search(name):
            kind = "TEST_NAME"
        else:
            kind = "PROCEDURE_NAME"
        entity = Entity(
            0, m.begin, m.end, text[m.begin : m.end], category, kind, m.score,
            concept_id=entry.standard_id, source_concept_id=entry.source_id, concept_name=name,
            concept_code=concept.concept_code if concept else None,
            vocabulary_id=concept.vocabulary_id if concept else None,
        )  # fmt: skip
        if category == "MEDICAL_CONDITION":
            label = name or entity.text
            trait = "SYMPTOM" if _SYMPTOMS.match(label) else "SIGN" if _SIGNS.match(label) else "DIAGNOSIS"
            entity.traits[trait] = round(min(0.95, m.score), 4)
        if m.score < 0.7:
            entity.traits["LOW_CONFIDENCE"] = round(1 - m.score, 4)
        return entity

    def _site_entity(self, text: str, site) -> Entity:
        concept_id = self._sites.get(site.name)
        if concept_id is None:
            concept_id = self._sites[site.name] = self.index.lookup_concept(site.name)
        concept = self.index.concepts.get(concept_id)
        return Entity(
            0, site.begin, site.end, text[site.begin : site.end], "ANATOMY", site.type, site.score,
            concept_id=concept_id, source_concept_id=concept_id, concept_name=site.name,
            concept_code=concept.concept_code if concept else None,
            vocabulary_id=concept.vocabulary_id if concept else None,
        )  # fmt: skip

    def _attach(self, text: str, entities: list[Entity], sites: list[Entity]) -> None:
        """Medication attributes, test values, and the direction/site of a condition or procedure (V2 style)."""
        starts = sorted(e.begin for e in entities)
        holders = {id(s): [o for o in entities if o.begin <= s.begin and s.end <= o.end] for s in sites}
        for e in entities:
            line_end = text.find("\n", e.end)
            limit = len(text) if line_end < 0 else line_end
            following = [b for b in starts if b >= e.end]
            if following:
                limit = min(limit, following[0])
            if e.category == "MEDICATION":
                e.attributes = medication_attributes(text, e.end, limit)
            elif e.type == "TEST_NAME":
                e.attributes = test_attributes(text, e.end, limit)
            elif e.category in ("MEDICAL_CONDITION", "TEST_TREATMENT_PROCEDURE"):
                for s in sites:
                    if s.begin > e.end or s.end < e.begin - 40:
                        continue
                    gap = text[s.end : e.begin]
                    in_other = any(o is not e and o.begin <= s.begin and s.end <= o.end for o in holders[id(s)])
                    near_before = (s.end <= e.begin and len(gap.split()) <= 3 and not _BREAK.search(gap)
                                   and not in_other)  # fmt: skip
                    inside = e.begin <= s.begin and s.end <= e.end
                    if near_before or inside:
                        e.attributes.append(Attr(s.type, s.begin, s.end, s.text, s.score))
