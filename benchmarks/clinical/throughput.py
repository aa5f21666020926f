"""NOTE_NLP throughput (notes/s, 1-2k-character notes, rows written) on SQLite and PostgreSQL, and peak memory.

    .venv/bin/python benchmarks/clinical/throughput.py                       # 2,000 notes, 1 and 2 workers, 3 runs
    .venv/bin/python benchmarks/clinical/throughput.py --notes 100000 --dialects sqlite --workers 2 --repeat 1

Each run processes every note (``--all``: this system's rows are replaced) and
the median of ``--repeat`` runs is reported, from the first note read to the
last row committed (the detector's start-up included). Peak resident memory
is read for this process (the reader and writer) and for the largest worker.
PostgreSQL runs against a fresh database on 127.0.0.1 (dropped afterwards).
Writes results/throughput[-N].json and a PNG.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
PG_ADMIN = "postgresql://root@127.0.0.1:5432/postgres"


def _pg_database():
    import psycopg

    name = f"openmaker_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN.replace("postgresql://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"postgresql+psycopg://root@127.0.0.1:5432/{name}"


def _pg_drop(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv=None) -> int:
    from rich.progress import Progress

    from openmaker.clinical.cdm import connect
    from openmaker.clinical.eunomia import load_demo
    from openmaker.clinical.writer import NlpOptions, run_nlp

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=2000)
    parser.add_argument("--dialects", default="sqlite,postgresql")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=200)
    args = parser.parse_args(argv)
    results = {"notes": args.notes, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for dialect in args.dialects.split(","):
            pg_name = None
            if dialect == "sqlite":
                url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            else:
                pg_name, url = _pg_database()
            try:
                cdm = connect(url)
                load_demo(cdm, notes=args.notes, seed=11)
                with cdm.engine.connect() as conn:
                    from sqlalchemy import text

                    chars = conn.execute(text("SELECT AVG(LENGTH(note_text)), MIN(LENGTH(note_text)), "
                                              "MAX(LENGTH(note_text)) FROM note")).one()  # fmt: skip
                for workers in [int(w) for w in args.workers.split(",")]:
                    rates, rows = [], 0
                    for _ in range(args.repeat):
                        with Progress(transient=True) as progress:
                            task = progress.add_task(f"{dialect} x{workers}", total=args.notes)
                            report = run_nlp(cdm, NlpOptions(workers=workers, all_notes=True, batch_size=args.batch_size),
                                             on_progress=lambda done, total: progress.update(task, completed=done))  # fmt: skip
                        rates.append(report.notes_per_second)
                        rows = report.rows
                    run = {"dialect": dialect, "workers": workers, "notes_per_second": round(statistics.median(rates), 1),
                           "all_runs": [round(r, 1) for r in rates], "rows": rows,
                           "note_chars": {"mean": round(float(chars[0])), "min": chars[1], "max": chars[2]}}  # fmt: skip
                    results["runs"].append(run)
                    print(f"{dialect:10s} workers={workers}: {run['notes_per_second']:7.1f} notes/s (median of "
                          f"{args.repeat}: {run['all_runs']}), {rows} rows, notes {run['note_chars']} chars")  # fmt: skip
                cdm.engine.dispose()
            finally:
                if pg_name:
                    _pg_drop(pg_name)
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    results["peak_rss_mb"] = {"reader_writer": round(self_kb / 1024), "largest_worker": round(child_kb / 1024)}
    print(f"peak RSS: this process {self_kb / 1024:.0f} MB, largest worker {child_kb / 1024:.0f} MB")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    suffix = "" if args.notes == 2000 else f"-{args.notes}"
    (out / f"throughput{suffix}.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, out / f"throughput{suffix}.png")
    return 0


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = results["runs"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    labels = [f"{r['dialect']}\n{r['workers']} worker{'s' if r['workers'] > 1 else ''}" for r in runs]
    bars = ax.bar(labels, [r["notes_per_second"] for r in runs], color="#4a7ab5")
    ax.bar_label(bars, fmt="%.0f")
    ax.axhline(100, color="grey", linestyle="dashed", linewidth=1, label="target 100 notes/s")
    ax.set_ylabel("notes / s (rows written)")
    ax.set_title(f"NOTE_NLP throughput, {results['notes']} notes of 1-2k chars, 2 cores")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
