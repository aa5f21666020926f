"""``openmaker omop vocab load``: an Athena download into a CDM on SQLite, DuckDB, PostgreSQL; bad files refused."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from openmaker.cli import app
from openmaker.clinical.cdm import connect
from openmaker.clinical.errors import VocabularyError
from openmaker.clinical.schema import init_schema, tables
from openmaker.clinical.vocab import load_vocabulary, write_athena
from tests.clinical.conftest import athena_rows

runner = CliRunner()

VOCAB_TABLES = ("vocabulary", "domain", "concept_class", "relationship", "concept", "concept_synonym",
                "concept_relationship", "concept_ancestor")  # fmt: skip
# What the hand-made download in tests/clinical/conftest.py holds.
LOADED = {"vocabulary": 4, "domain": 6, "concept": 14, "concept_synonym": 4, "concept_relationship": 2}
EMPTY = dict.fromkeys(VOCAB_TABLES, 0)
NOT_IN_DOWNLOAD = ["CONCEPT_CLASS.csv", "RELATIONSHIP.csv", "CONCEPT_ANCESTOR.csv"]


@pytest.fixture
def cdm(cdm_url):
    cdm = connect(cdm_url)
    init_schema(cdm.engine)
    yield cdm
    cdm.engine.dispose()


def _counts(cdm) -> dict[str, int]:
    with cdm.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in VOCAB_TABLES}


def _load(cdm_url, directory, *extra):
    return runner.invoke(app, ["omop", "vocab", "load", str(directory), "--db", cdm_url, *extra])


def _one_line_error(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_load_fills_the_vocabulary_tables(cdm, athena_dir):
    report = load_vocabulary(cdm, athena_dir)
    assert report.rows == LOADED
    assert report.skipped == NOT_IN_DOWNLOAD
    assert _counts(cdm) == {**EMPTY, **LOADED}

    concept = tables()["concept"]
    with cdm.engine.connect() as conn:
        af = conn.execute(select(concept).where(concept.c.concept_id == 313217)).one()._mapping
        assert dict(af) == {
            "concept_id": 313217, "concept_name": "Atrial fibrillation", "domain_id": "Condition",
            "vocabulary_id": "SNOMED", "concept_class_id": "Clinical Finding", "standard_concept": "S",
            "concept_code": "49436004", "valid_start_date": dt.date(1970, 1, 1),
            "valid_end_date": dt.date(2099, 12, 31), "invalid_reason": None,
        }  # fmt: skip
        # Dates are dates in the database, not the file's YYYYMMDD text.
        on_start = text("SELECT COUNT(*) FROM concept WHERE valid_start_date = :d")
        assert conn.execute(on_start, {"d": dt.date(1970, 1, 1)}).scalar_one() == 14
        # An empty field is NULL, never ''.
        non_standard = conn.execute(text("SELECT concept_id FROM concept WHERE standard_concept IS NULL ORDER BY 1"))
        assert non_standard.scalars().all() == [90000005, 90000006, 90000012]
        assert conn.execute(text("SELECT COUNT(*) FROM concept WHERE standard_concept = ''")).scalar_one() == 0
        assert conn.execute(text("SELECT COUNT(*) FROM concept WHERE invalid_reason IS NULL")).scalar_one() == 13
        retired = conn.execute(text("SELECT invalid_reason FROM concept WHERE concept_id = 90000012")).scalar_one()
        assert retired == "D"
        maps_to = conn.execute(
            text("SELECT concept_id_1, concept_id_2, valid_start_date, invalid_reason FROM concept_relationship "
                 "WHERE relationship_id = 'Maps to'")  # fmt: skip
        ).all()
        assert [(a, b, str(d), r) for a, b, d, r in maps_to] == [(90000006, 313217, "1970-01-01", None)]
        heart = conn.execute(
            text("SELECT concept_synonym_name, language_concept_id FROM concept_synonym WHERE concept_id = 90000001")
        ).all()
        assert heart == [("Heart attack", 4180186)]
        versions = conn.execute(text("SELECT vocabulary_id, vocabulary_version FROM vocabulary ORDER BY 1")).all()
        assert versions == [("ICD10CM", "test"), ("LOINC", "test"), ("RxNorm", "test"), ("SNOMED", "test")]


def test_cli_loads_refuses_a_second_load_and_replaces(cdm, cdm_url, athena_dir):
    first = _load(cdm_url, athena_dir)
    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[:5] == [
        "vocabulary: 4 rows", "domain: 6 rows", "concept: 14 rows", "concept_synonym: 4 rows",
        "concept_relationship: 2 rows",
    ]  # fmt: skip
    assert " ".join(first.stdout.split()).endswith(
        "not in the download (left as they were): CONCEPT_CLASS.csv, RELATIONSHIP.csv, CONCEPT_ANCESTOR.csv"
    )
    assert _counts(cdm) == {**EMPTY, **LOADED}

    again = _load(cdm_url, athena_dir)
    line = _one_line_error(again)
    assert "table vocabulary already holds 4 rows" in line
    assert "--replace" in line
    assert _counts(cdm) == {**EMPTY, **LOADED}  # no duplicates

    replaced = _load(cdm_url, athena_dir, "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert "concept: 14 rows" in replaced.stdout.splitlines()
    assert _counts(cdm) == {**EMPTY, **LOADED}

    # --replace really reloads: a download with one concept fewer leaves one concept fewer.
    rows = athena_rows()
    rows["CONCEPT.csv"] = [c for c in rows["CONCEPT.csv"] if c["concept_id"] != 90000012]
    smaller = athena_dir.parent / "smaller"
    write_athena(smaller, rows)
    reloaded = _load(cdm_url, smaller, "--replace")
    assert reloaded.exit_code == 0, reloaded.output
    assert _counts(cdm) == {**EMPTY, **LOADED, "concept": 13}
    with cdm.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM concept WHERE concept_id = 90000012")).scalar_one() == 0


def _edit_lines(path, edit):
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")


def _rename_column(path):
    _edit_lines(path, lambda lines: [lines[0].replace("concept_code", "code")] + lines[1:])
    return ["wrong columns for table concept", "missing concept_code", "unexpected code"]


def _drop_column(path):
    _edit_lines(path, lambda lines: ["\t".join(line.split("\t")[:-1]) for line in lines])
    return ["wrong columns for table concept", "missing invalid_reason"]


def _comma_separated(path):
    _edit_lines(path, lambda lines: [line.replace("\t", ",") for line in lines])
    return ["not tab-separated"]


def _latin1(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    number = next(i for i, line in enumerate(lines, start=1) if "\tPneumonia\t" in line)
    lines[number - 1] = lines[number - 1].replace("\tPneumonia\t", "\tPneumonie à répétition\t")
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    assert b"\xe0" in path.read_bytes()
    return ["not UTF-8", f"line {number}"]


def _missing_field(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    number = next(i for i, line in enumerate(lines, start=1) if "\tMyocardial infarction\t" in line)
    lines[number - 1] = "\t".join(lines[number - 1].split("\t")[:-2])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [f"line {number}"]


@pytest.mark.parametrize(
    "spoil",
    [_rename_column, _drop_column, _comma_separated, _latin1, _missing_field],
    ids=["renamed-column", "missing-column", "comma-separated", "latin-1", "missing-field"],
)
def test_a_bad_concept_file_is_refused_and_nothing_is_loaded(cdm, cdm_url, athena_dir, spoil):
    bad = athena_dir / "CONCEPT.csv"
    fragments = spoil(bad)
    result = _load(cdm_url, athena_dir)
    line = _one_line_error(result)
    assert str(bad) in line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    # The files before CONCEPT.csv (VOCABULARY.csv, DOMAIN.csv) are not left behind either.
    assert _counts(cdm) == EMPTY

    with pytest.raises(VocabularyError) as caught:
        load_vocabulary(cdm, athena_dir)
    assert str(bad) in str(caught.value)
    assert _counts(cdm) == EMPTY


def test_a_bad_file_with_replace_keeps_the_loaded_vocabulary(cdm, cdm_url, athena_dir, tmp_path):
    load_vocabulary(cdm, athena_dir)
    broken = tmp_path / "broken"
    write_athena(broken, athena_rows())
    _missing_field(broken / "CONCEPT.csv")
    result = _load(cdm_url, broken, "--replace")
    assert str(broken / "CONCEPT.csv") in _one_line_error(result)
    assert _counts(cdm) == {**EMPTY, **LOADED}


def test_a_download_without_concept_csv_is_refused(cdm, cdm_url, tmp_path):
    rows = athena_rows()
    del rows["CONCEPT.csv"]
    directory = tmp_path / "no-concept"
    write_athena(directory, rows)
    assert (directory / "VOCABULARY.csv").is_file()
    line = _one_line_error(_load(cdm_url, directory))
    assert f"{directory}: no CONCEPT.csv" in line
    assert _counts(cdm) == EMPTY


def test_a_path_that_is_not_a_directory_is_refused(cdm, cdm_url, athena_dir, tmp_path):
    a_file = athena_dir / "CONCEPT.csv"
    line = _one_line_error(_load(cdm_url, a_file))
    assert f"{a_file}: not a directory" in line
    missing = tmp_path / "nowhere"
    line = _one_line_error(_load(cdm_url, missing))
    assert f"{missing}: not a directory" in line
    with pytest.raises(VocabularyError, match="not a directory"):
        load_vocabulary(cdm, a_file)
    assert _counts(cdm) == EMPTY
