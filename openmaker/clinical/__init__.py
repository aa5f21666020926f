"""Clinical notes to the OMOP CDM: the room's public Python API.

Medical entities are found in notes offline -- dictionary matching against the
loaded OMOP vocabulary plus the room's abbreviation, brand, lay-term and
misspelling lexicons, medspaCy's ConText and sectionizer, attribute and PHI
patterns -- and written as ``NOTE_NLP`` rows::

    from openmaker import clinical

    cdm = clinical.connect("postgresql://localhost/cdm", schema="cdm")
    clinical.init_schema(cdm)
    detector = clinical.Detector.from_cdm(cdm)
    clinical.detect_entities_v2(detector.detect("Pt w/ hx of afib on Coumadin"))
    clinical.run_nlp(cdm, clinical.NlpOptions(min_score=0.8))

Heavy dependencies (spaCy, medspaCy) load on first use.
"""

from __future__ import annotations

from openmaker.rooms import lazy_exports

__all__ = [
    "ClinicalError",
    "Detector",
    "NlpOptions",
    "NoteError",
    "SchemaError",
    "VocabularyError",
    "build_index",
    "connect",
    "detect_entities_v1",
    "detect_entities_v2",
    "evaluate",
    "infer_snomedct",
    "init_schema",
    "load_demo",
    "load_vocabulary",
    "run_nlp",
]

_EXPORTS = {
    "ClinicalError": "openmaker.clinical.errors",
    "NoteError": "openmaker.clinical.errors",
    "SchemaError": "openmaker.clinical.errors",
    "VocabularyError": "openmaker.clinical.errors",
    "Detector": "openmaker.clinical.detect",
    "build_index": "openmaker.clinical.index",
    "connect": "openmaker.clinical.cdm",
    "detect_entities_v1": "openmaker.clinical.shapes",
    "detect_entities_v2": "openmaker.clinical.shapes",
    "infer_snomedct": "openmaker.clinical.shapes",
    "evaluate": "openmaker.clinical.evaluate",
    "init_schema": ("openmaker.clinical.schema", "init_cdm"),
    "load_demo": "openmaker.clinical.eunomia",
    "load_vocabulary": "openmaker.clinical.vocab",
    "NlpOptions": "openmaker.clinical.writer",
    "run_nlp": "openmaker.clinical.writer",
}


__getattr__ = lazy_exports("openmaker.clinical", _EXPORTS)
