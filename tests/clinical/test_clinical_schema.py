"""``openmaker omop init``: the OMOP CDM v5.4 tables on SQLite, DuckDB and PostgreSQL, never touching what exists."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from openmaker.cli import app
from openmaker.clinical.cdm import connect
from openmaker.clinical.errors import SchemaError
from openmaker.clinical.schema import build_metadata, init_schema, require_tables, tables
from tests.clinical.conftest import unique_schema

runner = CliRunner()

# The column order of OHDSI/CommonDataModel inst/ddl/5.4, written out here (not read from the module under test).
V54_COLUMNS = {
    "person": [
        "person_id", "gender_concept_id", "year_of_birth", "month_of_birth", "day_of_birth", "birth_datetime",
        "race_concept_id", "ethnicity_concept_id", "location_id", "provider_id", "care_site_id",
        "person_source_value", "gender_source_value", "gender_source_concept_id", "race_source_value",
        "race_source_concept_id", "ethnicity_source_value", "ethnicity_source_concept_id",
    ],
    "visit_occurrence": [
        "visit_occurrence_id", "person_id", "visit_concept_id", "visit_start_date", "visit_start_datetime",
        "visit_end_date", "visit_end_datetime", "visit_type_concept_id", "provider_id", "care_site_id",
        "visit_source_value", "visit_source_concept_id", "admitted_from_concept_id", "admitted_from_source_value",
        "discharged_to_concept_id", "discharged_to_source_value", "preceding_visit_occurrence_id",
    ],
    "note": [
        "note_id", "person_id", "note_date", "note_datetime", "note_type_concept_id", "note_class_concept_id",
        "note_title", "note_text", "encoding_concept_id", "language_concept_id", "provider_id",
        "visit_occurrence_id", "visit_detail_id", "note_source_value", "note_event_id",
        "note_event_field_concept_id",
    ],
    "note_nlp": [
        "note_nlp_id", "note_id", "section_concept_id", "snippet", "offset", "lexical_variant",
        "note_nlp_concept_id", "note_nlp_source_concept_id", "nlp_system", "nlp_date", "nlp_datetime",
        "term_exists", "term_temporal", "term_modifiers",
    ],
    "concept": [
        "concept_id", "concept_name", "domain_id", "vocabulary_id", "concept_class_id", "standard_concept",
        "concept_code", "valid_start_date", "valid_end_date", "invalid_reason",
    ],
    "concept_synonym": ["concept_id", "concept_synonym_name", "language_concept_id"],
    "concept_relationship": [
        "concept_id_1", "concept_id_2", "relationship_id", "valid_start_date", "valid_end_date", "invalid_reason",
    ],
    "concept_ancestor": [
        "ancestor_concept_id", "descendant_concept_id", "min_levels_of_separation", "max_levels_of_separation",
    ],
    "vocabulary": [
        "vocabulary_id", "vocabulary_name", "vocabulary_reference", "vocabulary_version", "vocabulary_concept_id",
    ],
    "domain": ["domain_id", "domain_name", "domain_concept_id"],
    "concept_class": ["concept_class_id", "concept_class_name", "concept_class_concept_id"],
    "relationship": [
        "relationship_id", "relationship_name", "is_hierarchical", "defines_ancestry", "reverse_relationship_id",
        "relationship_concept_id",
    ],
}  # fmt: skip
ALL_TABLES = set(V54_COLUMNS)

# (table, column): nullable, as in the v5.4 DDL.
NULLABILITY = {
    ("person", "person_id"): False, ("person", "year_of_birth"): False, ("person", "month_of_birth"): True,
    ("note", "note_date"): False, ("note", "note_text"): False, ("note", "note_title"): True,
    ("note", "note_type_concept_id"): False, ("note", "visit_occurrence_id"): True,
    ("note_nlp", "note_nlp_id"): False, ("note_nlp", "note_id"): False, ("note_nlp", "lexical_variant"): False,
    ("note_nlp", "nlp_date"): False, ("note_nlp", "offset"): True, ("note_nlp", "note_nlp_concept_id"): True,
    ("concept", "concept_name"): False, ("concept", "valid_start_date"): False,
    ("concept", "standard_concept"): True, ("concept", "invalid_reason"): True,
    ("concept_relationship", "relationship_id"): False, ("vocabulary", "vocabulary_version"): True,
}  # fmt: skip


def _engine(url):
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def _columns(engine, table, schema=None) -> list[tuple[str, bool, object]]:
    """(name, nullable, default) in table order. duckdb-engine's inspector cannot reflect columns on DuckDB 2
    (it queries pg_catalog.pg_collation), so DuckDB is asked through information_schema."""
    if engine.dialect.name == "duckdb":
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT column_name, is_nullable, column_default FROM information_schema.columns "
                    "WHERE table_name = :t AND table_schema = COALESCE(:s, current_schema()) ORDER BY ordinal_position"
                ),
                {"t": table, "s": schema},
            ).all()
        return [(name, nullable == "YES", default) for name, nullable, default in rows]
    return [(c["name"], c["nullable"], c.get("default")) for c in inspect(engine).get_columns(table, schema=schema)]


def _primary_key(engine, table, schema=None) -> list[str]:
    if engine.dialect.name == "duckdb":
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT constraint_column_names FROM duckdb_constraints() WHERE table_name = :t "
                    "AND schema_name = COALESCE(:s, current_schema()) AND constraint_type = 'PRIMARY KEY'"
                ),
                {"t": table, "s": schema},
            ).all()
        return [c for (names,) in rows for c in names]
    return inspect(engine).get_pk_constraint(table, schema=schema)["constrained_columns"]


def _table_names(engine, schema=None) -> set[str]:
    """Tables in ``schema`` (the connection's default one when None), asked without the module under test."""
    if engine.dialect.name == "sqlite":
        return set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = COALESCE(:s, current_schema()) AND table_type = 'BASE TABLE'"
            ),
            {"s": schema},
        ).all()
    return {name for (name,) in rows}


def _flat(output: str) -> str:
    # Rich wraps stdout at 80 columns in the runner; compare with whitespace collapsed.
    return " ".join(output.split())


def _one_line_error(result, *fragments):
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def test_init_creates_the_v54_tables_with_their_exact_columns(cdm_url):
    cdm = connect(cdm_url)
    created = init_schema(cdm.engine)
    assert created == list(V54_COLUMNS)  # in the order the CDM lists them
    assert _table_names(cdm.engine) == ALL_TABLES
    for table, expected in V54_COLUMNS.items():
        assert [name for name, _, _ in _columns(cdm.engine, table)] == expected, table
    nullable = {(t, name): null for t in V54_COLUMNS for name, null, _ in _columns(cdm.engine, t)}
    for key, expected in NULLABILITY.items():
        assert nullable[key] is expected, key
    cdm.engine.dispose()


def test_note_nlp_has_an_offset_column_and_a_plain_integer_primary_key(cdm_url):
    cdm = connect(cdm_url)
    init_schema(cdm.engine)
    assert _primary_key(cdm.engine, "note_nlp") == ["note_nlp_id"]
    columns = {name: default for name, _, default in _columns(cdm.engine, "note_nlp")}
    assert "offset" in columns
    assert columns["note_nlp_id"] is None  # no SERIAL / nextval() / sequence default
    note_nlp = tables()["note_nlp"]
    row = {"note_id": 7, "lexical_variant": "atrial fibrillation", "nlp_date": dt.date(2024, 5, 1)}
    with cdm.engine.begin() as conn:
        conn.execute(note_nlp.insert(), {**row, "note_nlp_id": 41, "offset": "12"})
    with cdm.engine.connect() as conn:
        assert conn.execute(select(note_nlp.c.note_nlp_id, note_nlp.c.offset)).all() == [(41, "12")]
    with pytest.raises(IntegrityError):
        with cdm.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO note_nlp (note_id, lexical_variant, nlp_date) VALUES (7, 'warfarin', :d)"),
                {"d": dt.date(2024, 5, 1)},
            )
    with cdm.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM note_nlp")).scalar_one() == 1
    cdm.engine.dispose()


def test_cli_init_then_a_second_run_creates_nothing(cdm_url):
    first = runner.invoke(app, ["omop", "init", "--db", cdm_url])
    assert first.exit_code == 0, first.output
    said = _flat(first.stdout)
    assert said.startswith("created 12 table(s) in ")
    assert said.endswith(": " + ", ".join(V54_COLUMNS))
    engine = _engine(cdm_url)
    assert _table_names(engine) == ALL_TABLES
    engine.dispose()

    second = runner.invoke(app, ["omop", "init", "--db", cdm_url])
    assert second.exit_code == 0, second.output
    said = _flat(second.stdout)
    assert said.endswith("already has every table the room uses; nothing changed")
    assert "created" not in said
    cdm = connect(cdm_url)
    assert init_schema(cdm.engine) == []
    cdm.engine.dispose()


def test_init_never_alters_an_existing_table(cdm_url):
    engine = _engine(cdm_url)
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE note (note_id INTEGER NOT NULL PRIMARY KEY, note_text TEXT, site_code VARCHAR(10))")
        )
        conn.execute(text("INSERT INTO note (note_id, note_text, site_code) VALUES (1, 'kept as it was', 'B-7')"))
    engine.dispose()

    result = runner.invoke(app, ["omop", "init", "--db", cdm_url])
    assert result.exit_code == 0, result.output
    assert _flat(result.stdout).startswith("created 11 table(s) in ")
    assert " note," not in _flat(result.stdout)

    engine = _engine(cdm_url)
    assert _table_names(engine) == ALL_TABLES
    assert [name for name, _, _ in _columns(engine, "note")] == ["note_id", "note_text", "site_code"]
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT note_id, note_text, site_code FROM note")).all()
        assert kept == [(1, "kept as it was", "B-7")]
    assert [name for name, _, _ in _columns(engine, "note_nlp")] == V54_COLUMNS["note_nlp"]
    engine.dispose()


@pytest.mark.parametrize("cdm_url", ["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_schema_option_puts_the_tables_in_that_schema(cdm_url):
    schema = unique_schema()
    result = runner.invoke(app, ["omop", "init", "--db", cdm_url, "--schema", schema])
    assert result.exit_code == 0, result.output
    assert f"(schema {schema})" in _flat(result.stdout)
    engine = _engine(cdm_url)
    assert _table_names(engine, schema) == ALL_TABLES
    assert _table_names(engine) == set()  # nothing in the default schema
    assert [name for name, _, _ in _columns(engine, "note_nlp", schema)] == V54_COLUMNS["note_nlp"]
    engine.dispose()

    again = runner.invoke(app, ["omop", "init", "--db", cdm_url, "--schema", schema])
    assert again.exit_code == 0, again.output
    assert "nothing changed" in _flat(again.stdout)

    # The default schema is a different place: tables elsewhere do not count as present.
    default = runner.invoke(app, ["omop", "init", "--db", cdm_url])
    assert default.exit_code == 0, default.output
    assert _flat(default.stdout).startswith("created 12 table(s) in ")
    engine = _engine(cdm_url)
    assert _table_names(engine) == ALL_TABLES
    engine.dispose()


def test_schema_option_on_sqlite_exits_2(tmp_path):
    path = tmp_path / "cdm.db"
    result = runner.invoke(app, ["omop", "init", "--db", f"sqlite:///{path}", "--schema", "cdm"])
    _one_line_error(result, "SQLite has no schemas")
    assert result.stdout == ""
    assert not path.exists()


@pytest.mark.parametrize(
    "db, fragment",
    [
        ("nosuchdialect://user@host/cdm", "cannot open nosuchdialect://user@host/cdm"),
        ("://", "not a database URL or path"),
        ("postgresql://nobody@127.0.0.1:1/cdm",
         "cannot read the tables of database postgresql+psycopg://nobody@127.0.0.1:1/cdm"),
    ],
    ids=["unknown-dialect", "not-a-url", "unreachable-server"],
)  # fmt: skip
def test_bad_database_url_exits_2_with_one_line(db, fragment):
    result = runner.invoke(app, ["omop", "init", "--db", db])
    _one_line_error(result, fragment)
    assert result.stdout == ""


def test_require_tables_names_each_missing_table(cdm_url):
    cdm = connect(cdm_url)
    md = build_metadata()
    md.create_all(cdm.engine, tables=[md.tables["note"], md.tables["concept"]])
    with pytest.raises(SchemaError) as caught:
        require_tables(cdm.engine, None)
    message = str(caught.value)
    missing = re.search(r"has no CDM table (.+?): run 'openmaker omop init", message)
    assert missing, message
    assert missing.group(1).split(", ") == ["note_nlp", "concept_synonym", "concept_relationship"]
    assert "\n" not in message

    with pytest.raises(SchemaError, match=r"has no CDM table concept_ancestor:"):
        require_tables(cdm.engine, None, ["note", "concept_ancestor"])
    require_tables(cdm.engine, None, ["note", "concept"])  # all present: no error

    init_schema(cdm.engine)
    require_tables(cdm.engine, None)
    require_tables(cdm.engine, None, list(V54_COLUMNS))
    cdm.engine.dispose()
