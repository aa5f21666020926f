"""The Ray engine: the same HTTP API, with models run as Ray Serve deployments.

One local Ray (2 CPUs, no dashboard) and one Serve instance are shared by the
module; each test starts its own ModelServer on loopback ports with a
``RayEngine``. The tests skip when ray is not installed, and fail instead when
``CI`` is set.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.serving.conftest import RunningServer, describe, post_many, server_settings, wait_for

try:
    import ray
    from ray import serve
except ImportError:  # pragma: no cover - depends on the environment
    ray = serve = None


@pytest.fixture(scope="module")
def ray_cluster():
    if ray is None:
        if os.environ.get("CI"):
            pytest.fail("ray is not installed; CI must run the Ray engine tests: pip install 'openmaker[ray]'")
        pytest.skip("ray is not installed: pip install 'openmaker[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    serve.start(proxy_location="Disabled")
    yield ray.get_runtime_context().gcs_address
    serve.shutdown()
    ray.shutdown()


class RayServer(RunningServer):
    """A RunningServer whose models run on Ray Serve."""

    def __init__(self, settings, engine) -> None:
        self.engine = engine
        super().__init__(settings)

    async def _make(self, cls, settings, token, store):
        return cls(settings=settings, token=token, store=store, engine=self.engine)


@pytest.fixture
def ray_server(ray_cluster):
    from openmaker.serving.ray_engine import RayEngine

    servers: list[RayServer] = []

    def make(**engine_options) -> RayServer:
        server = RayServer(server_settings(), RayEngine(poll_interval_s=0.5, **engine_options))
        servers.append(server)
        return server

    yield make
    for server in servers:
        if server.thread.is_alive():
            server.stop()


def our_apps() -> set[str]:
    return {name for name in serve.status().applications if name.startswith("openmaker:")}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.ray
def test_predict_errors_describe_and_unregister(ray_server):
    server = ray_server()
    r = server.register("testkit")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == 'Model "testkit" Version: 1.0 registered with 1 initial workers'
    assert our_apps() == {"openmaker:testkit:1.0"}

    r = server.inference.post("/predictions/testkit", content=b"hello")
    assert r.status_code == 200, r.text
    assert r.json()["body"] == "hello"
    assert r.json()["pid"] != os.getpid()
    assert server.inference.post("/invocations", content=b"sm").json()["body"] == "sm"

    # A handler exception is the client's 500 with the message; the replica lives on.
    r = server.inference.post("/predictions/testkit", content=b"raise")
    assert r.status_code == 500
    assert r.json()["message"] == "ValueError: the model refused this input"
    r = server.inference.post("/predictions/nosuchmodel", content=b"x")
    assert r.status_code == 404
    assert r.json() == {"code": 404, "type": "ModelNotFound", "message": "model 'nosuchmodel' is not registered"}

    described = describe(server)
    assert described["engine"] == "ray"
    assert described["minWorkers"] == described["maxWorkers"] == 1
    assert [w["status"] for w in described["workers"]] == ["READY"]
    assert described["workers"][0]["pid"] == server.inference.post("/predictions/testkit", content=b"p").json()["pid"]
    assert described["rayServe"]["status"] == "RUNNING"
    assert server.inference.get("/ping").json() == {"status": "Healthy"}
    metrics = server.metrics.get("/metrics").text
    assert 'openmaker_workers{model="testkit",state="READY",version="1.0"} 1.0' in metrics
    assert 'openmaker_requests_total{model="testkit",status="500",version="1.0"} 1.0' in metrics

    assert server.management.delete("/models/testkit").status_code == 200
    assert server.inference.post("/predictions/testkit", content=b"x").status_code == 404
    assert our_apps() == set()


@pytest.mark.ray
def test_concurrent_requests_are_batched(ray_server):
    server = ray_server()
    r = server.register("testkit", batch_size=4, max_batch_delay=300, synchronous="false")
    assert r.status_code == 202, r.text
    # Requests that come while the deployment starts wait for it.
    responses = post_many(server, [f"r{i}".encode() for i in range(8)])
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert sorted(r.json()["body"] for r in responses) == [f"r{i}" for i in range(8)]
    batches = [r.json()["batch"] for r in responses]
    assert max(batches) > 1 and max(batches) <= 4, batches
    metrics = server.metrics.get("/metrics").text
    assert 'openmaker_batch_size_count{model="testkit",version="1.0"}' in metrics


@pytest.mark.ray
def test_scale_replicas_and_autoscaling_bounds(ray_server):
    server = ray_server()
    assert server.register("testkit").status_code == 200
    [first] = describe(server)["workers"]

    r = server.management.put("/models/testkit", params={"min_worker": 2, "synchronous": "true"})
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "Workers scaled to 2 for model: testkit"}
    wait_for(lambda: len([w for w in describe(server)["workers"] if w["status"] == "READY"]) == 2, what="2 replicas")
    workers = describe(server)["workers"]
    assert len({w["pid"] for w in workers}) == 2
    assert first["pid"] in {w["pid"] for w in workers}, "scaling must not restart the running replica"
    # Slow requests at once spread over both replicas.
    pids = {r.json()["pid"] for r in post_many(server, [b"sleep:0.3"] * 8)}
    assert pids == {w["pid"] for w in workers}

    r = server.management.put("/models/testkit", params={"min_worker": 1, "max_worker": 2, "synchronous": "true"})
    assert r.status_code == 200, r.text
    described = describe(server)
    assert (described["minWorkers"], described["maxWorkers"]) == (1, 2)
    autoscaling = described["rayServe"]["autoscaling"]
    assert (autoscaling["min_replicas"], autoscaling["max_replicas"]) == (1, 2)
    assert autoscaling["target_ongoing_requests"] == 1
    assert server.inference.post("/predictions/testkit", content=b"ok").status_code == 200

    r = server.management.put("/models/testkit", params={"min_worker": 0, "synchronous": "true"})
    assert r.status_code == 200
    assert describe(server)["workers"] == []
    assert our_apps() == set()
    r = server.inference.post("/predictions/testkit", content=b"x")
    assert r.status_code == 503 and "min_worker" in r.json()["message"]


@pytest.mark.ray
def test_autoscaling_adds_a_replica_under_load(ray_server):
    fast = {"upscale_delay_s": 0, "metrics_interval_s": 0.2, "look_back_period_s": 0.5}
    server = ray_server(autoscaling=fast)
    assert server.register("testkit").status_code == 200
    r = server.management.put("/models/testkit", params={"min_worker": 1, "max_worker": 2, "synchronous": "true"})
    assert r.status_code == 200, r.text
    pids: set[int] = set()
    deadline = time.monotonic() + 30
    while len(pids) < 2 and time.monotonic() < deadline:
        pids |= {r.json()["pid"] for r in post_many(server, [b"sleep:0.3"] * 6)}
    assert len(pids) == 2, "the backlog should have brought a second replica"
    assert len(describe(server)["workers"]) == 2


@pytest.mark.ray
def test_a_model_that_cannot_load_is_a_500_with_the_reason(ray_server):
    server = ray_server()
    r = server.register("broken")
    assert r.status_code == 500
    assert "weights file is corrupt" in r.json()["message"]
    assert server.management.get("/models").json() == {"models": []}
    assert our_apps() == set()


@pytest.mark.ray
def test_stop_deletes_the_deployments_and_their_replicas(ray_server):
    server = ray_server()
    assert server.register("testkit").status_code == 200
    pid = server.inference.post("/predictions/testkit", content=b"x").json()["pid"]
    server.stop()
    assert our_apps() == set()
    wait_for(lambda: not alive(pid), timeout=20, what="the replica process to exit")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.ray
def test_cli_joins_the_cluster_of_ray_address_and_stops_cleanly_on_ctrl_c(ray_cluster, tmp_path):
    from tests.serving.conftest import model_source

    ports = [free_port() for _ in range(3)]
    env = dict(os.environ, RAY_ADDRESS=ray_cluster, OPENMAKER_HOME=str(tmp_path / "cli-home"))
    command = [
        sys.executable, "-m", "openmaker.cli", "serve", f"echo={model_source('testkit')}",
        "--engine", "ray", "--no-auth", "--batch-size", "2",
        "--inference-port", str(ports[0]), "--management-port", str(ports[1]), "--metrics-port", str(ports[2]),
    ]  # fmt: skip
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{ports[0]}"

        def up() -> bool:
            assert proc.poll() is None, proc.stdout.read()
            try:
                return httpx.post(f"{base}/predictions/echo", content=b"hi", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=90, what="the CLI server")
        assert httpx.post(f"{base}/predictions/echo", content=b"hi").json()["body"] == "hi"
        assert our_apps() == {"openmaker:echo:1.0"}
        [described] = httpx.get(f"http://127.0.0.1:{ports[1]}/models/echo").json()
        assert described["engine"] == "ray" and described["batchSize"] == 2
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output
    assert "stopped" in output
    assert our_apps() == set()  # its deployments are gone, the cluster it joined still runs
    assert ray.is_initialized() and serve.status() is not None


def test_without_ray_the_engine_says_how_to_install_it(monkeypatch):
    from typer.testing import CliRunner

    from openmaker.cli import app
    from openmaker.serving import ray_engine

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ray_engine.RayNotInstalled, match=r"pip install 'openmaker\[ray\]'"):
        ray_engine.RayEngine().start()
    result = CliRunner().invoke(app, ["serve", "--engine", "ray"])
    assert result.exit_code == 2
    assert "the ray engine needs ray: pip install 'openmaker[ray]'" in result.output
