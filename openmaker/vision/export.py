"""ONNX export for the edge: the network without decoding or NMS in the graph.

The exported model takes ``images`` float32 [N, 3, S, S] in [0, 1] (ImageNet normalisation is in
the graph) and returns the raw SSD outputs ``loc`` [N, A, 4] and ``logits`` [N, A, C+1]; the default
boxes, class names and thresholds travel in the model's metadata (:mod:`openmaker.vision.onnxmeta`),
and :func:`openmaker.vision.boxes.postprocess` decodes them, as the DeepLens device's
``parseResult('ssd', ...)`` did.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from openmaker.vision.onnxmeta import attach_meta, meta_json

__all__ = ["export_onnx"]

OPSET = 17


def export_onnx(model_dir: str | Path, out: str | Path, *, score_threshold: float = 0.3, check: bool = True) -> Path:
    """Export the detector in ``model_dir`` (or a ``model.tar.gz``) to ``out``; ``check`` compares onnxruntime with torch."""
    import onnx
    import torch

    from openmaker.vision.model import BOX_CODER_WEIGHTS, load_model
    from openmaker.vision.predictor import model_directory

    model = load_model(model_directory(model_dir))
    config = model.config
    size = config.image_size
    probe = torch.rand(1, 3, size, size)
    buffer = io.BytesIO()
    with torch.inference_mode():
        torch.onnx.export(
            model, (probe,), buffer, input_names=["images"], output_names=["loc", "logits"],
            dynamic_axes={"images": {0: "batch"}, "loc": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=OPSET, dynamo=False,
        )  # fmt: skip
    proto = onnx.load_from_string(buffer.getvalue())
    attach_meta(proto, meta_json(config.classes, size, model.anchors_cxcywh(), BOX_CODER_WEIGHTS,
                                 config.nms_threshold, score_threshold))
    proto.producer_name = "openmaker"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(out))
    if check:
        _check(out, model, probe)
    return out


def _check(path: Path, model, probe) -> None:
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    loc, logits = session.run(None, {"images": probe.numpy()})
    with torch.inference_mode():
        ref_loc, ref_logits = (t.numpy() for t in model(probe))
    worst = max(float(np.abs(loc - ref_loc).max()), float(np.abs(logits - ref_logits).max()))
    if worst > 1e-3:
        raise RuntimeError(f"the exported model differs from torch by {worst:.2g} (more than 1e-3): not written correctly")
