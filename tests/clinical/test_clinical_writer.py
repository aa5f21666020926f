"""NOTE_NLP runs: rows as published, incremental and idempotent, crash-safe, bad notes skipped, workers and Ray."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, text

from openmaker.clinical.cdm import connect
from openmaker.clinical.rows import NLP_SYSTEM
from openmaker.clinical.schema import init_schema, tables
from openmaker.clinical.vocab import load_vocabulary
from openmaker.clinical.writer import NlpOptions, run_nlp
from tests.clinical.conftest import add_notes

NOTES = [
    "HPI: 71 yo F with atrial fibrillation on Coumadin 5 mg PO daily. Denies pneumonia.",
    "PMH: breast cancer s/p lumpectomy. Heart attack 2015. Hemoglobin 9.1 g/dL.",
    "FHx: mother with breast cancer. No rib fracture.",
]


def _rows(cdm, where=""):
    with cdm.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM note_nlp {where} ORDER BY note_nlp_id"))]


@pytest.fixture
def cdm(cdm_url, athena_dir):
    cdm = connect(cdm_url)
    init_schema(cdm.engine)
    load_vocabulary(cdm, athena_dir)
    add_notes(cdm, NOTES)
    yield cdm
    cdm.engine.dispose()


def test_rows_follow_the_published_format_on_every_dialect(cdm):
    report = run_nlp(cdm, NlpOptions(min_score=0.8))
    assert report.notes == 3 and not report.skipped
    rows = _rows(cdm)
    assert report.rows == len(rows) > 0
    by_text = {(r["note_id"], r["lexical_variant"]): r for r in rows}
    af = by_text[(1, "atrial fibrillation")]
    assert af["note_nlp_concept_id"] == 313217
    assert af["offset"] == str(NOTES[0].index("atrial fibrillation"))
    assert af["term_modifiers"].startswith("CATEGORY: MEDICAL_CONDITION; TYPE: DX_NAME; TRAIT: DIAGNOSIS;")
    assert af["term_exists"] == "Y" and af["nlp_system"] == NLP_SYSTEM
    assert "atrial fibrillation" in af["snippet"] and len(af["snippet"]) <= 250
    cancer = by_text[(2, "breast cancer")]
    assert cancer["note_nlp_concept_id"] == 4112853 and cancer["term_temporal"] == "past"
    coumadin = by_text[(1, "Coumadin")]
    assert coumadin["note_nlp_concept_id"] == 90000004  # the brand stands for its ingredient
    assert coumadin["note_nlp_source_concept_id"] == 90000005
    assert "ATTRIBUTE: 5 mg, ATTRIBUTE_TYPE: STRENGTH;" in coumadin["term_modifiers"]
    assert "TYPE: BRAND_NAME;" in coumadin["term_modifiers"]
    pneumonia = by_text[(1, "pneumonia")]
    assert pneumonia["term_exists"] == "N" and "TRAIT: NEGATION;" in pneumonia["term_modifiers"]
    family = by_text[(3, "breast cancer")]
    assert family["term_exists"] == "N" and "PERTAINS_TO_FAMILY" in family["term_modifiers"]
    ids = [r["note_nlp_id"] for r in rows]
    assert ids == list(range(1, len(rows) + 1))
    for r in rows:
        assert r["section_concept_id"] is not None and r["nlp_date"] is not None


def test_rerun_is_incremental_and_adds_no_duplicates(cdm):
    first = run_nlp(cdm, NlpOptions())
    again = run_nlp(cdm, NlpOptions())
    assert again.notes == 0 and again.rows == 0
    add_notes(cdm, ["Atrial fibrillation again."], first_id=10)
    third = run_nlp(cdm, NlpOptions())
    assert third.notes == 1 and third.rows == 1
    assert len(_rows(cdm)) == first.rows + 1


def test_all_and_note_id_replace_this_systems_rows(cdm):
    first = run_nlp(cdm, NlpOptions())
    with cdm.engine.begin() as conn:  # another NLP system's row must survive a rerun
        conn.execute(text("INSERT INTO note_nlp (note_nlp_id, note_id, lexical_variant, nlp_date, nlp_system) "
                          "VALUES (1000, 1, 'x', '2024-01-01', 'other system')"))  # fmt: skip
    rerun = run_nlp(cdm, NlpOptions(all_notes=True))
    assert rerun.rows == first.rows
    assert len(_rows(cdm, f"WHERE nlp_system = '{NLP_SYSTEM}'")) == first.rows
    assert len(_rows(cdm, "WHERE nlp_system = 'other system'")) == 1
    only = run_nlp(cdm, NlpOptions(note_ids=(2,)))
    assert only.notes == 1
    assert len(_rows(cdm, f"WHERE nlp_system = '{NLP_SYSTEM}'")) == first.rows


def test_a_crash_mid_run_loses_nothing_and_the_rerun_completes(tmp_path, athena_dir):
    cdm = connect(f"sqlite:///{tmp_path / 'crash.db'}")
    init_schema(cdm.engine)
    load_vocabulary(cdm, athena_dir)
    add_notes(cdm, NOTES * 4)
    reference = connect(f"sqlite:///{tmp_path / 'ref.db'}")
    init_schema(reference.engine)
    load_vocabulary(reference, athena_dir)
    add_notes(reference, NOTES * 4)
    expected = run_nlp(reference, NlpOptions(batch_size=3)).rows

    seen = []

    def crash(row):
        seen.append(row)
        if len(seen) > 3:
            raise KeyboardInterrupt  # the process dies after its first batch was committed

    with pytest.raises(KeyboardInterrupt):
        run_nlp(cdm, NlpOptions(batch_size=3), on_row=crash)
    partial = len(_rows(cdm))
    assert 0 < partial < expected
    done = run_nlp(cdm, NlpOptions(batch_size=3))
    assert done.notes == 9
    assert len(_rows(cdm)) == expected
    with cdm.engine.connect() as conn:
        dupes = conn.execute(text("SELECT note_id, \"offset\", COUNT(*) FROM note_nlp GROUP BY note_id, \"offset\", "
                                  "lexical_variant HAVING COUNT(*) > 1")).all()  # fmt: skip
    assert dupes == []


def test_bad_notes_are_skipped_and_reported(fixture_cdm):
    add_notes(fixture_cdm, ["Atrial fibrillation.", "   ", "bad \x01 control", "Pneumonia."])
    report = run_nlp(fixture_cdm, NlpOptions())
    assert report.notes == 2
    skipped = dict(report.skipped)
    assert set(skipped) == {2, 3}
    assert "empty note" in skipped[2] and "note 2" in skipped[2]
    assert "control character U+0001" in skipped[3]
    assert {r["note_id"] for r in _rows(fixture_cdm)} == {1, 4}


def test_min_score_filters_and_unmapped_entities_still_get_rows(fixture_cdm):
    add_notes(fixture_cdm, ["Hx of AF. On Coumadin."])
    loose = run_nlp(fixture_cdm, NlpOptions(min_score=0.0, include_phi=True))
    strict_rows = [r for r in _rows(fixture_cdm)]
    assert loose.rows == len(strict_rows) >= 2
    with fixture_cdm.engine.begin() as conn:
        conn.execute(text("DELETE FROM note_nlp"))
    run_nlp(fixture_cdm, NlpOptions(min_score=0.99))
    assert len(_rows(fixture_cdm)) < loose.rows


def test_missing_cdm_table_is_a_clear_error(tmp_path):
    from openmaker.clinical.errors import SchemaError

    cdm = connect(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(SchemaError, match="no CDM table note, note_nlp"):
        run_nlp(cdm, NlpOptions())


def test_bad_options_are_rejected():
    for options, message in ((NlpOptions(min_score=1.5), "--min-score"), (NlpOptions(workers=0), "--workers"),
                             (NlpOptions(engine="spark"), "--engine")):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            options.check()


def test_workers_give_the_same_rows_as_one_process(fixture_cdm, tmp_path, athena_dir):
    add_notes(fixture_cdm, NOTES * 3)
    one = run_nlp(fixture_cdm, NlpOptions(batch_size=2))
    other = connect(f"sqlite:///{tmp_path / 'two.db'}")
    init_schema(other.engine)
    load_vocabulary(other, athena_dir)
    add_notes(other, NOTES * 3)
    two = run_nlp(other, NlpOptions(batch_size=2, workers=2))
    assert two.rows == one.rows

    def strip(rows):
        return [(r["note_id"], r["offset"], r["note_nlp_concept_id"], r["term_modifiers"]) for r in rows]

    assert strip(_rows(other)) == strip(_rows(fixture_cdm))


@pytest.mark.ray
def test_ray_engine_splits_notes_across_a_local_cluster(fixture_cdm):
    ray = pytest.importorskip("ray")
    add_notes(fixture_cdm, NOTES * 2)
    try:
        report = run_nlp(fixture_cdm, NlpOptions(engine="ray", workers=2, batch_size=2))
    finally:
        ray.shutdown()
    assert report.notes == 6 and report.rows == len(_rows(fixture_cdm)) > 0


def test_cli_nlp_verbose_prints_a_line_per_row(fixture_cdm):
    from typer.testing import CliRunner

    from openmaker.cli import app

    add_notes(fixture_cdm, NOTES)
    url = fixture_cdm.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["omop", "nlp", "--db", url, "--verbose"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("note_id=")]
    assert len(lines) == len(_rows(fixture_cdm))
    assert any(re.search(r"lexical_variant='atrial fibrillation' note_nlp_concept_id=313217", line) for line in lines)
    assert "3 note(s) processed" in result.output
    bad = CliRunner().invoke(app, ["omop", "nlp", "--db", url, "--min-score", "2"])
    assert bad.exit_code == 2 and "--min-score" in bad.output
    missing = CliRunner().invoke(app, ["omop", "nlp", "--db", url, "--note-id", "999"])
    assert missing.exit_code == 2 and "no note with note_id 999" in missing.output


def test_count_helpers_agree(fixture_cdm):
    add_notes(fixture_cdm, NOTES)
    run_nlp(fixture_cdm, NlpOptions())
    nlp = tables()["note_nlp"]
    with fixture_cdm.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(nlp)).scalar_one() == len(_rows(fixture_cdm))


def test_a_cdm_without_vocabulary_is_a_clear_error(tmp_path):
    from openmaker.clinical.errors import ClinicalError

    cdm = connect(f"sqlite:///{tmp_path / 'novocab.db'}")
    init_schema(cdm.engine)
    add_notes(cdm, NOTES)
    with pytest.raises(ClinicalError, match="has no concepts to match: load a vocabulary first"):
        run_nlp(cdm, NlpOptions())
