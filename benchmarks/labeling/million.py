"""Bulk label QA at scale: consolidation of 1M answers and the report over 1M items, SQLite and PostgreSQL.

    .venv/bin/python benchmarks/labeling/million.py                          # 1M items, 1M answers, both databases
    .venv/bin/python benchmarks/labeling/million.py --dialects sqlite --items 200000 --repeat 5
    .venv/bin/python benchmarks/labeling/million.py --answers-per-item 3     # 1M items, 3M answers

What is timed (median of ``--repeat`` runs; each call in its own session, as the CLI and portal run them):

- **consolidate (fresh answers)**: ``Labeling.consolidate(job)``, the one ``UPDATE label_item … FROM
  (SELECT … FROM label_vote GROUP BY item_id)`` that recomputes every item's
  WorkerConfirmCount/WorkerDisconfirmCount and verdict from the recorded votes, committed, on items
  that have no counts yet (a job's first consolidation). Before every run but the first the counts
  are reset, untimed, and on PostgreSQL ``label_item`` is rewritten compact (``VACUUM FULL``), so
  every run starts from the state the load (like ``create_job``'s inserts) leaves.
- **consolidate again**: the same call right after, the counts already right (an admin pressing
  "Consolidate" again with no new answers).
- **report**: ``Labeling.report(job)`` (one grouped query over ``label_item``: label x bucket x verdict)
  plus rendering it as Markdown.

"1M answers" counts worker verdicts: one ``label_vote`` row is one worker's Confirmed/not on one
item. With the default ``--answers-per-item 1`` the job has 1,000,000 items in 40,000 tasks of 25
and one submitted assignment per task, so 1,000,000 votes; ``--answers-per-item 3`` gives every
task three reviewers (3,000,000 votes).

The job is populated straight into the tables (a team, ``--workers`` worker accounts, the job, its
tasks with their real task inputs, items with one of 10 labels per task and confidences 80-100,
submitted assignments with their crowd-form answers, and their votes, about 90 % confirmed):
PostgreSQL through ``COPY … FROM STDIN``, SQLite through ``executemany`` in one transaction. The
population is timed and printed but is not what is measured. On PostgreSQL the load is followed by
``VACUUM ANALYZE`` (what autovacuum does soon after a bulk load; ``--no-analyze`` skips it); SQLite
is left as the application leaves it (no ``ANALYZE``; ``--sqlite-analyze`` runs one). PostgreSQL
runs against a fresh database on 127.0.0.1, dropped afterwards. ``--pg-item-fillfactor 50`` is a
what-if: the load goes into a ``label_item`` created with that fillfactor (room on every page for
HOT updates), to measure a proposed schema change without making it.

Checks (exit 1 if one fails): after consolidation the items' confirm + disconfirm counts sum to the
number of votes and every item's counts and verdict equal what the generator recorded; the report's
totals (reviewed + pending) equal the number of items and its confirmed/disconfirmed/split equal
the generator's. Writes ``results/million[-<items>x<answers>].json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
PG_ADMIN = "postgresql://root@127.0.0.1:5432/postgres"
JOB = "million"
CLASSES = ("Beaver", "Binocular", "Brain", "Brontosaurus", "Chandelier", "Crab", "Crayfish", "Dalmatian", "Ferry", "Lotus")


# --- databases -------------------------------------------------------------------------------


def pg_database(admin: str = PG_ADMIN) -> tuple[str, str]:
    """A fresh, uniquely named PostgreSQL database: (name, SQLAlchemy URL)."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"openmaker_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin).set(drivername="postgresql+psycopg", database=name)
    return name, url.render_as_string(hide_password=False)


def pg_drop(name: str, admin: str = PG_ADMIN) -> None:
    import psycopg

    from openmaker import db

    db.dispose_engines()  # pooled connections would keep the database busy
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def libpq_url(sqlalchemy_url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


# --- the synthetic job -------------------------------------------------------------------------


class Expected:
    """What the generator recorded, to check consolidation and the report against."""

    def __init__(self, items: int):
        self.items = items
        self.votes = 0
        self.confirms = bytearray(items)  # per item, in item order
        self.answers = bytearray(items)
        self.verdicts = {"confirmed": 0, "disconfirmed": 0, "split": 0}

    def finish(self, policy: str) -> None:
        from openmaker.labeling.report import verdict

        counts: dict[tuple[int, int], int] = {}
        for c, a in zip(self.confirms, self.answers):
            counts[c, a] = counts.get((c, a), 0) + 1
        for (c, a), n in counts.items():
            v = verdict(c, a - c, policy)
            if v is not None:
                self.verdicts[v] += n


def make_job_rows(lab, items: int, workers: int, answers: int) -> dict:
    """The team, workers, job and job-team rows (through the ORM); returns ids the bulk rows need."""
    from sqlalchemy import select

    from openmaker.labeling.tables import Job, JobTeam, Membership, Team
    from openmaker.labeling.templates import default_template
    from openmaker.labeling.workforce import ensure_user

    output = str(lab.home / "artifacts" / "labeling" / JOB)
    with lab.session() as s:
        team = Team(name="bench reviewers")
        s.add(team)
        s.flush()
        ids = []
        for n in range(workers):
            user = ensure_user(s, f"reviewer{n:03d}@bench.example")
            s.add(Membership(team_id=team.id, user_id=user.id))
            ids.append(user.id)
        job = Job(
            name=JOB, input_uri="s3://openmaker-bench/million.csv", output_uri=output,
            manifest_uri=f"{output}/manifests/input/manifest.json", template=default_template(),
            label_attribute_name=JOB, reviewers=answers, batch_size=25, min_confidence=80.0, policy="unanimous",
        )  # fmt: skip
        s.add(job)
        s.flush()
        s.add(JobTeam(job_id=job.id, team_id=team.id))
        s.flush()
        from sqlalchemy import func

        from openmaker.labeling.tables import Assignment, Item, Task

        base = {t.__tablename__: (s.scalar(select(func.max(t.id))) or 0) + 1 for t in (Task, Item, Assignment)}
        return {"job_id": job.id, "policy": job.policy, "workers": ids, "output": output, "base": base}


def generate(meta: dict, items: int, batch: int, answers: int, seed: int, expected: Expected):
    """Yield ("task"|"item"|"assignment"|"vote", row) in an order that respects the foreign keys per kind.

    Returns four lists of row generators' inputs, built lazily per task to keep memory small.
    """
    rng = random.Random(seed)
    job_id, workers, output = meta["job_id"], meta["workers"], meta["output"]
    task_base, item_base, asg_base = meta["base"]["label_task"], meta["base"]["label_item"], meta["base"]["label_assignment"]
    tasks = (items + batch - 1) // batch
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for seq in range(tasks):
        label = CLASSES[rng.randrange(len(CLASSES))]
        first = seq * batch
        count = min(batch, items - first)
        entries = []
        for position in range(count):
            n = first + position
            confidence = round(rng.uniform(80.0, 100.0), 6)
            image = f"s3://openmaker-bench/images/{label.lower()}/image_{n:07d}.jpg"
            entries.append((item_base + n, position, image, confidence))
        source = [{"s3_image_url": image, "label": label, "confidence": repr(conf)} for _, _, image, conf in entries]
        task_id = task_base + seq
        task_row = (
            task_id, job_id, seq, json.dumps({"source-ref": f"{output}/custom-labeling-inputs/{seq}.json"}),
            json.dumps({"sourceRef": source}), True,
        )  # fmt: skip
        item_rows = [(item_id, job_id, task_id, position, image, label, conf, 0, 0) for item_id, position, image, conf in entries]
        asg_rows, vote_rows = [], []
        for r in range(answers):
            asg_id = asg_base + seq * answers + r
            worker = workers[(seq + r) % len(workers)]
            verdicts = [rng.random() < 0.9 for _ in entries]
            answer = json.dumps({f"{label}-{p}": {"Confirmed": ok} for p, ok in enumerate(verdicts)}, sort_keys=True, separators=(",", ":"))
            leased = now - timedelta(minutes=30 - r)
            asg_rows.append((asg_id, secrets.token_urlsafe(32), job_id, task_id, worker, "submitted", leased, leased + timedelta(minutes=30), leased + timedelta(minutes=2), answer))
            for (item_id, _, _, _), ok in zip(entries, verdicts):
                vote_rows.append((asg_id, item_id, job_id, ok))
                expected.confirms[item_id - item_base] += ok
                expected.answers[item_id - item_base] += 1
            expected.votes += len(entries)
        yield task_row, item_rows, asg_rows, vote_rows


TASK_COLS = ("id", "job_id", "seq", "data_object", "task_input", "human_required")
ITEM_COLS = ("id", "job_id", "task_id", "position", "image", "label", "confidence", "confirm_count", "disconfirm_count")
ASG_COLS = ("id", "token", "job_id", "task_id", "worker_id", "state", "leased_at", "expires_at", "submitted_at", "answer")
VOTE_COLS = ("assignment_id", "item_id", "job_id", "confirmed")
TABLES = (("label_task", TASK_COLS), ("label_item", ITEM_COLS), ("label_assignment", ASG_COLS), ("label_vote", VOTE_COLS))


class Buffers:
    """Rows of each table, flushed in chunks (tables in foreign-key order)."""

    def __init__(self, write, chunk: int = 50_000):
        self.write, self.chunk = write, chunk
        self.rows: list[list] = [[], [], [], []]

    def add(self, task_row, item_rows, asg_rows, vote_rows) -> None:
        self.rows[0].append(task_row)
        self.rows[1].extend(item_rows)
        self.rows[2].extend(asg_rows)
        self.rows[3].extend(vote_rows)
        if len(self.rows[3]) >= self.chunk or len(self.rows[1]) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        for index, (table, cols) in enumerate(TABLES):
            if self.rows[index]:
                self.write(table, cols, self.rows[index])
                self.rows[index] = []


def populate_sqlite(path: str, rows, progress, task, analyze: bool) -> None:
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")  # this connection only; the measured sessions use the app's settings
    conn.execute("PRAGMA cache_size=-262144")

    def _iso(row):
        return tuple(v.isoformat(sep=" ") if isinstance(v, datetime) else v for v in row)

    def write(table, cols, chunk):
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        if table == "label_assignment":
            chunk = [_iso(r) for r in chunk]
        conn.executemany(sql, chunk)

    buffers = Buffers(write)
    conn.execute("BEGIN")
    for parts in rows:
        buffers.add(*parts)
        progress.advance(task)
    buffers.flush()
    conn.commit()
    if analyze:
        conn.execute("ANALYZE")
    conn.close()


def populate_postgresql(url: str, rows, progress, task, analyze: bool) -> None:
    import psycopg

    conn = psycopg.connect(libpq_url(url))
    cur = conn.cursor()

    def write(table, cols, chunk):
        with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
            for row in chunk:
                copy.write_row(row)

    buffers = Buffers(write)
    for parts in rows:
        buffers.add(*parts)
        progress.advance(task)
    buffers.flush()
    for table in ("label_task", "label_item", "label_assignment"):
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    conn.commit()
    if analyze:
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE")
    conn.close()


def reset_counts(dialect: str, url: str, job_id: int, analyze: bool) -> None:
    """Back to the state the load left (untimed): counts 0, no verdict, and on PostgreSQL a compact table.

    ``VACUUM FULL`` rewrites ``label_item`` without the dead row versions the reset leaves, as
    ``create_job``'s inserts leave it; without it the next consolidation would find free space on
    every page (HOT updates) and look faster than a job's first consolidation.
    """
    sql = f"UPDATE label_item SET confirm_count = 0, disconfirm_count = 0, verdict = NULL WHERE job_id = {int(job_id)}"
    if dialect == "sqlite":
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        with conn:
            conn.execute(sql)
        conn.close()
        return
    import psycopg

    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(sql)
        conn.execute("VACUUM FULL ANALYZE label_item" if analyze else "VACUUM FULL label_item")


# --- measuring -------------------------------------------------------------------------------


def database_checks(lab, job_id: int, item_base: int, expected: Expected) -> dict:
    """Counts after consolidation, compared with the generator's record."""
    from sqlalchemy import text

    from openmaker.labeling.report import verdict

    with lab.session() as s:
        votes = s.scalar(text("SELECT count(*) FROM label_vote WHERE job_id = :j"), {"j": job_id})
        counted, items = s.execute(
            text("SELECT coalesce(sum(confirm_count + disconfirm_count), 0), count(*) FROM label_item WHERE job_id = :j"), {"j": job_id}
        ).one()
        wrong = 0
        for item_id, confirm, disconfirm, v in s.execute(
            text("SELECT id, confirm_count, disconfirm_count, verdict FROM label_item WHERE job_id = :j"), {"j": job_id}
        ).yield_per(50_000):
            k = item_id - item_base
            c, a = expected.confirms[k], expected.answers[k]
            if confirm != c or disconfirm != a - c or v != verdict(c, a - c, "unanimous"):
                wrong += 1
    return {
        "votes": votes,
        "votes_expected": expected.votes,
        "sum_counts": int(counted),
        "items": items,
        "items_with_wrong_counts": wrong,
        "ok": votes == expected.votes and int(counted) == votes and items == expected.items and wrong == 0,
    }


def report_checks(report, expected: Expected) -> dict:
    t = report.totals
    got = {"confirmed": t.confirmed, "disconfirmed": t.disconfirmed, "split": t.split}
    return {
        "report_reviewed": t.total,
        "report_pending": t.pending,
        "report_verdicts": got,
        "expected_verdicts": expected.verdicts,
        "ok": t.total + t.pending == expected.items and got == expected.verdicts,
    }


def timed(fn, repeat: int) -> tuple[list[float], object]:
    runs, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - started)
    return runs, out


def summary(runs: list[float]) -> dict:
    return {"median_s": round(statistics.median(runs), 3), "min_s": round(min(runs), 3), "max_s": round(max(runs), 3), "runs_s": [round(r, 3) for r in runs]}


def run_dialect(dialect: str, url: str, home: Path, args) -> dict:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from openmaker.labeling import Labeling
    from openmaker.labeling.report_render import render

    lab = Labeling(url, home=home)
    meta = make_job_rows(lab, args.items, args.workers, args.answers_per_item)
    if dialect == "postgresql" and args.pg_item_fillfactor:
        import psycopg

        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            conn.execute(f"ALTER TABLE label_item SET (fillfactor = {int(args.pg_item_fillfactor)})")
    expected = Expected(args.items)
    tasks = (args.items + args.batch - 1) // args.batch
    started = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True, console=Console(stderr=True)) as progress:
        bar = progress.add_task(f"{dialect}: populating (tasks)", total=tasks)
        rows = generate(meta, args.items, args.batch, args.answers_per_item, args.seed, expected)
        if dialect == "sqlite":
            populate_sqlite(url.removeprefix("sqlite:///"), rows, progress, bar, args.sqlite_analyze)
        else:
            populate_postgresql(url, rows, progress, bar, not args.no_analyze)
    populate_s = time.perf_counter() - started
    expected.finish(meta["policy"])
    print(f"{dialect}: populated {args.items:,} items, {tasks:,} tasks, {expected.votes:,} votes in {populate_s:.1f} s", file=sys.stderr)

    fresh_runs, again_runs, result = [], [], None
    for n in range(args.repeat):
        if n:
            reset_counts(dialect, url, meta["job_id"], not args.no_analyze)
        runs, result = timed(lambda: lab.consolidate(JOB), 1)
        fresh_runs += runs
        runs, _ = timed(lambda: lab.consolidate(JOB), 1)
        again_runs += runs
        print(f"{dialect}: consolidate {n + 1}/{args.repeat}: fresh {fresh_runs[-1]:.2f} s, again {again_runs[-1]:.2f} s", file=sys.stderr)
    db_check = database_checks(lab, meta["job_id"], meta["base"]["label_item"], expected)

    def report():
        rep = lab.report(JOB)
        return rep, render(rep, "md", title=JOB)

    report_runs, (rep, markdown) = timed(report, args.repeat)
    print(f"{dialect}: report {[round(r, 2) for r in report_runs]} s", file=sys.stderr)
    rep_check = report_checks(rep, expected)
    return {
        "dialect": dialect,
        "items": args.items,
        "tasks": tasks,
        "answers": expected.votes,
        "populate_s": round(populate_s, 1),
        "pg_item_fillfactor": args.pg_item_fillfactor if dialect == "postgresql" else None,
        "consolidate": summary(fresh_runs),
        "reconsolidate": summary(again_runs),
        "consolidate_result": result,
        "report": summary(report_runs),
        "report_markdown_chars": len(markdown),
        "checks": {"database": db_check, "report": rep_check},
        "ok": db_check["ok"] and rep_check["ok"],
    }


def print_table(results: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Bulk label QA at scale: seconds, median of runs (runs); target < 10 s each")
    for col in ("database", "items", "answers", "populate", "consolidate (fresh answers)", "consolidate again", "report + md", "checks"):
        table.add_column(col, justify="left" if col in ("database", "checks") else "right")

    def cell(m):
        return f"{m['median_s']:.2f} ({', '.join(f'{x:.2f}' for x in m['runs_s'])})"

    for r in results:
        table.add_row(
            r["dialect"], f"{r['items']:,}", f"{r['answers']:,}", f"{r['populate_s']:.1f}",
            cell(r["consolidate"]), cell(r["reconsolidate"]), cell(r["report"]), "ok" if r["ok"] else "FAILED",
        )  # fmt: skip
    console = Console()
    console.width = max(console.width, 150)
    console.print(table)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog="See the module docstring for what is timed.")
    parser.add_argument("--items", type=int, default=1_000_000, help="items (image, label) in the job (default 1,000,000)")
    parser.add_argument("--answers-per-item", type=int, default=1, help="reviewers per task: votes = items x this (default 1)")
    parser.add_argument("--batch", type=int, default=25, help="items per task (default 25)")
    parser.add_argument("--workers", type=int, default=100, help="worker accounts the assignments are spread over (default 100)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each operation (default 3)")
    parser.add_argument("--dialects", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--postgres-admin", default=os.environ.get("OPENMAKER_TEST_POSTGRES_URL", PG_ADMIN),
                        help="a PostgreSQL URL whose user may create databases (default %(default)s)")  # fmt: skip
    parser.add_argument("--no-analyze", action="store_true", help="PostgreSQL: skip VACUUM ANALYZE after the load")
    parser.add_argument("--pg-item-fillfactor", type=int, default=None, metavar="PERCENT",
                        help="what-if: ALTER TABLE label_item SET (fillfactor=PERCENT) before the load (PostgreSQL)")  # fmt: skip
    parser.add_argument("--sqlite-analyze", action="store_true", help="SQLite: run ANALYZE after the load")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--no-save", action="store_true", help="do not write results/million[-N].json")
    args = parser.parse_args(argv)
    if args.answers_per_item > args.workers:
        parser.error("--answers-per-item cannot exceed --workers (one assignment per task and worker)")

    results = []
    with tempfile.TemporaryDirectory(prefix="om-million-") as tmp:
        os.environ["OPENMAKER_HOME"] = str(Path(tmp) / "home")
        from openmaker import config, db

        config.get_settings.cache_clear()
        for dialect in [d.strip() for d in args.dialects.split(",") if d.strip()]:
            pg_name = None
            if dialect == "sqlite":
                url = f"sqlite:///{Path(tmp) / f'million-{uuid.uuid4().hex[:6]}.db'}"
            elif dialect == "postgresql":
                pg_name, url = pg_database(args.postgres_admin)
            else:
                parser.error(f"unknown dialect {dialect!r}")
            try:
                results.append(run_dialect(dialect, url, Path(tmp) / "home", args))
            finally:
                db.dispose_engines()
                if pg_name:
                    pg_drop(pg_name, args.postgres_admin)
    out = {
        "benchmark": "labeling/million",
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(), "loadavg_at_end": os.getloadavg()},
        "parameters": {k: v for k, v in vars(args).items() if k not in ("json", "no_save", "postgres_admin")},
        "results": results,
    }
    if not args.no_save:
        folder = HERE / "results"
        folder.mkdir(exist_ok=True)
        suffix = "" if (args.items, args.answers_per_item) == (1_000_000, 1) else f"-{args.items}x{args.answers_per_item}"
        suffix += f"-ff{args.pg_item_fillfactor}" if args.pg_item_fillfactor else ""
        (folder / f"million{suffix}.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    if args.json:
        print(json.dumps(out, indent=2, default=str))
    else:
        print_table(results)
        for r in results:
            if not r["ok"]:
                print(f"{r['dialect']}: CHECKS FAILED: {json.dumps(r['checks'], default=str)}")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
