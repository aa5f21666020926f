"""openmaker deid and Presidio's image redactor side by side on the same synthetic set: recall and time.

    .venv/bin/python benchmarks/deid/presidio_side_by_side.py --presidio-python /tmp/presvenv/bin/python [--images 60] [--seed 4242]

Both run single-process on the same images; both are scored by the same code
(``openmaker.deid.scoring``). See presidio_runner.py for Presidio's set-up.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presidio-python", required=True)
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--seed", type=int, default=4242)
    args = parser.parse_args()
    from openmaker.deid.evaluate import evaluate
    from openmaker.deid.scoring import score
    from openmaker.deid.synth import generate

    work = Path(tempfile.mkdtemp(prefix="deid-presidio-"))
    dataset = generate(work / "set", args.images, seed=args.seed, size=1024)
    ours, _ = evaluate(dataset, work / "ours", workers=1)
    run = subprocess.run(
        [args.presidio_python, str(HERE / "presidio_runner.py"), str(dataset)],
        capture_output=True, text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    found = json.loads(run.stdout)
    boxes = {k: (None if v is None else [tuple(b) for b in v]) for k, v in found["boxes"].items()}
    theirs = score(dataset, boxes, seconds=found["seconds"])
    keys = ["word_recall", "pixel_recall", "images_with_phi_left", "technical_kept", "images_per_second"]
    rows = []
    for name, metrics in (("openmaker deid (default mode)", ours), ("Presidio DicomImageRedactorEngine / ImageRedactorEngine", theirs)):
        values = []
        for key in keys:
            value = metrics.get(key)
            if isinstance(value, dict):
                value = value.get("fraction", value.get("value"))
            values.append(f"{value:.4f}" if isinstance(value, float) else str(value))
        rows.append(f"| {name} | " + " | ".join(values) + " |")
    table = "| system | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys) + "\n" + "\n".join(rows)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / f"presidio-seed{args.seed}.md").write_text(table + "\n")
    (HERE / "results" / f"presidio-seed{args.seed}.json").write_text(json.dumps({"openmaker": ours, "presidio": theirs}, indent=2))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
