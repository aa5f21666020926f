"""Loopback load test of the worker portal: 50 reviewers submitting at once; no answer lost or counted twice.

    .venv/bin/python benchmarks/labeling/reviewers.py                         # SQLite and PostgreSQL
    .venv/bin/python benchmarks/labeling/reviewers.py --dialects sqlite --reviewers 20 --tasks 80
    .venv/bin/python benchmarks/labeling/reviewers.py --database-url postgresql+psycopg://root@127.0.0.1/mydb

Setup (untimed): a synthetic bulk-QA CSV of ``--tasks`` x 25 unique (image, label) items (10 classes;
the images are symbolic links, under new names in a temporary folder, to the packaged sample's
JPEGs), a job over it with ``--reviewers-per-task`` reviewers per task, and ``--reviewers`` worker
accounts in its team (passwords set with ``workforce.set_password``). The portal is the real one,
``openmaker label portal`` in a subprocess on a free loopback port, on the same database.

Load: every reviewer is an asyncio task with its own ``httpx.AsyncClient`` (its own cookies). It
signs in (the sign-in form's double-submit CSRF cookie), then loops: ``GET /jobs/<job>/work`` (the
server leases a task and answers 303 to ``/task/<token>``, followed) -> reads the page's
``data-csrf`` and the 25 checkbox names -> ``POST /task/<token>/submit`` with
``{"answer": {"<label>-<i>": {"Confirmed": bool}}, "submission": <token>}`` (about ``--untick`` of
the boxes unticked at random) -> for a random ``--resubmit`` of the answers, the same POST again
afterwards (a response lost on the way: the browser retries), and for a random ``--race`` of them
two identical POSTs at the same time (a double click) -> until the portal says "All done".

Checks against the database (exit 1 if one fails): every task has exactly ``--reviewers-per-task``
submitted assignments, from distinct workers; no worker has two assignments on one task; no lease
is left over; ``label_vote`` has items x reviewers-per-task rows and exactly one per (assignment,
item); every submitted answer is stored byte for byte under its lease; of the copies of one answer
the portal answered ``duplicate: false`` exactly once and ``duplicate: true`` for every other; no
request failed; after ``consolidate`` the confirm + disconfirm counts sum to the number of votes and
every item's counts equal what the reviewers sent. Reported: submissions, throughput (answers/s,
from the moment all reviewers are signed in to the last "All done"), the latency of the submit POST (median, p90, p99)
and of "Start working" (the lease + task page GET).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import math
import os
import platform
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SAMPLE = ROOT / "openmaker" / "labeling" / "data" / "bulkqa"
PG_ADMIN = "postgresql://root@127.0.0.1:5432/postgres"
PASSWORD = "bench password 123"
JOB = "loadtest"
BATCH = 25
CLASSES = ("Beaver", "Binocular", "Brain", "Brontosaurus", "Chandelier", "Crab", "Crayfish", "Dalmatian", "Ferry", "Lotus")

_CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
_DATA_CSRF = re.compile(r'data-csrf="([^"]+)"')
_BOX = re.compile(r'<crowd-checkbox[^>]*\sname="([^"]+)"')


# --- databases -------------------------------------------------------------------------------


def pg_database(admin: str) -> tuple[str, str]:
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"openmaker_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, make_url(admin).set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)


def pg_drop(name: str, admin: str) -> None:
    import psycopg

    from openmaker import db

    db.dispose_engines()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- setup -------------------------------------------------------------------------------------


def synthetic_csv(folder: Path, tasks: int, seed: int) -> Path:
    """``tasks`` x 25 unique (image, label) rows; images are links, under new names, to the sample's JPEGs."""
    rng = random.Random(seed)
    sources = sorted(p for p in SAMPLE.rglob("*.jpg"))
    per_class = [tasks // len(CLASSES) + (1 if c < tasks % len(CLASSES) else 0) for c in range(len(CLASSES))]
    lines = ["image_local_path,label,confidence"]
    n = 0
    for label, count in zip(CLASSES, per_class):
        (folder / label.lower()).mkdir(parents=True, exist_ok=True)
        for _ in range(count * BATCH):
            name = f"{label.lower()}/image_{n:06d}.jpg"
            os.symlink(sources[n % len(sources)], folder / name)
            lines.append(f"{name},{label},{rng.uniform(80, 100):.6f}")
            n += 1
    path = folder / "loadtest.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def prepare(lab, job: str, csv: Path, reviewers: int, per_task: int) -> list[str]:
    from openmaker.labeling import JobSpec, workforce

    emails = [f"{job}-reviewer{n:03d}@bench.example" for n in range(reviewers)]
    lab.create_team(job, members=emails)
    with lab.session() as s:
        for email in emails:
            workforce.set_password(workforce.get_user(s, email), PASSWORD)
    lab.create_job(JobSpec(job, str(csv), teams=[job], reviewers=per_task))
    return emails


class PortalProcess:
    """``openmaker label portal`` on a free loopback port, on ``database_url``, with ``home``."""

    def __init__(self, database_url: str, home: Path, log: Path):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "OPENMAKER_HOME": str(home), "OPENMAKER_DATABASE_URL": database_url}
        cli = Path(sys.executable).parent / "openmaker"
        command = [str(cli)] if cli.exists() else [sys.executable, "-c", "from openmaker.cli import main; main()"]
        self.log = open(log, "wb")
        self.proc = subprocess.Popen([*command, "label", "portal", "--host", "127.0.0.1", "--port", str(self.port)],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)  # fmt: skip

    def __enter__(self):
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the portal exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if httpx.get(f"{self.url}/signin", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the portal did not answer within 60 s")

    def __exit__(self, *exc):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# --- the load ----------------------------------------------------------------------------------


class Record:
    def __init__(self, job: str):
        self.job = job
        self.sent: dict[str, dict] = {}  # token -> the answer sent
        self.worker_of: dict[str, str] = {}
        self.responses: dict[str, list[tuple[int, dict]]] = defaultdict(list)  # token -> (status, body) per POST
        self.submit_ms: list[float] = []
        self.work_ms: list[float] = []
        self.errors: list[str] = []
        self.posts = 0


async def sign_in(url: str, email: str, record: Record):
    import httpx

    client = httpx.AsyncClient(base_url=url, follow_redirects=True, timeout=120)
    page = await client.get("/signin")
    signed = await client.post("/signin", data={"email": email, "password": PASSWORD, "csrf": _CSRF_FIELD.search(page.text).group(1)})
    if signed.status_code != 200 or "Sign out" not in signed.text:
        record.errors.append(f"{email}: sign-in failed with {signed.status_code}")
    return client


async def reviewer(client, email: str, args, rng: random.Random, record: Record, progress) -> None:
    while True:
        started = time.perf_counter()
        page = await client.get(f"/jobs/{record.job}/work")
        record.work_ms.append((time.perf_counter() - started) * 1000)
        if page.status_code == 200 and "All done" in page.text:
            return
        if page.status_code != 200 or not page.url.path.startswith("/task/"):
            record.errors.append(f"{email}: 'Start working' gave {page.status_code} at {page.url.path}")
            return
        token = page.url.path.rsplit("/", 1)[1]
        csrf = html.unescape(_DATA_CSRF.search(page.text).group(1))
        names = [html.unescape(n) for n in _BOX.findall(page.text)]
        if len(names) != BATCH:
            record.errors.append(f"{email}: task page {token} has {len(names)} checkboxes")
        answer = {name: {"Confirmed": rng.random() >= args.untick} for name in names}
        record.sent[token], record.worker_of[token] = answer, email
        body, headers = {"answer": answer, "submission": token}, {"X-CSRF-Token": csrf}

        async def post():
            t0 = time.perf_counter()
            response = await client.post(f"/task/{token}/submit", json=body, headers=headers)
            record.submit_ms.append((time.perf_counter() - t0) * 1000)
            record.posts += 1
            try:
                payload = response.json()
            except ValueError:
                payload = {"error": response.text[:200]}
            record.responses[token].append((response.status_code, payload))
            if response.status_code != 200:
                record.errors.append(f"{email}: submit of {token[:8]}… gave {response.status_code}: {payload}")

        if rng.random() < args.race:
            await asyncio.gather(post(), post())  # a double click: two copies in flight at once
        else:
            await post()
        if rng.random() < args.resubmit:
            await post()  # the first response was lost: the same answer again
        progress()


async def load(url: str, emails: list[str], args, record: Record, total: int) -> float:
    """Sign everyone in (untimed: argon2 checks), then let them all work at once; the seconds that took."""
    from rich.console import Console
    from rich.progress import Progress

    clients = await asyncio.gather(*(sign_in(url, email, record) for email in emails))
    try:
        with Progress(transient=True, console=Console(stderr=True)) as bar:
            task = bar.add_task(f"{len(emails)} reviewers", total=total)
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    reviewer(client, email, args, random.Random(args.seed * 1000 + n), record, lambda: bar.advance(task))
                    for n, (client, email) in enumerate(zip(clients, emails))
                )
            )
            return time.perf_counter() - started
    finally:
        for client in clients:
            await client.aclose()


# --- checks ------------------------------------------------------------------------------------


def verify(lab, record: Record, tasks: int, per_task: int) -> dict:
    from sqlalchemy import func, select

    from openmaker.labeling.tables import SUBMITTED, Assignment, Item, Job, Task, Vote, User

    checks: dict[str, object] = {}
    with lab.session() as s:
        job = s.scalars(select(Job).where(Job.name == record.job)).one()
        items = s.scalar(select(func.count()).select_from(Item).where(Item.job_id == job.id))
        per_task_rows = s.execute(
            select(Task.id, func.count(Assignment.id), func.count(func.distinct(Assignment.worker_id)))
            .join(Assignment, (Assignment.task_id == Task.id) & (Assignment.state == SUBMITTED), isouter=True)
            .where(Task.job_id == job.id)
            .group_by(Task.id)
        ).all()
        bad_tasks = [(t, n, d) for t, n, d in per_task_rows if n != per_task or d != per_task]
        checks["tasks"] = len(per_task_rows)
        checks["tasks_without_exactly_n_distinct_reviewers"] = len(bad_tasks)
        twice = s.execute(
            select(Assignment.task_id, Assignment.worker_id)
            .where(Assignment.job_id == job.id)
            .group_by(Assignment.task_id, Assignment.worker_id)
            .having(func.count() > 1)
        ).all()
        checks["worker_task_pairs_answered_twice"] = len(twice)
        states = dict(s.execute(select(Assignment.state, func.count()).where(Assignment.job_id == job.id).group_by(Assignment.state)).all())
        checks["assignment_states"] = states
        votes = s.scalar(select(func.count()).select_from(Vote).where(Vote.job_id == job.id))
        checks["votes"] = votes
        checks["votes_expected"] = items * per_task
        doubled = s.execute(
            select(Vote.assignment_id, Vote.item_id).where(Vote.job_id == job.id).group_by(Vote.assignment_id, Vote.item_id).having(func.count() > 1)
        ).all()
        per_assignment = s.execute(
            select(Assignment.id, func.count(Vote.item_id))
            .join(Vote, Vote.assignment_id == Assignment.id, isouter=True)
            .where(Assignment.job_id == job.id, Assignment.state == SUBMITTED)
            .group_by(Assignment.id)
        ).all()
        checks["votes_doubled"] = len(doubled)
        checks["assignments_without_25_votes"] = sum(1 for _, n in per_assignment if n != BATCH)
        stored = dict(s.execute(select(Assignment.token, Assignment.answer).where(Assignment.job_id == job.id, Assignment.state == SUBMITTED)).all())
        workers = dict(
            s.execute(select(Assignment.token, User.email).join(User, User.id == Assignment.worker_id).where(Assignment.job_id == job.id)).all()
        )
        sent_text = {t: json.dumps(a, sort_keys=True, separators=(",", ":")) for t, a in record.sent.items()}
        checks["answers_sent"] = len(sent_text)
        checks["answers_stored"] = len(stored)
        checks["answers_lost_or_changed"] = sum(1 for t, text in sent_text.items() if stored.get(t) != text or workers.get(t) != record.worker_of[t])
        checks["answers_stored_but_not_sent"] = len(set(stored) - set(sent_text))
        # Per lease: exactly one "recorded, duplicate: false"; every other copy "duplicate: true".
        firsts = Counter()
        wrong_flags = 0
        for token, responses in record.responses.items():
            fresh = sum(1 for status, body in responses if status == 200 and body.get("duplicate") is False)
            dupes = sum(1 for status, body in responses if status == 200 and body.get("duplicate") is True)
            firsts[fresh] += 1
            if fresh != 1 or fresh + dupes != len(responses):
                wrong_flags += 1
        checks["copies_posted"] = sum(len(r) for r in record.responses.values())
        checks["duplicates_reported"] = sum(1 for r in record.responses.values() for status, body in r if status == 200 and body.get("duplicate") is True)
        checks["duplicates_expected"] = checks["copies_posted"] - len(record.responses)
        checks["leases_with_wrong_duplicate_flags"] = wrong_flags
        checks["request_errors"] = len(record.errors)

    result = lab.consolidate(record.job)
    with lab.session() as s:
        counted = s.scalar(select(func.coalesce(func.sum(Item.confirm_count + Item.disconfirm_count), 0)).where(Item.job_id == job.id))
        rows = s.execute(
            select(Task.seq, Item.position, Item.label, Item.confirm_count, Item.disconfirm_count, Assignment.token)
            .join(Task, Task.id == Item.task_id)
            .join(Assignment, (Assignment.task_id == Task.id) & (Assignment.state == SUBMITTED))
            .where(Item.job_id == job.id)
        ).all()
    expected: dict[tuple[int, int], list[int]] = {}
    for seq, position, label, confirm, disconfirm, token in rows:
        answer = record.sent.get(token, {})
        entry = expected.setdefault((seq, position), [0, 0, confirm, disconfirm])
        ok = answer.get(f"{label}-{position}", {}).get("Confirmed")
        entry[0 if ok else 1] += 1
    checks["consolidated_items"] = result["items_with_answers"]
    checks["sum_of_counts"] = int(counted)
    checks["items_with_counts_unlike_the_answers"] = sum(1 for c, d, gc, gd in expected.values() if (c, d) != (gc, gd))
    ok = (
        checks["tasks"] == tasks
        and checks["tasks_without_exactly_n_distinct_reviewers"] == 0
        and checks["worker_task_pairs_answered_twice"] == 0
        and set(states) == {SUBMITTED}
        and votes == items * per_task
        and checks["votes_doubled"] == 0
        and checks["assignments_without_25_votes"] == 0
        and checks["answers_lost_or_changed"] == 0
        and checks["answers_stored_but_not_sent"] == 0
        and len(stored) == tasks * per_task
        and wrong_flags == 0
        and checks["duplicates_reported"] == checks["duplicates_expected"]
        and not record.errors
        and int(counted) == votes
        and checks["items_with_counts_unlike_the_answers"] == 0
    )
    checks["ok"] = ok
    return checks


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] if ordered else float("nan")


def run_once(dialect: str, url: str, run: int, tmp: Path, csv: Path, args) -> dict:
    """One load test on ``url`` (a job, team and reviewers of its own, named after ``run``)."""
    from openmaker.labeling import Labeling

    home = tmp / "home"
    lab = Labeling(url, home=home)
    job = f"loadtest-{run}"
    emails = prepare(lab, job, csv, args.reviewers, args.reviewers_per_task)
    record = Record(job)
    with PortalProcess(url, home, tmp / f"portal-{dialect}-{run}.log") as portal:
        elapsed = asyncio.run(load(portal.url, emails, args, record, args.tasks * args.reviewers_per_task))
    checks = verify(lab, record, args.tasks, args.reviewers_per_task)
    answers = len(record.sent)

    def quantiles(values):
        return {q: round(percentile(values, p), 1) for q, p in (("median", 50), ("p90", 90), ("p99", 99), ("max", 100))}

    out = {
        "run": run,
        "elapsed_s": round(elapsed, 2),
        "answers": answers,
        "submit_posts": record.posts,
        "answers_per_s": round(answers / elapsed, 1),
        "item_verdicts_per_s": round(answers * BATCH / elapsed, 1),
        "submit_ms": quantiles(record.submit_ms),
        "work_ms": quantiles(record.work_ms),
        "errors": record.errors[:20],
        "checks": checks,
        "ok": checks["ok"],
    }
    print(f"{dialect} run {run + 1}: {answers} answers ({record.posts} submit POSTs) in {elapsed:.1f} s, "
          f"{out['answers_per_s']} answers/s, checks {'ok' if out['ok'] else 'FAILED'}", file=sys.stderr)  # fmt: skip
    return out


def aggregate(dialect: str, runs: list[dict], args) -> dict:
    """Medians over the runs (of each run's throughput and latency percentiles)."""

    def med(key, sub=None):
        return round(statistics.median(r[key][sub] if sub else r[key] for r in runs), 1)

    return {
        "dialect": dialect,
        "reviewers": args.reviewers,
        "tasks": args.tasks,
        "reviewers_per_task": args.reviewers_per_task,
        "runs": len(runs),
        "answers": runs[0]["answers"],
        "submit_posts": [r["submit_posts"] for r in runs],
        "duplicates": [f"{r['checks']['duplicates_reported']}/{r['checks']['duplicates_expected']}" for r in runs],
        "elapsed_s": med("elapsed_s"),
        "answers_per_s": med("answers_per_s"),
        "answers_per_s_runs": [r["answers_per_s"] for r in runs],
        "item_verdicts_per_s": med("item_verdicts_per_s"),
        "submit_ms": {q: med("submit_ms", q) for q in ("median", "p90", "p99", "max")},
        "work_ms": {q: med("work_ms", q) for q in ("median", "p90", "p99", "max")},
        "ok": all(r["ok"] for r in runs),
        "all_runs": runs,
    }


def print_table(results: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    first = results[0]
    table = Table(
        title=f"{first['reviewers']} reviewers at once, {first['tasks']} tasks x {BATCH} items x {first['reviewers_per_task']} reviewers, "
        f"loopback; medians over {first['runs']} run(s)"
    )
    cols = ("database", "answers", "submit POSTs", "duplicates reported/sent", "time (s)", "answers/s (runs)",
            "submit p50/p90/p99 (ms)", "start working p50/p90/p99 (ms)", "checks")  # fmt: skip
    for col in cols:
        table.add_column(col, justify="left" if col in ("database", "checks") else "right")
    for r in results:
        s, w = r["submit_ms"], r["work_ms"]
        table.add_row(
            r["dialect"], str(r["answers"]), ", ".join(map(str, r["submit_posts"])), ", ".join(r["duplicates"]),
            f"{r['elapsed_s']:.1f}", f"{r['answers_per_s']:.1f} ({', '.join(f'{x:.0f}' for x in r['answers_per_s_runs'])})",
            f"{s['median']:.0f} / {s['p90']:.0f} / {s['p99']:.0f}", f"{w['median']:.0f} / {w['p90']:.0f} / {w['p99']:.0f}",
            "ok" if r["ok"] else "FAILED",
        )  # fmt: skip
    console = Console()
    console.width = max(console.width, 160)
    console.print(table)
    for r in results:
        for run in r["all_runs"]:
            if not run["ok"]:
                console.print(f"{r['dialect']} run {run['run'] + 1}: checks {json.dumps(run['checks'], default=str)}")
                for error in run["errors"]:
                    console.print(f"  {error}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog="See the module docstring for what is checked.")
    parser.add_argument("--reviewers", type=int, default=50, help="worker accounts submitting at once (default 50)")
    parser.add_argument("--tasks", type=int, default=200, help="tasks of 25 items in the job (default 200 = 50 x 4)")
    parser.add_argument("--reviewers-per-task", type=int, default=3, help="answers each task needs (default 3)")
    parser.add_argument("--untick", type=float, default=0.1, help="share of checkboxes unticked at random (default 0.1)")
    parser.add_argument("--resubmit", type=float, default=0.2, help="share of answers posted again afterwards (default 0.2)")
    parser.add_argument("--race", type=float, default=0.05, help="share of answers posted twice at the same time (default 0.05)")
    parser.add_argument("--dialects", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql (default both)")
    parser.add_argument("--database-url", default=None,
                        help="run on this database instead (migrated if needed; each run adds its own job, team and reviewers)")  # fmt: skip
    parser.add_argument("--postgres-admin", default=os.environ.get("OPENMAKER_TEST_POSTGRES_URL", PG_ADMIN),
                        help="a PostgreSQL URL whose user may create databases (default %(default)s)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="load tests per database, each on a fresh one (default 3)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--no-save", action="store_true", help="do not write results/reviewers.json")
    args = parser.parse_args(argv)
    if args.reviewers_per_task > args.reviewers:
        parser.error("--reviewers-per-task cannot exceed --reviewers")

    results = []
    with tempfile.TemporaryDirectory(prefix="om-reviewers-") as tmp_name:
        tmp = Path(tmp_name)
        os.environ["OPENMAKER_HOME"] = str(tmp / "home")
        from openmaker import config, db

        config.get_settings.cache_clear()
        csv = synthetic_csv(tmp / "input", args.tasks, args.seed)
        if args.database_url:
            dialects = [args.database_url.split(":", 1)[0].split("+", 1)[0]]
        else:
            dialects = [d.strip() for d in args.dialects.split(",") if d.strip()]
            for dialect in dialects:
                if dialect not in ("sqlite", "postgresql"):
                    parser.error(f"unknown dialect {dialect!r}")
        for dialect in dialects:
            runs = []
            for run in range(args.repeat):
                pg_name, url = None, args.database_url
                if url is None:
                    if dialect == "sqlite":
                        url = f"sqlite:///{tmp / f'loadtest-{run}.db'}"
                    else:
                        pg_name, url = pg_database(args.postgres_admin)
                try:
                    runs.append(run_once(dialect, url, run, tmp, csv, args))
                finally:
                    db.dispose_engines()
                    if pg_name:
                        pg_drop(pg_name, args.postgres_admin)
            results.append(aggregate(dialect, runs, args))
    out = {
        "benchmark": "labeling/reviewers",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(), "loadavg_at_end": os.getloadavg()},
        "parameters": {k: v for k, v in vars(args).items() if k not in ("json", "no_save", "postgres_admin", "database_url")},
        "results": results,
    }
    if not args.no_save:
        folder = HERE / "results"
        folder.mkdir(exist_ok=True)
        (folder / "reviewers.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    if args.json:
        print(json.dumps(out, indent=2, default=str))
    else:
        print_table(results)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
