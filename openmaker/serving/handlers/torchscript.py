"""Serve a TorchScript module (``*.pt`` / ``*.torchscript``) on the CPU.

TorchScript does not record tensor shapes, so inputs are named after the
``forward`` arguments and typed by the manifest's ``model.dtype`` (default
FP32); declare ``model.inputs`` / ``model.outputs`` as OIP tensor metadata
(``[{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]``) to have shapes
checked and shown. torch is imported here, never at package import.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from openmaker.serving.errors import ArchiveError
from openmaker.serving.handlers.arrays import (
    ArrayHandler,
    Feed,
    TensorSpec,
    find_model_file,
    numpy_dtype,
    specs_from_manifest,
)
from openmaker.serving.handlers.base import Context

SUFFIXES = (".pt", ".torchscript")


def load_torchscript(path, threads: int):
    """``torch.jit.load`` in eval mode, with torch's intra-op pool set to ``threads``."""
    import torch

    torch.set_num_threads(max(1, int(threads)))
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # a pickled state_dict or nn.Module is the usual mistake
        raise ArchiveError(
            f"{path.name} is not a TorchScript file ({exc}); save the model with "
            "torch.jit.save(torch.jit.script(model), 'model.pt')"
        ) from exc
    module.eval()
    return module


class TorchScriptHandler(ArrayHandler):
    """Runs a TorchScript module under ``torch.inference_mode()``; same requests and responses as ONNX."""

    platform = "pytorch_torchscript"

    def initialize(self, context: Context) -> None:
        super().initialize(context)
        import torch

        self._torch = torch
        model = context.manifest.get("model", {})
        self.model_path = find_model_file(context, SUFFIXES)
        self.module = load_torchscript(self.model_path, context.threads)
        dtype = numpy_dtype(str(model.get("dtype", "FP32")))
        self.inputs = specs_from_manifest(model.get("inputs")) or [
            TensorSpec(name=name, dtype=dtype) for name in self._argument_names()
        ]
        self.outputs = specs_from_manifest(model.get("outputs")) or [TensorSpec(name="output0", dtype=dtype)]

    def _argument_names(self) -> list[str]:
        try:
            arguments = self.module.forward.schema.arguments[1:]  # [0] is self
            names = [a.name for a in arguments]
        except (AttributeError, RuntimeError):
            names = []
        return names or ["input0"]

    def run(self, feed: Feed) -> dict[str, np.ndarray]:
        torch = self._torch
        # torch warns about read-only numpy buffers (np.frombuffer); copy only those.
        args = [torch.from_numpy(a if a.flags.writeable else a.copy()) for a in (feed[s.name] for s in self.inputs)]
        with torch.inference_mode():
            result = self.module(*args)
        return self._name_outputs(result)

    def _name_outputs(self, result: Any) -> dict[str, np.ndarray]:
        if isinstance(result, dict):
            return {str(k): _to_numpy(v) for k, v in result.items()}
        values = list(result) if isinstance(result, (tuple, list)) else [result]
        names = [s.name for s in self.outputs]
        names += [f"output{i}" for i in range(len(names), len(values))]
        return {name: _to_numpy(v) for name, v in zip(names, values)}


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":  # numpy has no bfloat16
            value = value.float()
        return value.numpy()
    return np.asarray(value)
