"""The server as an operator runs it: `openmaker serve`, Ctrl-C, restart with the same models, S3 archives."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time

import httpx
import pytest

from tests.serving.conftest import RunningServer, model_source, server_settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {proc.stderr.read()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not come up")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_ctrl_c_finishes_requests_in_flight_then_stops_workers(openmaker_home):
    ports = {name: free_port() for name in ("inference", "management", "metrics")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "openmaker.cli", "serve", f"testkit={model_source('testkit')}",
         "--inference-port", str(ports["inference"]), "--management-port", str(ports["management"]),
         "--metrics-port", str(ports["metrics"]), "--no-restore"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "OPENMAKER_HOME": str(openmaker_home)},
    )  # fmt: skip
    base = f"http://127.0.0.1:{ports['inference']}"
    try:
        wait_until_up(base + "/ping", proc)
        first = httpx.post(base + "/predictions/testkit", content=b"warm", timeout=30).json()
        worker_pid = first["pid"]
        result: dict = {}

        def slow_request() -> None:
            result["response"] = httpx.post(base + "/predictions/testkit", content=b"sleep:2", timeout=30)

        thread = threading.Thread(target=slow_request)
        thread.start()
        time.sleep(0.5)  # the request is in the worker now
        proc.send_signal(signal.SIGINT)
        thread.join(30)
        assert result["response"].status_code == 200
        assert result["response"].json()["body"] == "sleep:2"
        assert proc.wait(30) == 0
        assert not pid_alive(worker_pid)
        with pytest.raises(httpx.TransportError):
            httpx.get(base + "/ping", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate()
    assert "openmaker is up" in err
    assert "Traceback" not in err


def test_serve_reports_a_port_in_use_clearly(openmaker_home):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "openmaker.cli", "serve", "--inference-port", str(port),
             "--management-port", "0", "--metrics-port", "0"],
            capture_output=True, text=True, timeout=60, env={**os.environ, "OPENMAKER_HOME": str(openmaker_home)},
        )  # fmt: skip
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_restarted_server_serves_the_same_models(database_url):
    from openmaker.serving.snapshot import DatabaseRegistrationStore

    store = DatabaseRegistrationStore(database_url)
    first = RunningServer(server_settings(), store=store)
    try:
        assert first.register("testkit", initial_workers=2, batch_size=4, max_batch_delay=5).status_code == 200
        first.register("noop")
        for name in ("chain", "gone"):
            r = first.management.post("/endpoints", params={"name": name, "models": "testkit,testkit"})
            assert r.status_code == 200, r.text
        first.management.delete("/endpoints/gone")
        first.management.delete("/models/noop/1.0")
    finally:
        first.stop()

    settings = server_settings()
    second = RunningServer(settings, store=DatabaseRegistrationStore(database_url))
    try:
        problems = second.call(second.server.registry.restore())
        assert problems == []
        [model] = second.management.get("/models/testkit").json()
        assert model["minWorkers"] == 2 and model["batchSize"] == 4 and model["maxBatchDelay"] == 5
        assert len(model["workers"]) == 2
        assert second.management.get("/models/noop").status_code == 404
        assert second.inference.post("/predictions/testkit", content=b"back").json()["body"] == "back"
        # Pipeline endpoints come back too (and a deleted one does not).
        r = second.inference.post("/endpoints/chain/invocations", content=b"twice")
        assert r.status_code == 200, r.text
        assert "twice" in r.json()["body"]
        assert second.inference.post("/endpoints/gone/invocations", content=b"x").status_code == 404
    finally:
        second.stop()


def test_register_an_archive_from_s3(make_server, s3_root, tmp_path):
    from openmaker import storage

    archive = tmp_path / "testkit.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for item in model_source("testkit").iterdir():
            tar.add(item, arcname=item.name)
    storage.upload(archive, f"{s3_root}/models/testkit.tar.gz")

    server = make_server(allowed_urls=[f"{s3_root}/models/"])
    r = server.register(f"{s3_root}/models/testkit.tar.gz")
    assert r.status_code == 200, r.text
    assert server.inference.post("/predictions/testkit", content=b"from s3").json()["body"] == "from s3"
    r = server.management.post("/models", params={"url": f"{s3_root}/other/testkit.tar.gz"})
    assert r.status_code == 403
    r = server.register(f"{s3_root}/models/missing.tar.gz")
    assert r.status_code == 404
