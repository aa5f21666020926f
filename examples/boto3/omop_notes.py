"""Clinical notes to OMOP ``NOTE_NLP`` rows with Comprehend Medical DetectEntitiesV2, via boto3 against openmaker.

    python examples/boto3/omop_notes.py examples/boto3/notes/*.txt --out note_nlp.csv

Each note file is one note (its ``note_id`` is its position, from 1). Each entity becomes a row
with the OMOP CDM v5.4 ``NOTE_NLP`` columns: the snippet around it, its offset, the text as found
(``lexical_variant``), ``term_exists`` ('N' when negated), ``term_modifiers`` from its traits and
attributes, and ``note_nlp_source_concept_id`` left 0 (the concept ids come from InferSNOMEDCT /
``openmaker omop nlp``, which read the site's vocabulary).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import sys
from pathlib import Path

from common import client

COLUMNS = [
    "note_nlp_id", "note_id", "section_concept_id", "snippet", "offset", "lexical_variant", "note_nlp_concept_id",
    "note_nlp_source_concept_id", "nlp_system", "nlp_date", "nlp_datetime", "term_exists", "term_temporal", "term_modifiers",
]  # fmt: skip


def rows(note_id: int, text: str, entities: list[dict], first_id: int, model_version: str) -> list[dict]:
    now = datetime.datetime.now(datetime.timezone.utc)
    out = []
    for i, entity in enumerate(entities):
        begin, end = entity["BeginOffset"], entity["EndOffset"]
        traits = [t["Name"] for t in entity.get("Traits", [])]
        modifiers = [f"type={entity['Type']}", f"category={entity['Category']}", *(t.lower() for t in traits)]
        modifiers += [f"{a['Type'].lower()}={a['Text']}" for a in entity.get("Attributes", [])]
        out.append({
            "note_nlp_id": first_id + i, "note_id": note_id, "section_concept_id": 0,
            "snippet": " ".join(text[max(0, begin - 20): end + 20].split())[:250], "offset": str(begin),
            "lexical_variant": text[begin:end], "note_nlp_concept_id": 0, "note_nlp_source_concept_id": 0,
            "nlp_system": f"comprehendmedical DetectEntitiesV2 {model_version}"[:250], "nlp_date": now.date().isoformat(),
            "nlp_datetime": now.isoformat(timespec="seconds"), "term_exists": "N" if "NEGATION" in traits else "Y",
            "term_temporal": "", "term_modifiers": ";".join(modifiers)[:2000],
        })  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notes", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, help="CSV to write (default: stdout)")
    args = parser.parse_args()

    comprehend = client("comprehendmedical")
    table: list[dict] = []
    for note_id, path in enumerate(args.notes, 1):
        text = path.read_text(encoding="utf-8")
        answer = comprehend.detect_entities_v2(Text=text)
        table += rows(note_id, text, answer["Entities"], len(table) + 1, answer["ModelVersion"])
    out = args.out.open("w", newline="") if args.out else sys.stdout
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(table)
    if args.out:
        out.close()
        print(f"{args.out}: {len(table)} NOTE_NLP rows from {len(args.notes)} notes")


if __name__ == "__main__":
    main()
