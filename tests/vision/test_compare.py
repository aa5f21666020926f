"""The evaluation pictures: ground truth | predictions side by side, and the per-class AP chart."""

from __future__ import annotations

import numpy as np
from PIL import Image

from openmaker.vision.compare import comparison_png, evaluation_png
from openmaker.vision.draw import draw_boxes
from openmaker.vision.metrics import evaluate

CLASSES = ["RBC", "WBC", "Platelets"]


def _photo() -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(100, 140, (120, 160, 3), dtype=np.uint8))


def test_comparison_puts_truth_left_and_confident_predictions_right(tmp_path):
    image = _photo()
    truth = np.array([[0, 0.1, 0.1, 0.4, 0.5]], np.float32)
    found = np.array([[0, 0.9, 0.12, 0.1, 0.42, 0.5], [1, 0.2, 0.6, 0.6, 0.9, 0.9]], np.float32)
    path = comparison_png(image, truth, found, CLASSES, tmp_path / "sub" / "cmp.png", score_threshold=0.3)
    with Image.open(path) as saved:
        assert saved.format == "PNG"
        width, height = saved.size
        assert width > 2 * 160 and height > 120
        pixels = np.asarray(saved.convert("RGB"), dtype=int)
    top = height - 120
    left, right = pixels[top:, :160], pixels[top:, width - 160 :]
    np.testing.assert_array_equal(left, np.asarray(draw_boxes(image, truth, CLASSES), dtype=int))
    # Only the prediction above the threshold is drawn.
    np.testing.assert_array_equal(right, np.asarray(draw_boxes(image, found[:1], CLASSES), dtype=int))
    assert (pixels[: top - 2] < 128).any()  # the titles


def test_comparison_with_nothing_found(tmp_path):
    path = comparison_png(_photo(), np.zeros((0, 5)), np.zeros((0, 6)), CLASSES, tmp_path / "empty.png")
    with Image.open(path) as saved:
        right = np.asarray(saved.convert("RGB"))[-120:, -160:]
    np.testing.assert_array_equal(right, np.asarray(_photo()))


def test_evaluation_chart(tmp_path):
    truth = [np.array([[0, 0.1, 0.1, 0.3, 0.3], [1, 0.5, 0.5, 0.9, 0.9]], np.float32)]
    found = [np.array([[0, 0.9, 0.1, 0.1, 0.3, 0.3]], np.float32)]
    path = evaluation_png(evaluate(truth, found, CLASSES), tmp_path / "ap.png")
    with Image.open(path) as chart:
        assert chart.format == "PNG" and chart.size[0] >= 600 and chart.size[1] >= 200
        pixels = np.asarray(chart.convert("RGB"), dtype=int)
    # Both bar colours appear (RBC has AP 1 at both measures).
    assert (np.abs(pixels - [0, 130, 200]).sum(axis=2) < 10).sum() > 500
    assert (np.abs(pixels - [245, 130, 49]).sum(axis=2) < 10).sum() > 500
