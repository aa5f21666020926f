"""The model server's HTTP contract, against a real server on loopback ports."""

from __future__ import annotations

import io
import json

import numpy as np


def test_ping_is_healthy_with_no_models(server):
    r = server.inference.get("/ping")
    assert r.status_code == 200
    assert r.json() == {"status": "Healthy"}


def test_register_predict_describe_unregister(server):
    r = server.register("testkit")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == 'Model "testkit" Version: 1.0 registered with 1 initial workers'

    r = server.inference.post("/predictions/testkit", content=b"hello")
    assert r.status_code == 200
    assert r.json()["body"] == "hello"
    assert server.inference.post("/predictions/testkit/1.0", content=b"v").json()["body"] == "v"

    [described] = server.management.get("/models/testkit").json()
    assert described["modelName"] == "testkit"
    assert described["modelVersion"] == "1.0"
    assert described["minWorkers"] == 1
    assert [w["status"] for w in described["workers"]] == ["READY"]
    assert described["workers"][0]["pid"] == r.json()["pid"]

    listing = server.management.get("/models").json()
    assert listing == {"models": [{"modelName": "testkit", "modelUrl": "testkit"}]}

    r = server.management.delete("/models/testkit/1.0")
    assert r.status_code == 200
    assert server.inference.post("/predictions/testkit", content=b"x").status_code == 404


def test_register_with_zero_workers_answers_503_until_scaled(server):
    r = server.register("testkit", initial_workers=0)
    assert "registered with 0 initial workers" in r.json()["status"]
    r = server.inference.post("/predictions/testkit", content=b"x")
    assert r.status_code == 503
    assert "min_worker" in r.json()["message"]
    r = server.management.put("/models/testkit", params={"min_worker": 1, "synchronous": "true"})
    assert r.status_code == 200
    assert r.json() == {"status": "Workers scaled to 1 for model: testkit"}
    assert server.inference.post("/predictions/testkit", content=b"x").status_code == 200


def test_list_models_paginates(server):
    for name in ("noop", "testkit"):
        server.register(name, initial_workers=0)
    page = server.management.get("/models", params={"limit": 1}).json()
    assert page == {"models": [{"modelName": "noop", "modelUrl": "noop"}], "nextPageToken": "1"}
    page = server.management.get("/models", params={"limit": 1, "next_page_token": 1}).json()
    assert page == {"models": [{"modelName": "testkit", "modelUrl": "testkit"}]}


def test_versions_and_default(server, tmp_path):
    import shutil

    store = server.server.settings.resolved_model_store
    v2 = store / "testkit-v2"
    shutil.copytree(store / "testkit", v2)
    manifest = json.loads((v2 / "MAR-INF/MANIFEST.json").read_text())
    manifest["model"]["modelVersion"] = "2.0"
    (v2 / "MAR-INF/MANIFEST.json").write_text(json.dumps(manifest))
    server.register("testkit")
    assert server.register("testkit-v2").status_code == 200
    versions = server.management.get("/models/testkit/all").json()
    assert {(v["modelVersion"], v["isDefault"]) for v in versions} == {("1.0", True), ("2.0", False)}
    # The default version may not be removed while another exists.
    assert server.management.delete("/models/testkit/1.0").status_code == 409
    r = server.management.put("/models/testkit/2.0/set-default")
    assert r.status_code == 200
    assert server.management.get("/models/testkit").json()[0]["modelVersion"] == "2.0"
    assert server.management.delete("/models/testkit/1.0").status_code == 200
    assert server.register("testkit-v2").status_code == 409  # already registered


def test_invocations_uses_the_only_model_or_the_named_one(server):
    server.register("testkit")
    assert server.inference.post("/invocations", content=b"a").json()["body"] == "a"
    server.register("noop")
    r = server.inference.post("/invocations", content=b"a")
    assert r.status_code == 400
    assert "X-Amzn-SageMaker-Target-Model" in r.json()["message"]
    r = server.inference.post("/invocations", content=b"b", headers={"X-Amzn-SageMaker-Target-Model": "testkit.tar.gz"})
    assert r.json()["body"] == "b"
    assert server.inference.post("/invocations?model_name=noop", content=b"b").json() == {"ok": True}


def test_multipart_upload_like_curl_F(server):
    server.register("testkit")
    r = server.inference.post("/predictions/testkit", files={"data": ("kitten.jpg", io.BytesIO(b"pixels"), "image/jpeg")})
    assert r.status_code == 200
    assert r.json()["body"] == "pixels"


def test_open_inference_protocol(server, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    graph = helper.make_graph([helper.make_node("Mul", ["x", "two"], ["y"])], "double", [x], [y], [two])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    target = server.server.settings.resolved_model_store / "double"
    target.mkdir()
    onnx.save(model, target / "model.onnx")
    assert server.register("double").status_code == 200

    assert server.inference.get("/v2/health/live").status_code == 200
    assert server.inference.get("/v2/health/ready").status_code == 200
    assert server.inference.get("/v2/models/double/ready").status_code == 200
    meta = server.inference.get("/v2/models/double").json()
    assert meta["name"] == "double"
    assert meta["inputs"][0]["name"] == "x" and meta["inputs"][0]["datatype"] == "FP32"
    body = {"id": "42", "inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]}
    r = server.inference.post("/v2/models/double/infer", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["id"] == "42" and out["model_name"] == "double"
    assert out["outputs"][0]["shape"] == [2, 2]
    assert np.allclose(out["outputs"][0]["data"], [2, 4, 6, 8])

    bad = {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3]}]}
    r = server.inference.post("/v2/models/double/infer", json=bad)
    assert r.status_code == 400
    assert "needs 4 values, got 3" in r.json()["error"]
    r = server.inference.post("/v2/models/double/infer", content=b"{not json")
    assert r.status_code == 400 and "error" in r.json()
    assert server.inference.post("/v2/models/missing/infer", json=body).status_code == 404


def test_metrics_count_requests_and_workers(server):
    server.register("testkit")
    for _ in range(3):
        server.inference.post("/predictions/testkit", content=b"x")
    server.inference.post("/predictions/testkit", content=b"raise")
    text = server.metrics.get("/metrics").text
    assert 'openmaker_requests_total{model="testkit",status="200",version="1.0"} 3.0' in text
    assert 'openmaker_requests_total{model="testkit",status="500",version="1.0"} 1.0' in text
    assert 'openmaker_request_latency_seconds_bucket{le="+Inf",model="testkit",version="1.0"} 4.0' in text
    assert 'openmaker_workers{model="testkit",state="READY",version="1.0"} 1.0' in text
    assert 'openmaker_queue_depth{model="testkit",version="1.0"} 0.0' in text
    only = server.metrics.get("/metrics", params={"name[]": "openmaker_queue_depth"}).text
    assert "openmaker_queue_depth" in only and "openmaker_requests_total" not in only


def test_api_docs_work_offline(server):
    for client in (server.inference, server.management):
        page = client.get("/docs", headers={"Authorization": ""})
        assert page.status_code == 200
        assert "cdn" not in page.text.lower()
        assert client.get("/docs-static/swagger-ui-bundle.js").status_code == 200
        schema = client.get("/openapi.json", headers={"Authorization": ""}).json()
        assert schema["openapi"].startswith("3.0")
    paths = server.inference.get("/openapi.json").json()["paths"]
    assert {"/ping", "/invocations", "/predictions/{model_name}", "/v2/models/{name}/infer"} <= set(paths)


def test_ping_is_not_healthy_while_startup_models_load(server):
    server.server.registry.loading = True
    r = server.inference.get("/ping")
    assert r.status_code == 503 and r.json() == {"status": "Starting"}
    assert server.inference.get("/v2/health/ready").status_code == 503
    server.server.registry.loading = False
    assert server.inference.get("/ping").status_code == 200
