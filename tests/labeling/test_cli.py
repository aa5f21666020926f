"""`openmaker label`: teams and invitations, jobs and their tasks, answers, consolidation, the QA report,
exports, bad input (exit 2, one line, no traceback), and invitation emails over a real SMTP socket."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import re
import shutil
import socket
import socketserver
import sys
import threading
from collections import OrderedDict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openmaker.cli import app
from openmaker.config import get_settings
from openmaker.labeling.errors import LabelingError

runner = CliRunner()
SAMPLE_DIR = Path(__file__).resolve().parents[2] / "openmaker" / "labeling" / "data" / "bulkqa"
SMALLSAMPLE = SAMPLE_DIR / "smallsample.csv"
SHELLFISH = Path(__file__).resolve().parent / "data" / "shellfish.csv"
WORKERS = ("ana@example.org", "ben@example.org", "cy@example.org")
EDGES = (80.0, 85.0, 90.0, 95.0, 100.0)
LINK = re.compile(r"(\S+@\S+): (https?://\S+/invite/([A-Za-z0-9_-]{20,}))")


@pytest.fixture(autouse=True)
def _no_smtp(monkeypatch):
    """The developer's SMTP settings must not send mail from the tests."""
    for name in ("HOST", "PORT", "FROM", "USER", "PASSWORD", "STARTTLS"):
        monkeypatch.delenv(f"OPENMAKER_SMTP_{name}", raising=False)
    monkeypatch.delenv("OPENMAKER_PORTAL_URL", raising=False)
    monkeypatch.delenv("OPENMAKER_PORTAL_PORT", raising=False)
    get_settings.cache_clear()


def invoke(*args, input: str | None = None):
    return runner.invoke(app, ["label", *map(str, args)], input=input)


def ok(result):
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    return result.stdout


def bad(result, *fragments: str) -> str:
    """Exit 2 with ``error: <message>`` on stderr naming the problem, and no traceback anywhere."""
    assert result.exit_code == 2, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    message = result.stderr.strip()
    assert message.startswith("error: "), message
    assert len(message.splitlines()) == 1, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def links_of(output: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in LINK.finditer(output)}


def invitation_email(token: str) -> str:
    from openmaker.labeling.api import Labeling
    from openmaker.labeling.workforce import invitation_user

    with Labeling().session() as s:
        return invitation_user(s, token).email


# --- the sample job, computed independently of the room's code ------------------------------------------


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def expected_batches(path: Path, size: int = 25, min_confidence: float = 80.0) -> list[list[dict]]:
    """Rows with confidence >= min, grouped by label (first-seen order, input order), cut every ``size``."""
    groups: OrderedDict[str, list[dict]] = OrderedDict()
    for row in read_rows(path):
        if float(row["confidence"]) >= min_confidence:
            groups.setdefault(row["label"], []).append(row)
    return [rows[i : i + size] for rows in groups.values() for i in range(0, len(rows), size)]


def create_team(name: str = "reviewers", members=WORKERS, *extra) -> str:
    args = ["team", "create", name]
    for member in members:
        args += ["--member", member]
    return ok(invoke(*args, *extra))


def create_job(name: str, source: Path, *extra) -> str:
    return ok(invoke("job", "create", name, "--input", source, "--team", "reviewers", *extra))


def job_tasks(name: str) -> list[dict]:
    return json.loads(ok(invoke("job", "tasks", name, "--json")))


def write_answer(tmp_path: Path, task: dict, unticked: set[int], name: str) -> Path:
    answer = {f"{item['label']}-{i}": {"Confirmed": i not in unticked} for i, item in enumerate(task["items"])}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(answer))
    return path


@pytest.fixture
def smallsample(tmp_path) -> list[dict]:
    """Team ``reviewers`` (3 workers) and job ``smallsample`` (3 reviewers a task); its tasks."""
    create_team()
    out = create_job("smallsample", SMALLSAMPLE, "--reviewers", "3")
    assert "tasks: 9" in out and "items: 189" in out
    return job_tasks("smallsample")


# --- teams and admins -----------------------------------------------------------------------------------


def test_team_create_prints_one_time_invitation_links():
    out = create_team("reviewers", WORKERS, "--portal-url", "https://portal.example.org:9443/")
    links = links_of(out)
    assert set(links) == set(WORKERS)
    for address, url in links.items():
        assert url.startswith("https://portal.example.org:9443/invite/")
        assert out.count(address) >= 2  # in the members' table and beside its link
        assert invitation_email(url.rsplit("/", 1)[1]) == address
    assert len(set(links.values())) == 3

    listed = json.loads(ok(invoke("team", "list", "--json")))
    assert listed == [
        {"name": "reviewers", "kind": "private", "members": [{"email": e, "team_admin": False, "signed_up": False} for e in WORKERS]}
    ]


def test_default_portal_url_is_the_settings_port(monkeypatch):
    monkeypatch.setenv("OPENMAKER_PORTAL_PORT", "9123")
    get_settings.cache_clear()
    links = links_of(create_team("reviewers", ["dee@example.org"]))
    assert re.fullmatch(r"http://127\.0\.0\.1:9123/invite/[A-Za-z0-9_-]+", links["dee@example.org"])
    monkeypatch.setenv("OPENMAKER_PORTAL_URL", "https://review.example.org/")
    get_settings.cache_clear()
    links = links_of(ok(invoke("team", "invite", "reviewers", "dee@example.org")))
    assert links["dee@example.org"].startswith("https://review.example.org/invite/")


def test_admin_create_and_members_with_a_password_get_no_link():
    from openmaker.labeling.api import Labeling
    from openmaker.labeling.workforce import authenticate

    out = ok(invoke("admin", "create", "Root@Example.org"))
    password = re.search(r"^password: (\S+)$", out, re.M).group(1)
    assert len(password) >= 16
    with Labeling().session() as s:
        assert authenticate(s, "root@example.org", password).role == "admin"
    out = ok(invoke("admin", "create", "boss@example.org", "--password-stdin", input="correct horse battery\n"))
    assert "password:" not in out
    with Labeling().session() as s:
        assert authenticate(s, "boss@example.org", "correct horse battery").role == "admin"
    bad(invoke("admin", "create", "short@example.org", "--password-stdin", input="tiny\n"), "at least 10 characters")
    bad(invoke("admin", "create", "not-an-email"), "'not-an-email' is not an email address")

    # A vendor team: its admin is marked; a member who already has a password needs no link.
    out = ok(invoke("team", "create", "acme", "--vendor", "--member", "root@example.org", "--member", "w@acme.example",
                    "--admin", "lead@acme.example"))  # fmt: skip
    assert set(links_of(out)) == {"w@acme.example", "lead@acme.example"}
    (team,) = json.loads(ok(invoke("team", "list", "--json")))
    assert team["kind"] == "vendor"
    assert {m["email"]: (m["team_admin"], m["signed_up"]) for m in team["members"]} == {
        "lead@acme.example": (True, False),
        "root@example.org": (False, True),
        "w@acme.example": (False, False),
    }
    assert "acme" in ok(invoke("team", "list"))


def test_team_invite_adds_members_and_replaces_earlier_links():
    from openmaker.labeling.errors import NotFound

    first = links_of(create_team("reviewers", ["ana@example.org"]))["ana@example.org"]
    out = ok(invoke("team", "invite", "reviewers", "ana@example.org", "new@example.org", "--portal-url", "http://p:1"))
    links = links_of(out)
    assert set(links) == {"ana@example.org", "new@example.org"}
    assert links["ana@example.org"] != first
    assert invitation_email(links["new@example.org"].rsplit("/", 1)[1]) == "new@example.org"
    with pytest.raises(NotFound):
        invitation_email(first.rsplit("/", 1)[1])  # the earlier link stopped working
    (team,) = json.loads(ok(invoke("team", "list", "--json")))
    assert [m["email"] for m in team["members"]] == ["ana@example.org", "new@example.org"]

    bad(invoke("team", "invite", "nobody", "x@example.org"), "no team 'nobody'")
    bad(invoke("team", "invite", "reviewers", "x@example.org", "--role", "boss"), "--role must be one of worker, admin")
    bad(invoke("team", "invite", "reviewers", "x@example.org", "--portal-url", "portal:8091"), "--portal-url")
    bad(invoke("team", "create", "reviewers", "--member", "z@example.org"), "team 'reviewers' already exists")
    bad(invoke("team", "create", "other", "--member", "z@example.org", "--admin", "y@example.org"), "vendor teams")


# --- jobs and tasks ---------------------------------------------------------------------------------------


def test_job_create_and_tasks_json(smallsample):
    tasks = smallsample
    batches = expected_batches(SMALLSAMPLE)
    assert [len(b) for b in batches] == [25, 10, 24, 24, 24, 25, 25, 7, 25]
    assert len(tasks) == len(batches)
    assert len({t["id"] for t in tasks}) == len(tasks) and all(isinstance(t["id"], int) for t in tasks)
    assert [t["seq"] for t in tasks] == list(range(len(tasks)))
    for task, batch in zip(tasks, batches):
        assert [(Path(i["s3_image_url"]), i["label"], float(i["confidence"])) for i in task["items"]] == [
            (SAMPLE_DIR / r["image_local_path"], r["label"], float(r["confidence"])) for r in batch
        ]
        assert task["input"] == {"sourceRef": task["items"]}
    # Every batch holds 25 items except the last of its label.
    by_label: dict[str, list[int]] = {}
    for task in tasks:
        by_label.setdefault(task["items"][0]["label"], []).append(len(task["items"]))
    for sizes in by_label.values():
        assert all(n == 25 for n in sizes[:-1]) and 1 <= sizes[-1] <= 25

    shown = json.loads(ok(invoke("job", "show", "smallsample", "--json")))
    assert shown["progress"]["tasks"] == 9 and shown["progress"]["items"] == 189
    assert shown["progress"]["answers_needed"] == 27 and shown["teams"] == ["reviewers"]
    manifest = Path(shown["manifest"]).read_text().splitlines()
    assert [json.loads(line) for line in manifest] == [t["dataObject"] for t in tasks]
    assert "answers: 0 of 27" in ok(invoke("job", "show", "smallsample"))
    (listed,) = json.loads(ok(invoke("job", "list", "--json")))
    assert listed["name"] == "smallsample"
    assert "smallsample" in ok(invoke("job", "list"))
    table = ok(invoke("job", "tasks", "smallsample"))
    assert "Soccer Ball" in table and "Stopsign" in table


def test_shellfish_columns_in_another_order(tmp_path):
    create_team()
    out = create_job("shellfish", SHELLFISH, "--no-check-images", "--batch-size", "20")
    rows = read_rows(SHELLFISH)
    assert len(rows) == 367
    kept = sum(1 for r in rows if float(r["confidence"]) >= 80)
    assert kept == 245
    assert "items: 245" in out
    tasks = job_tasks("shellfish")
    batches = expected_batches(SHELLFISH, size=20)
    assert [len(t["items"]) for t in tasks] == [len(b) for b in batches]
    assert sum(len(t["items"]) for t in tasks) == 245
    for task, batch in zip(tasks, batches):
        assert [(i["label"], float(i["confidence"])) for i in task["items"]] == [(r["label"], float(r["confidence"])) for r in batch]
    assert json.loads(ok(invoke("job", "show", "shellfish", "--json")))["progress"]["items"] == 245
    # The images are not in the repository: checking them fails, naming one.
    bad(invoke("job", "create", "shellfish-checked", "--input", SHELLFISH, "--team", "reviewers"), "does not exist")


# --- answers, consolidation, report, export ---------------------------------------------------------------


WRONG_FOR_ALL = {(1, 9), (2, 12), (3, 0), (3, 12), (8, 24), (8, 1)}  # every worker disconfirms these


def untick_rule(worker: int, seq: int, position: int) -> bool:
    """Which checkboxes each worker unticks (False = disconfirm)."""
    if (seq, position) in WRONG_FOR_ALL:
        return True
    if worker == 0:
        return position % 7 == 3
    if worker == 1:
        return seq % 2 == 0 and position % 5 == 0
    return (seq + position) % 11 == 0 or (seq == 1 and position in (4, 5))


def expected_report(items: list[tuple[str, float, int, int]], policy: str = "unanimous", ratio: float = 10.0) -> dict:
    """The report's numbers from (label, confidence, confirm, disconfirm), by the rules written out."""

    def verdict(c: int, d: int):
        if c + d == 0:
            return None
        if policy == "unanimous":
            return "confirmed" if d == 0 else "disconfirmed" if c == 0 else "split"
        return "confirmed" if c > d else "disconfirmed" if d > c else "split"

    def bucket(conf: float):
        if conf < EDGES[0] or conf > EDGES[-1]:
            return None
        if conf == EDGES[-1]:
            return len(EDGES) - 2
        return max(i for i in range(len(EDGES) - 1) if EDGES[i] <= conf)

    def stats(rows: list[tuple[str, float, str | None]]) -> dict:
        counts = {v: sum(1 for _, _, w in rows if w == v) for v in ("confirmed", "disconfirmed", "split")}
        total = sum(counts.values())
        buckets = []
        for i in range(len(EDGES) - 1):
            inside = [w for _, conf, w in rows if w is not None and bucket(conf) == i]
            right = inside.count("confirmed")
            buckets.append({"total": len(inside), "incorrect": len(inside) - right, "correct": right,
                            "percent": 100.0 * right / len(inside) if inside else 0.0})  # fmt: skip
        threshold = EDGES[0]
        for i in range(len(buckets) - 1, -1, -1):
            if buckets[i]["incorrect"] * ratio > buckets[i]["correct"]:
                threshold = EDGES[i + 1]
                break
        return {
            "total": total, **counts,
            "percent": 100.0 * counts["confirmed"] / total if total else 0.0,
            "buckets": buckets, "threshold": threshold,
            "pending": sum(1 for _, _, w in rows if w is None),
        }  # fmt: skip

    judged = [(label, conf, verdict(c, d)) for label, conf, c, d in items]
    labels = sorted({label for label, _, _ in judged}, key=lambda s: (s.casefold(), s))
    classes = {label: stats([row for row in judged if row[0] == label]) for label in labels}
    reviewed = [c for c in classes.values() if c["total"]]
    return {
        "labels": labels,
        "classes": classes,
        "totals": stats(judged),
        "average": sum(c["percent"] for c in reviewed) / len(reviewed) if reviewed else 0.0,
        "average_buckets": [sum(c["buckets"][i]["percent"] for c in reviewed) / len(reviewed) if reviewed else 0.0
                            for i in range(len(EDGES) - 1)],  # fmt: skip
    }


def assert_class(got: dict, want: dict) -> None:
    for key in ("total", "confirmed", "disconfirmed", "split", "pending"):
        assert got[key] == want[key], (got["label"], key, got[key], want[key])
    assert got["percent_correct"] == round(want["percent"], 2), got["label"]
    assert got["threshold"] == want["threshold"], got["label"]
    assert [(b["low"], b["high"]) for b in got["buckets"]] == list(zip(EDGES, EDGES[1:]))
    assert [(b["total"], b["incorrect"], b["percent_correct"]) for b in got["buckets"]] == [
        (b["total"], b["incorrect"], round(b["percent"], 2)) for b in want["buckets"]
    ], got["label"]


def assert_report(got: dict, want: dict) -> None:
    assert [c["label"] for c in got["classes"]] == want["labels"]
    for row in got["classes"]:
        assert_class(row, want["classes"][row["label"]])
    assert_class(got["totals"], want["totals"])
    assert got["class_average"]["percent_correct"] == round(want["average"], 2)
    assert [b["percent_correct"] for b in got["class_average"]["buckets"]] == [round(p, 2) for p in want["average_buckets"]]


def test_answers_consolidate_report_and_export(smallsample, tmp_path):
    tasks = smallsample
    skipped = 7  # nobody answers the task of seq 7 (the 7 last Soccer Ball items): they stay pending
    votes: dict[tuple[int, int], list[int]] = {}
    for task in tasks:
        for position in range(len(task["items"])):
            votes[task["seq"], position] = [0, 0]
        if task["seq"] == skipped:
            continue
        for w, worker in enumerate(WORKERS):
            unticked = {p for p in range(len(task["items"])) if untick_rule(w, task["seq"], p)}
            path = write_answer(tmp_path, task, unticked, f"{w}-{task['seq']}")
            args = ["submit", "smallsample", "--task", task["id"], "--worker", worker, "--answers"]
            if w == 2:  # one worker's answers come on stdin
                assert ok(invoke(*args, "-", input=path.read_text())).strip() == "recorded"
            else:
                assert ok(invoke(*args, path)).strip() == "recorded"
            for position in range(len(task["items"])):
                votes[task["seq"], position][1 if position in unticked else 0] += 1
    assert sum(c + d for c, d in votes.values()) == 3 * (189 - 7)
    # A retry with the same answer is recorded once; a different second answer is refused.
    task = tasks[0]
    same = write_answer(tmp_path, task, {p for p in range(25) if untick_rule(0, 0, p)}, "same")
    assert ok(invoke("submit", "smallsample", "--task", task["id"], "--worker", WORKERS[0], "--answers", same)).strip() == (
        "already recorded (same answer)"
    )
    other = write_answer(tmp_path, task, set(), "other")
    bad(invoke("submit", "smallsample", "--task", task["id"], "--worker", WORKERS[0], "--answers", other), "already submitted")

    out = ok(invoke("consolidate", "smallsample"))
    assert out.splitlines()[0] == "182 of 189 item(s) have answers"
    progress = json.loads(ok(invoke("job", "show", "smallsample", "--json")))["progress"]
    assert (progress["answers"], progress["tasks_complete"], progress["workers"]) == (24, 8, 3)

    items = [
        (item["label"], float(item["confidence"]), *votes[task["seq"], p])
        for task in tasks
        for p, item in enumerate(task["items"])
    ]
    want = expected_report(items)
    assert want["classes"]["Soccer Ball"]["pending"] == 7
    assert want["totals"]["split"] > 0 and want["totals"]["disconfirmed"] > 0  # the rules exercise every verdict
    chart = tmp_path / "charts" / "qa.png"
    result = invoke("report", "smallsample", "--format", "json", "--chart", chart)
    report = json.loads(ok(result))
    assert_report(report, want)
    assert report["edges"] == list(EDGES) and report["cost_ratio"] == 10.0
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 5000
    assert "chart written to" in result.stderr

    # Majority, a cost ratio of 2 and other buckets: the same arithmetic, other numbers.
    majority = json.loads(ok(invoke("report", "smallsample", "--format", "json", "--policy", "majority", "--cost-ratio", "2")))
    want_majority = expected_report(items, "majority", 2.0)
    assert_report(majority, want_majority)
    assert majority["totals"]["split"] == want_majority["totals"]["split"] == 0  # 3 voters: never a tie
    assert majority["totals"]["confirmed"] > report["totals"]["confirmed"]

    # Markdown by default, CSV and HTML to a file.
    md = ok(invoke("report", "smallsample"))
    assert md.startswith("# Label QA report: smallsample")
    assert f"| TOTALS | {want['totals']['total']} | {want['totals']['confirmed']} |" in md
    assert "Pending (no votes yet, not counted above): Soccer Ball 7" in md
    out_csv = tmp_path / "report.csv"
    assert ok(invoke("report", "smallsample", "--format", "csv", "--output", out_csv)) == ""
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    totals = next(r for r in rows if r["kind"] == "totals" and not r["bucket_low"])
    assert int(totals["total"]) == want["totals"]["total"] and int(totals["pending"]) == 7
    html_path = tmp_path / "report.html"
    ok(invoke("report", "smallsample", "--format", "html", "--output", html_path))
    assert html_path.read_text().startswith("<!DOCTYPE html>")

    # Export: the results table, the output manifest, labels for retraining.
    results_text = ok(invoke("export", "smallsample"))
    results = list(csv.DictReader(io.StringIO(results_text)))
    assert len(results) == 189
    flat = [(task["seq"], p) for task in tasks for p in range(len(task["items"]))]
    verdicts = {}
    for row, key, (label, conf, c, d) in zip(results, flat, items):
        assert (row["label"], float(row["confidence"])) == (label, conf)
        assert (int(row["WorkerConfirmCount"]), int(row["WorkerDisconfirmCount"])) == (c, d)
        expected_verdict = "pending" if c + d == 0 else "confirmed" if d == 0 else "disconfirmed" if c == 0 else "split"
        assert row["verdict"] == expected_verdict, key
        verdicts[row["image"], row["label"]] = row["verdict"]
    assert sum(v == "pending" for v in verdicts.values()) == 7

    manifest = [json.loads(line) for line in ok(invoke("export", "smallsample", "--format", "manifest")).splitlines()]
    assert len(manifest) == 8  # the unanswered task is left out, as Ground Truth marks it failed
    assert [m["source-ref"] for m in manifest] == [t["dataObject"]["source-ref"] for t in tasks if t["seq"] != skipped]
    first = manifest[0]["smallsample"]["items"]
    assert [(i["WorkerConfirmCount"], i["WorkerDisconfirmCount"]) for i in first] == [tuple(votes[0, p]) for p in range(25)]
    assert manifest[0]["smallsample-metadata"]["job_name"] == "labeling-job/smallsample"
    assert len(manifest[0]["smallsample"]["annotations"]) == 3

    labels = list(csv.DictReader(io.StringIO(ok(invoke("export", "smallsample", "--format", "labels")))))
    assert {r["verdict"] for r in labels} == {"confirmed"}
    assert len(labels) == sum(v == "confirmed" for v in verdicts.values())
    out_labels = tmp_path / "labels.csv"
    ok(invoke("export", "smallsample", "--format", "labels", "--include-rejected", "--output", out_labels))
    rejected = list(csv.DictReader(io.StringIO(out_labels.read_text())))
    assert len(rejected) == 182
    assert {r["verdict"] for r in rejected} == {"confirmed", "disconfirmed", "split"}

    # Consolidating again changes nothing.
    assert ok(invoke("consolidate", "smallsample")).splitlines()[0] == "182 of 189 item(s) have answers"
    assert ok(invoke("export", "smallsample")) == results_text
    assert json.loads(ok(invoke("report", "smallsample", "--format", "json"))) == report


# --- bad input --------------------------------------------------------------------------------------------


def small_csv(tmp_path: Path, rows: list[tuple[str, str, str]], header=("image_local_path", "label", "confidence")) -> Path:
    """A CSV beside copies of the sample's first images (so relative paths resolve)."""
    folder = tmp_path / "input"
    (folder / "beaver").mkdir(parents=True, exist_ok=True)
    for name in ("image_0003.jpg", "image_0022.jpg", "image_0013.jpg"):
        shutil.copy(SAMPLE_DIR / "beaver" / name, folder / "beaver" / name)
    path = folder / "labels.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


GOOD_ROWS = [("beaver/image_0003.jpg", "Beaver", "97.7"), ("beaver/image_0022.jpg", "Beaver", "88"), ("beaver/image_0013.jpg", "Beaver", "81.5")]


def test_bad_job_inputs(tmp_path):
    create_team()
    missing_column = small_csv(tmp_path, [r[:2] for r in GOOD_ROWS], header=("image_local_path", "label"))
    bad(invoke("job", "create", "j1", "--input", missing_column, "--team", "reviewers"), "no column 'confidence'")
    not_a_number = small_csv(tmp_path, [GOOD_ROWS[0], ("beaver/image_0022.jpg", "Beaver", "very high")])
    bad(invoke("job", "create", "j1", "--input", not_a_number, "--team", "reviewers"), "line 3", "confidence 'very high' is not a number")
    missing_image = small_csv(tmp_path, [*GOOD_ROWS, ("beaver/image_9999.jpg", "Beaver", "99")])
    bad(invoke("job", "create", "j1", "--input", missing_image, "--team", "reviewers"), "image_9999.jpg does not exist")
    good = small_csv(tmp_path, GOOD_ROWS)
    template = tmp_path / "broken.html"
    template.write_text("<crowd-form>\n{% for item in task.input.sourceRef %}\n{{ item.label }\n</crowd-form>\n")
    message = bad(invoke("job", "create", "j1", "--input", good, "--team", "reviewers", "--template", template), "Liquid error")
    assert "broken.html" in message
    bad(invoke("job", "create", "j1", "--input", good, "--team", "nobody"), "no team 'nobody'")
    bad(invoke("job", "create", "j1", "--input", good), "at least one team")
    bad(invoke("job", "create", "j1", "--input", tmp_path / "nothing.csv", "--team", "reviewers"), "nothing.csv does not exist")
    bad(invoke("job", "create", "bad_name!", "--input", good, "--team", "reviewers"), "job name 'bad_name!'")
    bad(invoke("job", "create", "j1", "--input", good, "--team", "reviewers", "--policy", "dictator"), "--policy must be one of")
    bad(invoke("job", "create", "j1", "--input", good, "--team", "reviewers", "--min-confidence", "99"), "nothing to review")
    bad(invoke("job", "create", "j1", "--input", good, "--team", "reviewers", "--pre-hook", "no.such.module:f"), "cannot import")
    assert json.loads(ok(invoke("job", "list", "--json"))) == []  # nothing was half-created

    ok(invoke("job", "create", "j1", "--input", good, "--team", "reviewers"))
    bad(invoke("job", "create", "j1", "--input", good, "--team", "reviewers"), "job 'j1' already exists")
    bad(invoke("job", "show", "nope"), "no labeling job 'nope'")
    bad(invoke("job", "tasks", "nope", "--json"), "no labeling job 'nope'")
    bad(invoke("job", "share", "j1", "nobody"), "no team 'nobody'")


def test_bad_answers_and_report_options(tmp_path, monkeypatch):
    create_team("reviewers", ["ana@example.org", "ben@example.org"])
    create_team("others", ["out@example.org"])
    create_job("j1", small_csv(tmp_path, GOOD_ROWS), "--reviewers", "2")
    (task,) = job_tasks("j1")
    answer = write_answer(tmp_path, task, {1}, "answer")
    submit = ["submit", "j1", "--task", task["id"], "--answers", answer]

    bad(invoke("submit", "j1", "--task", 999999, "--worker", "ana@example.org", "--answers", answer), "job 'j1' has no task 999999")
    bad(invoke(*submit, "--worker", "out@example.org"), "out@example.org is not in a team this job is shared with")
    bad(invoke(*submit, "--worker", "stranger@example.org"), "no user 'stranger@example.org'")
    broken = tmp_path / "broken.json"
    broken.write_text('{"Beaver-0": {"Confirmed": true},')
    bad(invoke("submit", "j1", "--task", task["id"], "--worker", "ana@example.org", "--answers", broken), "broken.json: not JSON")
    bad(invoke("submit", "j1", "--task", task["id"], "--worker", "ana@example.org", "--answers", "-", input="nope"), "stdin: not JSON")
    bad(invoke("submit", "j1", "--task", task["id"], "--worker", "ana@example.org", "--answers", tmp_path / "none.json"), "no such file")
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"Beaver-0": {"Confirmed": True}}))
    bad(invoke("submit", "j1", "--task", task["id"], "--worker", "ana@example.org", "--answers", partial), "no verdict for 2 item(s)")
    bad(invoke("submit", "nope", "--task", task["id"], "--worker", "ana@example.org", "--answers", answer), "no labeling job 'nope'")

    assert ok(invoke(*submit, "--worker", "ana@example.org")).strip() == "recorded"
    assert ok(invoke(*submit, "--worker", "ana@example.org")).strip() == "already recorded (same answer)"
    replay = write_answer(tmp_path, task, set(), "replay")
    bad(invoke("submit", "j1", "--task", task["id"], "--worker", "ana@example.org", "--answers", replay), "already submitted")
    # Shared with the other team, its member may answer.
    assert ok(invoke("job", "share", "j1", "others")).strip() == "job j1 shared with team others"
    assert ok(invoke(*submit, "--worker", "out@example.org")).strip() == "recorded"
    bad(invoke(*submit, "--worker", "ben@example.org"), "already has its 2 reviewer(s)")
    ok(invoke("consolidate", "j1"))
    bad(invoke("consolidate", "nope"), "no labeling job 'nope'")

    bad(invoke("report", "j1", "--buckets", "80,abc,100"), "bucket edge 'abc' is not a number")
    bad(invoke("report", "j1", "--buckets", "90,80"), "strictly ascending")
    bad(invoke("report", "j1", "--buckets", "80"), "at least 2 bucket edges")
    bad(invoke("report", "j1", "--buckets", "80,120"), "outside 0..100")
    bad(invoke("report", "j1", "--format", "pdf"), "--format must be one of md, csv, json, html, not 'pdf'")
    bad(invoke("report", "j1", "--policy", "loudest"), "policy must be one of unanimous, majority")
    bad(invoke("report", "j1", "--cost-ratio", "0"), "cost ratio must be a finite number > 0")
    bad(invoke("report", "nope"), "no labeling job 'nope'")
    bad(invoke("export", "j1", "--format", "xlsx"), "--format must be one of results, manifest, labels, not 'xlsx'")
    bad(invoke("export", "nope"), "no labeling job 'nope'")
    (tmp_path / "blocker").write_text("a file, not a folder")
    bad(invoke("export", "j1", "--output", tmp_path / "blocker" / "out.csv"), "cannot write")

    # A missing optional extra (matplotlib) is one line too.
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    bad(invoke("report", "j1", "--chart", tmp_path / "c.png"), "matplotlib", "pip install")
    assert not (tmp_path / "c.png").exists()


def test_portal_help():
    result = invoke("portal", "--help")
    out = ok(result)
    for option in ("--host", "--port", "--portal-url"):
        assert option in out
    assert "--help" in ok(invoke("--help"))


# --- invitation emails ------------------------------------------------------------------------------------


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP: 220, EHLO/HELO, AUTH, MAIL, RCPT, DATA … '.', QUIT."""

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        server = self.server
        self.reply("220 test.example ESMTP ready")
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            command = raw.decode("utf-8", "replace").rstrip("\r\n")
            server.commands.append(command)
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.reply("250-test.example")
                self.reply("250 AUTH PLAIN")
            elif verb == "HELO":
                self.reply("250 test.example")
            elif verb == "AUTH":
                self.reply("235 2.7.0 Authentication successful")
            elif verb == "MAIL":
                self.reply("250 2.1.0 OK")
            elif verb == "RCPT":
                self.reply(server.rcpt_reply)
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                lines = []
                while True:
                    line = self.rfile.readline()
                    if not line or line == b".\r\n":
                        break
                    lines.append(line[1:] if line.startswith(b"..") else line)
                server.messages.append(b"".join(lines))
                self.reply("250 2.0.0 queued")
            elif verb == "QUIT":
                self.reply("221 2.0.0 bye")
                return
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            else:
                self.reply("502 5.5.2 command not recognised")


class _SMTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _SMTPHandler)
        self.commands: list[str] = []
        self.messages: list[bytes] = []
        self.rcpt_reply = "250 2.1.5 OK"


@pytest.fixture
def smtp_server(monkeypatch):
    server = _SMTPServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("OPENMAKER_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("OPENMAKER_SMTP_PORT", str(server.server_address[1]))
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def parsed(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_send_invitation_over_smtp(smtp_server, monkeypatch):
    from openmaker.labeling.mail import SUBJECT, send_invitation

    url = "https://portal.example.org/invite/" + "x" * 43 + "-AbC_123"
    assert send_invitation("ana@example.org", url, "reviewers") is True
    (raw,) = smtp_server.messages
    message = parsed(raw)
    assert message["Subject"] == SUBJECT == "You are invited to review on openmaker"
    assert message["To"] == "ana@example.org"
    assert message["From"] == "openmaker@localhost"
    assert message.get_content_type() == "text/plain"
    body = message.get_content()
    assert url in body.splitlines()  # the link whole, on a line of its own
    assert "reviewers" in body
    commands = [c.lower() for c in smtp_server.commands]  # smtplib writes verbs in lower case
    assert "mail from:<openmaker@localhost>" in commands
    assert "rcpt to:<ana@example.org>" in commands
    assert not any(c.startswith("auth") for c in commands)

    # A sender and a sign-in.
    monkeypatch.setenv("OPENMAKER_SMTP_FROM", "labels@example.org")
    monkeypatch.setenv("OPENMAKER_SMTP_USER", "mailer")
    monkeypatch.setenv("OPENMAKER_SMTP_PASSWORD", "s3cret")
    assert send_invitation("ben@example.org", url, None) is True
    message = parsed(smtp_server.messages[-1])
    assert message["From"] == "labels@example.org" and message["To"] == "ben@example.org"
    assert url in message.get_content()
    auth = [c for c in smtp_server.commands if c.lower().startswith("auth")]
    assert len(auth) == 1
    import base64

    assert base64.b64decode(auth[0].split()[-1]) == b"\0mailer\0s3cret"


def test_send_invitation_refused_or_unreachable(smtp_server, monkeypatch):
    from openmaker.labeling.mail import send_invitation

    smtp_server.rcpt_reply = "550 5.1.1 no such mailbox here"
    with pytest.raises(LabelingError) as caught:
        send_invitation("ghost@example.org", "http://p/invite/t", "reviewers")
    message = str(caught.value)
    assert "ghost@example.org" in message and "550" in message and "no such mailbox here" in message
    assert "\n" not in message
    assert smtp_server.messages == []

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("OPENMAKER_SMTP_PORT", str(closed))
    with pytest.raises(LabelingError, match=rf"cannot email the invitation to ana@example.org via SMTP server 127.0.0.1:{closed}"):
        send_invitation("ana@example.org", "http://p/invite/t", None)
    monkeypatch.setenv("OPENMAKER_SMTP_PORT", "twenty-five")
    with pytest.raises(LabelingError, match="OPENMAKER_SMTP_PORT must be a port number"):
        send_invitation("ana@example.org", "http://p/invite/t", None)


def test_send_invitation_not_configured(monkeypatch):
    from openmaker.labeling.mail import send_invitation

    monkeypatch.delenv("OPENMAKER_SMTP_HOST", raising=False)
    assert send_invitation("ana@example.org", "http://p/invite/t", "reviewers") is False


def test_team_create_emails_the_links(smtp_server):
    out = create_team("reviewers", ["ana@example.org", "ben@example.org"], "--portal-url", "http://review.example.org")
    links = links_of(out)
    assert set(links) == {"ana@example.org", "ben@example.org"}
    assert out.count("(emailed)") == 2
    bodies = {parsed(raw)["To"]: parsed(raw).get_content() for raw in smtp_server.messages}
    assert set(bodies) == set(links)
    for address, url in links.items():
        assert url in bodies[address]

    # A refusing server: the team is made, the links are printed, the failure is a warning.
    smtp_server.rcpt_reply = "550 5.7.1 relaying denied"
    result = invoke("team", "invite", "reviewers", "cy@example.org", "--portal-url", "http://review.example.org")
    out = ok(result)
    assert "cy@example.org: http://review.example.org/invite/" in out and "(not emailed)" in out
    assert "warning: cannot email the invitation to cy@example.org" in result.stderr and "550" in result.stderr
