"""Bad input gets a clear 4xx that names the problem; handler errors a 500 and the worker lives on."""

from __future__ import annotations

import os
import stat


def test_unknown_model_and_version_are_404(server):
    server.register("testkit")
    r = server.inference.post("/predictions/nope", content=b"x")
    assert r.status_code == 404
    assert r.json() == {"code": 404, "type": "ModelNotFound", "message": "model 'nope' is not registered"}
    r = server.inference.post("/predictions/testkit/9.9", content=b"x")
    assert r.status_code == 404
    assert "no version '9.9'" in r.json()["message"]
    assert server.management.get("/models/nope").status_code == 404


def test_unsupported_content_type_is_415(server):
    server.register("noop")
    # noop is script mode with transform_fn: it takes anything. A model with the default input_fn does not.
    store = server.server.settings.resolved_model_store / "echo"
    (store / "code").mkdir(parents=True)
    (store / "code" / "inference.py").write_text("def model_fn(d):\n    return lambda x: x * 2\n")
    server.register("echo")
    r = server.inference.post("/predictions/echo", content=b"1,2", headers={"Content-Type": "text/csv"})
    assert r.status_code == 200 and r.json() == [2.0, 4.0]
    r = server.inference.post("/predictions/echo", content=b"\x00", headers={"Content-Type": "application/x-weird"})
    assert r.status_code == 415
    assert "application/x-weird" in r.json()["message"]
    r = server.inference.post("/predictions/echo", content=b"{oops", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert "not valid JSON" in r.json()["message"]
    r = server.inference.post("/predictions/echo", content=b"[1]", headers={"Content-Type": "application/json", "Accept": "image/png"})
    assert r.status_code == 406


def test_body_over_the_limit_is_413(make_server):
    server = make_server(max_request_size=1000)
    server.register("testkit")
    r = server.inference.post("/predictions/testkit", content=b"x" * 1001)
    assert r.status_code == 413
    assert "over the limit of 1000 bytes" in r.json()["message"]
    # Without Content-Length (chunked), the limit holds too.
    r = server.inference.post("/predictions/testkit", content=iter([b"x" * 600, b"x" * 600]))
    assert r.status_code == 413
    assert server.inference.post("/predictions/testkit", content=b"x" * 1000).status_code == 200


def test_handler_exception_is_500_and_worker_keeps_serving(server):
    server.register("testkit")
    pid = server.inference.post("/predictions/testkit", content=b"a").json()["pid"]
    r = server.inference.post("/predictions/testkit", content=b"raise")
    assert r.status_code == 500
    assert r.json()["message"] == "ValueError: the model refused this input"
    r = server.inference.post("/predictions/testkit", content=b"b")
    assert r.status_code == 200 and r.json()["pid"] == pid


def test_management_needs_the_token(server):
    client = server.management
    assert client.get("/models", headers={"Authorization": ""}).status_code == 401
    r = client.get("/models", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert r.json()["message"] == "wrong management token"
    assert r.headers["www-authenticate"] == "Bearer"
    assert client.post("/models", params={"url": "noop"}, headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.get("/models").status_code == 200


def test_token_file_is_created_once_with_mode_0600(tmp_path):
    from openmaker.serving.auth import load_or_create_token

    token, created = load_or_create_token(tmp_path)
    assert created and len(token) >= 32
    mode = stat.S_IMODE(os.stat(tmp_path / "management.token").st_mode)
    assert mode == 0o600
    again, created_again = load_or_create_token(tmp_path)
    assert again == token and not created_again


def test_registering_off_the_allow_list_is_403(server, tmp_path):
    outside = tmp_path / "evil"
    (outside / "code").mkdir(parents=True)
    (outside / "code" / "inference.py").write_text("import os\nos.system('touch /tmp/pwned')\n")
    for url in (str(outside), f"file://{outside}", "http://attacker.example/evil.mar", "../../etc", "s3://bucket/m.tar.gz"):
        r = server.management.post("/models", params={"url": url})
        assert r.status_code == 403, (url, r.text)
        assert "not allowed" in r.json()["message"] or "outside the model store" in r.json()["message"]
    assert server.management.post("/models", params={"url": "missing"}).status_code == 404


def test_allow_list_admits_a_prefix(make_server, tmp_path):
    import shutil

    from tests.serving.conftest import model_source

    shared = tmp_path / "shared-models"
    shutil.copytree(model_source("testkit"), shared / "testkit")
    server = make_server(allowed_urls=[f"file://{shared}/"])
    r = server.register(f"file://{shared}/testkit")
    assert r.status_code == 200, r.text


def test_bad_management_parameters_are_400(server):
    r = server.management.post("/models", params={"url": "testkit", "batch_size": "many"})
    assert r.status_code == 400
    assert "batch_size" in r.json()["message"]
    assert server.management.post("/models", params={"url": "testkit", "batch_size": 0}).status_code == 400
    assert server.management.post("/models", params={}).status_code == 400
    server.register("testkit", initial_workers=0)
    r = server.management.put("/models/testkit", params={"min_worker": 2, "max_worker": 1})
    assert r.status_code == 400
    assert server.management.put("/models/testkit", params={"min_worker": -1}).status_code == 400
    assert server.management.put("/models/testkit").status_code == 400


def test_a_model_that_fails_to_load_is_reported_not_registered(server):
    r = server.register("broken")
    assert r.status_code == 500
    assert "weights file is corrupt" in r.json()["message"]
    assert server.management.get("/models/broken").status_code == 404
    assert server.inference.get("/ping").status_code == 200


def test_bad_archive_names_the_problem(server):
    store = server.server.settings.resolved_model_store
    (store / "empty").mkdir()
    r = server.management.post("/models", params={"url": "empty"})
    assert r.status_code == 400
    assert "cannot tell how to serve" in r.json()["message"]
    (store / "notar.tar.gz").write_bytes(b"not a tarball")
    r = server.management.post("/models", params={"url": "notar.tar.gz"})
    assert r.status_code == 400
    assert "neither a directory" in r.json()["message"]
    bad = store / "badmanifest"
    (bad / "MAR-INF").mkdir(parents=True)
    (bad / "MAR-INF" / "MANIFEST.json").write_text("{")
    assert "not valid JSON" in server.management.post("/models", params={"url": "badmanifest"}).json()["message"]
    r = server.management.post("/models", params={"url": "testkit", "model_name": "1bad name"})
    assert r.status_code == 400 and "invalid model name" in r.json()["message"]
