"""Turn a gold markup file (see GUIDELINES.md) into the JSON Lines `openmaker omop eval` reads.

    python benchmarks/clinical/gold/build.py            # every *.txt beside this file
    python benchmarks/clinical/gold/build.py dev.txt    # one file

Each line written: {"note_id", "kind", "text", "entities": [{"begin", "end",
"text", "category", "concept_id", "negated", "hypothetical", "family",
"historical"}]} with end offsets exclusive.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CATEGORIES = {"MEDICAL_CONDITION", "MEDICATION", "TEST_TREATMENT_PROCEDURE"}
FLAGS = {"neg": "negated", "hyp": "hypothetical", "fam": "family", "hist": "historical"}
ENTITY = re.compile(r"\[\[([^\[\]|]+)\|(\d+)\|([A-Z_]+)(?:\|([a-z,]+))?\]\]")
HEADER = re.compile(r"^=== (\S+)(?: (\S+))?\s*$")


class MarkupError(ValueError):
    pass


def parse_note(note_id: str, kind: str, body: str) -> dict:
    text, entities, cursor = [], [], 0
    length = 0
    for match in ENTITY.finditer(body):
        before = body[cursor : match.start()]
        text.append(before)
        length += len(before)
        surface, concept, category, flags = match.groups()
        if category not in CATEGORIES:
            raise MarkupError(f"note {note_id}: unknown category {category!r} in {match.group(0)!r}")
        names = [f for f in (flags or "").split(",") if f]
        unknown = [f for f in names if f not in FLAGS]
        if unknown:
            raise MarkupError(f"note {note_id}: unknown flag(s) {unknown} in {match.group(0)!r}")
        entity = {"begin": length, "end": length + len(surface), "text": surface, "category": category,
                  "concept_id": int(concept)}  # fmt: skip
        entity.update({FLAGS[f]: f in names for f in FLAGS})
        entities.append(entity)
        text.append(surface)
        length += len(surface)
        cursor = match.end()
    text.append(body[cursor:])
    joined = "".join(text)
    if "[[" in joined or "]]" in joined:
        raise MarkupError(f"note {note_id}: malformed entity markup near {joined[joined.find('[['):][:60]!r}")
    for e in entities:
        assert joined[e["begin"] : e["end"]] == e["text"]
    return {"note_id": note_id, "kind": kind, "text": joined, "entities": entities}


def parse_file(path: Path) -> list[dict]:
    notes, current, lines = [], None, []

    def flush():
        if current is not None:
            body = "\n".join(lines).strip("\n")
            notes.append(parse_note(current[0], current[1], body))

    for line in path.read_text(encoding="utf-8").splitlines():
        header = HEADER.match(line)
        if header:
            flush()
            current, lines = (header.group(1), header.group(2) or "note"), []
        elif current is not None:
            lines.append(line)
    flush()
    ids = [n["note_id"] for n in notes]
    if len(set(ids)) != len(ids):
        raise MarkupError(f"{path.name}: duplicate note ids")
    return notes


def main(argv: list[str]) -> int:
    paths = [HERE / a for a in argv] if argv else sorted(HERE.glob("*.txt"))
    for path in paths:
        notes = parse_file(path)
        out = path.with_suffix(".jsonl")
        with out.open("w", encoding="utf-8") as fh:
            for note in notes:
                fh.write(json.dumps(note, ensure_ascii=False) + "\n")
        count = sum(len(n["entities"]) for n in notes)
        print(f"{out.name}: {len(notes)} notes, {count} entities")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
