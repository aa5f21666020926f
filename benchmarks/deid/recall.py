"""Recall, leaks and text kept on a held-out synthetic set (a seed never used while tuning).

    .venv/bin/python benchmarks/deid/recall.py [--images 200] [--seed 20261124] [--mode default] [--ocr rapidocr,tesseract]

Writes results/recall-<mode>-seed<seed>.{md,json,png}. Tuning used seeds 1-99;
the held-out seed is recorded here and in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--mode", default="default")
    parser.add_argument("--keep", type=Path, help="keep the dataset and outputs here")
    parser.add_argument("--ocr", default="rapidocr", help="rapidocr, or rapidocr,tesseract")
    args = parser.parse_args()
    from openmaker.deid.evaluate import evaluate
    from openmaker.deid.scoring import format_markdown
    from openmaker.deid.synth import generate

    work = args.keep or Path(tempfile.mkdtemp(prefix="deid-recall-"))
    dataset = work / f"synth-{args.seed}"
    if not (dataset / "ground_truth.json").is_file():
        generate(dataset, args.images, seed=args.seed, size=1024, progress=True)
    engines = tuple(e.strip() for e in args.ocr.split(","))
    suffix = "" if engines == ("rapidocr",) else "-" + "+".join(engines)
    metrics, where = evaluate(dataset, work / f"eval-{args.mode}{suffix}", mode=args.mode, progress=True, engines=engines)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"recall-{args.mode}{suffix}-seed{args.seed}"
    stem.with_suffix(".json").write_text(json.dumps(metrics, indent=2) + "\n")
    stem.with_suffix(".md").write_text(format_markdown(metrics) + "\n")
    shutil.copy(where / "eval.png", stem.with_suffix(".png"))
    print(format_markdown(metrics))
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
