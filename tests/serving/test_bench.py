"""The load generator, the sweep and ``openmaker bench`` against real HTTP servers on loopback."""

from __future__ import annotations

import asyncio
import csv
import json
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import typer
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from typer.testing import CliRunner

from openmaker.serving.bench import (
    Sweep,
    SweepError,
    SweepRow,
    cost_per_100k_requests,
    format_result_table,
    write_report,
)
from openmaker.serving.bench_cli import bench_app
from openmaker.serving.loadgen import LoadGenError, LoadResult, run_load

BODY = b'{"instances": [[1, 2, 3]]}'


# -- servers ------------------------------------------------------------------


class LoopbackServer:
    """A uvicorn server on a free loopback port, in a daemon thread."""

    def __init__(self, app) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "test server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(5)
        self.sock.close()


def _demo_app() -> Starlette:
    seen = {"hits": Counter(), "clients": {}}

    def note(request: Request) -> None:
        path = request.url.path
        seen["hits"][path] += 1
        # The client's port tells connections apart: one port per connection.
        seen["clients"].setdefault(path, set()).add(request.client.port)

    async def ok(request: Request) -> Response:
        await request.body()
        note(request)
        return JSONResponse({"predictions": [0.5]})

    async def down(request: Request) -> Response:
        note(request)
        return PlainTextResponse("no workers", status_code=503)

    async def every_third_fails(request: Request) -> Response:
        note(request)
        if seen["hits"][request.url.path] % 3 == 0:
            return PlainTextResponse("boom", status_code=500)
        return PlainTextResponse("ok")

    async def chunked(request: Request) -> Response:
        note(request)

        async def parts():
            for i in range(5):
                yield (f"part-{i}-" * (i * 300 + 1)).encode()

        return StreamingResponse(parts(), media_type="text/plain")  # no length: uvicorn chunks it

    async def close(request: Request) -> Response:
        note(request)
        return PlainTextResponse("bye", headers={"Connection": "close"})

    async def slow(request: Request) -> Response:
        note(request)
        await asyncio.sleep(3)
        return PlainTextResponse("late")

    app = Starlette(
        routes=[
            Route("/predictions/x", ok, methods=["POST", "GET"]),
            Route("/predictions/down", down, methods=["POST"]),
            Route("/mixed", every_third_fails, methods=["POST"]),
            Route("/chunked", chunked, methods=["POST"]),
            Route("/close", close, methods=["POST"]),
            Route("/slow", slow, methods=["POST"]),
        ]
    )
    app.state.seen = seen
    return app


@pytest.fixture(scope="module")
def demo():
    app = _demo_app()
    with LoopbackServer(app) as server:
        server.seen = app.state.seen
        yield server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _load(url: str, **kwargs) -> LoadResult:
    kwargs.setdefault("progress", False)
    return run_load(url, body=BODY, content_type="application/json", **kwargs)


# -- load generator -----------------------------------------------------------


def test_request_count_is_exact_and_connections_are_kept_alive(demo):
    before = demo.seen["hits"]["/predictions/x"]
    result = _load(f"{demo.url}/predictions/x", concurrency=4, requests=500)

    assert (result.requests, result.errors, result.errors_by_status) == (500, 0, {})
    assert demo.seen["hits"]["/predictions/x"] - before == 500
    assert len(demo.seen["clients"]["/predictions/x"]) == 4  # 4 connections carried 500 requests
    assert result.throughput > 0 and result.elapsed_s > 0
    assert 0 < result.p50_ms <= result.p90_ms <= result.p99_ms <= result.max_ms
    assert result.p50_ms <= result.max_ms and result.mean_ms <= result.max_ms


def test_warmup_is_sent_but_not_measured(demo):
    before = demo.seen["hits"]["/predictions/x"]
    result = _load(f"{demo.url}/predictions/x", concurrency=2, requests=40, warmup=25)
    assert result.requests == 40
    assert demo.seen["hits"]["/predictions/x"] - before == 65


def test_errors_are_counted_by_status(demo):
    result = _load(f"{demo.url}/mixed", concurrency=1, requests=30)
    assert result.requests == 30
    assert result.errors == 10
    assert result.errors_by_status == {"500": 10}
    assert result.successes == 20
    assert result.p99_ms is not None


def test_all_failures_have_no_latencies(demo):
    result = _load(f"{demo.url}/predictions/down", concurrency=3, requests=12)
    assert (result.errors, result.errors_by_status) == (12, {"503": 12})
    assert result.throughput == 0
    assert result.p50_ms is None and result.max_ms is None
    assert json.loads(json.dumps(result.as_dict()))["errors_by_status"] == {"503": 12}


def test_chunked_responses_are_read_whole_on_a_kept_connection(demo):
    # A misread chunk would desynchronise the next response on the connection.
    result = _load(f"{demo.url}/chunked", concurrency=2, requests=60)
    assert (result.requests, result.errors) == (60, 0)
    assert len(demo.seen["clients"]["/chunked"]) == 2


def test_connection_close_makes_the_client_reconnect(demo):
    result = _load(f"{demo.url}/close", concurrency=2, requests=20)
    assert (result.requests, result.errors) == (20, 0)
    assert len(demo.seen["clients"]["/close"]) == 20  # a fresh connection per request


def test_duration_mode_stops_near_the_duration(demo):
    started = time.monotonic()
    result = _load(f"{demo.url}/predictions/x", concurrency=4, duration=0.5)
    assert 0.5 <= result.elapsed_s < 2.0
    assert time.monotonic() - started < 5
    assert result.requests > 0 and result.errors == 0


def test_a_hung_request_times_out_as_an_error(demo):
    result = _load(f"{demo.url}/slow", concurrency=2, requests=2, timeout=0.3)
    assert result.errors_by_status == {"timeout": 2}


def test_progress_bar_run_completes(demo, capsys):
    result = _load(f"{demo.url}/predictions/x", concurrency=2, requests=50, progress=True)
    assert result.requests == 50
    assert "predictions" not in capsys.readouterr().out  # the bar writes to stderr only


def test_raw_server_chunk_extensions_trailers_and_close_delimited_bodies():
    """Framing uvicorn never sends: chunk extensions, trailers, a body ended by closing."""
    responses = {
        b"/ext": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n0\r\nX-Checksum: 1\r\n\r\n",
        b"/eof": b"HTTP/1.0 200 OK\r\n\r\nbody until the server closes",
    }

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                path = head.split(b" ")[1]
                writer.write(responses[path])
                await writer.drain()
                if path == b"/eof":
                    break
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    ready = threading.Event()
    box = {}

    def serve():
        async def main():
            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            box["port"] = server.sockets[0].getsockname()[1]
            box["stop"] = asyncio.Event()
            box["loop"] = asyncio.get_running_loop()
            ready.set()
            await box["stop"].wait()
            server.close()

        asyncio.run(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(5)
    try:
        for path in ("/ext", "/eof"):
            result = _load(f"http://127.0.0.1:{box['port']}{path}", concurrency=2, requests=10)
            assert (result.requests, result.errors) == (10, 0), path
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(5)


def test_unreachable_server_and_bad_arguments_raise():
    with pytest.raises(LoadGenError, match="cannot connect"):
        _load(f"http://127.0.0.1:{_free_port()}/x", requests=5)
    with pytest.raises(LoadGenError, match="exactly one"):
        _load("http://127.0.0.1:1/x", requests=5, duration=1.0)
    with pytest.raises(LoadGenError, match="exactly one"):
        _load("http://127.0.0.1:1/x")
    with pytest.raises(LoadGenError, match="URL"):
        _load("ftp://example/x", requests=5)


def test_result_table_lists_the_numbers(demo):
    from rich.console import Console

    result = _load(f"{demo.url}/mixed", concurrency=1, requests=6)
    console = Console(width=120, record=True)
    console.print(format_result_table(result))
    text = console.export_text()
    assert "throughput" in text and "latency p99" in text and "500" in text


# -- report -------------------------------------------------------------------


def _row(workers: int, threads: int, throughput: float, p99: float | None) -> SweepRow:
    result = LoadResult(
        url="http://x",
        concurrency=1,
        requests=100,
        errors=0,
        errors_by_status={},
        elapsed_s=1.0,
        throughput=throughput,
        p50_ms=1.0 if p99 else None,
        p90_ms=2.0 if p99 else None,
        p99_ms=p99,
        mean_ms=1.2 if p99 else None,
        max_ms=p99,
    )
    return SweepRow.from_result(workers, threads, 0.10, result)


def test_cost_per_100k_requests():
    # 100 req/s is 360,000 req/h; at $0.10/h, 100k requests cost 0.10 * 100k / 360k.
    assert cost_per_100k_requests(0.10, 100.0) == pytest.approx(0.10 * 100_000 / 360_000)
    assert cost_per_100k_requests(0.10, 0.0) is None
    row = _row(2, 1, 50.0, 9.0)
    assert row.configuration == "2 workers x 1 thread"
    assert _row(1, 2, 50.0, 9.0).configuration == "1 worker x 2 threads"
    assert row.cost_per_100k_requests == pytest.approx(0.10 / (50.0 * 3600) * 100_000)


def test_write_report_writes_markdown_csv_and_png(tmp_path):
    rows = [_row(1, 1, 120.0, 20.0), _row(1, 2, 200.5, 15.0), _row(2, 1, 0.0, None)]
    paths = write_report(rows, tmp_path / "report", "resnet sweep")

    assert paths.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths.png.stat().st_size > 5000

    with paths.csv.open() as handle:
        table = list(csv.DictReader(handle))
    assert [r["configuration"] for r in table] == ["1 worker x 1 thread", "1 worker x 2 threads", "2 workers x 1 thread"]
    assert float(table[1]["throughput"]) == 200.5
    assert float(table[0]["cost_per_100k_requests"]) == pytest.approx(0.10 / (120.0 * 3600) * 100_000)
    assert table[2]["cost_per_100k_requests"] == "" and table[2]["p99_ms"] == ""

    markdown = paths.markdown.read_text()
    assert markdown.startswith("# resnet sweep")
    assert "| Configuration |" in markdown and "Cost per 100k requests ($)" in markdown
    assert "| 1 worker x 2 threads |" in markdown and "n/a" in markdown
    assert len([line for line in markdown.splitlines() if line.startswith("|")]) == 2 + 3


# -- sweep against a fake management + inference server ------------------------

TOKEN = "s3cret"
ORIGINAL = {
    "modelName": "m",
    "modelVersion": "1.0",
    "modelUrl": "m.mar",
    "batchSize": 4,
    "maxBatchDelay": 50,
    "minWorkers": 3,
    "maxWorkers": 3,
    "threadsPerWorker": 1,
}


def _fake_model_server(reject_workers: int | None = None) -> Starlette:
    """Just enough of the MMS management API to be re-registered, plus inference.

    Each registration answers 503 to its first inference request, as a
    server still warming up would. With ``reject_workers``, inference
    answers 400 under that many workers.
    """
    state = {"models": {"m": {**ORIGINAL, "workers": [{"id": i} for i in range(3)]}}, "calls": [], "warm": False}

    def authorised(request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {TOKEN}"

    async def describe(request: Request) -> Response:
        if not authorised(request):
            return JSONResponse({"message": "bad token"}, status_code=401)
        name = request.path_params["name"]
        state["calls"].append(("GET", name))
        if name not in state["models"]:
            return JSONResponse({"message": f"Model not found: {name}"}, status_code=404)
        return JSONResponse([state["models"][name]])

    async def unregister(request: Request) -> Response:
        if not authorised(request):
            return JSONResponse({"message": "bad token"}, status_code=401)
        name, version = request.path_params["name"], request.path_params["version"]
        state["calls"].append(("DELETE", name, version))
        state["models"].pop(name)
        return JSONResponse({"status": f"Model {name} unregistered"})

    async def register(request: Request) -> Response:
        if not authorised(request):
            return JSONResponse({"message": "bad token"}, status_code=401)
        q = dict(request.query_params)
        state["calls"].append(("POST", q))
        workers = int(q["initial_workers"])
        state["models"][q["model_name"]] = {
            "modelName": q["model_name"],
            "modelVersion": "1.0",
            "modelUrl": q["url"],
            "batchSize": int(q["batch_size"]),
            "maxBatchDelay": int(q["max_batch_delay"]),
            "minWorkers": workers,
            "maxWorkers": workers,
            "threadsPerWorker": int(q["threads_per_worker"]),
            "workers": [{"id": i} for i in range(workers)],
        }
        state["warm"] = False
        return JSONResponse({"status": "registered"})

    async def predict(request: Request) -> Response:
        model = state["models"].get(request.path_params["name"])
        if model is None:
            return JSONResponse({"message": "not found"}, status_code=404)
        if model["minWorkers"] == reject_workers:
            return JSONResponse({"message": "bad input"}, status_code=400)
        if not state["warm"]:
            state["warm"] = True
            return JSONResponse({"message": "warming up"}, status_code=503)
        return JSONResponse({"predictions": [1]})

    app = Starlette(
        routes=[
            Route("/models/{name}", describe, methods=["GET"]),
            Route("/models/{name}/{version}", unregister, methods=["DELETE"]),
            Route("/models", register, methods=["POST"]),
            Route("/predictions/{name}", predict, methods=["POST"]),
        ]
    )
    app.state.model_state = state
    return app


@pytest.fixture
def token_home(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENMAKER_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "management.token").write_text(TOKEN + "\n")
    return tmp_path / "home"


def _registrations(calls: list) -> list[tuple[int, int]]:
    return [(int(c[1]["initial_workers"]), int(c[1]["threads_per_worker"])) for c in calls if c[0] == "POST"]


def test_sweep_reregisters_each_configuration_and_restores(token_home):
    app = _fake_model_server()
    state = app.state.model_state
    with LoopbackServer(app) as server:
        sweep = Sweep(
            "m",
            body=BODY,
            hourly_cost=0.10,
            management_url=server.url,
            inference_url=f"{server.url}/predictions/m",
            requests=40,
            concurrency=2,
            progress=False,
        )
        rows = sweep.run()

    assert [r.configuration for r in rows] == [
        "1 worker x 1 thread",
        "1 worker x 2 threads",
        "2 workers x 1 thread",
        "2 workers x 2 threads",
    ]
    for row in rows:
        assert row.errors == 0 and row.throughput > 0
        assert row.cost_per_100k_requests == pytest.approx(0.10 / (row.throughput * 3600) * 100_000)
        assert row.p50_ms <= row.p90_ms <= row.p99_ms

    calls = state["calls"]
    # Every registration is preceded by a look-up and the removal of the one before.
    posts = [i for i, c in enumerate(calls) if c[0] == "POST"]
    assert len(posts) == 5
    for i in posts:
        assert calls[i - 2] == ("GET", "m") and calls[i - 1] == ("DELETE", "m", "1.0")
    assert _registrations(calls) == [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1)]  # last: the original back
    for c in calls:
        if c[0] == "POST":
            assert c[1]["url"] == "m.mar" and c[1]["model_name"] == "m"
            assert (c[1]["batch_size"], c[1]["max_batch_delay"], c[1]["synchronous"]) == ("4", "50", "true")
    restored = state["models"]["m"]
    assert {k: restored[k] for k in ORIGINAL} == ORIGINAL


def test_sweep_restores_the_original_when_a_configuration_fails(token_home):
    app = _fake_model_server(reject_workers=2)
    state = app.state.model_state
    with LoopbackServer(app) as server:
        sweep = Sweep(
            "m",
            body=BODY,
            workers=(1, 2),
            threads=(1,),
            management_url=server.url,
            inference_url=f"{server.url}/predictions/m",
            requests=10,
            progress=False,
        )
        with pytest.raises(SweepError, match="400"):
            sweep.run()
    assert _registrations(state["calls"]) == [(1, 1), (2, 1), (3, 1)]
    assert state["models"]["m"]["minWorkers"] == 3


def test_sweep_with_a_wrong_token_names_the_refusal(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENMAKER_HOME", str(tmp_path))
    with LoopbackServer(_fake_model_server()) as server:
        sweep = Sweep("m", body=BODY, token="wrong", management_url=server.url, requests=5, progress=False)
        with pytest.raises(SweepError, match="HTTP 401: bad token"):
            sweep.run()


# -- CLI ----------------------------------------------------------------------

runner = CliRunner()


def test_cli_prints_json_for_one_run(demo, tmp_path):
    body = tmp_path / "input.json"
    body.write_bytes(BODY)
    result = runner.invoke(
        bench_app, [f"{demo.url}/predictions/x", "-c", "2", "--requests", "30", "--body", str(body), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["requests"], report["errors"]) == (30, 0)
    assert report["p50_ms"] <= report["p99_ms"]


def test_cli_table_when_mounted_as_a_subcommand(demo):
    app = typer.Typer()

    @app.command()
    def version() -> None:
        """Another command, so that the parent is a group like the real CLI."""

    app.add_typer(bench_app, name="bench")
    result = runner.invoke(app, ["bench", f"{demo.url}/predictions/x", "--requests", "20", "--data", "{}"])
    assert result.exit_code == 0, result.output
    assert "throughput" in result.stdout and "latency p99" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sweep", "workers=one"], "--sweep expects workers=N"),
        (["--sweep", "cores=2"], "--sweep expects workers=N"),
        (["--requests", "5", "--duration", "1"], "give --requests or --duration, not both"),
        (["--body", "/no/such/file.json"], "cannot read body file '/no/such/file.json'"),
        (["--body", "x", "--data", "y"], "not both"),
        (["--header", "no-colon"], "--header expects"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(demo, args, message):
    result = runner.invoke(bench_app, [f"{demo.url}/predictions/x", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_cli_unreachable_urls_exit_2():
    dead = f"http://127.0.0.1:{_free_port()}"
    result = runner.invoke(bench_app, [f"{dead}/predictions/x", "--requests", "5"])
    assert result.exit_code == 2
    assert "error: cannot connect to 127.0.0.1" in result.output

    result = runner.invoke(
        bench_app, [f"{dead}/predictions/m", "--sweep", "workers=1", "--management-url", dead, "--token", "t"]
    )
    assert result.exit_code == 2
    assert f"error: cannot reach the management API at {dead}" in result.output
    assert "Traceback" not in result.output


def test_cli_sweep_writes_the_report(token_home, tmp_path):
    app = _fake_model_server()
    with LoopbackServer(app) as server:
        result = runner.invoke(
            bench_app,
            [
                f"{server.url}/predictions/m",
                "--sweep", "workers=1,2",
                "--sweep", "threads=1",
                "--hourly-cost", "0.10",
                "--management-url", server.url,
                "--requests", "20",
                "--data", "{}",
                "--out", str(tmp_path / "out"),
            ],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "| 1 worker x 1 thread |" in result.stdout and "| 2 workers x 1 thread |" in result.stdout
    for name in ("sweep.md", "sweep.csv", "sweep.png"):
        assert (tmp_path / "out" / name).is_file()
        assert f"wrote {tmp_path / 'out' / name}" in result.stdout
    assert _registrations(app.state.model_state["calls"]) == [(1, 1), (2, 1), (3, 1)]
    assert Path(tmp_path / "out" / "sweep.md").read_text().startswith("# m: workers x threads sweep")
