"""Fixtures for the clinical room: a hand-made vocabulary in Athena format, CDMs on every dialect, a detector.

The hand-made vocabulary is a dozen concepts written for these tests. Two ids
are the real OMOP ones the published workflow shows (313217 atrial
fibrillation, 4112853 malignant tumour of breast); every id from 90000000 up
is made up. No Athena export is committed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest

START, END = dt.date(1970, 1, 1), dt.date(2099, 12, 31)


def _concept(cid, name, domain, vocab, klass, standard, code):
    return {"concept_id": cid, "concept_name": name, "domain_id": domain, "vocabulary_id": vocab,
            "concept_class_id": klass, "standard_concept": standard, "concept_code": code,
            "valid_start_date": START, "valid_end_date": END, "invalid_reason": None}  # fmt: skip


CONCEPTS = [
    _concept(313217, "Atrial fibrillation", "Condition", "SNOMED", "Clinical Finding", "S", "49436004"),
    _concept(4112853, "Malignant tumor of breast", "Condition", "SNOMED", "Clinical Finding", "S", "254837009"),
    _concept(90000001, "Myocardial infarction", "Condition", "SNOMED", "Clinical Finding", "S", "22298006"),
    _concept(90000002, "Pneumonia", "Condition", "SNOMED", "Clinical Finding", "S", "233604007"),
    _concept(90000003, "Fracture of rib", "Condition", "SNOMED", "Clinical Finding", "S", "33737001"),
    _concept(90000004, "Warfarin", "Drug", "RxNorm", "Ingredient", "S", "11289"),
    _concept(90000005, "Coumadin", "Drug", "RxNorm", "Brand Name", None, "202421"),
    _concept(90000006, "Unspecified atrial fibrillation", "Condition", "ICD10CM", "5-char billing code", None, "I48.91"),
    _concept(90000007, "Hemoglobin [Mass/volume] in Blood", "Measurement", "LOINC", "Lab Test", "S", "718-7"),
    _concept(90000008, "Coronary artery bypass graft", "Procedure", "SNOMED", "Procedure", "S", "232717009"),
    _concept(90000009, "Breast structure", "Spec Anatomic Site", "SNOMED", "Body Structure", "S", "76752008"),
    _concept(90000010, "Left", "Spatial", "SNOMED", "Qualifier Value", "S", "7771000"),
    _concept(90000011, "History of Present illness Narrative", "Measurement", "LOINC", "Clinical Observation", "S", "10164-2"),
    _concept(90000012, "Retired pneumonia concept", "Condition", "SNOMED", "Clinical Finding", None, "000000"),
]
CONCEPTS[-1]["invalid_reason"] = "D"
SYNONYMS = [
    {"concept_id": 313217, "concept_synonym_name": "AF - Atrial fibrillation", "language_concept_id": 4180186},
    {"concept_id": 4112853, "concept_synonym_name": "Breast cancer", "language_concept_id": 4180186},
    {"concept_id": 90000001, "concept_synonym_name": "Heart attack", "language_concept_id": 4180186},
    {"concept_id": 90000003, "concept_synonym_name": "Rib fracture", "language_concept_id": 4180186},
]
RELATIONSHIPS = [
    {"concept_id_1": 90000006, "concept_id_2": 313217, "relationship_id": "Maps to", "valid_start_date": START,
     "valid_end_date": END, "invalid_reason": None},
    {"concept_id_1": 90000005, "concept_id_2": 90000004, "relationship_id": "Brand name of", "valid_start_date": START,
     "valid_end_date": END, "invalid_reason": None},
]  # fmt: skip
VOCABULARIES = [
    {"vocabulary_id": v, "vocabulary_name": v, "vocabulary_reference": "hand-made", "vocabulary_version": "test",
     "vocabulary_concept_id": 0} for v in ("SNOMED", "RxNorm", "LOINC", "ICD10CM")
]  # fmt: skip
DOMAINS = [{"domain_id": d, "domain_name": d, "domain_concept_id": 0}
           for d in ("Condition", "Drug", "Measurement", "Procedure", "Spec Anatomic Site", "Spatial")]  # fmt: skip


def athena_rows() -> dict[str, list[dict]]:
    return {
        "CONCEPT.csv": CONCEPTS, "CONCEPT_SYNONYM.csv": SYNONYMS, "CONCEPT_RELATIONSHIP.csv": RELATIONSHIPS,
        "VOCABULARY.csv": VOCABULARIES, "DOMAIN.csv": DOMAINS,
    }  # fmt: skip


@pytest.fixture
def athena_dir(tmp_path):
    """The hand-made vocabulary as an Athena download (tab-separated, YYYYMMDD dates)."""
    from openmaker.clinical.vocab import write_athena

    directory = tmp_path / "athena"
    write_athena(directory, athena_rows())
    return directory


def _duckdb_available() -> bool:
    try:
        import duckdb_engine  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(params=["sqlite", "duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def cdm_url(request, tmp_path) -> Iterator[str]:
    """An empty CDM database on each dialect: a SQLite file, a DuckDB file, a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cdm.db'}"
    elif request.param == "duckdb":
        if not _duckdb_available():
            pytest.skip("duckdb-engine is not installed")
        yield f"duckdb:///{tmp_path / 'cdm.duckdb'}"
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.fixture
def fixture_cdm(tmp_path, athena_dir):
    """A SQLite CDM with the schema and the hand-made vocabulary loaded."""
    from openmaker.clinical.cdm import connect
    from openmaker.clinical.schema import init_schema
    from openmaker.clinical.vocab import load_vocabulary

    cdm = connect(f"sqlite:///{tmp_path / 'fixture.db'}")
    init_schema(cdm.engine)
    load_vocabulary(cdm, athena_dir)
    yield cdm
    cdm.engine.dispose()


@pytest.fixture(scope="session")
def eunomia_detector():
    """The detector over the bundled Eunomia vocabulary (built once)."""
    from openmaker.clinical.handler import vocabulary_detector

    return vocabulary_detector(None)


@pytest.fixture
def fixture_detector(fixture_cdm):
    from openmaker.clinical.detect import Detector

    return Detector.from_cdm(fixture_cdm)


def add_notes(cdm, texts: list[str], first_id: int = 1) -> list[int]:
    """Insert notes (person 1, today) and return their ids."""
    from openmaker.clinical.schema import tables

    note = tables(cdm.schema)["note"]
    rows = [{"note_id": first_id + i, "person_id": 1, "note_date": dt.date(2024, 5, 1), "note_type_concept_id": 32817,
             "note_class_concept_id": 0, "note_text": text, "encoding_concept_id": 32678,
             "language_concept_id": 4180186} for i, text in enumerate(texts)]  # fmt: skip
    with cdm.engine.begin() as conn:
        conn.execute(note.insert(), rows)
    return [r["note_id"] for r in rows]


def unique_schema() -> str:
    return f"cdm_{uuid.uuid4().hex[:8]}"
