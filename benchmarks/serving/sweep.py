"""The MMS-study table: EfficientNet-Lite0 under every workers x threads configuration.

Starts ``openmaker serve`` with authentication on (the management token is
read from ``$OPENMAKER_HOME/management.token`` of the temporary home the
script gives the server) and the "kitten" model (built offline with
``build_efficientnet_lite0`` into the server's model store), then runs
``openmaker.serving.bench.Sweep``: for each configuration the model is
re-registered through the management API with that many workers and
threads per worker, loaded with 16 keep-alive clients posting
``kitten_jpeg()``, and finally the original registration is restored.

The sweep is repeated ``--rounds`` times (the configuration order reversed
every other round) and each cell of the table is the median over the
rounds; ``write_report`` then writes ``results/sweep.md``, ``sweep.csv`` and
``sweep.png`` (configuration, workers, threads per worker, hourly cost, cost
per 100k requests, latency percentiles, throughput). ``results/sweep.json``
keeps every round.

Run (about 3 minutes with the defaults)::

    .venv/bin/python benchmarks/serving/sweep.py --hourly-cost 0.10
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import harness
from harness import OpenmakerServer, log

from openmaker.serving.bench import Sweep, SweepRow, cost_per_100k_requests, write_report

NAME = "sweep"
MODEL = "efficientnet-lite0"


def counts(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N[,N...], got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("counts must be >= 1")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=counts, default=(1, 2), help="worker counts (default 1,2)")
    p.add_argument("--threads", type=counts, default=(1, 2), help="threads per worker (default 1,2)")
    p.add_argument("--hourly-cost", type=float, default=0.10, help="machine cost in $/hour (default 0.10)")
    p.add_argument("--concurrency", "-c", type=int, default=16, help="concurrent keep-alive clients (default 16)")
    p.add_argument("--duration", "-d", type=float, default=10.0, help="seconds of load per configuration (default 10)")
    p.add_argument("--rounds", "-r", type=int, default=3, help="times the whole sweep runs; cells are medians (default 3)")
    p.add_argument("--warmup-requests", type=int, default=32,
                   help="unmeasured requests after each re-registration (default 32)")
    p.add_argument("--title", default=None, help="report title")
    p.add_argument("--out", type=Path, default=harness.RESULTS_DIR, help="results directory (default benchmarks/serving/results)")
    p.add_argument("--keep-workdir", action="store_true", help="keep the temporary directory (server logs)")
    args = p.parse_args(argv)
    if min(args.concurrency, args.rounds) < 1 or args.duration <= 0 or args.hourly_cost < 0:
        p.error("--concurrency and --rounds must be >= 1, --duration > 0 and --hourly-cost >= 0")
    return args


def median_row(rows: list[SweepRow]) -> SweepRow:
    """One row whose numbers are the medians of ``rows`` (the same configuration, several rounds)."""
    first = rows[0]
    throughput = harness.median([r.throughput for r in rows]) or 0.0
    return SweepRow(
        configuration=first.configuration,
        workers=first.workers,
        threads_per_worker=first.threads_per_worker,
        hourly_cost=first.hourly_cost,
        cost_per_100k_requests=cost_per_100k_requests(first.hourly_cost, throughput),
        p50_ms=harness.median([r.p50_ms for r in rows]),
        p90_ms=harness.median([r.p90_ms for r in rows]),
        p99_ms=harness.median([r.p99_ms for r in rows]),
        throughput=throughput,
        errors=sum(r.errors for r in rows),
    )


def rounds_table(per_round: list[dict]) -> str:
    rows = [[rec["round"], rec["configuration"], harness.fmt(rec["throughput"], "rps"), harness.fmt(rec["p50_ms"], "ms"),
             harness.fmt(rec["p90_ms"], "ms"), harness.fmt(rec["p99_ms"], "ms"), rec["errors"]] for rec in per_round]
    return harness.markdown_table(
        ["Round", "Configuration", "Throughput (req/s)", "p50 (ms)", "p90 (ms)", "p99 (ms)", "Errors"], rows, "rlrrrrr")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    build_efficientnet_lite0, kitten_jpeg = harness.kitten_zoo()
    info = harness.machine_info()
    body = kitten_jpeg()
    per_round: list[dict] = []
    with harness.workspace("omb-swp-", keep=args.keep_workdir) as work:
        home = work / "home"
        # In the model store, so that the management API may register it again for each configuration.
        model_dir = build_efficientnet_lite0(home / "model-store" / MODEL)
        server = OpenmakerServer(work / "om", MODEL, model_dir, workers=1, threads=1, auth=True, home=home,
                                 label="openmaker (auth on)")
        with harness.running([server], body, "image/jpeg"):
            token = server.token()
            if not token:
                raise SystemExit(f"the server wrote no {home / 'management.token'}")
            for r in range(args.rounds):
                reverse = r % 2 == 1
                sweep = Sweep(
                    MODEL,
                    body=body,
                    content_type="image/jpeg",
                    workers=tuple(reversed(args.workers)) if reverse else args.workers,
                    threads=tuple(reversed(args.threads)) if reverse else args.threads,
                    hourly_cost=args.hourly_cost,
                    management_url=server.management_url,
                    inference_url=server.predict_url,
                    token=token,
                    concurrency=args.concurrency,
                    duration=args.duration,
                    warmup=args.warmup_requests,
                    progress=False,
                )

                def on_row(row: SweepRow, r: int = r) -> None:
                    log(f"round {r + 1}/{args.rounds} {row.configuration:>20}: {row.throughput:8,.1f} req/s  "
                        f"p50 {row.p50_ms or 0:8.2f} ms  p99 {row.p99_ms or 0:8.2f} ms  errors {row.errors}")

                for row in sweep.run(on_row=on_row):
                    per_round.append({"round": r + 1, **row.as_dict()})
    order = [(w, t) for w in args.workers for t in args.threads]
    rows = [
        median_row([SweepRow(**{k: v for k, v in rec.items() if k != "round"})
                    for rec in per_round if (rec["workers"], rec["threads_per_worker"]) == (w, t)])
        for w, t in order
    ]
    title = args.title or f"{MODEL} on {info['nproc']} vCPU: workers x threads (median of {args.rounds} rounds)"
    args.out.mkdir(parents=True, exist_ok=True)
    paths = write_report(rows, args.out, title)
    params = {"workers": list(args.workers), "threads": list(args.threads), "hourly_cost": args.hourly_cost,
              "concurrency": args.concurrency, "duration_s": args.duration, "rounds": args.rounds,
              "warmup_requests": args.warmup_requests, "body_bytes": len(body), "content_type": "image/jpeg"}
    extra = "\n".join([
        "",
        f"Machine: {harness.machine_line(info)}.",
        "",
        f"Load: `Sweep` (re-registration through the management API, token auth on), {args.concurrency} keep-alive "
        f"clients posting a {len(body):,}-byte JPEG, {args.duration:g} s per configuration after "
        f"{args.warmup_requests} warm-up requests; {args.rounds} rounds (order reversed every other round), each cell "
        f"the median over the rounds (errors: the sum); hourly cost ${args.hourly_cost:.2f}; load generator on the same "
        "machine.",
        "",
        f"Command: `{harness.command_line()}`",
        "",
        "## Every round",
        "",
        rounds_table(per_round),
    ])
    markdown = paths.markdown.read_text() + extra
    paths.markdown.write_text(markdown)
    payload = {"benchmark": NAME, "command": harness.command_line(), "machine": info, "parameters": params,
               "rows": [r.as_dict() for r in rows], "rounds": per_round,
               "files": {k: str(v) for k, v in paths._asdict().items()}}
    json_path = args.out / f"{NAME}.json"
    json_path.write_text(json.dumps(payload, indent=2) + "\n")
    print(markdown)
    log(f"wrote {paths.markdown}, {paths.csv}, {paths.png} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
