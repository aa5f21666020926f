"""NOTE_NLP throughput (notes/s, 1-2k-character notes, rows written) on SQLite and PostgreSQL, and peak memory.

    .venv/bin/python benchmarks/clinical/throughput.py                       # 2,000 notes, 1 and 2 workers, 3 runs
    .venv/bin/python benchmarks/clinical/throughput.py --notes 100000 --dialects sqlite --workers 2 --repeat 1

Each run processes every note (``--all``: this system's rows are replaced) and
the median of ``--repeat`` runs is reported, from the first note read to the
last row committed (the detector's start-up included). The notes are
generated in a separate process first; during the runs a sampler reads
/proc every 0.2 s and records the peak of the summed resident memory of this
process (the reader and writer) and its workers, and each one's own peak.
PostgreSQL runs against a fresh database on 127.0.0.1 (dropped afterwards).
Writes results/throughput[-N].json and a PNG.
"""

from __future__ import annotations

import argparse
import json
import os
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


class MemorySampler:
    """Peak summed RSS of this process and its children, sampled from /proc (Linux)."""

    def __init__(self, interval: float = 0.2):
        import threading

        self.interval, self.peak_total, self.peak_each = interval, 0, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss_kb(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _children(self, root: int) -> list[int]:
        out = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as fh:
                        if int(fh.read().rsplit(")", 1)[1].split()[1]) == root:
                            out.append(int(entry))
                except (OSError, ValueError, IndexError):
                    continue
        return out

    def _run(self):
        me = os.getpid()
        while not self._stop.wait(self.interval):
            pids = [me] + self._children(me)
            sizes = {pid: self._rss_kb(pid) for pid in pids}
            self.peak_total = max(self.peak_total, sum(sizes.values()))
            for pid, kb in sizes.items():
                role = "reader_writer" if pid == me else "worker"
                self.peak_each[role] = max(self.peak_each.get(role, 0), kb)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _prepare(url: str, notes: int) -> None:
    from openmaker.clinical.cdm import connect
    from openmaker.clinical.eunomia import load_demo

    cdm = connect(url)
    load_demo(cdm, notes=notes, seed=11)
    cdm.engine.dispose()


def main(argv=None) -> int:
    from rich.progress import Progress

    from openmaker.clinical.cdm import connect
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
                import multiprocessing

                maker = multiprocessing.get_context("spawn").Process(target=_prepare, args=(url, args.notes))
                maker.start()
                maker.join()
                cdm = connect(url)
                with cdm.engine.connect() as conn:
                    from sqlalchemy import text

                    chars = conn.execute(text("SELECT AVG(LENGTH(note_text)), MIN(LENGTH(note_text)), "
                                              "MAX(LENGTH(note_text)) FROM note")).one()  # fmt: skip
                for workers in [int(w) for w in args.workers.split(",")]:
                    rates, rows = [], 0
                    sampler = MemorySampler()
                    with sampler:
                        for _ in range(args.repeat):
                            with Progress(transient=True) as progress:
                                task = progress.add_task(f"{dialect} x{workers}", total=args.notes)
                                report = run_nlp(cdm, NlpOptions(workers=workers, all_notes=True, batch_size=args.batch_size),
                                                 on_progress=lambda done, total: progress.update(task, completed=done))  # fmt: skip
                            rates.append(report.notes_per_second)
                            rows = report.rows
                    memory = {"peak_total_mb": round(sampler.peak_total / 1024),
                              **{f"peak_{k}_mb": round(v / 1024) for k, v in sampler.peak_each.items()}}  # fmt: skip
                    run = {"dialect": dialect, "workers": workers, "notes_per_second": round(statistics.median(rates), 1),
                           "all_runs": [round(r, 1) for r in rates], "rows": rows,
                           "note_chars": {"mean": round(float(chars[0])), "min": chars[1], "max": chars[2]},
                           "memory": memory}  # fmt: skip
                    results["runs"].append(run)
                    print(f"{dialect:10s} workers={workers}: {run['notes_per_second']:7.1f} notes/s (median of "
                          f"{args.repeat}: {run['all_runs']}), {rows} rows, notes {run['note_chars']} chars, "
                          f"memory {memory}")  # fmt: skip
                cdm.engine.dispose()
            finally:
                if pg_name:
                    _pg_drop(pg_name)
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
