"""Leases, submissions, consolidation and hooks through the Python API, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest

from openmaker.labeling import Conflict, Forbidden, LabelingError, NotFound
from openmaker.labeling import jobs, work, workforce
from openmaker.labeling.tables import utcnow
from tests.labeling.conftest import bulkqa_answer, make_job

WORKERS = ("ana@example.org", "bo@example.org", "cy@example.org")


def _lease(lab, job_name, email, now=None):
    with lab.session() as s:
        lease = work.next_task(s, jobs.get_job(s, job_name), workforce.get_user(s, email), now)
        return None if lease is None else (lease.assignment.token, lease.task.id, json.loads(lease.task.task_input))


def _submit(lab, token, email, answer, now=None):
    with lab.session() as s:
        return work.submit(s, token, workforce.get_user(s, email), answer, now).duplicate


def test_each_task_goes_to_n_distinct_workers_and_never_twice_to_one(any_lab):
    tasks = make_job(any_lab, reviewers=2)
    seen: dict[str, list[int]] = {w: [] for w in WORKERS}
    for _ in range(len(tasks)):
        for email in WORKERS:
            got = _lease(any_lab, "qa", email)
            if got is None:
                continue
            token, task_id, task_input = got
            seen[email].append(task_id)
            task = next(t for t in tasks if t["id"] == task_id)
            assert _submit(any_lab, token, email, bulkqa_answer(task)) is False
    for email, ids in seen.items():
        assert len(ids) == len(set(ids)), f"{email} got a task twice"
    per_task = {t["id"]: sum(t["id"] in ids for ids in seen.values()) for t in tasks}
    assert set(per_task.values()) == {2}
    assert all(_lease(any_lab, "qa", email) is None for email in WORKERS)
    assert any_lab.job("qa")["progress"]["tasks_complete"] == len(tasks)


def test_a_live_lease_is_resumed_and_an_expired_one_returns_to_the_pool(lab):
    make_job(lab, reviewers=1, lease_seconds=60)
    token, task_id, _ = _lease(lab, "qa", "ana@example.org")
    assert _lease(lab, "qa", "ana@example.org")[0] == token  # resumed, not a second task
    # Bo gets another task while Ana's lease is live...
    assert _lease(lab, "qa", "bo@example.org")[1] != task_id
    # ...and Ana's task once her lease ran out.
    later = utcnow() + timedelta(seconds=61)
    with lab.session() as s:
        job = jobs.get_job(s, "qa")
        cy = workforce.get_user(s, "cy@example.org")
        lease = work.next_task(s, job, cy, later)
        assert lease.task.id == task_id
    # Ana's late answer is refused, naming the expiry.
    with pytest.raises(Conflict, match="expired"):
        _submit(lab, token, "ana@example.org", {}, later)


def test_concurrent_workers_never_share_the_last_slot(any_lab):
    make_job(any_lab, reviewers=1, members=[f"w{i}@example.org" for i in range(12)])
    got: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(12)

    def grab(i):
        try:
            barrier.wait()
            lease = _lease(any_lab, "qa", f"w{i}@example.org")
            if lease is not None:
                got.append(lease[1])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=grab, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(got) == 9 and len(set(got)) == 9  # 9 tasks, each leased to exactly one of the 12


def test_submissions_replay_conflict_and_bad_answers(lab):
    tasks = make_job(lab)
    token, task_id, task_input = _lease(lab, "qa", "ana@example.org")
    task = next(t for t in tasks if t["id"] == task_id)
    with pytest.raises(LabelingError, match="no verdict for 1 item"):
        answer = bulkqa_answer(task)
        answer.pop(next(iter(answer)))
        _submit(lab, token, "ana@example.org", answer)
    with pytest.raises(LabelingError, match="names no item"):
        _submit(lab, token, "ana@example.org", {**bulkqa_answer(task), f"{task['items'][0]['label']}-99": {"Confirmed": True}})
    with pytest.raises(Forbidden, match="leased to someone else"):
        _submit(lab, token, "bo@example.org", bulkqa_answer(task))
    with pytest.raises(NotFound):
        _submit(lab, "no-such-token", "ana@example.org", bulkqa_answer(task))
    assert _submit(lab, token, "ana@example.org", bulkqa_answer(task, untick={2})) is False
    assert _submit(lab, token, "ana@example.org", bulkqa_answer(task, untick={2})) is True  # a retry: counted once
    with pytest.raises(Conflict, match="already submitted"):
        _submit(lab, token, "ana@example.org", bulkqa_answer(task, untick={3}))
    lab.consolidate("qa")
    rows = [line.split(",") for line in lab.export("qa").splitlines()[1:]]
    unticked = [r for r in rows if r[4] == "1"]
    assert len(unticked) == 1 and unticked[0][0].endswith(task["items"][2]["s3_image_url"].rsplit("/", 2)[-2] + "/" + task["items"][2]["s3_image_url"].rsplit("/", 1)[-1])


def test_worker_outside_the_team_and_disabled_worker_are_refused(lab):
    make_job(lab)
    lab.create_team("others", members=["eve@example.org"])
    with pytest.raises(Forbidden, match="not in a team"):
        _lease(lab, "qa", "eve@example.org")
    with lab.session() as s:
        workforce.set_active(s, "bo@example.org", False)
    with pytest.raises(Forbidden, match="disabled"):
        _lease(lab, "qa", "bo@example.org")


def test_verdicts_follow_the_index_suffix_not_key_order(any_lab):
    """The sample Lambda zipped answers in key order: with 25 items, 'X-10' sorts before 'X-2'."""
    tasks = make_job(any_lab, reviewers=3)
    first = tasks[0]
    for email, untick in zip(WORKERS, ({2}, {2, 12}, set())):
        answer = dict(sorted(bulkqa_answer(first, untick).items()))  # keys in sorted (wrong) order
        any_lab.submit_answer("qa", first["id"], email, answer)
    once = any_lab.consolidate("qa")
    table_once = any_lab.export("qa")
    assert any_lab.consolidate("qa") == once and any_lab.export("qa") == table_once  # idempotent
    rows = {line.split(",")[0].rsplit("/", 2)[-2] + "/" + line.split(",")[0].rsplit("/", 1)[-1]: line.split(",")[3:] for line in table_once.splitlines()[1:]}
    name = lambda i: "/".join(first["items"][i]["s3_image_url"].rsplit("/", 2)[-2:])  # noqa: E731
    assert rows[name(2)] == ["1", "2", "split"]
    assert rows[name(12)] == ["2", "1", "split"]
    assert rows[name(0)] == ["3", "0", "confirmed"]
    report = any_lab.report("qa").to_dict()
    assert report["totals"]["split"] == 2 and report["totals"]["confirmed"] == len(first["items"]) - 2
    majority = any_lab.report("qa", policy="majority").to_dict()
    assert majority["totals"]["confirmed"] == len(first["items"]) - 1 and majority["totals"]["disconfirmed"] == 1


def test_output_manifest_has_the_input_line_and_metadata(lab):
    tasks = make_job(lab, reviewers=1)
    lab.submit_answer("qa", tasks[1]["id"], "ana@example.org", bulkqa_answer(tasks[1], untick={0}))
    lines = [json.loads(line) for line in lab.export("qa", "manifest").splitlines()]
    assert len(lines) == 1  # tasks nobody answered are left out
    line = lines[0]
    assert line["source-ref"] == tasks[1]["dataObject"]["source-ref"]
    items = line["qa"]["items"]
    assert items[0]["WorkerDisconfirmCount"] == 1 and items[1]["WorkerConfirmCount"] == 1
    assert line["qa-metadata"]["type"] == "groundTruth/custom" and line["qa-metadata"]["human-annotated"] == "yes"


def record_post_hook(event):
    """A custom post-labeling hook (module:function) that counts workers per data object."""
    from openmaker import storage

    payload = json.loads(storage.read_text(event["payload"]["s3Uri"]))
    return [
        {
            "datasetObjectId": entry["datasetObjectId"],
            "consolidatedAnnotation": {"content": {event["labelAttributeName"]: {"workers": len(entry["annotations"])}}},
        }
        for entry in payload
    ]


def one_item_pre_hook(event):
    """A custom pre-labeling hook: keeps only the first item of each batch."""
    batch = json.loads(open(event["dataObject"]["source-ref"]).read())
    return {"taskInput": {"sourceRef": batch[:1]}, "isHumanAnnotationRequired": True}


def broken_post_hook(event):
    return {"not": "a list"}


def test_custom_python_hooks(lab):
    tasks = make_job(lab, pre_hook="tests.labeling.test_work:one_item_pre_hook", post_hook="tests.labeling.test_work:record_post_hook")
    assert {len(t["items"]) for t in tasks} == {1}
    lab.submit_answer("qa", tasks[0]["id"], "ana@example.org", bulkqa_answer(tasks[0]))
    assert lab.consolidate("qa")["tasks_consolidated_by_hook"] == 1
    line = json.loads(lab.export("qa", "manifest").splitlines()[0])
    assert line["qa"] == {"workers": 1}


def test_a_broken_post_hook_is_a_clear_error(lab):
    tasks = make_job(lab, post_hook="tests.labeling.test_work:broken_post_hook")
    lab.submit_answer("qa", tasks[0]["id"], "ana@example.org", bulkqa_answer(tasks[0]))
    with pytest.raises(LabelingError, match="must return a list"):
        lab.consolidate("qa")


def test_http_hooks(lab):
    """Hooks as HTTP URLs (the Lambda equivalent), on a real loopback server."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(event)
            if self.path == "/pre":
                body = one_item_pre_hook(event)
            else:
                body = record_post_hook(event)
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        tasks = make_job(lab, pre_hook=f"{url}/pre", post_hook=f"{url}/post")
        assert seen[0]["version"] == "2018-10-16" and "source-ref" in seen[0]["dataObject"]
        assert seen[0]["labelingJobArn"].endswith("labeling-job/qa")
        lab.submit_answer("qa", tasks[0]["id"], "ana@example.org", bulkqa_answer(tasks[0]))
        lab.consolidate("qa")
        post = seen[-1]
        assert post["labelAttributeName"] == "qa" and post["payload"]["s3Uri"].endswith(".json")
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(LabelingError, match="could not be reached"):
        make_job(lab, "qa2", pre_hook=f"{url}/pre")

