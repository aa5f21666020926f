"""The built-in array and image handlers, driven directly through ``Handler.handle`` (no server)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from openmaker.serving.errors import ArchiveError
from openmaker.serving.handlers.base import Context, load_handler_class
from openmaker.serving.protocol import InferenceRequest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

WEIGHTS = np.array([1.0, 2.0, 3.0])


# -- model builders -------------------------------------------------------------------------


def write_affine_onnx(path: Path, batch: int | str = "batch") -> Path:
    """y = 2x + 1 on float32 [batch, 3]."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["x", "two"], ["twice"]),
            helper.make_node("Add", ["twice", "one"], ["y"]),
        ],
        "affine",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 3])],
        initializer=[
            helper.make_tensor("two", TensorProto.FLOAT, [], [2.0]),
            helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by every onnxruntime of the last years
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def write_affine_torchscript(path: Path) -> Path:
    torch = pytest.importorskip("torch")

    class Affine(torch.nn.Module):
        def forward(self, x):
            return x * 2 + 1

    torch.jit.save(torch.jit.script(Affine()), str(path))
    return path


def write_linear_regression(path: Path) -> Path:
    import joblib
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    joblib.dump(LinearRegression().fit(X, X @ WEIGHTS + 4.0), path)
    return path


def make_handler(name: str, model_dir: Path, manifest: dict | None = None, threads: int = 1):
    handler = load_handler_class(name)()
    handler.initialize(
        Context(model_dir=model_dir, model_name="m", model_version="1", manifest={"model": manifest or {}},
                threads=threads)
    )
    return handler


# Each array handler with the function its model computes on a [n, 3] batch (and its manifest).
TORCHSCRIPT_INPUTS = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}]}
CASES = {
    "onnx": (lambda d: write_affine_onnx(d / "model.onnx"), lambda x: 2 * x + 1, None),
    "torchscript": (lambda d: write_affine_torchscript(d / "model.pt"), lambda x: 2 * x + 1, TORCHSCRIPT_INPUTS),
    "sklearn": (lambda d: write_linear_regression(d / "model.joblib"), lambda x: x @ WEIGHTS + 4.0, None),
}


@pytest.fixture(params=sorted(CASES))
def array_case(request, tmp_path):
    write, expected, manifest = CASES[request.param]
    write(tmp_path)
    return make_handler(request.param, tmp_path, manifest), expected


def json_request(value, **kw) -> InferenceRequest:
    return InferenceRequest(body=json.dumps(value).encode(), content_type="application/json", **kw)


def npy_bytes(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array))
    return buf.getvalue()


def body_json(response):
    assert response.status == 200, response.body
    return np.array(json.loads(response.body))


def count_runs(handler) -> list:
    """Wrap ``handler.run`` to record the number of rows of each call."""
    calls = []
    run = handler.run

    def counting(feed):
        calls.append(next(iter(feed.values())).shape[0])
        return run(feed)

    handler.run = counting
    return calls


# -- shared array behaviour -------------------------------------------------------------------


def test_batch_of_mixed_encodings_runs_once_and_isolates_the_bad_request(array_case):
    handler, expected = array_case
    calls = count_runs(handler)
    rows = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    requests = [
        json_request([[1, 2, 3]]),
        InferenceRequest(body=b"1,2,3\n4,5,6\n", content_type="text/csv"),
        json_request([1, 2]),  # wrong width: its own 400
        InferenceRequest(body=npy_bytes(rows), content_type="application/x-npy"),
        InferenceRequest(body=b"7,8,9", content_type="text/csv; charset=utf-8"),  # one row, no batch axis
    ]
    responses = handler.handle(requests)
    assert [r.status for r in responses] == [200, 200, 400, 200, 200]
    np.testing.assert_allclose(body_json(responses[0]), expected(rows[:1]), rtol=1e-5)
    np.testing.assert_allclose(body_json(responses[1]), expected(rows), rtol=1e-5)
    np.testing.assert_allclose(body_json(responses[3]), expected(rows), rtol=1e-5)
    np.testing.assert_allclose(body_json(responses[4]), expected(np.array([[7.0, 8.0, 9.0]])), rtol=1e-5)
    message = json.loads(responses[2].body)["message"]
    assert "expects shape [-1, 3]" in message and "got [2]" in message
    # The four good requests (1 + 2 + 2 + 1 rows) went through the model together.
    assert calls == [6]


def test_unsupported_content_type_is_415_and_unsupported_accept_is_406(array_case):
    handler, expected = array_case
    responses = handler.handle(
        [
            InferenceRequest(body=b"1,2,3", content_type="application/xml"),
            json_request([[1, 2, 3]], accept="application/xml"),
            json_request([[1, 2, 3]], accept="text/html, application/json;q=0.5"),
        ]
    )
    assert [r.status for r in responses] == [415, 406, 200]
    assert "application/xml" in json.loads(responses[0].body)["message"]


def test_accept_picks_the_output_encoding(array_case):
    handler, expected = array_case
    csv_response, npy_response = handler.handle(
        [json_request([[1, 2, 3]], accept="text/csv"), json_request([[1, 2, 3]], accept="application/x-npy")]
    )
    want = expected(np.array([[1.0, 2.0, 3.0]]))
    assert csv_response.content_type == "text/csv"
    csv_values = np.loadtxt(io.StringIO(csv_response.body.decode()), delimiter=",")
    np.testing.assert_allclose(csv_values, want.squeeze(), rtol=1e-5)
    assert npy_response.content_type == "application/x-npy"
    np.testing.assert_allclose(np.load(io.BytesIO(npy_response.body)), want, rtol=1e-5)


def test_non_numeric_body_is_400(array_case):
    handler, _ = array_case
    (response,) = handler.handle([json_request([["a", "b", "c"]])])
    assert response.status == 400
    assert "expects FP" in json.loads(response.body)["message"]


def test_open_inference_protocol_tensors(array_case):
    handler, expected = array_case
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    (response,) = handler.handle([InferenceRequest(tensors={"whatever": x.tolist()})])
    assert response.status == 200 and response.body == b""
    (name, value), = response.tensors.items()
    assert name == handler.outputs[0].name
    np.testing.assert_allclose(value, expected(x), rtol=1e-5)


def test_a_model_failure_hits_only_the_request_that_caused_it(array_case):
    handler, expected = array_case
    run = handler.run

    def picky(feed):
        if (next(iter(feed.values())) < 0).any():
            raise RuntimeError("negative input")
        return run(feed)

    handler.run = picky
    responses = handler.handle([json_request([[1, 2, 3]]), json_request([[-1, 2, 3]]), json_request([[4, 5, 6]])])
    assert [r.status for r in responses] == [200, 500, 200]
    assert "negative input" in json.loads(responses[1].body)["message"]
    np.testing.assert_allclose(body_json(responses[2]), expected(np.array([[4.0, 5.0, 6.0]])), rtol=1e-5)


# -- ONNX specifics -----------------------------------------------------------------------------


def test_onnx_metadata_and_named_tensors(tmp_path):
    write_affine_onnx(tmp_path / "model.onnx")
    handler = make_handler("onnx", tmp_path)
    assert handler.metadata() == {
        "platform": "onnxruntime_onnx",
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}],
        "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 3]}],
    }
    ok, wrong_rank = handler.handle(
        [
            InferenceRequest(tensors={"x": np.ones((2, 3), dtype=np.float64)}),
            InferenceRequest(tensors={"x": np.ones((1, 1, 3))}),
        ]
    )
    assert ok.tensors["y"].dtype == np.float32
    np.testing.assert_allclose(ok.tensors["y"], np.full((2, 3), 3.0))
    assert wrong_rank.status == 400
    assert "expects shape [-1, 3] (rank 2), got [1, 1, 3] (rank 3)" in json.loads(wrong_rank.body)["message"]


def test_onnx_with_a_fixed_batch_runs_requests_one_by_one(tmp_path):
    write_affine_onnx(tmp_path / "model.onnx", batch=1)
    handler = make_handler("onnx", tmp_path)
    calls = count_runs(handler)
    responses = handler.handle(
        [json_request([1, 2, 3]), json_request([[4, 5, 6]]), json_request([[1, 2, 3], [4, 5, 6]])]
    )
    assert [r.status for r in responses] == [200, 200, 400]
    assert calls == [1, 1]
    np.testing.assert_allclose(body_json(responses[1]), [[9.0, 11.0, 13.0]])


def test_model_file_lookup_errors(tmp_path):
    with pytest.raises(ArchiveError, match="no .onnx"):
        make_handler("onnx", tmp_path)
    write_affine_onnx(tmp_path / "a.onnx")
    write_affine_onnx(tmp_path / "b.onnx")
    with pytest.raises(ArchiveError, match="several model files"):
        make_handler("onnx", tmp_path)
    handler = make_handler("onnx", tmp_path, {"serializedFile": "b.onnx"})
    assert handler.model_path.name == "b.onnx"


# -- TorchScript and scikit-learn specifics ---------------------------------------------------------


def test_torchscript_names_inputs_after_forward_and_reads_shapes_from_the_manifest(tmp_path):
    write_affine_torchscript(tmp_path / "model.pt")
    handler = make_handler("torchscript", tmp_path)
    assert handler.metadata()["platform"] == "pytorch_torchscript"
    assert [s.name for s in handler.inputs] == ["x"]
    # Without declared shapes anything goes through; declared ones are checked and shown.
    (response,) = handler.handle([json_request([[1, 2]])])
    np.testing.assert_allclose(body_json(response), [[3.0, 5.0]])
    declared = make_handler("torchscript", tmp_path, TORCHSCRIPT_INPUTS)
    assert declared.metadata()["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 3]}]
    (response,) = declared.handle([json_request([[1, 2]])])
    assert response.status == 400 and "[-1, 3]" in json.loads(response.body)["message"]


def test_torchscript_rejects_a_pickled_module(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"weight": torch.zeros(2)}, tmp_path / "model.pt")
    with pytest.raises(ArchiveError, match="not a TorchScript file"):
        make_handler("torchscript", tmp_path)


def test_sklearn_method_from_the_manifest(tmp_path):
    import joblib
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0.0, 0.0], [0.1, 0.2], [1.0, 1.0], [0.9, 1.1]])
    joblib.dump(LogisticRegression().fit(X, [0, 0, 1, 1]), tmp_path / "model.pkl")
    handler = make_handler("sklearn", tmp_path, {"method": "predict_proba"})
    assert handler.metadata()["outputs"] == [{"name": "predict_proba", "datatype": "FP64", "shape": [-1, 2]}]
    (response,) = handler.handle([json_request([[0.0, 0.0], [1.0, 1.0]])])
    probabilities = body_json(response)
    assert probabilities.shape == (2, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert probabilities[0, 0] > 0.5 > probabilities[1, 0]
    with pytest.raises(ArchiveError, match="no method 'transform'"):
        make_handler("sklearn", tmp_path, {"method": "transform"})


# -- image classifier on a tiny TorchScript model -------------------------------------------------


def png_bytes(color, size=(320, 240)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def tiny_classifier(tmp_path):
    """Scores = mean of each channel, so a red image is class 0, green 1, blue 2."""
    torch = pytest.importorskip("torch")

    class ChannelMeans(torch.nn.Module):
        def forward(self, x):
            return x.mean(dim=(2, 3)) * 10

    torch.jit.save(torch.jit.script(ChannelMeans()), str(tmp_path / "model.pt"))
    (tmp_path / "index_to_name.json").write_text(json.dumps({"0": ["n0", "red"], "1": "green", "2": ["blue"]}))
    manifest = {"topk": 2, "normalize": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}}
    return make_handler("image_classifier", tmp_path, manifest)


def test_image_classifier_batches_images_and_answers_in_the_mms_shape(tiny_classifier):
    calls = count_runs(tiny_classifier.model)
    responses = tiny_classifier.handle(
        [
            InferenceRequest(body=png_bytes((255, 0, 0)), content_type="image/png"),
            InferenceRequest(body=b"not an image", content_type="application/octet-stream"),
            InferenceRequest(body=png_bytes((0, 0, 255), size=(100, 500)), content_type=""),
            InferenceRequest(body=png_bytes((0, 255, 0)), content_type="application/json"),
        ]
    )
    assert [r.status for r in responses] == [200, 400, 200, 415]
    assert calls == [2]  # both images in one model run
    red, blue = json.loads(responses[0].body), json.loads(responses[2].body)
    assert [entry["class"] for entry in red] == ["n0 red", "green"]
    assert blue[0]["class"] == "blue" and len(blue) == 2
    assert red[0]["probability"] > red[1]["probability"]
    assert set(red[0]) == {"probability", "class"}
    assert json.loads(responses[1].body)["message"].startswith("body is not an image")


def test_image_preprocessing_matches_torchvision_geometry():
    from PIL import Image

    from openmaker.serving.handlers.image import image_to_array, resize_shorter_side

    assert resize_shorter_side(Image.new("RGB", (451, 300)), 256).size == (384, 256)
    assert resize_shorter_side(Image.new("RGB", (300, 451)), 256).size == (256, 384)
    array = image_to_array(Image.new("RGB", (451, 300), (255, 0, 0)))
    assert array.shape == (3, 224, 224) and array.dtype == np.float32
    np.testing.assert_allclose(array[:, 0, 0], [(1 - 0.485) / 0.229, -0.456 / 0.224, -0.406 / 0.225], rtol=1e-5)


def test_parallel_preprocessing_keeps_order_and_isolates_bad_requests(tmp_path):
    import json as _json
    import threading

    from openmaker.serving.handlers.base import Context, Handler
    from openmaker.serving.protocol import InferenceRequest, InferenceResponse

    class Doubler(Handler):
        preprocess_threads = 4

        def preprocess(self, request):
            if request.body == b"bad":
                raise ValueError("not a number")
            return int(request.body), threading.current_thread().name

        def inference(self, inputs):
            return [(2 * value, thread) for value, thread in inputs]

        def postprocess(self, output, request):
            return InferenceResponse(body=_json.dumps(output[0]).encode())

    handler = Doubler()
    handler.initialize(Context(model_dir=tmp_path, model_name="d", model_version="1"))
    bodies = [b"1", b"2", b"bad", b"4", b"5", b"6"]
    responses = handler.handle([InferenceRequest(body=b) for b in bodies])
    assert [r.status for r in responses] == [200, 200, 500, 200, 200, 200]
    assert [_json.loads(r.body) for r in responses if r.status == 200] == [2, 4, 8, 10, 12]
    assert "not a number" in responses[2].body.decode()
