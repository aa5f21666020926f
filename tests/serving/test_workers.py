"""Workers: scaling, batching, crashes and restarts, timeouts, back-pressure."""

from __future__ import annotations

import time

from tests.serving.conftest import describe, post_many, wait_for


def test_scale_up_and_down_changes_the_worker_processes(server):
    server.register("testkit")
    r = server.management.put("/models/testkit", params={"min_worker": 2, "synchronous": "true"})
    assert r.json() == {"status": "Workers scaled to 2 for model: testkit"}
    workers = describe(server)["workers"]
    assert len(workers) == 2 and all(w["status"] == "READY" for w in workers)
    assert len({w["pid"] for w in workers}) == 2
    # Two slow requests at once run on both workers.
    pids = {r.json()["pid"] for r in post_many(server, [b"sleep:0.5", b"sleep:0.5"])}
    assert pids == {w["pid"] for w in workers}

    r = server.management.put("/models/testkit", params={"min_worker": 1})
    assert r.status_code == 202
    wait_for(lambda: len(describe(server)["workers"]) == 1, what="scale down to 1")
    assert server.inference.post("/predictions/testkit", content=b"ok").status_code == 200


def test_threads_per_worker_reach_the_worker_process(server):
    store = server.server.settings.resolved_model_store / "threads"
    (store / "code").mkdir(parents=True)
    (store / "code" / "inference.py").write_text(
        "import os\n"
        "def model_fn(d):\n    return None\n"
        "def transform_fn(m, body, ct, accept):\n    return os.environ['OMP_NUM_THREADS'], 'text/plain'\n"
    )
    server.register("threads", threads_per_worker=3)
    assert server.inference.post("/predictions/threads", content=b"x").text == "3"
    server.management.put("/models/threads", params={"min_worker": 1, "threads_per_worker": 2, "synchronous": "true"})
    assert server.inference.post("/predictions/threads", content=b"x").text == "2"
    assert describe(server, "threads")["threadsPerWorker"] == 2


def test_dynamic_batching_gives_each_request_its_own_answer(server):
    server.register("testkit", batch_size=4, max_batch_delay=200)
    bodies = [f"item-{i}".encode() for i in range(8)]
    responses = post_many(server, bodies)
    assert [r.json()["body"] for r in responses] == [b.decode() for b in bodies]
    assert max(r.json()["batch"] for r in responses) > 1
    assert all(r.json()["batch"] <= 4 for r in responses)


def test_batch_waits_at_most_max_batch_delay(server):
    server.register("testkit", batch_size=8, max_batch_delay=300)
    started = time.monotonic()
    r = server.inference.post("/predictions/testkit", content=b"alone")
    elapsed = time.monotonic() - started
    assert r.json()["batch"] == 1
    assert elapsed >= 0.25  # it waited for company that never came


def test_a_crashed_worker_is_restarted_and_the_request_retried(server):
    server.register("testkit")
    first_pid = describe(server)["workers"][0]["pid"]
    # The crash request kills its worker twice (first try and retry): it is answered 503, not lost.
    r = server.inference.post("/predictions/testkit", content=b"crash")
    assert r.status_code == 503
    assert "died" in r.json()["message"]
    wait_for(lambda: describe(server)["workers"][0]["status"] == "READY", what="worker restart")
    worker = describe(server)["workers"][0]
    assert worker["pid"] != first_pid and worker["restarts"] >= 1
    assert server.inference.post("/predictions/testkit", content=b"after").json()["body"] == "after"


def test_requests_in_a_crashed_batch_are_retried_on_another_worker(server):
    server.register("testkit", initial_workers=2, batch_size=1)
    from openmaker.serving.protocol import InferenceRequest

    model = server.server.registry.get("testkit")
    victim = model.workers[0]

    async def crash_one_and_submit():
        import asyncio

        slow = [asyncio.ensure_future(model.submit(InferenceRequest(body=b"sleep:1"))) for _ in range(2)]
        await asyncio.sleep(0.3)
        victim.kill_now()  # dies while holding a request
        return await asyncio.gather(*slow)

    responses = server.call(crash_one_and_submit())
    assert [r.status for r in responses] == [200, 200]  # the orphaned request was answered by a retry


def test_a_stuck_model_times_out_with_504_and_the_worker_is_replaced(server):
    server.register("testkit", response_timeout=1)
    pid = describe(server)["workers"][0]["pid"]
    r = server.inference.post("/predictions/testkit", content=b"sleep:30")
    assert r.status_code == 504
    assert "did not answer within 1s" in r.json()["message"]
    wait_for(lambda: describe(server)["workers"][0]["status"] == "READY", what="worker restart")
    assert describe(server)["workers"][0]["pid"] != pid
    assert server.inference.post("/predictions/testkit", content=b"ok").status_code == 200


def test_a_full_queue_answers_503_with_retry_after(make_server):
    import asyncio

    from openmaker.serving.protocol import InferenceRequest

    # No requests sent ahead to the worker: the queue alone holds what waits.
    server = make_server(job_queue_size=2, worker_pipeline_depth=1)
    server.register("testkit")
    model = server.server.registry.get("testkit")

    async def fill_then_overflow():
        busy = asyncio.ensure_future(model.submit(InferenceRequest(body=b"sleep:1.5")))
        await asyncio.sleep(0.3)  # the worker holds it; the queue is empty again
        queued = [asyncio.ensure_future(model.submit(InferenceRequest(body=b"q"))) for _ in range(2)]
        await asyncio.sleep(0)
        return busy, queued

    busy, queued = server.call(fill_then_overflow())
    r = server.inference.post("/predictions/testkit", content=b"one too many")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert "queue is full" in r.json()["message"]

    async def collect():
        return [await busy] + [await q for q in queued]

    # Everything that was accepted is answered.
    assert [resp.status for resp in server.call(collect())] == [200, 200, 200]


def test_a_worker_that_keeps_failing_to_load_backs_off(server):
    server.register("broken", synchronous="false")
    time.sleep(2)
    [model] = server.management.get("/models/broken").json()
    assert "weights file is corrupt" in model["lastLoadError"]
    assert model["workers"][0]["status"] in ("RESTARTING", "STARTING")
    # Backoff: a few attempts in 2 s, not hundreds.
    assert 1 <= model["workers"][0]["restarts"] <= 5
    assert server.inference.get("/ping").status_code == 500
    # Requests do not wait forever for a worker that cannot start: they learn why at once.
    r = server.inference.post("/predictions/broken", content=b"x", timeout=5)
    assert r.status_code == 503
    assert "weights file is corrupt" in r.json()["message"]


def test_workers_grow_toward_max_worker_under_load_and_shrink_when_quiet(server, monkeypatch):
    from openmaker.serving import model as model_module

    monkeypatch.setattr(model_module, "SCALE_DOWN_IDLE_S", 1.0)
    server.register("testkit")
    r = server.management.put("/models/testkit", params={"min_worker": 1, "max_worker": 2, "synchronous": "true"})
    assert r.status_code == 200
    assert len(describe(server)["workers"]) == 1
    responses = post_many(server, [b"sleep:1.5"] * 4)
    assert all(r.status_code == 200 for r in responses)
    assert len({r.json()["pid"] for r in responses}) == 2  # a second worker joined while requests waited
    wait_for(lambda: len(describe(server)["workers"]) == 1, timeout=15, what="scale back to min_worker")
    assert describe(server)["maxWorkers"] == 2


def submit_all(server, bodies: list[bytes]):
    """Submit all at once in the server's loop; errors come back as responses with their status."""
    import asyncio

    from openmaker.serving.errors import InferenceError
    from openmaker.serving.protocol import InferenceRequest, InferenceResponse

    model = server.server.registry.get("testkit")

    async def run():
        tasks = [asyncio.ensure_future(model.submit(InferenceRequest(body=b))) for b in bodies]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        return [
            InferenceResponse(body=r.message.encode(), status=r.status) if isinstance(r, InferenceError) else r
            for r in results
        ]

    return server.call(run())


def test_requests_sent_ahead_behind_a_crash_are_answered(make_server):
    # Four requests go to the worker at once; the first kills it. The three behind it never
    # ran there: they are answered by the restarted worker, and the crash itself gets 503.
    server = make_server(worker_pipeline_depth=4)
    server.register("testkit")
    responses = submit_all(server, [b"crash", b"a", b"b", b"c"])
    assert [r.status for r in responses] == [503, 200, 200, 200]
    import json

    assert [json.loads(r.body)["body"] for r in responses[1:]] == ["a", "b", "c"]


def test_timeout_clock_runs_for_the_request_being_worked_on(make_server):
    server = make_server(worker_pipeline_depth=4)
    server.register("testkit", response_timeout=1.5)
    # Each takes 0.8 s: the last one waits 2.4 s in all, but none runs longer than 1.5 s.
    responses = submit_all(server, [b"sleep:0.8"] * 4)
    assert [r.status for r in responses] == [200, 200, 200, 200]
    responses = submit_all(server, [b"sleep:5", b"after"])
    assert [r.status for r in responses] == [504, 200]


def test_pipelining_keeps_answers_with_their_requests(make_server):
    server = make_server(worker_pipeline_depth=8)
    server.register("testkit", initial_workers=2)
    bodies = [f"r{i}".encode() for i in range(64)]
    import json

    responses = submit_all(server, bodies)
    assert [json.loads(r.body)["body"] for r in responses] == [b.decode() for b in bodies]
    assert len({json.loads(r.body)["pid"] for r in responses}) == 2


def test_no_request_waits_behind_another_while_a_worker_is_idle(make_server):
    import json

    server = make_server(worker_pipeline_depth=4)
    server.register("testkit", initial_workers=2)
    responses = submit_all(server, [b"sleep:0.5", b"sleep:0.5"])
    assert len({json.loads(r.body)["pid"] for r in responses}) == 2
