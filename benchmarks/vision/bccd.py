"""BCCD (blood cells, Pascal VOC, 3 classes): train within a time budget on this CPU, evaluate on the test split.

    .venv/bin/python benchmarks/vision/bccd.py --minutes 30 --out /tmp/bccd-run [--json]

Imports data/bccd/BCCD with ``openmaker vision dataset import --format voc`` semantics, runs
``openmaker vision train`` (its time-budget defaults unless -H overrides), then ``vision evaluate
--split test``; writes the model, metrics.csv, training.png, evaluation.png and result.json to --out.
The target is mAP@0.5 >= 0.80 on the test split within 30 minutes of training.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("-H", "--hyperparameter", action="append", default=[], help="NAME=VALUE override")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from openmaker.vision.api import evaluate_model, train_model
    from openmaker.vision.formats.voc import import_voc

    args.out.mkdir(parents=True, exist_ok=True)
    dataset = import_voc(REPO / "data" / "bccd" / "BCCD", args.out / "dataset")
    overrides = dict(item.split("=", 1) for item in args.hyperparameter)
    started = time.monotonic()
    summary = train_model(dataset.root, args.out / "model", minutes=args.minutes, hyperparameters=overrides,
                          log=lambda line: print(line, flush=True))
    wall = time.monotonic() - started
    result = evaluate_model(args.out / "model", dataset.root, split="test", png=args.out / "evaluation.png",
                            examples=args.out / "examples")
    report = {
        "benchmark": "bccd", "minutes_budget": args.minutes, "train_wall_seconds": round(wall, 1),
        "training": summary, "test": {"map50": result["map50"], "map": result["map"],
                                      "per_class": {k: v["ap50"] for k, v in result["per_class"].items()}},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }  # fmt: skip
    (args.out / "result.json").write_text(json.dumps(report, indent=2))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"BCCD test mAP@0.5 {result['map50']:.3f}, mAP@[.5:.95] {result['map']:.3f} after {wall / 60:.1f} min "
              f"({summary['epochs']} epochs, best epoch {summary['best_epoch']}); per class: "
              + ", ".join(f"{k} {v['ap50']:.3f}" for k, v in result["per_class"].items()))


if __name__ == "__main__":
    main()
