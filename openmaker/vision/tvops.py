"""torchvision on a CPU torch whose wheel lacks torchvision's compiled operators.

torchvision 0.28.0's Linux wheel is a CUDA build: on the CPU torch 2.13.0 its ``_C`` library does not
load, and ``import torchvision`` then fails with "operator torchvision::nms does not exist" (its fake
registrations assume the operators exist). :func:`import_torchvision` checks whether the compiled
operators load; when they do, nothing changes. When they do not, it defines the operators detection
needs — ``nms`` (and the ``qnms`` schema torchvision's fake registrations expect) and ``roi_align`` —
with pure-torch kernels, imports torchvision, and marks its extension as present so ``torchvision.ops``
dispatches to those kernels. Import torchvision only through this module.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

__all__ = ["import_torchvision", "operators", "nms_numpy"]

_MODE: str | None = None
_LIBRARIES: list = []  # torch.library.Library objects must stay alive for their definitions to hold


def operators() -> str:
    """``"native"`` (torchvision's compiled operators), ``"pure-torch"`` (this module's), or ``"not loaded"``."""
    return _MODE or "not loaded"


def _native_library_loads() -> bool:
    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("No module named 'torchvision'; install it with: pip install 'openmaker[vision]'")
    folder = Path(next(iter(spec.submodule_search_locations)))
    candidates = sorted(folder.glob("_C*.so")) + sorted(folder.glob("_C*.pyd"))
    for path in candidates:
        try:
            torch.ops.load_library(str(path))
        except (OSError, ImportError, RuntimeError):
            continue
        return hasattr(torch.ops.torchvision, "nms")
    return False


def nms_numpy(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression: indices of the kept boxes (xyxy), by descending score."""
    order = np.argsort(-scores, kind="stable")
    boxes = boxes[order].astype(np.float64, copy=False)
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    alive = np.ones(len(order), dtype=bool)
    keep = []
    for i in range(len(order)):
        if not alive[i]:
            continue
        keep.append(i)
        rest = np.nonzero(alive[i + 1 :])[0] + i + 1
        if rest.size == 0:
            break
        w = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]), 0, None)
        h = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]), 0, None)
        inter = w * h
        union = areas[i] + areas[rest] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        alive[rest[iou > threshold]] = False
    return order[np.asarray(keep, dtype=np.int64)]


def _nms_kernel(dets, scores, iou_threshold: float):
    import torch

    kept = nms_numpy(dets.detach().cpu().numpy(), scores.detach().cpu().numpy(), float(iou_threshold))
    return torch.from_numpy(kept).to(dets.device)


def _define_operators() -> None:
    import torch

    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define(
        "roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, SymInt pooled_width, "
        "int sampling_ratio, bool aligned) -> Tensor"
    )
    lib.impl("nms", _nms_kernel, "CPU")
    _LIBRARIES.append(lib)


def _roi_align_kernel(input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned):
    from torchvision.ops.roi_align import _roi_align

    return _roi_align(input, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned)


def import_torchvision() -> ModuleType:
    """torchvision, importable on this machine: its own operators when they load, pure-torch ones otherwise."""
    global _MODE
    if _MODE is not None:
        return sys.modules["torchvision"]
    if "torchvision" in sys.modules:  # imported elsewhere first: it worked, so its operators are there
        _MODE = "native"
        return sys.modules["torchvision"]
    if _native_library_loads():
        import torchvision

        _MODE = "native"
        return torchvision
    _define_operators()
    import torchvision
    import torchvision.extension

    def _has_ops() -> bool:  # a def, not a lambda: torch.jit.script compiles callers of it
        return True

    torchvision.extension._has_ops = _has_ops
    _LIBRARIES[0].impl("roi_align", _roi_align_kernel, "CompositeImplicitAutograd")
    _MODE = "pure-torch"
    return torchvision
