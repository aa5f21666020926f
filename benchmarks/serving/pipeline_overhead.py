"""Inference pipeline overhead: a 1-model call against 2-, 3- and 5-stage pipelines of no-op models.

One openmaker server (a subprocess, loopback, no auth) serves five copies of
the no-op script-mode model (``examples/noop``) as ``s1`` ... ``s5``, one
worker each, and three pipeline endpoints over them: ``p2`` (s1, s2), ``p3``
(s1..s3) and ``p5`` (s1..s5). Each stage runs in its own model's worker, so
an extra stage costs one more hop frontend -> worker -> frontend plus the
pipeline's own work (building the next request). The 1-model call goes to
``POST /predictions/s1`` and the pipelines to ``POST /endpoints/pN/invocations``;
both are answered by the same plain-ASGI fast path, so the difference is the
pipeline.

Two loads, each in alternating rounds (1, 2, 3, 5 stages, then reversed ...)
with ``openmaker.serving.loadgen.run_load``:

* sequential: one keep-alive client, ``--requests`` requests per run;
* concurrent: ``--concurrency`` (16) clients for ``--duration`` seconds.

The extra latency per extra stage is the least-squares slope of the median
(over rounds) mean latency against the number of stages (1, 2, 3, 5), and
also shown per step (2 vs 1, 3 vs 2, (5 vs 3)/2). Target: < 2 ms per stage.

Run (about 1-2 minutes with the defaults)::

    .venv/bin/python benchmarks/serving/pipeline_overhead.py
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

import httpx

import harness
from harness import OpenmakerServer, fmt, log, markdown_table

from openmaker.serving.loadgen import run_load

NAME = "pipeline_overhead"
TARGET_MS_PER_STAGE = 2.0
STAGES = (1, 2, 3, 5)
BODY = b'{"x": 1}'
CONTENT_TYPE = "application/json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", "-n", type=int, default=2000, help="requests per sequential run (default 2000)")
    p.add_argument("--concurrency", "-c", type=int, default=16, help="clients of the concurrent load (default 16)")
    p.add_argument("--duration", "-d", type=float, default=5.0, help="seconds per concurrent run (default 5)")
    p.add_argument("--rounds", "-r", type=int, default=3, help="rounds of each load (default 3)")
    p.add_argument("--warmup-requests", type=int, default=200, help="unmeasured requests before each run (default 200)")
    p.add_argument("--out", type=Path, default=harness.RESULTS_DIR, help="results directory (default benchmarks/serving/results)")
    p.add_argument("--keep-workdir", action="store_true", help="keep the temporary directory (server log)")
    args = p.parse_args(argv)
    if min(args.requests, args.concurrency, args.rounds) < 1 or args.duration <= 0:
        p.error("--requests, --concurrency and --rounds must be >= 1 and --duration > 0")
    return args


def setup_pipelines(server: OpenmakerServer) -> dict[int, str]:
    """Register s2..s5 next to s1 and create p2, p3, p5; returns the URL per number of stages."""
    store = server.home / "model-store"
    shutil.copytree(harness.REPO / "examples" / "noop", store / "noop", dirs_exist_ok=True)
    with httpx.Client(base_url=server.management_url, timeout=120) as m:
        for i in range(2, max(STAGES) + 1):
            r = m.post("/models", params={"url": "noop", "model_name": f"s{i}", "initial_workers": 1, "synchronous": "true"})
            r.raise_for_status()
        for n in STAGES[1:]:
            r = m.post("/endpoints", json={"name": f"p{n}", "models": [f"s{i}" for i in range(1, n + 1)]})
            r.raise_for_status()
    base = f"http://127.0.0.1:{server.inference_port}"
    urls = {1: f"{base}/predictions/s1"}
    urls.update({n: f"{base}/endpoints/p{n}/invocations" for n in STAGES[1:]})
    for n, url in urls.items():
        r = httpx.post(url, content=BODY, headers={"Content-Type": CONTENT_TYPE}, timeout=30)
        if r.status_code != 200:
            raise SystemExit(f"{url}: HTTP {r.status_code} {r.text[:200]}")
    return urls


def measure(urls: dict[int, str], args: argparse.Namespace, concurrent: bool) -> list[dict]:
    records = []
    for r in range(args.rounds):
        order = list(STAGES) if r % 2 == 0 else list(reversed(STAGES))
        for n in order:
            result = run_load(
                urls[n], body=BODY, content_type=CONTENT_TYPE,
                concurrency=args.concurrency if concurrent else 1,
                requests=None if concurrent else args.requests,
                duration=args.duration if concurrent else None,
                warmup=args.warmup_requests, progress=False,
            )  # fmt: skip
            records.append({"round": r + 1, "stages": n, "load": "concurrent" if concurrent else "sequential",
                            **result.as_dict()})
            log(f"{'concurrent' if concurrent else 'sequential'} round {r + 1} {n} stage(s): "
                f"mean {result.mean_ms:.3f} ms  p50 {result.p50_ms:.3f} ms  p99 {result.p99_ms:.3f} ms  "
                f"{result.throughput:,.0f} req/s  errors {result.errors}")
    return records


def slope(xs: list[float], ys: list[float]) -> float:
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def summarise(records: list[dict]) -> dict:
    out = {}
    for load in ("sequential", "concurrent"):
        rows = {}
        for n in STAGES:
            runs = [r for r in records if r["load"] == load and r["stages"] == n]
            if not runs:
                continue
            rows[n] = {
                "mean_ms": statistics.median(r["mean_ms"] for r in runs),
                "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                "p99_ms": statistics.median(r["p99_ms"] for r in runs),
                "throughput": statistics.median(r["throughput"] for r in runs),
                "errors": sum(r["errors"] for r in runs),
            }
        if len(rows) < 2:
            continue
        ns = sorted(rows)
        means = [rows[n]["mean_ms"] for n in ns]
        p50s = [rows[n]["p50_ms"] for n in ns]
        out[load] = {
            "by_stages": rows,
            "ms_per_extra_stage_mean": slope(ns, means),
            "ms_per_extra_stage_p50": slope(ns, p50s),
            "steps_mean_ms": {f"{b} vs {a}": (rows[b]["mean_ms"] - rows[a]["mean_ms"]) / (b - a)
                              for a, b in zip(ns, ns[1:])},
        }
    return out


def report(summary: dict, args: argparse.Namespace, info: dict) -> str:
    lines = ["# Inference pipeline overhead\n",
             f"{harness.machine_line(info)}\n",
             f"Command: `{harness.command_line()}`\n",
             "No-op script-mode stages, one worker each, loopback. 1 stage = `POST /predictions/s1`; "
             "N stages = `POST /endpoints/pN/invocations`. Medians over "
             f"{args.rounds} rounds; sequential = 1 client x {args.requests} requests, concurrent = "
             f"{args.concurrency} clients x {args.duration:g} s.\n"]
    for load, s in summary.items():
        rows = [[n, fmt(v["mean_ms"], "ms"), fmt(v["p50_ms"], "ms"), fmt(v["p99_ms"], "ms"), fmt(v["throughput"], "rps"),
                 v["errors"]] for n, v in sorted(s["by_stages"].items())]
        lines.append(f"## {load.capitalize()}\n")
        lines.append(markdown_table(["Stages", "mean (ms)", "p50 (ms)", "p99 (ms)", "Throughput (req/s)", "Errors"], rows))
        steps = ", ".join(f"{k}: {v:.3f} ms" for k, v in s["steps_mean_ms"].items())
        verdict = "meets" if s["ms_per_extra_stage_mean"] < TARGET_MS_PER_STAGE else "misses"
        lines.append(f"\nExtra latency per extra stage (slope of mean): **{s['ms_per_extra_stage_mean']:.3f} ms** "
                     f"(p50 slope {s['ms_per_extra_stage_p50']:.3f} ms; per step {steps}); "
                     f"{verdict} the target of < {TARGET_MS_PER_STAGE:g} ms.\n")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = harness.machine_info()
    with harness.workspace("ompipe-", keep=args.keep_workdir) as work:
        server = OpenmakerServer(work / "openmaker", "s1", harness.REPO / "examples" / "noop", label="openmaker")
        with harness.running([server], BODY, CONTENT_TYPE):
            urls = setup_pipelines(server)
            records = measure(urls, args, concurrent=False) + measure(urls, args, concurrent=True)
    summary = summarise(records)
    payload = {"benchmark": NAME, "machine": info, "args": {k: str(v) for k, v in vars(args).items()},
               "summary": summary, "records": records}
    harness.write_results(NAME, payload, report(summary, args, info), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
