"""NOTE_NLP rows from entities: the published ``term_modifiers`` format, snippets, term_exists/temporal."""

from __future__ import annotations

import datetime as dt
import re

from openmaker import __version__
from openmaker.clinical.detect import PHI, Entity

NLP_SYSTEM = f"openmaker clinical {__version__}"
_SPACE = re.compile(r"\s+")


def term_modifiers(e: Entity) -> str:
    """``CATEGORY: X; TYPE: Y; TRAIT: Z; ATTRIBUTE: 5 mg, ATTRIBUTE_TYPE: STRENGTH;`` (at most 2000 characters)."""
    parts = [f"CATEGORY: {e.category};", f"TYPE: {e.type};"]
    parts += [f"TRAIT: {name};" for name in e.traits]
    parts += [f"ATTRIBUTE: {_SPACE.sub(' ', a.text)}, ATTRIBUTE_TYPE: {a.type};" for a in e.attributes]
    text = " ".join(parts)
    return text if len(text) <= 2000 else text[:1997] + "..."


def snippet(text: str, e: Entity, width: int = 60) -> str:
    """The entity with up to ``width`` characters each side, whitespace collapsed, at most 250 characters."""
    start, end = max(0, e.begin - width), min(len(text), e.end + width)
    window = _SPACE.sub(" ", text[start:end]).strip()
    return window[:250]


def note_nlp_rows(note_id: int, text: str, entities: list[Entity], min_score: float, section_concepts: dict[str, int],
                  include_phi: bool = False, when: dt.datetime | None = None) -> list[dict]:  # fmt: skip
    """One row per kept entity (score >= ``min_score``; PHI only when asked), ``note_nlp_id`` left to the writer."""
    when = when or dt.datetime.now().replace(microsecond=0)
    rows = []
    for e in entities:
        if e.score < min_score or (e.category == PHI and not include_phi):
            continue
        rows.append({
            "note_id": note_id,
            "section_concept_id": section_concepts.get(e.section or "", 0),
            "snippet": snippet(text, e),
            "offset": str(e.begin),
            "lexical_variant": e.text[:250],
            "note_nlp_concept_id": e.concept_id or 0,
            "note_nlp_source_concept_id": e.source_concept_id or 0,
            "nlp_system": NLP_SYSTEM,
            "nlp_date": when.date(),
            "nlp_datetime": when,
            "term_exists": e.term_exists,
            "term_temporal": e.term_temporal,
            "term_modifiers": term_modifiers(e),
        })  # fmt: skip
    return rows
