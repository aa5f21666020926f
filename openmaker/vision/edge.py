"""The edge loop: frames -> exported ONNX detector (onnxruntime) -> numpy decoding and NMS -> JSON lines.

Each frame is resized to the model's S x S input (Pillow bilinear, aspect not kept, as the DeepLens
sample did), scaled to [0, 1] and run; the detections are printed as one JSON line per frame,
optionally published to an MQTT topic (QoS 0), drawn on saved frames and cut out as crops.
Needs numpy, Pillow and onnxruntime only: no torch.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

import numpy as np
from PIL import Image

from openmaker.vision.boxes import postprocess
from openmaker.vision.draw import draw_boxes
from openmaker.vision.errors import ModelError
from openmaker.vision.onnxmeta import read_meta
from openmaker.vision.sources import Frame, open_source

__all__ = ["EdgeDetector", "EdgeStats", "MqttPublisher", "detections_json", "run_edge", "to_input"]


def to_input(frame: np.ndarray | Image.Image, size: int) -> np.ndarray:
    """An RGB frame (H, W, 3 uint8 array or PIL image) as the model input (1, 3, S, S) float32 in [0, 1]."""
    image = frame if isinstance(frame, Image.Image) else Image.fromarray(np.asarray(frame))
    image = image.convert("RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32) * np.float32(1 / 255)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None])


class EdgeDetector:
    """An exported openmaker detector in an onnxruntime CPU session, with its metadata."""

    def __init__(self, model_path: str | Path, *, threads: int | None = None):
        import onnxruntime as ort

        path = Path(model_path)
        if not path.is_file():
            raise ModelError(f"{path}: no such model file")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's own exception types share no base class
            raise ModelError(f"{path}: onnxruntime cannot load it as an ONNX model ({' '.join(str(exc).split())})") from None
        self.path = path
        self.meta = read_meta(self.session, str(path))
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        if inputs != ["images"] or not {"loc", "logits"} <= set(outputs):
            raise ModelError(f"{path}: expected input 'images' and outputs 'loc', 'logits', found {inputs} -> {outputs}")

    @property
    def classes(self) -> list[str]:
        return self.meta.classes

    @property
    def image_size(self) -> int:
        return self.meta.image_size

    def raw(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network's ``loc`` (N, A, 4) and ``logits`` (N, A, C+1) for an input batch (N, 3, S, S)."""
        loc, logits = self.session.run(["loc", "logits"], {"images": batch})
        if logits.shape[-1] != len(self.classes) + 1 or loc.shape[1] != len(self.meta.anchors):
            raise ModelError(f"{self.path}: outputs loc {loc.shape}, logits {logits.shape} do not fit "
                             f"{len(self.meta.anchors)} anchors and {len(self.classes)} classes")  # fmt: skip
        return loc, logits

    def detect(self, frame: np.ndarray | Image.Image, score_threshold: float | None = None) -> np.ndarray:
        """Rows (k, 6) ``[class_id, score, xmin, ymin, xmax, ymax]`` (relative) for one RGB frame."""
        loc, logits = self.raw(to_input(frame, self.image_size))
        meta = self.meta
        threshold = meta.score_threshold if score_threshold is None else score_threshold
        return postprocess(loc[0], logits[0], meta.anchors, threshold, meta.nms_threshold, weights=meta.weights)


def detections_json(rows: np.ndarray, classes: list[str]) -> list[dict]:
    """Detection rows as the JSON objects the edge loop publishes (relative coordinates)."""
    return [
        {"class_id": int(c), "label": classes[int(c)], "score": round(float(s), 4),
         "xmin": round(float(x1), 4), "ymin": round(float(y1), 4), "xmax": round(float(x2), 4), "ymax": round(float(y2), 4)}
        for c, s, x1, y1, x2, y2 in rows
    ]  # fmt: skip


class MqttPublisher:
    """Publishes strings to one MQTT topic with QoS 0 (paho-mqtt 2), connected before the loop starts."""

    def __init__(self, host: str, port: int, topic: str, *, timeout: float = 10.0):
        try:
            import paho.mqtt.client as mqtt
        except ImportError:
            raise ImportError("publishing to MQTT needs paho-mqtt: install paho-mqtt") from None
        if not topic or "+" in topic or "#" in topic:
            raise ValueError(f"MQTT topic {topic!r} must be non-empty, without the wildcards + and #")
        self.topic, self.failed = topic, 0
        self._ok = mqtt.MQTT_ERR_SUCCESS
        self._last = None
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"openmaker-edge-{os.getpid()}")
        answered, reply = threading.Event(), {}
        self._client.on_connect = lambda client, data, flags, code, props: (reply.update(code=code), answered.set())
        try:
            self._client.connect(host, int(port), keepalive=60)
        except (OSError, ValueError) as exc:
            raise ValueError(f"MQTT broker {host}:{port} cannot be reached ({exc})") from None
        self._client.loop_start()
        if not answered.wait(timeout) or reply["code"].is_failure:
            self.close()
            raise ValueError(f"MQTT broker {host}:{port} did not accept the connection ({reply.get('code', 'no answer')})")

    def publish(self, payload: str) -> None:
        self._last = self._client.publish(self.topic, payload, qos=0)
        self.failed += self._last.rc != self._ok

    def close(self) -> None:
        """Send what is queued, then disconnect."""
        if self._last is not None and self._last.rc == self._ok:
            self._last.wait_for_publish(timeout=5)
        self._client.disconnect()
        self._client.loop_stop()


@dataclass
class EdgeStats:
    frames: int
    seconds: float
    fps: float
    detections: int
    unpublished: int = 0  # MQTT messages that could not be sent (broker gone)


def _stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem) or "frame"


def _save_crops(frame: np.ndarray, rows: np.ndarray, classes: list[str], threshold: float, prefix: Path) -> None:
    height, width = frame.shape[:2]
    for k, (c, score, x1, y1, x2, y2) in enumerate(rows):
        if score < threshold:
            continue
        left, top = min(round(x1 * width), width - 1), min(round(y1 * height), height - 1)
        right, bottom = max(round(x2 * width), left + 1), max(round(y2 * height), top + 1)
        crop = Image.fromarray(frame[top:bottom, left:right])
        crop.save(f"{prefix}-{k:02d}-{_stem(classes[int(c)])}-{score:.2f}.jpg", quality=90)


def run_edge(
    model: str | Path | EdgeDetector,
    source: str | Path | Iterable[Frame],
    *,
    score_threshold: float | None = None,
    out_json: TextIO | None = sys.stdout,
    mqtt: tuple[str, int, str] | None = None,
    save_frames: str | Path | None = None,
    save_crops: str | Path | None = None,
    crop_threshold: float = 0.5,
    max_frames: int | None = None,
    threads: int | None = None,
    progress: Callable[[EdgeStats], None] | None = None,
) -> EdgeStats:
    """Run the detector on every frame of ``source`` (see :func:`open_source`) and report frames per second.

    Writes one JSON line per frame to ``out_json``, publishes it to ``mqtt`` = (host, port, topic),
    saves annotated frames and crops of detections scoring >= ``crop_threshold``. Ctrl-C ends the loop
    like the end of the source. ``score_threshold`` defaults to the model's; ``threads`` applies when
    ``model`` is a path. ``inference_ms`` in each line covers resizing, the network and post-processing.
    """
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    detector = model if isinstance(model, EdgeDetector) else EdgeDetector(model, threads=threads)
    classes = detector.classes
    frames = open_source(source) if isinstance(source, (str, Path)) else iter(source)
    for folder in (save_frames, save_crops):
        if folder is not None:
            Path(folder).mkdir(parents=True, exist_ok=True)
    publisher, stats = None, EdgeStats(0, 0.0, 0.0, 0)
    try:
        publisher = MqttPublisher(*mqtt) if mqtt else None
        start = time.perf_counter()
        for index, name, frame in frames:
            began = time.perf_counter()
            rows = detector.detect(frame, score_threshold)
            message = json.dumps({
                "frame": index, "source": name, "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                "inference_ms": round((time.perf_counter() - began) * 1000, 2), "detections": detections_json(rows, classes),
            })  # fmt: skip
            if out_json is not None:
                out_json.write(message + "\n")
                out_json.flush()
            if publisher is not None:
                publisher.publish(message)
            prefix = f"{index:06d}-{_stem(name)}"
            if save_frames is not None:
                draw_boxes(Image.fromarray(frame), rows, classes).save(Path(save_frames) / f"{prefix}.jpg", quality=90)
            if save_crops is not None:
                _save_crops(frame, rows, classes, crop_threshold, Path(save_crops) / prefix)
            stats.frames += 1
            stats.detections += len(rows)
            stats.seconds = time.perf_counter() - start
            stats.fps = stats.frames / stats.seconds
            if progress is not None:
                progress(stats)
            if max_frames is not None and stats.frames >= max_frames:
                break
    except KeyboardInterrupt:
        pass
    finally:
        if hasattr(frames, "close"):
            frames.close()
        if publisher is not None:
            publisher.close()
            stats.unpublished = publisher.failed
    return stats
