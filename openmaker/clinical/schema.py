"""The OMOP CDM v5.4 tables the room uses, with the exact v5.4 names and types.

Column names, types, nullability and primary keys follow OHDSI/CommonDataModel's
``inst/ddl/5.4`` DDL (``"offset"`` is quoted where the dialect needs it: OFFSET
is a reserved word). :func:`init_schema` creates the tables that are missing and
never drops or alters one that exists, so it is safe against an existing CDM.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    inspect,
    text,
)
from sqlalchemy.engine import Engine

from openmaker.clinical.errors import SchemaError

#: The tables ``openmaker omop init`` creates (those the room reads or writes).
TABLES = (
    "person", "visit_occurrence", "note", "note_nlp", "concept", "concept_synonym", "concept_relationship",
    "concept_ancestor", "vocabulary", "domain", "concept_class", "relationship",
)  # fmt: skip

#: The tables ``openmaker omop nlp`` needs; vocabulary tables may be empty but must exist.
NLP_TABLES = ("note", "note_nlp", "concept", "concept_synonym", "concept_relationship")


def _int(name, nullable=True):
    # The CDM's ids are plain integers the ETL assigns: never SERIAL/autoincrement.
    return Column(name, Integer, nullable=nullable, autoincrement=False)


def _id(name):
    # A primary-key id. On SQLite a single-column INTEGER PRIMARY KEY is an alias of
    # the rowid, which fills itself in when the id is left out; BIGINT (same affinity)
    # is not, so a missing id fails there as it does elsewhere.
    return Column(name, Integer().with_variant(BigInteger(), "sqlite"), nullable=False, autoincrement=False)


def _str(name, length, nullable=True):
    return Column(name, String(length), nullable=nullable)


def build_metadata(schema: str | None = None) -> MetaData:
    """A fresh ``MetaData`` holding the room's CDM tables, in ``schema`` when given."""
    md = MetaData(schema=schema)
    Table(
        "person", md,
        _id("person_id"), _int("gender_concept_id", False), _int("year_of_birth", False),
        _int("month_of_birth"), _int("day_of_birth"), Column("birth_datetime", DateTime),
        _int("race_concept_id", False), _int("ethnicity_concept_id", False), _int("location_id"),
        _int("provider_id"), _int("care_site_id"), _str("person_source_value", 50),
        _str("gender_source_value", 50), _int("gender_source_concept_id"), _str("race_source_value", 50),
        _int("race_source_concept_id"), _str("ethnicity_source_value", 50), _int("ethnicity_source_concept_id"),
        PrimaryKeyConstraint("person_id", name="xpk_person"),
    )
    Table(
        "visit_occurrence", md,
        _id("visit_occurrence_id"), _int("person_id", False), _int("visit_concept_id", False),
        Column("visit_start_date", Date, nullable=False), Column("visit_start_datetime", DateTime),
        Column("visit_end_date", Date, nullable=False), Column("visit_end_datetime", DateTime),
        _int("visit_type_concept_id", False), _int("provider_id"), _int("care_site_id"),
        _str("visit_source_value", 50), _int("visit_source_concept_id"), _int("admitted_from_concept_id"),
        _str("admitted_from_source_value", 50), _int("discharged_to_concept_id"),
        _str("discharged_to_source_value", 50), _int("preceding_visit_occurrence_id"),
        PrimaryKeyConstraint("visit_occurrence_id", name="xpk_visit_occurrence"),
    )
    Table(
        "note", md,
        _id("note_id"), _int("person_id", False), Column("note_date", Date, nullable=False),
        Column("note_datetime", DateTime), _int("note_type_concept_id", False),
        _int("note_class_concept_id", False), _str("note_title", 250), Column("note_text", Text, nullable=False),
        _int("encoding_concept_id", False), _int("language_concept_id", False), _int("provider_id"),
        _int("visit_occurrence_id"), _int("visit_detail_id"), _str("note_source_value", 50),
        _int("note_event_id"), _int("note_event_field_concept_id"),
        PrimaryKeyConstraint("note_id", name="xpk_note"),
    )
    Table(
        "note_nlp", md,
        _id("note_nlp_id"), _int("note_id", False), _int("section_concept_id"), _str("snippet", 250),
        _str("offset", 50), _str("lexical_variant", 250, False), _int("note_nlp_concept_id"),
        _int("note_nlp_source_concept_id"), _str("nlp_system", 250), Column("nlp_date", Date, nullable=False),
        Column("nlp_datetime", DateTime), _str("term_exists", 1), _str("term_temporal", 50),
        _str("term_modifiers", 2000),
        PrimaryKeyConstraint("note_nlp_id", name="xpk_note_nlp"),
        Index("idx_note_nlp_note_id_1", "note_id"),
        Index("idx_note_nlp_concept_id_1", "note_nlp_concept_id"),
    )
    Table(
        "concept", md,
        _id("concept_id"), _str("concept_name", 255, False), _str("domain_id", 20, False),
        _str("vocabulary_id", 20, False), _str("concept_class_id", 20, False), _str("standard_concept", 1),
        _str("concept_code", 50, False), Column("valid_start_date", Date, nullable=False),
        Column("valid_end_date", Date, nullable=False), _str("invalid_reason", 1),
        PrimaryKeyConstraint("concept_id", name="xpk_concept"),
        Index("idx_concept_code", "concept_code"),
        Index("idx_concept_vocabluary_id", "vocabulary_id"),  # sic: the CDM's index name
        Index("idx_concept_domain_id", "domain_id"),
        Index("idx_concept_class_id", "concept_class_id"),
    )
    Table(
        "concept_synonym", md,
        _int("concept_id", False), _str("concept_synonym_name", 1000, False), _int("language_concept_id", False),
        Index("idx_concept_synonym_id", "concept_id"),
    )
    Table(
        "concept_relationship", md,
        _int("concept_id_1", False), _int("concept_id_2", False), _str("relationship_id", 20, False),
        Column("valid_start_date", Date, nullable=False), Column("valid_end_date", Date, nullable=False),
        _str("invalid_reason", 1),
        Index("idx_concept_relationship_id_1", "concept_id_1"),
        Index("idx_concept_relationship_id_2", "concept_id_2"),
        Index("idx_concept_relationship_id_3", "relationship_id"),
    )
    Table(
        "concept_ancestor", md,
        _int("ancestor_concept_id", False), _int("descendant_concept_id", False),
        _int("min_levels_of_separation", False), _int("max_levels_of_separation", False),
    )
    Table(
        "vocabulary", md,
        _str("vocabulary_id", 20, False), _str("vocabulary_name", 255, False), _str("vocabulary_reference", 255),
        _str("vocabulary_version", 255), _int("vocabulary_concept_id", False),
        PrimaryKeyConstraint("vocabulary_id", name="xpk_vocabulary"),
    )
    Table(
        "domain", md,
        _str("domain_id", 20, False), _str("domain_name", 255, False), _int("domain_concept_id", False),
        PrimaryKeyConstraint("domain_id", name="xpk_domain"),
    )
    Table(
        "concept_class", md,
        _str("concept_class_id", 20, False), _str("concept_class_name", 255, False),
        _int("concept_class_concept_id", False),
        PrimaryKeyConstraint("concept_class_id", name="xpk_concept_class"),
    )
    Table(
        "relationship", md,
        _str("relationship_id", 20, False), _str("relationship_name", 255, False),
        _str("is_hierarchical", 1, False), _str("defines_ancestry", 1, False),
        _str("reverse_relationship_id", 20, False), _int("relationship_concept_id", False),
        PrimaryKeyConstraint("relationship_id", name="xpk_relationship"),
    )  # fmt: skip
    return md


def existing_tables(engine: Engine, schema: str | None = None) -> set[str]:
    """Lower-cased names of the tables in ``schema`` (the connection's default when None)."""
    try:
        if schema is None and engine.dialect.name == "duckdb":
            # duckdb-engine lists the tables of every schema when none is named.
            with engine.connect() as conn:
                schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        return {name.lower() for name in inspect(engine).get_table_names(schema=schema)}
    except Exception as exc:  # unreachable server, unknown schema, bad file
        raise SchemaError(f"cannot read the tables of {_where(engine, schema)}: {_first_line(exc)}") from exc


def init_schema(engine: Engine, schema: str | None = None) -> list[str]:
    """Create the room's CDM tables that are missing; return the names created.

    Existing tables are left exactly as they are (no drop, no alter, no new index).
    """
    if schema and engine.dialect.name == "postgresql":
        from sqlalchemy import text

        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    elif schema and engine.dialect.name == "duckdb":
        from sqlalchemy import text

        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    present = existing_tables(engine, schema)
    md = build_metadata(schema)
    missing = [md.tables[_key(name, schema)] for name in TABLES if name not in present]
    if missing:
        # No second check: duckdb-engine's has_table looks in every schema when none is named.
        md.create_all(engine, tables=missing, checkfirst=False)
    return [t.name for t in missing]


def require_tables(engine: Engine, schema: str | None, names=NLP_TABLES) -> None:
    """Raise :class:`SchemaError` naming every CDM table the room needs that the database lacks."""
    present = existing_tables(engine, schema)
    missing = [name for name in names if name not in present]
    if missing:
        raise SchemaError(
            f"{_where(engine, schema)} has no CDM table {', '.join(missing)}: "
            "run 'openmaker omop init --db URL' (it creates only what is missing)"
        )


def tables(schema: str | None = None) -> dict[str, Table]:
    """The room's tables by bare name (for building statements)."""
    md = build_metadata(schema)
    return {t.name: t for t in md.tables.values()}


def _key(name: str, schema: str | None) -> str:
    return f"{schema}.{name}" if schema else name


def _where(engine: Engine, schema: str | None) -> str:
    url = engine.url.render_as_string(hide_password=True)
    return f"database {url}" + (f" schema {schema}" if schema else "")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def init_cdm(cdm) -> list[str]:
    """:func:`init_schema` for a :class:`~openmaker.clinical.cdm.Cdm`."""
    return init_schema(cdm.engine, cdm.schema)
