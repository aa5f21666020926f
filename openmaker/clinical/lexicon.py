"""The room's built-in lexicons (``data/*.tsv``): abbreviations, brands, lay terms, misspellings, anatomy, sections.

They were compiled for openmaker from general clinical knowledge (no licensed
vocabulary content). Each file is tab-separated with a header; ``#`` lines are
comments. A missing file reads as empty, so a trimmed install still runs.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources


def read_tsv(name: str) -> list[dict[str, str]]:
    """Rows of ``openmaker/clinical/data/<name>`` as dicts (stripped values; comments and blanks skipped)."""
    try:
        text = resources.files("openmaker.clinical").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in reader]


@dataclass(frozen=True)
class Abbreviation:
    text: str
    expansion: str
    case_sensitive: bool


@dataclass
class Lexicon:
    abbreviations: list[Abbreviation] = field(default_factory=list)
    brands: dict[str, list[str]] = field(default_factory=dict)  # brand (lower) -> ingredient names
    lay_terms: dict[str, str] = field(default_factory=dict)  # lay (lower) -> clinical term
    misspellings: dict[str, str] = field(default_factory=dict)  # wrong (lower) -> right
    anatomy: list[tuple[str, str, str, bool]] = field(default_factory=list)  # term, type, name, abbreviation
    sections: dict[str, tuple[str, str]] = field(default_factory=dict)  # medspaCy category -> (LOINC code, name)
    shorthand: list[tuple[str, str, str]] = field(default_factory=list)  # shorthand, meaning, kind


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    lex = Lexicon()
    for row in read_tsv("abbreviations.tsv"):
        if row.get("abbreviation") and row.get("expansion"):
            lex.abbreviations.append(
                Abbreviation(row["abbreviation"], row["expansion"], row.get("case_sensitive", "n").lower() == "y")
            )
    for row in read_tsv("brands.tsv"):
        if row.get("brand") and row.get("ingredients"):
            lex.brands[row["brand"].lower()] = [p.strip() for p in row["ingredients"].split("/") if p.strip()]
    for row in read_tsv("lay_terms.tsv"):
        if row.get("lay_term") and row.get("clinical_term"):
            lex.lay_terms[row["lay_term"].lower()] = row["clinical_term"]
    for row in read_tsv("misspellings.tsv"):
        if row.get("misspelling") and row.get("correct"):
            lex.misspellings[row["misspelling"].lower()] = row["correct"].lower()
    for row in read_tsv("anatomy.tsv"):
        if row.get("term") and row.get("type") in ("DIRECTION", "SYSTEM_ORGAN_SITE"):
            lex.anatomy.append((row["term"], row["type"], row.get("name") or row["term"], row.get("abbreviation") == "y"))
    for row in read_tsv("sections.tsv"):
        if row.get("category") and row.get("loinc_code"):
            lex.sections[row["category"]] = (row["loinc_code"], row.get("loinc_name", ""))
    for row in read_tsv("shorthand.tsv"):
        if row.get("shorthand") and row.get("kind"):
            lex.shorthand.append((row["shorthand"], row.get("meaning", ""), row["kind"]))
    return lex
