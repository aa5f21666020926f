"""Dynamic batching on the EfficientNet-Lite0 "kitten" model: batch 1 vs batch 8 and 16.

The archive is built offline with ``openmaker.serving.zoo.build_efficientnet_lite0``
(ONNX, onnxruntime on CPU) into a temporary directory; the request body is
``kitten_jpeg()`` (a 451x300 JPEG of a tabby cat), so each request is JPEG
decoding, resize/crop/normalize in the worker, one onnxruntime run per
batch and a top-5 answer.

For each worker topology (default: 1 worker x 2 threads, and 2 workers x 1
thread) it starts one ``openmaker serve`` per batching setting (default:
``--batch-size 1``; ``--batch-size 8 --max-batch-delay 10``; ``--batch-size 16
--max-batch-delay 10``), all up at once, and loads them in alternating rounds
with the same closed-loop load (16 keep-alive clients posting the JPEG). It
reports the per-setting medians over the rounds, the mean batch the workers
actually got (from the server's ``openmaker_batch_size`` histogram), and the
throughput of each batched setting relative to batch 1 of the same topology.

Before the servers start it also calls the handler in-process (a fresh
interpreter per thread count) to measure the model's own cost per image at
each batch size: what batching can possibly save inside a worker.

The load generator shares the machine with the servers (on 2 vCPUs it takes
a few percent of a core at these rates).

Run (about 4 minutes with the defaults)::

    .venv/bin/python benchmarks/serving/batching.py
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import harness
from harness import LoadSpec, OpenmakerServer, fmt, log

NAME = "batching"
MODEL = "efficientnet-lite0"
TARGET_RATIO = 1.5


def topology(text: str) -> tuple[int, int]:
    try:
        w, t = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WORKERSxTHREADS such as 1x2, got {text!r}") from None
    if w < 1 or t < 1:
        raise argparse.ArgumentTypeError("workers and threads must be >= 1")
    return w, t


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--topologies", type=topology, nargs="+", default=[(1, 2), (2, 1)], metavar="WxT",
                   help="workers x threads per worker to try (default: 1x2 2x1)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16],
                   help="batched settings compared with batch size 1 (default: 8 16)")
    p.add_argument("--max-batch-delay", type=float, default=10.0, help="ms to fill a batch (default 10)")
    p.add_argument("--concurrency", "-c", type=int, default=16, help="concurrent keep-alive clients (default 16)")
    p.add_argument("--duration", "-d", type=float, default=8.0, help="seconds of measured load per run (default 8)")
    p.add_argument("--rounds", "-r", type=int, default=3, help="rounds; each loads every setting once (default 3)")
    p.add_argument("--warmup-requests", type=int, default=32, help="unmeasured requests before each run (default 32)")
    p.add_argument("--warmup-seconds", type=float, default=3.0,
                   help="unmeasured load on each server before the first round (default 3)")
    p.add_argument("--no-model-cost", action="store_true",
                   help="skip the in-process measurement of the handler's cost per image by batch size")
    p.add_argument("--model-dir", type=Path, default=None,
                   help="an already built efficientnet-lite0 archive directory (default: build one)")
    p.add_argument("--out", type=Path, default=harness.RESULTS_DIR, help="results directory (default benchmarks/serving/results)")
    p.add_argument("--keep-workdir", action="store_true", help="keep the temporary directory (server logs)")
    args = p.parse_args(argv)
    if min(args.concurrency, args.rounds, *args.batch_sizes) < 1 or args.duration <= 0:
        p.error("--concurrency, --rounds and --batch-sizes must be >= 1 and --duration > 0")
    return args


# Run in a fresh interpreter per thread count, so that the OMP/MKL settings take effect before
# onnxruntime loads, as in a worker. Prints one JSON object.
_MODEL_COST = r"""
import json, os, statistics, sys, time
threads, model_dir, sizes = int(sys.argv[1]), sys.argv[2], [int(x) for x in sys.argv[3].split(",")]
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(threads)
from pathlib import Path
from openmaker.serving.handlers.base import Context, load_handler_class
from openmaker.serving.protocol import InferenceRequest
from openmaker.serving.zoo import kitten_jpeg
d = Path(model_dir)
manifest = json.loads((d / "MAR-INF" / "MANIFEST.json").read_text())
ctx = Context(model_dir=d, model_name="m", model_version="1", manifest=manifest, batch_size=max(sizes),
              threads=threads)
handler = load_handler_class(manifest["model"]["handler"], ctx.code_dir)()
handler.initialize(ctx)
req = InferenceRequest(body=kitten_jpeg(), content_type="image/jpeg")
def ms(f, n):
    f()
    times = []
    for _ in range(n):
        t = time.perf_counter(); f(); times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000
x = handler.preprocess(req)
y = handler.inference([x])[0]
out = {"threads": threads, "preprocess_ms": ms(lambda: handler.preprocess(req), 40),
       "postprocess_ms": ms(lambda: handler.postprocess(y, req), 40), "inference_ms": {}}
for b in sizes:
    out["inference_ms"][b] = ms(lambda: handler.inference([x] * b), max(10, 160 // b))
print(json.dumps(out))
"""


def model_cost(model_dir: Path, threads: int, sizes: list[int]) -> dict:
    """The handler's own cost per image, in a fresh process: preprocess, and inference at each batch size."""
    out = subprocess.run([sys.executable, "-c", _MODEL_COST, str(threads), str(model_dir), ",".join(map(str, sizes))],
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        log(f"model cost measurement failed: {out.stderr[-500:]}")
        return {"threads": threads, "error": out.stderr[-500:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def setting_label(workers: int, threads: int, batch: int, delay: float) -> str:
    base = f"{workers}x{threads} b{batch}"
    return base if batch == 1 else f"{base} d{delay:g}ms"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    build_efficientnet_lite0, kitten_jpeg = harness.kitten_zoo()
    info = harness.machine_info()
    body = kitten_jpeg()
    spec = LoadSpec(body=body, content_type="image/jpeg", concurrency=args.concurrency,
                    duration=args.duration, warmup_requests=args.warmup_requests)
    records: list[dict] = []
    groups: list[dict] = []
    with harness.workspace("omb-bat-", keep=args.keep_workdir) as work:
        model_dir = args.model_dir
        if model_dir is None:
            log("building the efficientnet-lite0 archive")
            model_dir = build_efficientnet_lite0(work / MODEL)
        costs = []
        if not args.no_model_cost:
            for threads in sorted({t for _, t in args.topologies}):
                cost = model_cost(model_dir, threads, [1, *args.batch_sizes])
                costs.append(cost)
                if "inference_ms" in cost:
                    log(f"model cost, {threads} thread(s): preprocess {cost['preprocess_ms']:.2f} ms/image, inference "
                        + ", ".join(f"b{b} {t / int(b):.2f}" for b, t in cost["inference_ms"].items()) + " ms/image")
        for workers, threads in args.topologies:
            settings = [(1, None)] + [(b, args.max_batch_delay) for b in args.batch_sizes if b != 1]
            servers = [
                OpenmakerServer(work / f"w{workers}t{threads}b{b}", MODEL, model_dir, workers=workers, threads=threads,
                                batch_size=b, max_batch_delay_ms=d, label=setting_label(workers, threads, b, d or 0))
                for b, d in settings
            ]
            with harness.running(servers, body, spec.content_type):
                harness.warm_up(servers, spec, args.warmup_seconds)
                group = harness.run_rounds(servers, spec, args.rounds, counters=lambda s: s.metric_sums())
            for rec in group:
                rec["workers"], rec["threads"] = workers, threads
                count = rec.get("server_batch_size_count") or 0
                rec["mean_batch"] = rec["server_batch_size_sum"] / count if count else None
            records += group
            groups.append({"workers": workers, "threads": threads,
                           "labels": [s.label for s in servers],
                           "settings": [{"label": s.label, "batch_size": b, "max_batch_delay_ms": d}
                                        for s, (b, d) in zip(servers, settings)]})
    summary = harness.summarise(records, [label for g in groups for label in g["labels"]])
    for label, s in summary.items():
        s["mean_batch_median"] = harness.median([r["mean_batch"] for r in records if r["server"] == label])
    ratios = {}
    for g in groups:
        base = g["labels"][0]
        for label in g["labels"][1:]:
            paired = harness.paired_ratios([r for r in records if r["server"] in (base, label)], label, base)
            b, u = summary[base]["throughput_median"], summary[label]["throughput_median"]
            ratios[label] = {"baseline": base, "throughput_ratio_of_medians": u / b if b else None,
                             "throughput_ratio_per_round": paired,
                             "throughput_ratio_median_of_rounds": harness.median(paired)}
    # The fairest reading of "batching vs no batching": the best of each, whatever the topology.
    unbatched = [g["labels"][0] for g in groups]
    batched = [label for g in groups for label in g["labels"][1:]]
    best_vs_best = None
    if unbatched and batched:
        u = max(unbatched, key=lambda k: summary[k]["throughput_median"] or 0.0)
        b = max(batched, key=lambda k: summary[k]["throughput_median"] or 0.0)
        base = summary[u]["throughput_median"]
        best_vs_best = {"unbatched": u, "batched": b,
                        "ratio": summary[b]["throughput_median"] / base if base else None}
    params = {"concurrency": args.concurrency, "duration_s": args.duration, "rounds": args.rounds,
              "warmup_requests": args.warmup_requests, "warmup_seconds": args.warmup_seconds,
              "topologies": [f"{w}x{t}" for w, t in args.topologies], "batch_sizes": [1, *args.batch_sizes],
              "max_batch_delay_ms": args.max_batch_delay, "body_bytes": len(body), "content_type": "image/jpeg"}
    payload = {"benchmark": NAME, "command": harness.command_line(), "machine": info, "parameters": params,
               "groups": groups, "summary": summary, "ratios": ratios, "best_vs_best": best_vs_best,
               "model_cost": costs, "runs": records}
    harness.write_results(NAME, payload, render(payload), args.out)
    return 0


def render(payload: dict) -> str:
    info, params, summary, ratios = payload["machine"], payload["parameters"], payload["summary"], payload["ratios"]
    lines = [
        "# Dynamic batching: EfficientNet-Lite0 (ONNX, CPU), kitten JPEG",
        "",
        f"Machine: {harness.machine_line(info)}.",
        "",
        f"Load: `run_load`, {params['concurrency']} keep-alive clients posting a {params['body_bytes']:,}-byte JPEG, "
        f"{params['duration_s']:g} s per run, {params['warmup_requests']} warm-up requests before each run and "
        f"{params['warmup_seconds']:g} s of warm-up per server before the first round; {params['rounds']} alternating "
        "rounds per topology; load generator on the same machine. `WxT bN dMms`: W workers x T threads per worker, "
        "`--batch-size N --max-batch-delay M`.",
        "",
        f"Command: `{payload['command']}`",
        "",
        "## Medians over the rounds",
        "",
    ]
    rows = []
    for g in payload["groups"]:
        for label in g["labels"]:
            s = summary[label]
            r = ratios.get(label)
            rows.append([
                label, fmt(s["throughput_median"], "rps"), fmt(s["p50_ms_median"], "ms"), fmt(s["p90_ms_median"], "ms"),
                fmt(s["p99_ms_median"], "ms"),
                "n/a" if s["mean_batch_median"] is None else f"{s['mean_batch_median']:.1f}",
                "1.00x (baseline)" if r is None else
                f"{fmt(r['throughput_ratio_of_medians'], 'x')} ({fmt(r['throughput_ratio_median_of_rounds'], 'x')})",
                s["errors_total"],
            ])
    lines.append(harness.markdown_table(
        ["Setting", "Throughput (req/s)", "p50 (ms)", "p90 (ms)", "p99 (ms)", "Mean batch",
         "vs batch 1 (median of per-round ratios)", "Errors"], rows))
    best = max(ratios.values(), key=lambda r: r["throughput_ratio_of_medians"] or 0.0, default=None)
    if best is not None:
        best_label = next(k for k, v in ratios.items() if v is best)
        met = (best["throughput_ratio_of_medians"] or 0.0) >= TARGET_RATIO
        lines += [
            f"Best batched setting: {best_label} at {fmt(best['throughput_ratio_of_medians'], 'x')} the throughput of "
            f"{best['baseline']}. Target (batching >= {TARGET_RATIO:g}x the throughput without batching): "
            f"**{'met' if met else 'NOT met'}**.",
            "",
        ]
    overall = payload.get("best_vs_best")
    if overall:
        lines += [
            f"Best setting overall vs best setting without batching (any topology): {overall['batched']} "
            f"{fmt(summary[overall['batched']]['throughput_median'], 'rps')} req/s vs {overall['unbatched']} "
            f"{fmt(summary[overall['unbatched']]['throughput_median'], 'rps')} req/s = "
            f"**{fmt(overall['ratio'], 'x')}**.",
            "",
        ]
    costs = [c for c in payload.get("model_cost") or [] if "inference_ms" in c]
    if costs:
        sizes = list(costs[0]["inference_ms"])
        lines += [
            "## The model's own cost per image (in-process, no server)",
            "",
            "The image_classifier handler called directly, kitten JPEG, median of repeated calls: what batching can "
            "save inside the worker. Preprocessing (JPEG decode, resize, crop, normalize) runs per image whatever the batch.",
            "",
            harness.markdown_table(
                ["Threads", "Preprocess (ms/image)"] + [f"Inference batch {b} (ms/image)" for b in sizes]
                + ["Handler total, batch 1 (ms/image)", f"Handler total, batch {sizes[-1]} (ms/image)"],
                [[c["threads"], f"{c['preprocess_ms']:.2f}"]
                 + [f"{c['inference_ms'][b] / int(b):.2f}" for b in sizes]
                 + [f"{c['preprocess_ms'] + c['postprocess_ms'] + c['inference_ms'][sizes[0]] / int(sizes[0]):.2f}",
                    f"{c['preprocess_ms'] + c['postprocess_ms'] + c['inference_ms'][sizes[-1]] / int(sizes[-1]):.2f}"]
                 for c in costs],
            ),
        ]
    lines += ["## Every run", "", harness.rounds_table(payload["runs"])]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
