"""Entity F1, concept-id accuracy and negation accuracy on the gold notes, against an exact-name baseline.

    .venv/bin/python benchmarks/clinical/accuracy.py

Scores the development set (the detector was tuned on it) and the held-out set
(written by a different author, never read while building the detector) at
min_score 0.8, with the bundled Eunomia vocabulary, and the same notes with a
baseline that finds only exact concept names (case-insensitive, whole words).
Writes results/accuracy.json and results/accuracy.png.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CATEGORY = {"Condition": "MEDICAL_CONDITION", "Observation": "MEDICAL_CONDITION", "Drug": "MEDICATION",
            "Procedure": "TEST_TREATMENT_PROCEDURE", "Measurement": "TEST_TREATMENT_PROCEDURE"}  # fmt: skip


@dataclass
class Found:
    begin: int
    end: int
    text: str
    category: str
    concept_id: int
    score: float = 1.0
    negated: bool = False


class ExactNames:
    """The baseline: standard concept names (ingredients for drugs) found verbatim, longest first."""

    def __init__(self, cdm):
        from sqlalchemy import text

        with cdm.engine.connect() as conn:
            rows = conn.execute(text("SELECT concept_id, concept_name, domain_id, concept_class_id FROM concept "
                                     "WHERE standard_concept = 'S'")).all()  # fmt: skip
        self.names = sorted(
            ((name.lower(), int(cid), CATEGORY[domain]) for cid, name, domain, klass in rows
             if domain in CATEGORY and (domain != "Drug" or klass == "Ingredient")),
            key=lambda r: -len(r[0]),
        )  # fmt: skip

    def detect(self, text, note_id=None):
        lowered, taken, out = text.lower(), [], []
        for name, cid, category in self.names:
            for m in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", lowered):
                if any(m.start() < e and b < m.end() for b, e in taken):
                    continue
                taken.append((m.start(), m.end()))
                out.append(Found(m.start(), m.end(), text[m.start() : m.end()], category, cid))
        return sorted(out, key=lambda f: f.begin)


def main() -> int:
    from openmaker.clinical.eunomia import vocabulary_cdm
    from openmaker.clinical.evaluate import evaluate
    from openmaker.clinical.handler import vocabulary_detector

    detector = vocabulary_detector(None)
    baseline = ExactNames(vocabulary_cdm())
    results = {}
    for split in ("dev", "heldout"):
        gold = HERE / "gold" / f"{split}.jsonl"
        started = time.perf_counter()
        ours = evaluate(gold, detector, min_score=0.8)
        elapsed = time.perf_counter() - started
        base = evaluate(gold, baseline, min_score=0.8)
        results[split] = {"openmaker": ours.as_dict(), "exact_names": base.as_dict(), "seconds": round(elapsed, 2)}
        o, b = ours.overall, base.overall
        print(f"{split:8s} openmaker: F1 overlap {o['overlap']['f1']:.3f} exact {o['exact']['f1']:.3f} "
              f"P {o['overlap']['precision']:.3f} R {o['overlap']['recall']:.3f} concept {o['concept_accuracy']:.3f} "
              f"negation {o['negation_accuracy']:.3f}  |  exact names: F1 overlap {b['overlap']['f1']:.3f}")  # fmt: skip
        for category, m in ours.by_category.items():
            print(f"           {category:26s} F1 {m['overlap']['f1']:.3f} (P {m['overlap']['precision']:.3f} "
                  f"R {m['overlap']['recall']:.3f}) concept {m['concept_accuracy']:.3f}")  # fmt: skip
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "accuracy.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, out / "accuracy.png")
    print(f"wrote {out / 'accuracy.json'} and {out / 'accuracy.png'}")
    return 0


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [("F1 (overlap)", lambda m: m["overlap"]["f1"]), ("F1 (exact)", lambda m: m["exact"]["f1"]),
               ("concept acc.", lambda m: m["concept_accuracy"]), ("negation acc.", lambda m: m["negation_accuracy"])]  # fmt: skip
    fig, ax = plt.subplots(figsize=(8, 4))
    series = [("dev", "openmaker"), ("heldout", "openmaker"), ("heldout", "exact_names")]
    width = 0.26
    for i, (split, system) in enumerate(series):
        overall = results[split][system]["overall"]
        values = [f(overall) for _, f in metrics]
        bars = ax.bar([x + (i - 1) * width for x in range(len(metrics))], values, width,
                      label=f"{system.replace('_', ' ')} ({split})")  # fmt: skip
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    for target, x0, x1 in ((0.85, -0.5, 0.5), (0.90, 1.5, 3.5)):
        ax.hlines(target, x0, x1, colors="grey", linestyles="dashed", linewidth=1)
    ax.set_xticks(range(len(metrics)), [m for m, _ in metrics])
    ax.set_ylim(0, 1.08)
    ax.set_title("Clinical entities on synthetic notes (Eunomia vocabulary, min score 0.8)")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
