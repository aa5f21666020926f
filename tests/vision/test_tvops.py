"""The torchvision operator fallback: nms and roi_align work whether or not the compiled operators load."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if importlib.util.find_spec("torchvision") is None:  # importorskip would import it, which is what may fail
    pytest.skip("torchvision is not installed", allow_module_level=True)

from openmaker.vision.tvops import import_torchvision, nms_numpy, operators  # noqa: E402


def test_torchvision_imports_and_says_which_operators_it_uses():
    tv = import_torchvision()
    assert tv.__name__ == "torchvision"
    assert operators() in ("native", "pure-torch")


def test_nms_keeps_the_best_of_overlapping_boxes():
    import_torchvision()
    from torchvision.ops import batched_nms, nms

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.95, 0.7, 0.3])
    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert nms(boxes, scores, 0.99).tolist() == [1, 0, 2, 3]
    # Boxes of different classes never suppress each other: box 0 survives box 1, box 3 falls to box 0.
    assert sorted(batched_nms(boxes, scores, torch.tensor([0, 1, 1, 0]), 0.5).tolist()) == [0, 1, 2]
    assert nms(torch.zeros((0, 4)), torch.zeros(0), 0.5).tolist() == []


def test_nms_numpy_matches_a_brute_force_reference():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (200, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 30, (200, 2))], 1)
    scores = rng.uniform(0, 1, 200)

    def iou(a, b):
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = w * h
        return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)

    expected = []
    for i in np.argsort(-scores):
        if all(iou(boxes[i], boxes[j]) <= 0.45 for j in expected):
            expected.append(int(i))
    assert nms_numpy(boxes, scores, 0.45).tolist() == expected


def test_roi_align_runs_and_backpropagates():
    import_torchvision()
    from torchvision.ops import roi_align

    x = torch.arange(64, dtype=torch.float32).view(1, 1, 8, 8).requires_grad_(True)
    out = roi_align(x, [torch.tensor([[0.0, 0.0, 4.0, 4.0]])], output_size=2, spatial_scale=1.0, sampling_ratio=1, aligned=True)
    assert out.shape == (1, 1, 2, 2)
    # Bilinear samples at (0.5, 0.5), (2.5, 0.5), ... of a ramp: value = 8*y + x.
    assert out.flatten().tolist() == pytest.approx([4.5, 6.5, 20.5, 22.5])
    out.sum().backward()
    assert x.grad.abs().sum() > 0


def test_detection_models_build_in_a_fresh_interpreter():
    code = (
        "from openmaker.vision.tvops import import_torchvision, operators\n"
        "tv = import_torchvision()\n"
        "import torch\n"
        "m = tv.models.detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=3).eval()\n"
        "out = m([torch.rand(3, 128, 128)])\n"
        "print(operators(), sorted(out[0]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    mode, keys = done.stdout.split(" ", 1)
    assert mode in ("native", "pure-torch")
    assert "boxes" in keys and "scores" in keys
