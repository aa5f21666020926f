"""int8 quantisation of the tiny hand-built detector: same detections, metadata kept, settings honoured."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from PIL import Image
from typer.testing import CliRunner

from openmaker.vision.edge import EdgeDetector
from openmaker.vision.errors import ModelError
from openmaker.vision.onnxmeta import read_meta
from openmaker.vision.quantize import head_convs, quantize_int8
from tests.vision.test_edge import CLASSES, GREEN, GRID, RED, _app, cells_frame, write_tiny_model


def _scenes(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        cells = {(int(rng.integers(GRID)), int(rng.integers(GRID))): (RED, GREEN)[int(rng.integers(2))] for _ in range(3)}
        frames.append(cells_frame(cells, 64, 48))
    return frames


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("q") / "tiny.onnx")


def _ops(path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in onnx.load(str(path)).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def _assert_same_detections(float_model, int8_model, frames):
    reference, quantized = EdgeDetector(float_model), EdgeDetector(int8_model)
    for frame in frames:
        want, got = reference.detect(frame), quantized.detect(frame)
        assert sorted(map(tuple, want[:, [0, 2, 3]].round(2))) == sorted(map(tuple, got[:, [0, 2, 3]].round(2)))
        np.testing.assert_allclose(np.sort(got[:, 1]), np.sort(want[:, 1]), atol=0.02)


def test_qdq_int8_keeps_detections_and_metadata(model, tmp_path):
    calibration = [Image.fromarray(f) for f in _scenes(8, seed=1)]
    out = quantize_int8(model, tmp_path / "tiny.int8.onnx", calibration)
    ops = _ops(out)
    assert ops["QuantizeLinear"] >= 3 and ops["DequantizeLinear"] >= 6
    graph = onnx.load(str(out)).graph
    zero_points = {i.name: i.data_type for i in graph.initializer}
    quantizers = [n for n in graph.node if n.op_type == "QuantizeLinear"]
    assert {zero_points[n.input[2]] for n in quantizers} == {onnx.TensorProto.UINT8}  # U8S8 by default
    assert read_meta(out).classes == CLASSES
    np.testing.assert_array_equal(read_meta(out).anchors, read_meta(model).anchors)
    _assert_same_detections(model, out, _scenes(6, seed=2))


def test_calibration_from_files_and_qoperator_per_tensor(model, tmp_path):
    paths = []
    for k, frame in enumerate(_scenes(4, seed=3)):
        paths.append(tmp_path / f"c{k}.png")
        Image.fromarray(frame).save(paths[-1])
    out = quantize_int8(model, tmp_path / "op.onnx", paths, quant_format="qoperator", per_channel=False,
                        activations="int8", preprocess=False)  # fmt: skip
    assert _ops(out).get("QLinearConv") == 3
    graph = onnx.load(str(out)).graph
    assert {i.data_type for i in graph.initializer if i.name.endswith("_zero_point")} == {onnx.TensorProto.INT8}
    _assert_same_detections(model, out, _scenes(4, seed=4))


def test_exclude_head_keeps_the_head_convs_in_float(model, tmp_path):
    assert head_convs(onnx.load(str(model))) == ["cls_head", "loc_head"]
    out = quantize_int8(model, tmp_path / "body.onnx", _scenes(4, seed=5), exclude_head=True)
    graph = onnx.load(str(out)).graph
    float_weights = {init.name for init in graph.initializer if init.data_type == onnx.TensorProto.FLOAT}
    heads = [n for n in graph.node if n.name in ("cls_head", "loc_head")]
    assert len(heads) == 2 and all(n.input[1] in float_weights for n in heads)  # weights used as float directly
    backbone = next(n for n in graph.node if n.name == "backbone")
    assert backbone.input[1] not in float_weights  # fed by a DequantizeLinear of int8 weights
    _assert_same_detections(model, out, _scenes(4, seed=6))


def test_bad_input(model, tmp_path):
    with pytest.raises(ValueError, match="no calibration images"):
        quantize_int8(model, tmp_path / "x.onnx", [])
    (tmp_path / "junk.png").write_text("not an image")
    with pytest.raises(ValueError, match=r"junk\.png: not a readable image"):
        quantize_int8(model, tmp_path / "x.onnx", [tmp_path / "junk.png"])
    with pytest.raises(ValueError, match="activations must be int8 or uint8"):
        quantize_int8(model, tmp_path / "x.onnx", _scenes(1, 0), activations="int4")
    with pytest.raises(ValueError, match="quant_format must be one of qdq, qoperator"):
        quantize_int8(model, tmp_path / "x.onnx", _scenes(1, 0), quant_format="int4")
    bare = write_tiny_model(tmp_path / "bare.onnx", meta=None)
    with pytest.raises(ModelError, match="bare.onnx: not an openmaker vision model"):
        quantize_int8(bare, tmp_path / "x.onnx", _scenes(1, 0))


def test_cli_quantize(model, tmp_path):
    folder = tmp_path / "calibration" / "images"
    folder.mkdir(parents=True)
    for k, frame in enumerate(_scenes(5, seed=7)):
        Image.fromarray(frame).save(folder / f"{k}.jpg")
    runner = CliRunner()
    out = tmp_path / "cli.int8.onnx"
    args = ["quantize", str(model), "--calibration", str(tmp_path / "calibration"), "--out", str(out), "--max-images", "3"]
    result = runner.invoke(_app(), args)
    assert result.exit_code == 0, result.output
    assert "int8 model:" in result.stderr and read_meta(out).classes == CLASSES
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, message in (
        (["quantize", str(tmp_path / "none.onnx"), "--calibration", str(empty)], "none.onnx: no such model file"),
        (["quantize", str(model), "--calibration", str(empty)], "empty: no images"),
        (["quantize", str(model), "--calibration", str(tmp_path / "nope")], "nope: not a folder of calibration images"),
    ):
        result = runner.invoke(_app(), args)
        assert result.exit_code == 2 and result.stderr.startswith("error: ") and message in result.stderr, result.output
