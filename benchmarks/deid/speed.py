"""End-to-end speed on 1024x1024 images: read, OCR, PHI detection, redaction, PNG (and DICOM) out.

One worker process with one OCR thread measures images per second per core;
then one worker per core measures the machine. Median per-image seconds come
from the run report (each image's own wall time inside its worker).

    .venv/bin/python benchmarks/deid/speed.py [--images 30] [--seed 515]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def measure(images: Path, workers: int, threads: int | None) -> dict:
    from openmaker.deid.batch import RunOptions, run

    with tempfile.TemporaryDirectory() as out:
        options = RunOptions(key=os.urandom(32), ocr_threads=threads)
        result = run([str(images)], out, options, workers=workers, force=True)
    per_image = [r["seconds"] for r in result.records if r["status"] == "ok"]
    return {
        "workers": workers,
        "ocr_threads": threads,
        "images": len(per_image),
        "failed": result.report["summary"]["failed"],
        "wall_seconds": result.report["seconds"],
        "images_per_second": round(len(per_image) / result.report["seconds"], 3),
        "median_seconds_per_image": round(statistics.median(per_image), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--seed", type=int, default=515)
    args = parser.parse_args()
    from openmaker.deid.synth import generate

    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        dataset = generate(Path(tmp) / "speed", args.images, seed=args.seed, size=1024, formats=("png", "dcm"))
        images = dataset / "images"
        measure(images, 1, 1)  # warm the file cache and the model files
        rows = [measure(images, 1, 1), measure(images, cores, 1)]
    rows[0]["per_core"] = rows[0]["images_per_second"]
    rows[1]["per_core"] = round(rows[1]["images_per_second"] / cores, 3)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "speed.json").write_text(json.dumps({"cores": cores, "rows": rows}, indent=2) + "\n")
    print("| workers | OCR threads | images | images/s | images/s per core | median s/image |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['workers']} | {r['ocr_threads']} | {r['images']} | {r['images_per_second']} | {r['per_core']} | {r['median_seconds_per_image']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
