"""``openmaker omop``: entities from a file or stdin, eval, the demo -- and their bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from openmaker.cli import app

runner = CliRunner()

GOLD = [
    {"note_id": "g1", "text": "Pt w/ afib on Coumadin. Denies pneumonia.",
     "entities": [{"begin": 6, "end": 10, "category": "MEDICAL_CONDITION", "concept_id": 313217, "negated": False},
                  {"begin": 14, "end": 22, "category": "MEDICATION", "concept_id": 1310149, "negated": False},
                  {"begin": 31, "end": 40, "category": "MEDICAL_CONDITION", "concept_id": 255848, "negated": True}]},
    {"note_id": "g2", "text": "CAD s/p CABG. Hgb 9.8. Asthma flare.",
     "entities": [{"begin": 0, "end": 3, "category": "MEDICAL_CONDITION", "concept_id": 317576, "negated": False},
                  {"begin": 8, "end": 12, "category": "TEST_TREATMENT_PROCEDURE", "concept_id": 4336464, "negated": False},
                  {"begin": 14, "end": 17, "category": "TEST_TREATMENT_PROCEDURE", "concept_id": 3000963, "negated": False},
                  {"begin": 23, "end": 29, "category": "MEDICAL_CONDITION", "concept_id": 999, "negated": True}]},
]  # fmt: skip


def test_entities_from_a_file_and_from_stdin(tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("Pt w/ afib on Coumadin 5 mg PO daily.\n")
    result = runner.invoke(app, ["omop", "entities", str(note)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert [e["Text"] for e in payload["Entities"]] == ["afib", "Coumadin"]
    assert payload["Entities"][1]["Type"] == "BRAND_NAME"
    piped = runner.invoke(app, ["omop", "entities", "-", "--shape", "snomed"], input="Denies pneumonia.")
    assert piped.exit_code == 0, piped.output
    snomed = json.loads(piped.output)
    assert snomed["Entities"][0]["SNOMEDCTConcepts"][0]["Code"] == "233604007"


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (["omop", "entities", "missing.txt"], None, "missing.txt: cannot read"),
        (["omop", "entities", "-"], "", "empty note"),
        (["omop", "entities", "-", "--shape", "v3"], "afib", "--shape must be v2, v1 or snomed"),
        (["omop", "entities", "-", "--db", "mysql+nodriver://x/y"], "afib", "cannot open"),
    ],
)
def test_entities_bad_input_is_one_line_exit_2(args, stdin, message):
    result = runner.invoke(app, args, input=stdin)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_entities_rejects_invalid_utf8(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"afib \xff\xfe")
    result = runner.invoke(app, ["omop", "entities", str(bad)])
    assert result.exit_code == 2 and "not valid UTF-8" in result.output


def test_eval_reports_metrics(tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text("\n".join(json.dumps(n) for n in GOLD) + "\n")
    result = runner.invoke(app, ["omop", "eval", str(gold), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    overall = metrics["overall"]
    assert metrics["notes"] == 2 and overall["gold"] == 7
    # asthma (999 in gold) is found with the Eunomia id: a concept error; its negation is wrong too
    assert overall["overlap"]["recall"] == 1.0
    assert overall["concept_accuracy"] == pytest.approx(6 / 7, abs=1e-3)
    assert overall["negation_accuracy"] == pytest.approx(6 / 7, abs=1e-3)
    table = runner.invoke(app, ["omop", "eval", str(gold), "--errors"])
    assert table.exit_code == 0 and "mismatch" in table.output


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json\n", "line 1 is not JSON"),
        ('{"entities": []}\n', 'line 1 has no "text" string'),
        ('{"text": "abc", "entities": [{"begin": 0, "end": 9, "category": "MEDICATION"}]}\n', "outside the text"),
        ('{"text": "abc", "entities": [{"begin": 0}]}\n', "lacks end, category"),
        ("\n", "no notes"),
    ],
)
def test_eval_bad_gold_files(tmp_path, content, message):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(content)
    result = runner.invoke(app, ["omop", "eval", str(gold)])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_demo_builds_a_cdm_and_fills_note_nlp(tmp_path):
    import sqlite3

    db = tmp_path / "demo.db"
    result = runner.invoke(app, ["omop", "demo", "--db", str(db), "--notes", "12"])
    assert result.exit_code == 0, result.output
    assert "note +12" in result.output and "12 note(s) processed" in result.output
    with sqlite3.connect(db) as conn:
        notes = conn.execute("SELECT note_text FROM note").fetchall()
        rows = conn.execute("SELECT COUNT(*), COUNT(DISTINCT note_id) FROM note_nlp").fetchone()
        concepts = conn.execute("SELECT COUNT(*), SUM(note_nlp_concept_id > 0) FROM note_nlp "
                                "WHERE term_modifiers NOT LIKE 'CATEGORY: ANATOMY;%'").fetchone()  # fmt: skip
    assert len(notes) == 12 and all(1000 <= len(t) <= 2000 for (t,) in notes)
    # Eunomia has no anatomy concepts; every other row is linked to its vocabulary
    assert rows[1] == 12 and concepts[0] > 100 and concepts[1] >= concepts[0] * 0.97
    again = runner.invoke(app, ["omop", "demo", "--db", str(db), "--notes", "0"])
    assert again.exit_code == 0 and "0 note(s) processed" in again.output
    bad = runner.invoke(app, ["omop", "demo", "--db", str(db), "--notes", "-1"])
    assert bad.exit_code == 2 and "--notes" in bad.output


def test_detector_over_a_database_without_a_vocabulary(tmp_path):
    from openmaker.clinical.cdm import connect
    from openmaker.clinical.schema import init_schema

    missing = runner.invoke(app, ["omop", "entities", "-", "--db", str(tmp_path / "nothing.db")], input="afib")
    assert missing.exit_code == 2 and "has no CDM table concept" in missing.output
    empty = tmp_path / "empty.db"
    init_schema(connect(str(empty)).engine)
    result = runner.invoke(app, ["omop", "eval", "gold.jsonl", "--db", str(empty)])
    assert result.exit_code == 2 and "has no concepts to match: load a vocabulary first" in result.output
