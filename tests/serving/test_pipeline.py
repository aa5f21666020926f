"""Serial inference pipelines (SageMaker "Inference Pipelines"), against real servers on loopback."""

from __future__ import annotations

import asyncio
import json
import shutil

import pytest
from typer.testing import CliRunner

from openmaker.serving.errors import BadRequest, ServiceUnavailable
from openmaker.serving.pipeline import Pipeline, PipelineError, PipelineStageError, run_stages
from openmaker.serving.protocol import InferenceRequest, InferenceResponse
from tests.serving.conftest import TOKEN, RunningServer, model_source, server_settings

STAGE_MODELS = ("scale", "addone", "echo")


def add_stage_models(server: RunningServer) -> None:
    store = server.server.settings.resolved_model_store
    for name in STAGE_MODELS:
        shutil.copytree(model_source(name), store / name, dirs_exist_ok=True)


def register_stages(server: RunningServer, *names: str) -> None:
    add_stage_models(server)
    for name in names:
        r = server.register(name)
        assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def pserver(tmp_path_factory):
    """One server with scale (x2), addone (+1, refuses > 100), echo and testkit registered."""
    server = RunningServer(server_settings(home=tmp_path_factory.mktemp("pipeline-home")))
    try:
        register_stages(server, *STAGE_MODELS)
        yield server
    finally:
        server.stop()


@pytest.fixture
def endpoint(pserver):
    """Create endpoints for one test and delete them afterwards."""
    created: list[str] = []

    def create(name: str, *models: str, **body) -> str:
        r = pserver.management.post("/endpoints", json={"name": name, "models": list(models), **body})
        assert r.status_code == 200, r.text
        created.append(name)
        return name

    yield create
    for name in created:
        pserver.management.delete(f"/endpoints/{name}")


def invoke(server: RunningServer, name: str, body: bytes, content_type: str, accept: str | None = None, how="path"):
    headers = {"Content-Type": content_type}
    if accept:
        headers["Accept"] = accept
    if how == "path":
        return server.inference.post(f"/endpoints/{name}/invocations", content=body, headers=headers)
    if how == "header":
        headers["X-Amzn-SageMaker-Target-Model"] = name
        return server.inference.post("/invocations", content=body, headers=headers)
    return server.inference.post("/invocations", params={"model_name": name}, content=body, headers=headers)


# -- end to end -------------------------------------------------------------------
def test_two_stage_pipeline_csv_in_json_out(pserver, endpoint):
    endpoint("double-plus-one", "scale", "addone")
    r = invoke(pserver, "double-plus-one", b"1,2,3", "text/csv", "application/json")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"values": [3.0, 5.0, 7.0]}


@pytest.mark.parametrize("how", ["path", "header", "query"])
def test_three_stage_pipeline_by_every_route(pserver, endpoint, how):
    endpoint("three", "scale", "addone", "scale")
    r = invoke(pserver, "three", b"1\n2\n3\n", "text/csv", "application/json", how=how)
    assert r.status_code == 200, r.text
    assert r.json() == {"values": [6.0, 10.0, 14.0]}


def test_accept_goes_to_the_last_stage(pserver, endpoint):
    endpoint("three-csv", "scale", "addone", "scale")
    r = invoke(pserver, "three-csv", b"[1, 2, 3]", "application/json", "text/csv")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.text == "6\n10\n14\n"


def test_content_types_between_stages(pserver, endpoint):
    # The last stage sees JSON from the previous one and the client's Accept.
    endpoint("scale-echo", "scale", "echo")
    r = invoke(pserver, "scale-echo", b"1,2", "text/csv", "text/csv")
    assert r.status_code == 200, r.text
    seen = r.json()
    assert seen["content_type"] == "application/json"
    assert seen["accept"] == "text/csv"
    assert json.loads(seen["body"]) == {"values": [2.0, 4.0]}

    # The first stage sees the client's Content-Type and is asked for JSON.
    endpoint("echo-echo", "echo", "echo")
    r = invoke(pserver, "echo-echo", b"1,2", "text/csv", "application/json")
    first = json.loads(r.json()["body"])
    assert first == {"content_type": "text/csv", "accept": "application/json", "body": "1,2"}
    assert r.json()["content_type"] == "application/json"


def test_configured_intermediate_accept(pserver, endpoint):
    endpoint("csv-between", "scale", "echo", accepts=["text/csv", None])
    r = invoke(pserver, "csv-between", b"1,2", "text/csv", "application/json")
    assert r.status_code == 200, r.text
    assert r.json()["content_type"] == "text/csv"
    assert r.json()["body"] == "2\n4\n"
    described = pserver.management.get("/endpoints/csv-between").json()
    assert described["stages"][0]["accept"] == "text/csv"


def test_failing_stage_gives_its_status_and_names_the_stage(pserver, endpoint):
    endpoint("fails-late", "scale", "addone")
    r = invoke(pserver, "fails-late", b"60", "text/csv", "application/json")
    assert r.status_code == 400
    assert r.json() == {
        "code": 400,
        "type": "PipelineStageError",
        "message": "stage 2 of 2 (addone): values over 100 are refused",
    }
    # The same through the FastAPI route (/invocations + header).
    r = invoke(pserver, "fails-late", b"60", "text/csv", "application/json", how="header")
    assert r.status_code == 400
    assert r.json()["message"] == "stage 2 of 2 (addone): values over 100 are refused"

    r = invoke(pserver, "fails-late", b"abc", "text/csv", "application/json")
    assert r.status_code == 400
    assert r.json()["message"].startswith("stage 1 of 2 (scale): CSV body has a non-numeric value")

    r = invoke(pserver, "fails-late", b"1", "text/csv", "application/x-unknown")
    assert r.status_code == 406
    assert r.json()["message"].startswith("stage 2 of 2 (addone): cannot answer")


def test_stage_count_limits(pserver):
    r = pserver.management.post("/endpoints", params={"name": "one", "models": "scale"})
    assert r.status_code == 400
    assert "2 to 15 models, got 1" in r.json()["message"]
    r = pserver.management.post("/endpoints", params={"name": "sixteen", "models": ",".join(["scale"] * 16)})
    assert r.status_code == 400
    assert "2 to 15 models, got 16" in r.json()["message"]
    r = pserver.management.post("/endpoints", params={"name": "none"})
    assert r.status_code == 400


def test_fifteen_stages(pserver, endpoint):
    endpoint("fifteen", *(["addone"] * 15))
    r = invoke(pserver, "fifteen", b"0", "text/csv", "application/json")
    assert r.status_code == 200, r.text
    assert r.json() == {"values": [15.0]}


def test_create_by_query_describe_list_delete(pserver):
    r = pserver.management.post("/endpoints", params={"name": "q", "models": "scale,addone:1.0"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == 'Endpoint "q" created: scale:1.0 -> addone:1.0'
    assert r.status_code == 200
    listed = pserver.management.get("/endpoints").json()["endpoints"]
    assert {"endpointName": "q", "models": ["scale:1.0", "addone:1.0"]} in listed
    described = pserver.management.get("/endpoints/q").json()
    assert described["endpointName"] == "q"
    assert [s["modelName"] for s in described["stages"]] == ["scale", "addone"]
    assert described["stages"][0]["model"]["modelName"] == "scale"
    assert described["stages"][1]["model"]["minWorkers"] == 1

    # A model used by an endpoint cannot be unregistered.
    r = pserver.management.delete("/models/addone")
    assert r.status_code == 409
    assert "endpoint" in r.json()["message"]

    r = pserver.management.delete("/endpoints/q")
    assert r.status_code == 200
    assert pserver.management.get("/endpoints/q").status_code == 404
    assert invoke(pserver, "q", b"1", "text/csv").status_code == 404
    assert pserver.management.delete("/endpoints/q").status_code == 404


def test_name_clashes_and_unknowns(pserver, endpoint):
    r = pserver.management.post("/endpoints", json={"name": "scale", "models": ["scale", "addone"]})
    assert r.status_code == 409
    assert "registered model" in r.json()["message"]

    endpoint("taken", "scale", "addone")
    r = pserver.management.post("/endpoints", json={"name": "taken", "models": ["scale", "addone"]})
    assert r.status_code == 409
    # A model may not take an endpoint's name either.
    r = pserver.register("scale", model_name="taken")
    assert r.status_code == 409
    assert "endpoint" in r.json()["message"]

    r = pserver.management.post("/endpoints", json={"name": "ghost", "models": ["scale", "nope"]})
    assert r.status_code == 404
    r = pserver.management.post("/endpoints", json={"name": "ghost", "models": ["scale", "addone:9.9"]})
    assert r.status_code == 404
    r = pserver.management.post("/endpoints", json={"name": "bad", "models": "scale,addone", "accepts": "x"})
    assert r.status_code == 400
    r = pserver.management.post("/endpoints", json={"name": "bad", "models": ["scale", "addone"], "accepts": [None]})
    assert r.status_code == 400
    r = pserver.management.post("/endpoints", content=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400

    for how in ("path", "header", "query"):
        r = invoke(pserver, "no-such-endpoint", b"1", "text/csv", how=how)
        assert r.status_code == 404, how
    assert pserver.management.get("/endpoints/no-such-endpoint").status_code == 404


def test_management_api_needs_the_token(pserver):
    import httpx

    r = httpx.get(pserver.server.url("management") + "/endpoints")
    assert r.status_code == 401


def test_cli_create_list_delete(pserver):
    from openmaker.cli import app

    runner = CliRunner()
    url = pserver.server.url("management")
    common = ["--management-url", url, "--token", TOKEN]
    r = runner.invoke(app, ["endpoint", "create", "from-cli", "--model", "scale", "--model", "addone", *common])
    assert r.exit_code == 0, r.output
    assert "from-cli" in r.output
    assert invoke(pserver, "from-cli", b"2", "text/csv", "application/json").json() == {"values": [5.0]}

    r = runner.invoke(app, ["endpoint", "list", *common])
    assert r.exit_code == 0, r.output
    assert "from-cli" in r.output and "scale:1.0 -> addone:1.0" in r.output

    r = runner.invoke(app, ["endpoint", "create", "one-model", "--model", "scale", *common])
    assert r.exit_code == 2
    assert "2 to 15 models" in r.output
    assert len(r.output.strip().splitlines()) == 1

    r = runner.invoke(app, ["endpoint", "create", "no-models", *common])
    assert r.exit_code == 2

    r = runner.invoke(app, ["endpoint", "delete", "from-cli", *common])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["endpoint", "delete", "from-cli", *common])
    assert r.exit_code == 2
    assert "does not exist" in r.output

    r = runner.invoke(app, ["endpoint", "list", "--management-url", url, "--token", "wrong"])
    assert r.exit_code == 2
    assert len(r.output.strip().splitlines()) == 1


def test_cli_reads_the_token_file(pserver, monkeypatch, tmp_path):
    from openmaker.cli import app

    monkeypatch.setenv("OPENMAKER_HOME", str(tmp_path))
    (tmp_path / "management.token").write_text(TOKEN + "\n")
    r = CliRunner().invoke(app, ["endpoint", "list", "--management-url", pserver.server.url("management")])
    assert r.exit_code == 0, r.output


def test_cli_unreachable_server():
    from openmaker.cli import app

    r = CliRunner().invoke(app, ["endpoint", "list", "--management-url", "http://127.0.0.1:9", "--token", "t"])
    assert r.exit_code == 1
    assert "cannot reach" in r.output


def test_endpoint_with_model_without_workers(make_server):
    server = make_server()
    register_stages(server, "scale", "addone")
    r = server.management.post("/endpoints", json={"name": "p", "models": ["scale", "addone"]})
    assert r.status_code == 200, r.text
    # addone cannot be unregistered while p uses it, but it can be scaled to 0.
    assert server.management.put("/models/addone", params={"min_worker": 0, "synchronous": "true"}).status_code == 200
    r = invoke(server, "p", b"1", "text/csv", "application/json")
    assert r.status_code == 503
    assert r.json()["message"].startswith("stage 2 of 2 (addone): model addone version 1.0 has no workers")
    assert "retry-after" in r.headers


# -- the pipeline itself, without a server ------------------------------------------
class FakeStage:
    def __init__(self, name, answer):
        self.name, self.version, self.answer, self.seen = name, "1", answer, []

    async def submit(self, request):
        self.seen.append(request)
        return self.answer(request)


def test_run_stages_passes_bodies_and_content_types():
    a = FakeStage("a", lambda r: InferenceResponse(body=b"A:" + r.body, content_type="application/x-a"))
    b = FakeStage("b", lambda r: InferenceResponse(body=b"B:" + r.body, content_type="text/plain"))
    c = FakeStage("c", lambda r: InferenceResponse(body=b"C:" + r.body, content_type="text/csv"))
    request = InferenceRequest(
        body=b"x", content_type="text/csv", accept="text/csv", headers={"x-amzn-sagemaker-custom-attributes": "k=v"}
    )
    response = asyncio.run(Pipeline("p", [a, b, c], accepts=[None, "text/plain", None]).run(request))
    assert response.body == b"C:B:A:x" and response.content_type == "text/csv"
    assert (a.seen[0].content_type, a.seen[0].accept) == ("text/csv", "application/json")
    assert (b.seen[0].content_type, b.seen[0].accept) == ("application/x-a", "text/plain")
    assert (c.seen[0].content_type, c.seen[0].accept) == ("text/plain", "text/csv")
    assert c.seen[0].headers == {
        "x-amzn-sagemaker-custom-attributes": "k=v",
        "content-type": "text/plain",
        "accept": "text/csv",
    }


def test_run_stages_errors():
    ok = FakeStage("ok", lambda r: InferenceResponse(body=r.body))
    bad = FakeStage(
        "bad", lambda r: InferenceResponse(body=b'{"code": 422, "message": "no"}', status=422)
    )

    def unavailable(request):
        raise ServiceUnavailable("busy", retry_after=7)

    down = FakeStage("down", unavailable)
    with pytest.raises(PipelineStageError) as info:
        asyncio.run(run_stages([ok, bad, ok], InferenceRequest(body=b"1")))
    assert (info.value.status, info.value.message) == (422, "stage 2 of 3 (bad): no")
    assert ok.seen and len(ok.seen) == 1  # the stage after the failure never ran
    with pytest.raises(PipelineStageError) as info:
        asyncio.run(run_stages([down, ok], InferenceRequest(body=b"1")))
    assert (info.value.status, info.value.retry_after) == (503, 7)
    assert info.value.message == "stage 1 of 2 (down): busy"

    plain = FakeStage("plain", lambda r: InferenceResponse(body=b"oops", content_type="text/plain", status=500))
    with pytest.raises(PipelineStageError, match=r"stage 2 of 2 \(plain\): oops"):
        asyncio.run(run_stages([ok, plain], InferenceRequest()))

    raising = FakeStage("raising", lambda r: (_ for _ in ()).throw(BadRequest("bad body")))
    with pytest.raises(PipelineStageError, match=r"stage 1 of 1 \(raising\): bad body"):
        asyncio.run(run_stages([raising], InferenceRequest()))


def test_pipeline_stage_counts():
    stage = FakeStage("s", lambda r: InferenceResponse())
    for n in (0, 1, 16):
        with pytest.raises(PipelineError) as info:
            Pipeline("p", [stage] * n)
        assert info.value.status == 400
    assert len(Pipeline("p", [stage] * 15).stages) == 15
    with pytest.raises(PipelineError, match="one per stage"):
        Pipeline("p", [stage, stage], accepts=["text/csv"])
