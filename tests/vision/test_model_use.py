"""A trained detector end to end: the SageMaker-shaped endpoint on a real model server, ``vision predict``,
``vision evaluate``, ONNX export (same detections as torch), int8, and the edge loop on the export."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("onnxruntime")

from openmaker.cli import app  # noqa: E402
from tests.serving.conftest import RunningServer, home_for_module, server_settings  # noqa: E402

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, voc_dataset):
    """A small detector trained for 3 epochs on the synthetic shapes (not accurate; the plumbing is under test)."""
    from openmaker.vision.api import train_model

    out = tmp_path_factory.mktemp("od") / "model"
    train_model(voc_dataset.root, out, minutes=10, log=lambda line: None,
                hyperparameters={"image_shape": 128, "epochs": 3, "mini_batch_size": 4, "lr_scheduler_step": "2"})
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_dir):
    with home_for_module(tmp_path_factory.mktemp("od-home")):
        settings = server_settings()
        target = settings.resolved_model_store / "shapes"
        target.mkdir(parents=True)
        with __import__("tarfile").open(model_dir / "model.tar.gz") as archive:
            archive.extractall(target, filter="data")
        running = RunningServer(settings)
        try:
            response = running.register("shapes", model_name="shapes")
            assert response.status_code == 200, response.text
            yield running
        finally:
            running.stop()


def _jpeg(voc_dataset, index=0) -> bytes:
    record = voc_dataset.split("test")[index]
    return voc_dataset.image_path(record).read_bytes()


def test_the_endpoint_answers_sagemakers_prediction_shape(server, voc_dataset, model_dir):
    from openmaker.vision.predictor import Predictor

    body = _jpeg(voc_dataset)
    response = server.inference.post("/predictions/shapes", content=body, headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    prediction = response.json()["prediction"]
    assert prediction, "an untrained-ish model still answers rows above the default threshold of 0.01"
    for row in prediction:
        assert len(row) == 6
        class_id, score, xmin, ymin, xmax, ymax = row
        assert class_id in (0.0, 1.0, 2.0) and 0.01 <= score <= 1.0
        assert 0.0 <= xmin <= xmax <= 1.0 and 0.0 <= ymin <= ymax <= 1.0
    assert [r[1] for r in prediction] == sorted((r[1] for r in prediction), reverse=True)
    direct = Predictor(model_dir).predict(body, score_threshold=0.01)
    assert np.allclose(np.array(prediction), direct, atol=1e-4)


def test_the_threshold_custom_attribute_filters_rows(server, voc_dataset):
    body = _jpeg(voc_dataset, 1)
    everything = server.inference.post("/predictions/shapes", content=body, headers={"Content-Type": "image/jpeg"}).json()
    scores = sorted(r[1] for r in everything["prediction"])
    middle = len(scores) // 2
    cut = (scores[middle - 1] + scores[middle]) / 2  # between two answers: the 6-decimal rounding cannot matter
    response = server.inference.post("/predictions/shapes", content=body, headers={
        "Content-Type": "image/jpeg", "X-Amzn-SageMaker-Custom-Attributes": f"threshold={cut}"})
    assert response.status_code == 200, response.text
    kept = response.json()["prediction"]
    assert kept and all(r[1] >= cut for r in kept) and len(kept) == sum(s >= cut for s in scores)


def test_png_input_and_a_drawn_png_answer(server, voc_dataset):
    from PIL import Image

    buffer = io.BytesIO()
    Image.open(io.BytesIO(_jpeg(voc_dataset))).save(buffer, format="PNG")
    response = server.inference.post("/predictions/shapes", content=buffer.getvalue(),
                                     headers={"Content-Type": "image/png", "Accept": "image/png"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png" and response.content[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "body, headers, status, message",
    [
        (b"not an image", {"Content-Type": "image/jpeg"}, 400, "the posted image: corrupt or unreadable image"),
        (b"", {"Content-Type": "image/jpeg"}, 400, "the body is empty"),
        (b"1,2,3", {"Content-Type": "text/csv"}, 415, "unsupported Content-Type 'text/csv'"),
        (None, {"Content-Type": "image/jpeg", "Accept": "text/csv"}, 406, "cannot produce any type in Accept"),
        (None, {"Content-Type": "image/jpeg", "X-Amzn-SageMaker-Custom-Attributes": "threshold=2"}, 400, "threshold must be a number in [0, 1]"),
        (None, {"Content-Type": "image/jpeg", "X-Amzn-SageMaker-Custom-Attributes": "colour=red"}, 400, "is not one of threshold"),
    ],
)
def test_bad_requests_get_clear_errors(server, voc_dataset, body, headers, status, message):
    response = server.inference.post("/predictions/shapes", content=_jpeg(voc_dataset) if body is None else body, headers=headers)
    assert response.status_code == status, response.text
    assert message in response.text


def test_vision_predict_prints_the_prediction_and_draws_it(tmp_path, model_dir, voc_dataset):
    image = voc_dataset.image_path(voc_dataset.split("test")[0])
    out = tmp_path / "boxes.png"
    result = runner.invoke(app, ["vision", "predict", str(image), "--model", str(model_dir / "model.tar.gz"),
                                 "--out", str(out), "--threshold", "0.05"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["prediction"]
    assert all(len(r) == 6 and r[1] >= 0.05 for r in rows)
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_vision_evaluate_json_and_pictures(tmp_path, model_dir, voc_dataset):
    result = runner.invoke(app, ["vision", "evaluate", str(model_dir), str(voc_dataset.root), "--split", "test", "--json",
                                 "--png", str(tmp_path / "ap.png"), "--examples", str(tmp_path / "ex")])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert set(answer) >= {"map50", "map", "per_class"} and answer["split"] == "test"
    assert set(answer["per_class"]) == set(voc_dataset.classes)
    assert 0.0 <= answer["map"] <= answer["map50"] <= 1.0
    assert (tmp_path / "ap.png").read_bytes()[:4] == b"\x89PNG" and list((tmp_path / "ex").glob("*.png"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["vision", "predict", "{image}", "--model", "{tmp}/nope"], "no such model"),
        (["vision", "evaluate", "{tmp}/nope", "{dataset}"], "no such model"),
        (["vision", "evaluate", "{model}", "{dataset}", "--split", "holdout"], "unknown split 'holdout'"),
        (["vision", "export", "{model}", "--out", "{tmp}/m.onnx", "--format", "tflite"], "only onnx is supported"),
        (["vision", "export", "{model}", "--out", "{tmp}/m.onnx", "--int8", "{tmp}/q.onnx"], "--int8 needs --calibration"),
        (["vision", "predict", "{tmp}/corrupt.jpg", "--model", "{model}"], "corrupt or unreadable image"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path, model_dir, voc_dataset, args, message):
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    values = {"tmp": tmp_path, "model": model_dir, "dataset": voc_dataset.root,
              "image": voc_dataset.image_path(voc_dataset.records[0])}
    result = runner.invoke(app, [a.format(**values) for a in args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.output


def test_a_corrupt_model_is_refused(tmp_path, model_dir, voc_dataset):
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"\x00" * 64)
    result = runner.invoke(app, ["vision", "predict", str(voc_dataset.image_path(voc_dataset.records[0])), "--model", str(broken)])
    assert result.exit_code == 2 and "cannot load the weights" in result.output


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory, model_dir):
    out = tmp_path_factory.mktemp("onnx") / "shapes.onnx"
    result = runner.invoke(app, ["vision", "export", str(model_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_the_onnx_export_detects_what_torch_detects(onnx_model, model_dir, voc_dataset):
    from openmaker.vision.edge import EdgeDetector
    from openmaker.vision.onnxmeta import read_meta
    from openmaker.vision.predictor import Predictor

    meta = read_meta(str(onnx_model))
    assert meta.classes == list(voc_dataset.classes) and meta.image_size == 128
    import onnx

    graph = onnx.load(str(onnx_model)).graph
    assert [i.name for i in graph.input] == ["images"] and [o.name for o in graph.output] == ["loc", "logits"]
    assert not {n.op_type for n in graph.node} & {"NonMaxSuppression", "TopK"}
    detector, predictor = EdgeDetector(onnx_model), Predictor(model_dir)
    for record in voc_dataset.split("test")[:3]:
        image = voc_dataset.read_image(record)
        ours = detector.detect(np.asarray(image), score_threshold=0.05)
        theirs = predictor.predict(image, score_threshold=0.05)
        assert ours.shape == theirs.shape
        assert np.allclose(ours, theirs, atol=2e-3)


def test_int8_export_and_the_edge_loop_on_a_folder(tmp_path, onnx_model, voc_dataset):
    calibration = tmp_path / "calibration"
    calibration.mkdir()
    for record in voc_dataset.split("train")[:4]:
        shutil.copy(voc_dataset.image_path(record), calibration)
    int8 = tmp_path / "shapes-int8.onnx"
    result = runner.invoke(app, ["vision", "quantize", str(onnx_model), "--calibration", str(calibration), "--out", str(int8)])
    assert result.exit_code == 0, result.output
    frames = tmp_path / "frames"
    frames.mkdir()
    for record in voc_dataset.split("test"):
        shutil.copy(voc_dataset.image_path(record), frames)
    # The edge loop as the device runs it: its own process, where torch never loads.
    code = ("import sys, runpy; sys.argv = ['openmaker', 'vision', 'edge', '--model', sys.argv[1], '--source', sys.argv[2], "
            "'--threshold', '0.05']; from openmaker.cli import main; rc = main(); "
            "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code, str(int8), str(frames)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == len(voc_dataset.split("test"))
    assert all(set(line) >= {"frame", "source", "detections"} for line in lines)
    assert "frames/s" in done.stderr or "fps" in done.stderr.lower()
