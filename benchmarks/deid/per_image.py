"""Median seconds per image of ``deidentify_image`` on the first N images of a folder: one process,
one OCR thread, after a warm-up image. For side-by-side timings of two commits on the same images:

    git worktree add /tmp/before <commit>
    .venv/bin/python -m openmaker.cli deid synth /tmp/set -n 200 --seed 28
    PYTHONPATH=/tmp/before .venv/bin/python benchmarks/deid/per_image.py /tmp/set/images   # before
    .venv/bin/python benchmarks/deid/per_image.py /tmp/set/images                          # after

Run them alternately, twice each, and compare the medians (the machine's speed drifts).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", type=Path)
    parser.add_argument("--count", type=int, default=15)
    args = parser.parse_args()
    import openmaker
    from openmaker.deid.process import DeidOptions, deidentify_image

    if not args.images.is_dir():
        print(f"{args.images} is not a folder", file=sys.stderr)
        return 2
    files = sorted(p for p in args.images.iterdir() if p.is_file())[: args.count]
    if not files:
        print(f"no images in {args.images}", file=sys.stderr)
        return 2
    options = DeidOptions(ocr_threads=1)
    deidentify_image(files[0].read_bytes(), files[0].name, options)  # warm-up: models load
    times = []
    for f in files:
        t0 = time.perf_counter()
        deidentify_image(f.read_bytes(), f.name, options)
        times.append(time.perf_counter() - t0)
    print(f"{Path(openmaker.__file__).parent.parent}: {len(files)} images, median {statistics.median(times):.3f} s, mean {statistics.mean(times):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
