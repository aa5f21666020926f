"""Serve the one ``*.onnx`` file of an archive with onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openmaker.serving.errors import ArchiveError
from openmaker.serving.handlers.arrays import ArrayHandler, Feed, TensorSpec, find_model_file
from openmaker.serving.handlers.base import Context

# onnxruntime reports types as strings; these are the tensor types it can feed from numpy.
_ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int8)": np.int8,
    "tensor(int16)": np.int16,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(uint8)": np.uint8,
    "tensor(uint16)": np.uint16,
    "tensor(uint32)": np.uint32,
    "tensor(uint64)": np.uint64,
    "tensor(bool)": np.bool_,
    "tensor(string)": object,
}


def ort_session(path: Path, threads: int):
    """An onnxruntime session using ``threads`` intra-op threads and no inter-op parallelism.

    Workers scale by process count; one inter-op thread keeps each process from
    oversubscribing the cores the other workers use.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    providers = ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        raise ArchiveError(f"cannot load {path.name} with onnxruntime: {exc}") from exc


def ort_spec(node) -> TensorSpec:
    """A ``TensorSpec`` from an onnxruntime ``NodeArg``; symbolic dims are dynamic."""
    if node.type not in _ORT_DTYPES:
        dtype = np.dtype(object)  # sequences and maps (e.g. ZipMap outputs) pass through as objects
    else:
        dtype = np.dtype(_ORT_DTYPES[node.type])
    shape = node.shape
    dims = None if shape is None else tuple(d if isinstance(d, int) and d >= 0 else None for d in shape)
    return TensorSpec(name=node.name, dtype=dtype, shape=dims)


class OnnxHandler(ArrayHandler):
    """Runs ``model.onnx`` (any single ``*.onnx``); CSV/JSON/NPY bodies or OIP tensors in, arrays out."""

    platform = "onnxruntime_onnx"

    def initialize(self, context: Context) -> None:
        super().initialize(context)
        self.model_path = find_model_file(context, (".onnx",))
        self.session = ort_session(self.model_path, context.threads)
        self.inputs = [ort_spec(n) for n in self.session.get_inputs()]
        self.outputs = [ort_spec(n) for n in self.session.get_outputs()]

    def run(self, feed: Feed) -> dict[str, np.ndarray]:
        values = self.session.run(None, feed)
        return {spec.name: value for spec, value in zip(self.outputs, values)}
