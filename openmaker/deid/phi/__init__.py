"""PHI detection in OCR text of medical images, offline.

Shaped like AWS Comprehend Medical ``DetectPHI``::

    from openmaker.deid.phi import PhiContext, detect_phi
    ctx = PhiContext.from_dataset(pydicom.dcmread(path, stop_before_pixels=True))
    result = detect_phi(ocr_text, context=ctx)            # or mode="strict"
    for e in result["Entities"]:
        e["BeginOffset"], e["EndOffset"], e["Type"], e["Score"]

Design (as Presidio): a registry of independent recognisers (:func:`recognizers`) -
header-seeded fuzzy matching, patterns (dates, times, ages, ids, contacts, addresses,
labelled fields, sex markers), institutions, name lists and name context - combined by
one engine that merges overlaps keeping the strongest type and score. ``mode="strict"``
also redacts every word that :func:`is_technical` does not allow.
"""

from .allowlist import TECHNICAL_TERMS, is_technical
from .context import PhiContext
from .engine import MODES, detect_phi, recognizers
from .entities import CATEGORY, ENTITY_TYPES, MODEL_VERSION

__all__ = [
    "CATEGORY",
    "ENTITY_TYPES",
    "MODEL_VERSION",
    "MODES",
    "TECHNICAL_TERMS",
    "PhiContext",
    "detect_phi",
    "is_technical",
    "recognizers",
]
