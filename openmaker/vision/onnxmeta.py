"""The ``openmaker.vision`` metadata of an exported detector: classes, input size, anchors, thresholds.

Stored as JSON in the ONNX model's ``metadata_props`` under :data:`META_KEY`; anchors are the
base64 of little-endian float32 (A, 4) cx, cy, w, h relative to the input. Torch-free.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from openmaker.vision.errors import ModelError

__all__ = ["META_KEY", "META_VERSION", "ModelMeta", "attach_meta", "meta_json", "parse_meta", "read_meta"]

META_KEY = "openmaker.vision"
META_VERSION = 1


@dataclass(frozen=True)
class ModelMeta:
    classes: list[str]
    image_size: int
    anchors: np.ndarray  # (A, 4) float32 cx, cy, w, h
    weights: tuple[float, float, float, float]
    nms_threshold: float
    score_threshold: float


def meta_json(
    classes: Sequence[str],
    image_size: int,
    anchors: np.ndarray,
    weights: Sequence[float] = (10.0, 10.0, 5.0, 5.0),
    nms_threshold: float = 0.45,
    score_threshold: float = 0.3,
) -> str:
    """The metadata value for a model with these classes, input size S, anchors (A, 4) and thresholds."""
    anchors = np.ascontiguousarray(anchors, dtype="<f4")
    if anchors.ndim != 2 or anchors.shape[1] != 4:
        raise ValueError(f"anchors must be (A, 4) cx, cy, w, h, got shape {anchors.shape}")
    return json.dumps({
        "version": META_VERSION,
        "classes": [str(c) for c in classes],
        "image_size": int(image_size),
        "box_coder_weights": [float(w) for w in weights],
        "anchors": base64.b64encode(anchors.tobytes()).decode("ascii"),
        "anchors_shape": list(anchors.shape),
        "nms_threshold": float(nms_threshold),
        "score_threshold": float(score_threshold),
    })  # fmt: skip


def _field(meta: dict, key: str, kind: type | tuple[type, ...], source: str) -> Any:
    value = meta.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ModelError(f"{source}: metadata {META_KEY!r} has no valid {key!r} (got {value!r})")
    return value


def parse_meta(text: str | None, source: str) -> ModelMeta:
    """:class:`ModelMeta` from the metadata value; :class:`ModelError` naming ``source`` when it is unusable."""
    if text is None:
        raise ModelError(f"{source}: not an openmaker vision model (no {META_KEY!r} metadata; export it with "
                         "`openmaker vision export --format onnx`)")  # fmt: skip
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"{source}: metadata {META_KEY!r} is not JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("version") != META_VERSION:
        raise ModelError(f"{source}: metadata {META_KEY!r} version must be {META_VERSION}")
    classes = _field(meta, "classes", list, source)
    if not classes or not all(isinstance(c, str) for c in classes):
        raise ModelError(f"{source}: metadata {META_KEY!r} 'classes' must be a non-empty list of names")
    size = _field(meta, "image_size", int, source)
    weights = _field(meta, "box_coder_weights", list, source)
    shape = _field(meta, "anchors_shape", list, source)
    if size <= 0 or len(weights) != 4 or len(shape) != 2 or shape[1] != 4:
        raise ModelError(f"{source}: metadata {META_KEY!r} needs image_size > 0, 4 box_coder_weights "
                         f"and anchors_shape [A, 4] (got {size}, {weights}, {shape})")  # fmt: skip
    try:
        raw = base64.b64decode(_field(meta, "anchors", str, source), validate=True)
        anchors = np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)
    except ValueError as exc:
        raise ModelError(f"{source}: metadata {META_KEY!r} anchors do not decode to shape {shape} ({exc})") from None
    return ModelMeta(
        classes=classes,
        image_size=size,
        anchors=anchors,
        weights=tuple(float(w) for w in weights),
        nms_threshold=float(_field(meta, "nms_threshold", (int, float), source)),
        score_threshold=float(_field(meta, "score_threshold", (int, float), source)),
    )


def read_meta(session_or_path, source: str | None = None) -> ModelMeta:
    """The metadata of an ``onnxruntime.InferenceSession`` or of an ``.onnx`` file (read with ``onnx``).

    ``source`` names the model in error messages (default: the path, or "model" for a session).
    """
    if hasattr(session_or_path, "get_modelmeta"):
        props = session_or_path.get_modelmeta().custom_metadata_map
        return parse_meta(props.get(META_KEY), source or "model")
    import onnx
    from google.protobuf.message import DecodeError

    path = Path(session_or_path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (OSError, DecodeError) as exc:
        raise ModelError(f"{source or path}: not a readable ONNX model ({exc})") from None
    return parse_meta(next((p.value for p in model.metadata_props if p.key == META_KEY), None), source or str(path))


def attach_meta(model, text: str) -> None:
    """Set the metadata value on an ``onnx.ModelProto`` (replacing an earlier one)."""
    for prop in list(model.metadata_props):
        if prop.key == META_KEY:
            model.metadata_props.remove(prop)
    entry = model.metadata_props.add()
    entry.key, entry.value = META_KEY, text
