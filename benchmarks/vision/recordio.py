"""RecordIO read throughput of openmaker's pure-Python reader (target >= 200 MB/s).

    python benchmarks/vision/recordio.py [--megabytes 256] [--repeats 3] [--json]

Writes a .rec + .idx of random JPEG-sized payloads (log-normal sizes, median ~100 KB, each packed with an
IRHeader and a 3-box detection label as im2rec --pack-label does) in a temporary folder, then reads it
back (1) sequentially without the .idx and (2) through the .idx in a shuffled order, unpacking every
record's header and label. Prints MB/s of payload per pass, the median of the repeats. The file has
just been written, so it is read from the page cache: this measures the parser, not the disk.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from openmaker.vision.recordio import IRHeader, RecordReader, RecordWriter, detection_label, pack, unpack


def write_file(folder: Path, megabytes: int, seed: int = 0) -> tuple[Path, Path, int, int]:
    rng = np.random.default_rng(seed)
    rec, idx = folder / "bench.rec", folder / "bench.idx"
    label = detection_label(np.array([[0, 0.1, 0.1, 0.5, 0.5], [1, 0.2, 0.3, 0.9, 0.8], [2, 0.0, 0.0, 1.0, 1.0]]))
    total = count = 0
    with RecordWriter(rec, idx) as writer:
        while total < megabytes * 1_000_000:
            size = int(np.clip(rng.lognormal(np.log(100_000), 0.5), 2_000, 2_000_000))
            writer.write(pack(IRHeader(0, label, count, 0), os.urandom(size)), key=count)
            total += size
            count += 1
    return rec, idx, count, os.path.getsize(rec)


def sequential(rec: Path) -> int:
    done = 0
    with RecordReader(rec) as reader:
        for _, record in reader.scan():
            header, image = unpack(record)
            done += len(record)
    return done


def indexed(rec: Path, idx: Path, seed: int = 0) -> int:
    done = 0
    with RecordReader(rec, idx) as reader:
        keys = reader.keys()
        for key in np.random.default_rng(seed).permutation(keys).tolist():
            record = reader[key]
            header, image = unpack(record)
            done += len(record)
    return done


def timed(fn, *args) -> tuple[float, int]:
    start = time.perf_counter()
    done = fn(*args)
    return time.perf_counter() - start, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=256, help="payload size of the file (MB)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        rec, idx, count, size = write_file(Path(tmp), args.megabytes)
        write_s = time.perf_counter() - start
        results = {}
        for name, fn, fn_args in (("sequential", sequential, (rec,)), ("indexed", indexed, (rec, idx))):
            runs = [timed(fn, *fn_args) for _ in range(args.repeats)]
            seconds = statistics.median(s for s, _ in runs)
            results[name] = {"seconds": round(seconds, 4), "mb_per_s": round(runs[0][1] / seconds / 1e6, 1)}
    report = {
        "records": count, "file_mb": round(size / 1e6, 1), "repeats": args.repeats,
        "write_mb_per_s": round(size / write_s / 1e6, 1), **results, "target_mb_per_s": 200,
    }  # fmt: skip
    if args.json:
        print(json.dumps(report))
        return
    print(f"{count} records, {report['file_mb']} MB (written at {report['write_mb_per_s']} MB/s incl. random data)")
    for name in ("sequential", "indexed"):
        r = results[name]
        print(f"{name:>10}: {r['mb_per_s']} MB/s (median of {args.repeats}: {r['seconds']} s; target >= 200 MB/s)")


if __name__ == "__main__":
    main()
