"""Static int8 quantisation of an exported detector with onnxruntime, calibrated on real frames.

The calibration frames go through :func:`openmaker.vision.edge.to_input`, the edge loop's own
preprocessing; the model's ``metadata_props`` (classes, anchors, ...) are copied onto the result.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from openmaker.vision.edge import to_input
from openmaker.vision.onnxmeta import read_meta
from openmaker.vision.sources import read_rgb

__all__ = ["CALIBRATION_METHODS", "FORMATS", "head_convs", "quantize_int8"]

FORMATS = ("qdq", "qoperator")
CALIBRATION_METHODS = ("minmax", "entropy", "percentile")


def head_convs(model, outputs: Sequence[str] = ("loc", "logits")) -> list[str]:
    """Names of the last ``Conv`` nodes on each path to ``outputs`` (the box and class heads)."""
    producer = {name: node for node in model.graph.node for name in node.output}
    found, seen, pending = [], set(), list(outputs)
    while pending:
        node = producer.get(pending.pop())
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if node.op_type == "Conv":
            found.append(node.name)
        else:
            pending.extend(node.input)
    return sorted(found)


def _name_nodes(model) -> None:
    """Give unnamed nodes unique names, so that they can be excluded from quantisation by name."""
    taken = {node.name for node in model.graph.node}
    for k, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_{k}"
            while node.name in taken:
                node.name += "_"
            taken.add(node.name)


def _reader(images: Sequence, size: int, progress: Callable[[int, int], None] | None):
    from onnxruntime.quantization import CalibrationDataReader

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            self.position = 0

        def get_next(self) -> dict[str, np.ndarray] | None:
            if self.position == len(images):
                return None
            image = images[self.position]
            frame = read_rgb(Path(image)) if isinstance(image, (str, Path)) else image
            self.position += 1
            if progress is not None:
                progress(self.position, len(images))
            return {"images": to_input(frame, size)}

    return Frames()


def quantize_int8(
    model_path: str | Path,
    out_path: str | Path,
    calibration_images: Sequence[Image.Image | np.ndarray | str | Path],
    *,
    per_channel: bool = True,
    quant_format: str = "qdq",
    op_types: Sequence[str] | None = None,
    exclude_head: bool = False,
    calibrate_method: str = "minmax",
    activations: str = "uint8",
    reduce_range: bool = False,
    preprocess: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Quantise ``model_path`` to int8 weights and activations at ``out_path``, calibrated on
    ``calibration_images`` (PIL images, RGB arrays or image files).

    ``quant_format``: "qdq" (QuantizeLinear/DequantizeLinear pairs) or "qoperator" (QLinearConv, ...);
    ``op_types``: the operator types to quantise (default: all onnxruntime supports);
    ``exclude_head``: keep the final box and class convolutions in float;
    ``activations``: "uint8" (U8S8, onnxruntime's fast path on x86: about twice the float speed on
    the BCCD model, where int8 activations ran slower than float) or "int8";
    ``reduce_range``: 7-bit weights, against overflow on x86 CPUs without VNNI;
    ``preprocess``: onnxruntime's ``quant_pre_process`` (shape inference, graph optimisation) first.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quant_pre_process, quantize_static

    if quant_format not in FORMATS:
        raise ValueError(f"quant_format must be one of {', '.join(FORMATS)}, got {quant_format!r}")
    if calibrate_method not in CALIBRATION_METHODS:
        raise ValueError(f"calibrate_method must be one of {', '.join(CALIBRATION_METHODS)}, got {calibrate_method!r}")
    if activations not in ("int8", "uint8"):
        raise ValueError(f"activations must be int8 or uint8, got {activations!r}")
    if not calibration_images:
        raise ValueError("no calibration images: give a few dozen frames like those the model will see")
    model_path, out_path = Path(model_path), Path(out_path)
    meta = read_meta(model_path)
    with tempfile.TemporaryDirectory(prefix="openmaker-quantize-") as scratch:
        source = model_path
        if preprocess:
            source = Path(scratch) / "prepared.onnx"
            quant_pre_process(str(model_path), str(source))
        model = onnx.load(str(source))
        _name_nodes(model)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        quantize_static(
            model,
            str(out_path),
            _reader(list(calibration_images), meta.image_size, progress),
            quant_format=QuantFormat.QDQ if quant_format == "qdq" else QuantFormat.QOperator,
            op_types_to_quantize=list(op_types) if op_types else None,
            per_channel=per_channel,
            reduce_range=reduce_range,
            activation_type=QuantType.QInt8 if activations == "int8" else QuantType.QUInt8,
            nodes_to_exclude=head_convs(model) if exclude_head else None,
            calibrate_method={"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                              "percentile": CalibrationMethod.Percentile}[calibrate_method],  # fmt: skip
        )
    quantized = onnx.load(str(out_path))
    original = onnx.load(str(model_path), load_external_data=False)
    del quantized.metadata_props[:]
    quantized.metadata_props.extend(original.metadata_props)
    onnx.save(quantized, str(out_path))
    return out_path
