"""Edge-loop speed: frames per second of ``openmaker vision edge`` on an exported detector, no torch.

Runs :func:`openmaker.vision.edge.run_edge` (resize, onnxruntime, decoding and NMS, one JSON line per
frame to /dev/null; no drawing, no saving, no MQTT) over synthetic frames, three times, and reports
the median frames per second, plus the median latency of single inferences (``EdgeDetector.detect``);
with ``--compare-int8`` the two models' runs alternate.
Targets (issue 8, 2-core CPU): >= 15 frames/s at 320 x 320 and >= 5 frames/s at 512 x 512.

Frames are noise with a few bright rectangles, at the model's input size unless ``--frame-size``
asks for camera-sized frames (then the resize is part of the cost)::

    .venv/bin/python benchmarks/vision/edge.py model.onnx --frames 200
    .venv/bin/python benchmarks/vision/edge.py model.onnx --compare-int8 model.int8.onnx --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

from openmaker.vision.edge import EdgeDetector, run_edge

RUNS = 3
LATENCY_SAMPLES = 50
TARGETS = {320: 15.0, 512: 5.0}


def synthetic_frames(count: int, width: int, height: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        frame = rng.integers(0, 120, (height, width, 3), dtype=np.uint8)
        for _ in range(3):
            w, h = int(rng.integers(width // 10, width // 3)), int(rng.integers(height // 10, height // 3))
            x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
            frame[y : y + h, x : x + w] = rng.integers(120, 256, 3, dtype=np.uint8)
        frames.append(frame)
    return frames


def _loop_fps(detector: EdgeDetector, frames: list[np.ndarray]) -> tuple[float, int]:
    with open(os.devnull, "w") as sink:
        stats = run_edge(detector, ((i, "synthetic", f) for i, f in enumerate(frames)), out_json=sink)
    return stats.fps, stats.detections


def _latency_ms(detector: EdgeDetector, frames: list[np.ndarray]) -> float:
    times = []
    for frame in frames[:LATENCY_SAMPLES]:
        began = time.perf_counter()
        detector.detect(frame)
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def measure(models: list[str], frames: list[np.ndarray], threads: int | None) -> list[dict]:
    """Loop fps (median of RUNS) and single-inference latency per model; runs of the models alternate,
    so that a noisy neighbour on a shared machine slows them alike."""
    detectors = [EdgeDetector(m, threads=threads) for m in models]
    for detector in detectors:
        for frame in frames[:5]:  # warm-up
            detector.detect(frame)
    fps: list[list[float]] = [[] for _ in models]
    detections = [0] * len(models)
    latency: list[list[float]] = [[] for _ in models]
    for _ in range(RUNS):
        for k, detector in enumerate(detectors):
            rate, detections[k] = _loop_fps(detector, frames)
            fps[k].append(rate)
            latency[k].append(_latency_ms(detector, frames))
    return [
        {"model": model, "image_size": d.image_size, "anchors": len(d.meta.anchors), "classes": len(d.classes),
         "frames": len(frames), "fps_median": round(statistics.median(f), 2), "fps_runs": [round(v, 2) for v in f],
         "latency_ms_median": round(statistics.median(lat), 2), "detections_per_run": n,
         "target_fps": TARGETS.get(d.image_size), "threads": threads}
        for model, d, f, lat, n in zip(models, detectors, fps, latency, detections)
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="exported detector (.onnx)")
    p.add_argument("--frames", type=int, default=200, help="frames per run (default 200)")
    p.add_argument("--frame-size", help="WIDTHxHEIGHT of the synthetic frames (default: the model's input size)")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: one per core)")
    p.add_argument("--compare-int8", metavar="MODEL_INT8", help="an int8 model of the same detector, measured alike")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    args = p.parse_args(argv)
    size = EdgeDetector(args.model).image_size
    width, height = (int(v) for v in args.frame_size.lower().split("x")) if args.frame_size else (size, size)
    frames = synthetic_frames(args.frames, width, height)
    results = measure([args.model] + ([args.compare_int8] if args.compare_int8 else []), frames, args.threads)
    if args.json:
        print(json.dumps({"frame_size": [width, height], "cpus": os.cpu_count(), "results": results}, indent=2))
        return 0
    print(f"frames {width}x{height}, {args.frames} per run, median of {RUNS} runs, {os.cpu_count()} CPUs")
    print(f"{'model':<40} {'input':>7} {'fps':>8} {'latency ms':>11} {'target':>7}")
    for r in results:
        target = f">= {r['target_fps']:g}" if r["target_fps"] else "-"
        print(f"{r['model']:<40} {r['image_size']:>7} {r['fps_median']:>8.1f} {r['latency_ms_median']:>11.1f} {target:>7}")
    if len(results) == 2:
        print(f"int8 / float speed: {results[1]['fps_median'] / results[0]['fps_median']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
