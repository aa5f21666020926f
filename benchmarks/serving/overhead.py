"""Server overhead: a no-op model, 1 worker, loopback, openmaker side by side with TorchServe 0.12.

Both servers serve a model that does nothing (openmaker: ``examples/noop``;
TorchServe: a ``.mar`` whose handler returns ``'{"ok": true}'`` per request),
with one worker each, so what is measured is the frontend, the hop to the
worker process and back, and the HTTP handling. Both are up during the whole
run; each is loaded in turn with the same closed-loop load
(``openmaker.serving.loadgen.run_load``: N keep-alive clients, each sending
its next request when the previous answer arrives) for the same time, in
alternating rounds (A B, B A, ...). The report gives per-server medians over
the rounds and the openmaker/TorchServe ratio (ratio of the medians, and the
median of the per-round ratios).

The load generator runs on the same machine as the servers: on a 2-vCPU box
it takes a good part of one core, for both servers alike.

TorchServe lives in its own venv (it needs Java 11+, found on PATH or in
JAVA_HOME). Create it once with::

    python3 -m venv /tmp/tsvenv
    /tmp/tsvenv/bin/pip install torch==2.13.0
    /tmp/tsvenv/bin/pip install -c constraints.txt torchserve==0.12.0 torch-model-archiver==0.12.0 pyyaml numpy

(torchserve 0.12's worker imports ``yaml`` and torch warns without
``numpy``; neither is a declared dependency of the wheel.)

Run (about 3 minutes with the defaults)::

    .venv/bin/python benchmarks/serving/overhead.py --torchserve-venv /tmp/tsvenv

``--profile`` adds one more openmaker run under ``py-spy record`` on the
frontend process (py-spy must be installed in openmaker's venv) and writes
the flame graph and the collapsed stacks next to the results.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import harness
from harness import LoadSpec, OpenmakerServer, TorchServeServer, fmt, log

NAME = "overhead"
TARGET_RATIO = 3.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="TorchServe venv: " + harness.TS_INSTALL)
    p.add_argument("--torchserve-venv", type=Path, default=Path("/tmp/tsvenv"),
                   help="venv with torchserve==0.12.0 and torch-model-archiver==0.12.0 (default /tmp/tsvenv)")
    p.add_argument("--concurrency", "-c", type=int, default=16, help="concurrent keep-alive clients (default 16)")
    p.add_argument("--duration", "-d", type=float, default=10.0, help="seconds of measured load per run (default 10)")
    p.add_argument("--rounds", "-r", type=int, default=5, help="rounds; each loads every server once (default 5)")
    p.add_argument("--warmup-requests", type=int, default=1000,
                   help="unmeasured requests before each run, on the same connections (default 1000)")
    p.add_argument("--warmup-seconds", type=float, default=10.0,
                   help="unmeasured load on each server before the first round, e.g. for the JVM's JIT (default 10)")
    p.add_argument("--skip-torchserve", action="store_true", help="measure openmaker only")
    p.add_argument("--profile", action="store_true",
                   help="after the rounds, one more openmaker run under py-spy record on the frontend")
    p.add_argument("--out", type=Path, default=harness.RESULTS_DIR, help="results directory (default benchmarks/serving/results)")
    p.add_argument("--keep-workdir", action="store_true", help="keep the temporary directory (server logs)")
    args = p.parse_args(argv)
    if min(args.concurrency, args.rounds) < 1 or args.duration <= 0:
        p.error("--concurrency and --rounds must be >= 1 and --duration > 0")
    return args


def profile_frontend(server: OpenmakerServer, spec: LoadSpec, out_dir: Path, seconds: float) -> dict:
    """Load ``server`` while py-spy samples its frontend; returns the stacks' path and the top functions.

    The collapsed stacks (one "frame;frame;... count" line each) render as a
    flame graph with flamegraph.pl or https://www.speedscope.app.
    """
    py_spy = Path(sys.executable).parent / "py-spy"
    if not py_spy.exists():
        py_spy = Path(shutil.which("py-spy") or "py-spy")
    frontend = server.proc.pid  # the `openmaker serve` process is the frontend; workers are its children
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = out_dir / f"{NAME}-openmaker-frontend.collapsed.txt"
    # --nonblocking: sample without pausing the frontend, so the profiler barely slows it down.
    proc = subprocess.Popen(
        [str(py_spy), "record", "--pid", str(frontend), "--duration", f"{int(seconds)}", "--rate", "200",
         "--format", "raw", "--output", str(raw), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    time.sleep(1.0)
    result = spec.run(server.predict_url, duration=seconds - 2, warmup=0)
    _, err = proc.communicate(timeout=seconds + 30)
    if proc.returncode != 0 or not raw.is_file():
        message = err.decode(errors="replace")[-500:]
        log(f"py-spy failed: {message}")
        return {"error": message}
    top = summarise_collapsed(raw)
    return {"collapsed": str(raw), "throughput_under_profiler": result.throughput, **top}


def summarise_collapsed(path: Path, limit: int = 25) -> dict:
    """Self time and inclusive time per function (file:function) from py-spy's collapsed stacks."""
    total = 0
    self_counts: dict[str, int] = {}
    incl_counts: dict[str, int] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [_short(f) for f in stack.split(";")]
        self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + n
        for f in set(frames):
            incl_counts[f] = incl_counts.get(f, 0) + n
    def top(counts):
        return [(name, round(100.0 * c / total, 1)) for name, c in sorted(counts.items(), key=lambda kv: -kv[1])[:limit]]
    return {"samples": total, "top_self": top(self_counts), "top_inclusive": top(incl_counts),
            "by_layer": layers_of_collapsed(path)}


# Layers of the frontend, matched on the sampled stack (first rule that matches wins). Without
# --native, py-spy sees no C frames: time in uvloop's own C code (libuv polling, the recv/send it
# issues itself, httptools parsing, callback dispatch) is charged to the outermost Python frame,
# asyncio's Runner.run; a write() issued from Python is charged to its Python caller.
LAYERS = [
    ("write() syscall: request to the worker (unix socket)", lambda leaf, s: leaf.startswith("StreamWriter.write")),
    ("write() syscall: HTTP response (uvicorn transport)", lambda leaf, s: leaf.startswith("RequestResponseCycle.send")),
    ("event loop C code (uvloop/libuv: epoll, recv, httptools, callbacks)", lambda leaf, s: leaf.startswith("Runner.run")),
    ("dispatch to the worker in Python (queue, asyncio.wait/wait_for, ensure_future, pickle)",
     lambda leaf, s: any(k in s for k in ("workers.py", "queue.py", "protocol.py", "asyncio/streams.py"))),
    ("ModelVersion.submit and Prometheus metrics",
     lambda leaf, s: any(k in s for k in ("model.py", "prometheus_client", "metrics.py"))),
    ("ASGI app: predictions route, FastAPI/Starlette (routing, Request/Response)",
     lambda leaf, s: any(k in s for k in ("fastapi/", "starlette/", "pydantic", "contextlib.py", "inference_api.py"))),
    ("uvicorn protocol (Python)", lambda leaf, s: "uvicorn/" in s),
]


def layers_of_collapsed(path: Path) -> list[tuple[str, float]]:
    """Share of the samples per frontend layer (see LAYERS), largest first."""
    counts: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        leaf = stack.rsplit(";", 1)[-1]
        layer = next((name for name, match in LAYERS if match(leaf, stack)), "other (asyncio internals)")
        counts[layer] = counts.get(layer, 0) + n
    return [(name, round(100.0 * c / total, 1)) for name, c in sorted(counts.items(), key=lambda kv: -kv[1])]


def _short(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"; keep function and file name.
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file = where.rsplit(":", 1)[0]
    if "site-packages/" in file:
        file = file.split("site-packages/", 1)[1]
    elif "/openmaker/" in file:
        file = "openmaker/" + file.split("/openmaker/", 1)[1]
    return f"{name} ({file})"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.skip_torchserve:
        harness.check_torchserve_venv(args.torchserve_venv)
    info = harness.machine_info()
    spec = LoadSpec(body=b"{}", content_type="application/json", concurrency=args.concurrency,
                    duration=args.duration, warmup_requests=args.warmup_requests)
    noop_dir = harness.REPO / "examples" / "noop"
    with harness.workspace("omb-ovh-", keep=args.keep_workdir) as work:
        servers: list = [OpenmakerServer(work / "om", "noop", noop_dir, workers=1, threads=1, label="openmaker")]
        ts_version = None
        if not args.skip_torchserve:
            store = work / "ts-store"
            harness.build_torchserve_noop_mar(args.torchserve_venv, store, "noop")
            servers.append(TorchServeServer(work / "ts", args.torchserve_venv, store, "noop", workers=1,
                                            label="torchserve"))
            ts_version = harness._run_text([str(args.torchserve_venv / "bin" / "python"), "-c",
                                            "import ts.version as v; print(v.__version__)"])
        with harness.running(servers, spec.body, spec.content_type):
            harness.warm_up(servers, spec, args.warmup_seconds)
            records = harness.run_rounds(servers, spec, args.rounds)
            profile = profile_frontend(servers[0], spec, args.out, 20.0) if args.profile else None
    labels = [s.label for s in servers]
    summary = harness.summarise(records, labels)
    ratios = {}
    if "torchserve" in summary:
        om, ts = summary["openmaker"], summary["torchserve"]
        paired = harness.paired_ratios(records, "openmaker", "torchserve")
        ratios = {
            "throughput_ratio_of_medians": (om["throughput_median"] / ts["throughput_median"])
            if ts["throughput_median"] else None,
            "throughput_ratio_per_round": paired,
            "throughput_ratio_median_of_rounds": harness.median(paired),
            "p99_ratio_of_medians": (om["p99_ms_median"] / ts["p99_ms_median"])
            if om["p99_ms_median"] and ts["p99_ms_median"] else None,
        }
    params = {"concurrency": args.concurrency, "duration_s": args.duration, "rounds": args.rounds,
              "warmup_requests": args.warmup_requests, "warmup_seconds": args.warmup_seconds,
              "workers": 1, "torchserve_version": ts_version, "body": "{}", "content_type": "application/json"}
    payload = {"benchmark": NAME, "command": harness.command_line(), "machine": info, "parameters": params,
               "summary": summary, "ratios": ratios, "runs": records, "profile": profile}
    harness.write_results(NAME, payload, render(payload), args.out)
    return 0


def render(payload: dict) -> str:
    info, params, summary, ratios = payload["machine"], payload["parameters"], payload["summary"], payload["ratios"]
    lines = [
        "# Serving overhead: no-op model, 1 worker, loopback",
        "",
        f"Machine: {harness.machine_line(info)}.",
        "",
        f"Load: `run_load`, {params['concurrency']} keep-alive clients (closed loop), {params['duration_s']:g} s per run, "
        f"{params['warmup_requests']} warm-up requests before each run and {params['warmup_seconds']:g} s of "
        f"warm-up per server before the first round; {params['rounds']} alternating rounds; load generator on the same machine. "
        f"TorchServe {params['torchserve_version'] or '(not run)'}: --ncs, --disable-token-auth, 1 worker, "
        "metrics_mode=prometheus, system metrics off, async logging, log4j2 at WARN with access/metrics logs off.",
        "",
        f"Command: `{payload['command']}`",
        "",
        "## Medians over the rounds",
        "",
    ]
    rows = []
    for label, s in summary.items():
        rows.append([label, fmt(s["throughput_median"], "rps"),
                     f"{fmt(s['throughput_min'], 'rps')} – {fmt(s['throughput_max'], 'rps')}",
                     fmt(s["p50_ms_median"], "ms"), fmt(s["p90_ms_median"], "ms"), fmt(s["p99_ms_median"], "ms"),
                     s["errors_total"]])
    lines.append(harness.markdown_table(
        ["Server", "Throughput (req/s)", "Range over rounds", "p50 (ms)", "p90 (ms)", "p99 (ms)", "Errors"], rows))
    if ratios:
        om, ts = summary["openmaker"], summary["torchserve"]
        r = ratios["throughput_ratio_of_medians"]
        per_round = ", ".join(f"{x:.2f}" for x in ratios["throughput_ratio_per_round"])
        thr_ok = r is not None and r >= TARGET_RATIO
        p99_ok = om["p99_ms_median"] is not None and ts["p99_ms_median"] is not None and om["p99_ms_median"] < ts["p99_ms_median"]
        lines += [
            f"openmaker / TorchServe throughput: **{fmt(r, 'x')}** (ratio of medians); "
            f"median of the per-round ratios {fmt(ratios['throughput_ratio_median_of_rounds'], 'x')} (rounds: {per_round}).",
            f"p99: openmaker {fmt(om['p99_ms_median'], 'ms')} ms vs TorchServe {fmt(ts['p99_ms_median'], 'ms')} ms "
            f"(ratio {fmt(ratios['p99_ratio_of_medians'], 'x')}).",
            "",
            f"Target (>= {TARGET_RATIO:g}x TorchServe's req/s and a lower p99): throughput "
            f"{'met' if thr_ok else 'NOT met'}, p99 {'met' if p99_ok else 'NOT met'}.",
            "",
        ]
    prof = payload.get("profile")
    if prof and "top_self" in prof:
        lines += ["## Profile of the openmaker frontend (py-spy)", "",
                  f"{prof['samples']} samples; {fmt(prof['throughput_under_profiler'], 'rps')} req/s under the profiler; "
                  f"stacks in `{Path(prof['collapsed']).name}`.", ""]
        if prof.get("by_layer"):
            lines.append(harness.markdown_table(["Layer", "% of samples"], [[n, p] for n, p in prof["by_layer"]]))
            lines += ["`Runner.run` below is uvloop's C event loop as py-spy sees it without `--native` "
                      "(libuv polling, recv/send issued from C, httptools parsing, callback dispatch).", ""]
        lines.append(harness.markdown_table(["Function", "Self %"], [[f"`{n}`", p] for n, p in prof["top_self"][:15]]))
    lines += ["## Every run", "", harness.rounds_table(payload["runs"])]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
