"""The edge loop on a tiny hand-built ONNX detector (no torch): frames in, JSON lines, MQTT, saved frames out.

The model sees a 32 x 32 input as a 4 x 4 grid of 8-pixel cells, one anchor per cell: a red cell is
class "red", a green one class "green", anything dark is background; boxes are the cells.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from openmaker.vision.draw import draw_boxes
from openmaker.vision.edge import EdgeDetector, run_edge, to_input
from openmaker.vision.errors import ModelError
from openmaker.vision.onnxmeta import attach_meta, meta_json, parse_meta, read_meta
from openmaker.vision.sources import open_source

SIZE, GRID = 32, 4
CLASSES = ["red", "green"]


def _anchors() -> np.ndarray:
    centres = (np.arange(GRID) + 0.5) / GRID
    cy, cx = np.meshgrid(centres, centres, indexing="ij")
    return np.column_stack([cx.ravel(), cy.ravel(), np.full(GRID * GRID, 1 / GRID), np.full(GRID * GRID, 1 / GRID)])


def write_tiny_model(path: Path, *, meta: str | None = "default") -> Path:
    """A 1x1 "backbone" conv + ReLU, then two 8x8/stride-8 head convs reshaped to loc (N, 16, 4), logits (N, 16, 3)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    cell = 1.0 / (SIZE // GRID) ** 2  # a weight of `cell` on every pixel of a channel gives its mean
    cls_w = np.zeros((3, 3, 8, 8), np.float32)
    cls_w[0, 2] = 5 * cell  # background: 10 + 5 * mean(blue)
    cls_w[1] = np.array([20, -10, -10], np.float32)[:, None, None] * cell  # red
    cls_w[2] = np.array([-10, 20, -10], np.float32)[:, None, None] * cell  # green
    loc_w = np.random.default_rng(0).normal(0, 1e-4, (4, 3, 8, 8)).astype(np.float32)  # boxes ~ the anchors
    inits = [
        numpy_helper.from_array(np.eye(3, dtype=np.float32).reshape(3, 3, 1, 1), "backbone_w"),
        numpy_helper.from_array(cls_w, "cls_w"),
        numpy_helper.from_array(np.array([10, 0, 0], np.float32), "cls_b"),
        numpy_helper.from_array(loc_w, "loc_w"),
        numpy_helper.from_array(np.array([0, -1, 3], np.int64), "cls_shape"),
        numpy_helper.from_array(np.array([0, -1, 4], np.int64), "loc_shape"),
    ]
    nodes = [
        helper.make_node("Conv", ["images", "backbone_w"], ["features0"], name="backbone"),
        helper.make_node("Relu", ["features0"], ["features"], name="relu"),
        helper.make_node("Conv", ["features", "cls_w", "cls_b"], ["cls_map"], name="cls_head", kernel_shape=[8, 8], strides=[8, 8]),
        helper.make_node("Conv", ["features", "loc_w"], ["loc_map"], name="loc_head", kernel_shape=[8, 8], strides=[8, 8]),
        helper.make_node("Transpose", ["cls_map"], ["cls_t"], perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["cls_t", "cls_shape"], ["logits"]),
        helper.make_node("Transpose", ["loc_map"], ["loc_t"], perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["loc_t", "loc_shape"], ["loc"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_ssd",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("loc", TensorProto.FLOAT, ["N", GRID * GRID, 4]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", GRID * GRID, 3])],
        inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    if meta == "default":
        meta = meta_json(CLASSES, SIZE, _anchors(), score_threshold=0.3)
    if meta is not None:
        attach_meta(model, meta)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def cells_frame(cells: dict[tuple[int, int], tuple[int, int, int]], width: int = SIZE, height: int = SIZE) -> np.ndarray:
    """A dark RGB frame with the given (row, col) grid cells filled with a colour."""
    frame = np.full((height, width, 3), 20, np.uint8)
    cw, ch = width // GRID, height // GRID
    for (r, c), color in cells.items():
        frame[r * ch : (r + 1) * ch, c * cw : (c + 1) * cw] = color
    return frame


RED, GREEN = (230, 10, 10), (10, 230, 10)


def cell_box(r: int, c: int) -> list[float]:
    return [c / GRID, r / GRID, (c + 1) / GRID, (r + 1) / GRID]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.onnx")


@pytest.fixture
def frames_dir(tmp_path) -> Path:
    """Three frames (96 x 64, so the loop must resize): red at (1, 2); green at (3, 0) + red at (0, 0); nothing."""
    folder = tmp_path / "frames"
    folder.mkdir()
    scenes = [{(1, 2): RED}, {(3, 0): GREEN, (0, 0): RED}, {}]
    for k, scene in enumerate(scenes):
        Image.fromarray(cells_frame(scene, 96, 64)).save(folder / f"f{k}.png")
    (folder / "notes.txt").write_text("not a frame")
    return folder


def test_edge_modules_do_not_import_torch():
    code = ("import sys, openmaker.vision.edge, openmaker.vision.sources, openmaker.vision.quantize, "
            "openmaker.vision.edge_cli, openmaker.vision.onnxmeta; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision')))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_to_input_resizes_and_scales():
    batch = to_input(cells_frame({(0, 0): RED}, 96, 64), SIZE)
    assert batch.shape == (1, 3, SIZE, SIZE) and batch.dtype == np.float32
    assert batch[0, 0, 2, 2] == pytest.approx(230 / 255) and batch[0, 1, 2, 2] == pytest.approx(10 / 255)
    assert batch[0, 0, 20, 20] == pytest.approx(20 / 255)
    assert np.array_equal(to_input(Image.fromarray(cells_frame({(0, 0): RED}, 96, 64)), SIZE), batch)


def test_detector_reads_metadata_and_finds_the_cells(tiny_model):
    detector = EdgeDetector(tiny_model, threads=1)
    assert detector.classes == CLASSES and detector.image_size == SIZE
    rows = detector.detect(cells_frame({(1, 2): RED, (3, 0): GREEN}, 96, 64))
    assert rows[:, 0].tolist() == [0, 1] or rows[:, 0].tolist() == [1, 0]
    by_class = {int(r[0]): r for r in rows}
    np.testing.assert_allclose(by_class[0][2:], cell_box(1, 2), atol=1e-3)
    np.testing.assert_allclose(by_class[1][2:], cell_box(3, 0), atol=1e-3)
    assert (rows[:, 1] > 0.99).all()
    assert detector.detect(cells_frame({})).shape == (0, 6)


def test_run_edge_writes_one_json_line_per_frame(tiny_model, frames_dir):
    out = io.StringIO()
    stats = run_edge(tiny_model, frames_dir, out_json=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(m["frame"], m["source"]) for m in lines] == [(0, "f0.png"), (1, "f1.png"), (2, "f2.png")]
    assert set(lines[0]) == {"frame", "source", "timestamp", "inference_ms", "detections"}
    assert lines[0]["timestamp"].endswith("+00:00") and lines[0]["inference_ms"] > 0
    (hit,) = lines[0]["detections"]
    assert hit["class_id"] == 0 and hit["label"] == "red" and hit["score"] > 0.99
    assert [hit[k] for k in ("xmin", "ymin", "xmax", "ymax")] == pytest.approx(cell_box(1, 2), abs=1e-3)
    assert sorted(d["label"] for d in lines[1]["detections"]) == ["green", "red"]
    assert lines[2]["detections"] == []
    assert (stats.frames, stats.detections) == (3, 3)
    assert stats.seconds > 0 and stats.fps == pytest.approx(3 / stats.seconds)


def test_score_threshold_and_max_frames(tiny_model, frames_dir):
    out = io.StringIO()
    stats = run_edge(tiny_model, frames_dir, out_json=out, score_threshold=0.99999, max_frames=2)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 2 and stats.frames == 2
    assert all(m["detections"] == [] for m in lines)  # red scores ~0.99995 < 0.99999


def test_saves_annotated_frames_and_crops(tiny_model, frames_dir, tmp_path):
    run_edge(tiny_model, frames_dir, out_json=None, save_frames=tmp_path / "annotated", save_crops=tmp_path / "crops")
    assert sorted(p.name for p in (tmp_path / "annotated").iterdir()) == ["000000-f0.jpg", "000001-f1.jpg", "000002-f2.jpg"]
    with Image.open(tmp_path / "annotated" / "000001-f1.jpg") as saved, Image.open(frames_dir / "f1.png") as plain:
        annotated = np.asarray(saved, dtype=int)
        drawn = np.asarray(draw_boxes(plain, EdgeDetector(tiny_model).detect(np.asarray(plain)), CLASSES), dtype=int)
        assert annotated.shape == (64, 96, 3)
        assert np.abs(annotated - drawn).mean() < 0.3 * np.abs(annotated - np.asarray(plain, dtype=int)).mean()
    crops = sorted(p.name for p in (tmp_path / "crops").iterdir())
    assert crops == ["000000-f0-00-red-1.00.jpg", "000001-f1-00-green-1.00.jpg", "000001-f1-01-red-1.00.jpg"] or \
        crops == ["000000-f0-00-red-1.00.jpg", "000001-f1-00-red-1.00.jpg", "000001-f1-01-green-1.00.jpg"]  # fmt: skip
    with Image.open(tmp_path / "crops" / crops[0]) as crop:
        assert crop.size == (24, 16)  # one grid cell of the 96 x 64 frame
        assert np.asarray(crop)[..., 0].mean() > 200  # red
    none = tmp_path / "none"
    run_edge(tiny_model, frames_dir, out_json=None, save_crops=none, crop_threshold=1.0)
    assert list(none.iterdir()) == []


def test_runs_on_a_video_file(tiny_model, tmp_path):
    cv2 = pytest.importorskip("cv2")
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 64))
    assert writer.isOpened()
    for k in range(5):
        writer.write(cv2.cvtColor(cells_frame({(k % GRID, 1): RED}, 64, 64), cv2.COLOR_RGB2BGR))
    writer.release()
    out = io.StringIO()
    stats = run_edge(tiny_model, path, out_json=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert stats.frames == 5 and [m["source"] for m in lines] == ["clip.avi"] * 5
    for k, message in enumerate(lines):
        (hit,) = message["detections"]
        assert hit["label"] == "red"
        assert [hit[c] for c in ("xmin", "ymin", "xmax", "ymax")] == pytest.approx(cell_box(k % GRID, 1), abs=1e-3)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_mosquitto(folder: Path, *, anonymous: bool = True):
    """A mosquitto broker on a free loopback port: (process, port); skips when mosquitto is absent."""
    binary = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if binary is None:
        pytest.skip("mosquitto is not installed")
    port = _free_port()
    config = folder / f"mosquitto-{port}.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous {str(anonymous).lower()}\npersistence false\n")
    broker = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return broker, port
        except OSError:
            if time.monotonic() > deadline or broker.poll() is not None:
                broker.kill()
                pytest.fail("mosquitto did not start")
            time.sleep(0.05)


@pytest.fixture
def mosquitto(tmp_path):
    broker, port = _start_mosquitto(tmp_path)
    yield port
    broker.terminate()
    broker.wait(timeout=10)


def test_publishes_each_frame_to_mqtt(tiny_model, frames_dir, mosquitto):
    mqtt = pytest.importorskip("paho.mqtt.client")
    received, subscribed = [], threading.Event()
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    listener.on_connect = lambda client, data, flags, code, props: client.subscribe("plant/line1/infer", qos=0)
    listener.on_subscribe = lambda client, data, mid, codes, props: subscribed.set()
    listener.on_message = lambda client, data, message: received.append((message.topic, message.payload.decode()))
    listener.connect("127.0.0.1", mosquitto)
    listener.loop_start()
    try:
        assert subscribed.wait(10)
        out = io.StringIO()
        run_edge(tiny_model, frames_dir, out_json=out, mqtt=("127.0.0.1", mosquitto, "plant/line1/infer"))
        deadline = time.monotonic() + 10
        while len(received) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        listener.disconnect()
        listener.loop_stop()
    assert [topic for topic, _ in received] == ["plant/line1/infer"] * 3
    assert [payload for _, payload in received] == out.getvalue().splitlines()


def test_mqtt_bad_inputs(tiny_model, frames_dir, monkeypatch, tmp_path):
    pytest.importorskip("paho.mqtt.client")
    port = _free_port()
    with pytest.raises(ValueError, match=f"MQTT broker 127.0.0.1:{port} cannot be reached"):
        run_edge(tiny_model, frames_dir, out_json=None, mqtt=("127.0.0.1", port, "t"))
    broker, port = _start_mosquitto(tmp_path, anonymous=False)
    try:
        with pytest.raises(ValueError, match=f"MQTT broker 127.0.0.1:{port} did not accept the connection"):
            run_edge(tiny_model, frames_dir, out_json=None, mqtt=("127.0.0.1", port, "t"))
    finally:
        broker.terminate()
        broker.wait(timeout=10)
    with pytest.raises(ValueError, match="without the wildcards"):
        run_edge(tiny_model, frames_dir, out_json=None, mqtt=("127.0.0.1", 1883, "a/#"))
    monkeypatch.setitem(sys.modules, "paho.mqtt.client", None)
    with pytest.raises(ImportError, match="install paho-mqtt"):
        run_edge(tiny_model, frames_dir, out_json=None, mqtt=("127.0.0.1", 1883, "t"))


def test_bad_models(tmp_path, frames_dir):
    with pytest.raises(ModelError, match="no such model file"):
        EdgeDetector(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_text("not a model")
    with pytest.raises(ModelError, match="junk.onnx: onnxruntime cannot load it"):
        EdgeDetector(tmp_path / "junk.onnx")
    bare = write_tiny_model(tmp_path / "bare.onnx", meta=None)
    with pytest.raises(ModelError, match="bare.onnx: not an openmaker vision model"):
        EdgeDetector(bare)
    with pytest.raises(ModelError, match="bare.onnx: not an openmaker vision model"):
        read_meta(bare)
    wrong = write_tiny_model(tmp_path / "wrong.onnx", meta=meta_json(["a", "b", "c"], SIZE, _anchors()))
    with pytest.raises(ModelError, match=r"wrong.onnx: outputs loc \(1, 16, 4\), logits \(1, 16, 3\) do not fit 16 anchors and 3"):
        run_edge(wrong, frames_dir, out_json=None)


def test_sources_list_images_in_order_and_take_one_image(frames_dir):
    (frames_dir / "F3.JPG").write_bytes((frames_dir / "f0.png").read_bytes())
    assert [(i, name) for i, name, _ in open_source(frames_dir)] == [(0, "F3.JPG"), (1, "f0.png"), (2, "f1.png"), (3, "f2.png")]
    ((index, name, frame),) = list(open_source(frames_dir / "f1.png"))
    assert (index, name, frame.shape, frame.dtype) == (0, "f1.png", (64, 96, 3), np.uint8)


def test_bad_sources(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="nowhere: unknown source"):
        open_source(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: no images"):
        open_source(tmp_path / "empty")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(ValueError, match=r"a\.jpg: not a readable image"):
        list(open_source(tmp_path / "broken"))
    (tmp_path / "movie.avi").write_bytes(b"RIFF garbage")
    with pytest.raises(ValueError, match="movie.avi: OpenCV cannot read this file as a video"):
        open_source(tmp_path / "movie.avi")
    with pytest.raises(ValueError, match="camera 97 does not open"):
        open_source("97")
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(ImportError, match="install opencv-python-headless"):
        open_source("0")


_runner = CliRunner()


def _app() -> typer.Typer:
    """The command functions mounted as the room's CLI mounts them."""
    from openmaker.vision.edge_cli import edge, quantize

    app = typer.Typer()
    app.command()(edge)
    app.command()(quantize)
    return app


def test_cli_prints_json_lines_and_fps_on_stderr(tiny_model, frames_dir):
    result = _runner.invoke(_app(), ["edge", "--model", str(tiny_model), "--source", str(frames_dir), "--max-frames", "2"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [m["frame"] for m in lines] == [0, 1]
    assert "edge: 2 frames in" in result.stderr and "frames/s, 3 detections" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "missing.onnx", "--source", "."], "missing.onnx: no such model file"),
        (["--model", "{bare}", "--source", "."], "not an openmaker vision model"),
        (["--model", "{model}", "--source", "no/such/dir"], "no/such/dir: unknown source"),
        (["--model", "{model}", "--source", "96"], "camera 96 does not open"),
        (["--model", "{model}", "--source", "{frames}", "--mqtt-host", "127.0.0.1", "--mqtt-port", "{port}"], "cannot be reached"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(args, message, tiny_model, frames_dir, tmp_path):
    bare = write_tiny_model(tmp_path / "bare.onnx", meta=None)
    values = {"model": tiny_model, "bare": bare, "frames": frames_dir, "port": _free_port()}
    result = _runner.invoke(_app(), ["edge", *(a.format(**values) for a in args)])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and message in result.stderr and result.stderr.count("\n") == 1


def test_metadata_round_trip():
    anchors = _anchors().astype(np.float32)
    meta = parse_meta(meta_json(CLASSES, SIZE, anchors, (10, 10, 5, 5), 0.5, 0.4), "m.onnx")
    assert (meta.classes, meta.image_size, meta.weights, meta.nms_threshold, meta.score_threshold) == (
        CLASSES, SIZE, (10.0, 10.0, 5.0, 5.0), 0.5, 0.4)  # fmt: skip
    np.testing.assert_array_equal(meta.anchors, anchors)
    raw = json.loads(meta_json(CLASSES, SIZE, anchors))
    assert raw["anchors_shape"] == [16, 4] and raw["version"] == 1 and raw["box_coder_weights"] == [10, 10, 5, 5]


def _broken(**changes) -> str:
    raw = json.loads(meta_json(CLASSES, SIZE, _anchors()))
    raw.update(changes)
    return json.dumps(raw)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not JSON"),
        (_broken(version=2), "version must be 1"),
        (_broken(classes=[]), "'classes' must be a non-empty list"),
        (_broken(image_size="32"), "no valid 'image_size'"),
        (_broken(anchors_shape=[15, 4]), r"anchors do not decode to shape \[15, 4\]"),
        (_broken(anchors="***"), "anchors do not decode"),
        (_broken(box_coder_weights=[10, 10]), "4 box_coder_weights"),
        (_broken(nms_threshold=None), "no valid 'nms_threshold'"),
    ],
)
def test_bad_metadata_names_the_model(text, message):
    with pytest.raises(ModelError, match=f"m.onnx: .*{message}"):
        parse_meta(text, "m.onnx")
