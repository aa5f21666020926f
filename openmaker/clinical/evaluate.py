"""``openmaker omop eval``: score the detector against a gold JSON Lines file.

Each line: ``{"note_id", "text", "entities": [{"begin", "end", "category",
"concept_id", "negated"}]}`` (end exclusive). Predictions are scored in the
categories the gold set annotates, at ``min_score``. Reported: precision,
recall and F1 for exact spans and for overlapping spans (one-to-one, same
category), concept-id accuracy and negation accuracy on the overlapping matches,
per category as well as overall.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from openmaker.clinical.errors import ClinicalError

GOLD_KEYS = ("begin", "end", "category")


@dataclass
class Counts:
    tp_exact: int = 0
    tp_overlap: int = 0
    predicted: int = 0
    gold: int = 0
    concept_right: int = 0
    negation_right: int = 0

    def add(self, other: "Counts") -> None:
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def metrics(self) -> dict:
        def prf(tp):
            p = tp / self.predicted if self.predicted else 0.0
            r = tp / self.gold if self.gold else 0.0
            return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0}

        matched = self.tp_overlap
        return {
            "gold": self.gold, "predicted": self.predicted, "exact": prf(self.tp_exact), "overlap": prf(self.tp_overlap),
            "concept_accuracy": round(self.concept_right / matched, 4) if matched else 0.0,
            "negation_accuracy": round(self.negation_right / matched, 4) if matched else 0.0,
        }  # fmt: skip


@dataclass
class EvalResult:
    overall: dict
    by_category: dict[str, dict]
    notes: int
    errors: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"notes": self.notes, "overall": self.overall, "by_category": self.by_category, "errors": self.errors}


def read_gold(path: str | Path) -> list[dict]:
    path = Path(path)
    notes = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ClinicalError(f"{path}: cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ClinicalError(f"{path}: not UTF-8 text") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            note = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ClinicalError(f"{path}: line {number} is not JSON ({exc.msg})") from exc
        if not isinstance(note, dict) or not isinstance(note.get("text"), str):
            raise ClinicalError(f"{path}: line {number} has no \"text\" string")
        entities = note.get("entities", [])
        if not isinstance(entities, list):
            raise ClinicalError(f"{path}: line {number}: \"entities\" is not a list")
        for e in entities:
            missing = [k for k in GOLD_KEYS if k not in e]
            if missing:
                raise ClinicalError(f"{path}: line {number}: an entity lacks {', '.join(missing)}")
            if not (0 <= e["begin"] < e["end"] <= len(note["text"])):
                raise ClinicalError(f"{path}: line {number}: entity span {e['begin']}-{e['end']} is outside the text")
        note.setdefault("note_id", str(number))
        notes.append(note)
    if not notes:
        raise ClinicalError(f"{path}: no notes")
    return notes


def _match(gold: list[dict], pred: list) -> list[tuple[dict, object]]:
    """One-to-one overlapping matches of the same category, biggest overlap first."""
    pairs = []
    for gi, g in enumerate(gold):
        for pi, p in enumerate(pred):
            if p.category == g["category"] and p.begin < g["end"] and g["begin"] < p.end:
                overlap = min(p.end, g["end"]) - max(p.begin, g["begin"])
                pairs.append((overlap, gi, pi))
    used_g, used_p, out = set(), set(), []
    for _, gi, pi in sorted(pairs, reverse=True):
        if gi in used_g or pi in used_p:
            continue
        used_g.add(gi)
        used_p.add(pi)
        out.append((gold[gi], pred[pi]))
    return out


def evaluate(gold_path, detector, min_score: float = 0.8, keep_errors: bool = False) -> EvalResult:
    notes = read_gold(gold_path)
    categories = sorted({e["category"] for n in notes for e in n.get("entities", [])})
    per: dict[str, Counts] = {c: Counts() for c in categories}
    errors: list[dict] = []
    for note in notes:
        predicted = [e for e in detector.detect(note["text"], note_id=note["note_id"])
                     if e.category in per and e.score >= min_score]  # fmt: skip
        gold = note.get("entities", [])
        matches = _match(gold, predicted)
        for c in categories:
            counts = per[c]
            counts.gold += sum(1 for g in gold if g["category"] == c)
            counts.predicted += sum(1 for p in predicted if p.category == c)
        for g, p in matches:
            counts = per[g["category"]]
            counts.tp_overlap += 1
            counts.tp_exact += int(p.begin == g["begin"] and p.end == g["end"])
            counts.concept_right += int(p.concept_id == g.get("concept_id"))
            counts.negation_right += int(p.negated == bool(g.get("negated")))
            if keep_errors and (p.concept_id != g.get("concept_id") or p.negated != bool(g.get("negated"))):
                errors.append({"note_id": note["note_id"], "kind": "mismatch", "text": g.get("text", note["text"][g["begin"]:g["end"]]),
                               "gold_concept": g.get("concept_id"), "predicted_concept": p.concept_id,
                               "gold_negated": bool(g.get("negated")), "predicted_negated": p.negated})  # fmt: skip
        if keep_errors:
            matched_g = {id(g) for g, _ in matches}
            matched_p = {id(p) for _, p in matches}
            for g in gold:
                if id(g) not in matched_g:
                    errors.append({"note_id": note["note_id"], "kind": "missed", "text": note["text"][g["begin"]:g["end"]],
                                   "gold_concept": g.get("concept_id"), "context": note["text"][max(0, g["begin"] - 30):g["end"] + 30]})  # fmt: skip
            for p in predicted:
                if id(p) not in matched_p:
                    errors.append({"note_id": note["note_id"], "kind": "spurious", "text": p.text,
                                   "predicted_concept": p.concept_id, "score": p.score,
                                   "context": note["text"][max(0, p.begin - 30):p.end + 30]})  # fmt: skip
    total = Counts()
    for counts in per.values():
        total.add(counts)
    return EvalResult(total.metrics(), {c: counts.metrics() for c, counts in per.items()}, len(notes), errors)
