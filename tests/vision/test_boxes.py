"""Box decoding, softmax, IoU, NMS and SSD post-processing on hand-made numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from openmaker.vision.boxes import decode, iou, nms, postprocess, softmax

ANCHOR = np.array([[0.5, 0.5, 0.2, 0.4]], dtype=np.float32)  # cx, cy, w, h


def test_zero_deltas_give_the_anchor():
    np.testing.assert_allclose(decode(np.zeros((1, 4)), ANCHOR), [[0.4, 0.3, 0.6, 0.7]], atol=1e-7)


def test_deltas_shift_and_scale_with_the_box_coder_weights():
    # dx = 10 moves the centre by one anchor width; dw = 5 log 2 doubles the width.
    loc = np.array([[10 * 0.5, -10 * 0.25, 5 * math.log(2), 5 * math.log(0.5)]], dtype=np.float32)
    # cx = 0.5 + 0.5 * 0.2 = 0.6, w = 0.4; cy = 0.5 - 0.25 * 0.4 = 0.4, h = 0.2
    np.testing.assert_allclose(decode(loc, ANCHOR), [[0.4, 0.3, 0.8, 0.5]], atol=1e-6)
    # Other weights: dx = 1 with wx = 1 moves by a whole width too.
    np.testing.assert_allclose(decode([[1, 0, 0, 0]], ANCHOR, weights=(1, 1, 1, 1)), [[0.6, 0.3, 0.8, 0.7]], atol=1e-6)


def test_decode_clamps_the_size_and_clips_to_the_image():
    small = np.array([[0.5, 0.5, 0.001, 0.001]], dtype=np.float32)
    # exp(min(1000 / 5, log(1000 / 16))) = 62.5 times the anchor: 0.0625 wide, not infinite.
    np.testing.assert_allclose(decode([[0, 0, 1000, 1000]], small), [[0.46875, 0.46875, 0.53125, 0.53125]], atol=1e-6)
    np.testing.assert_allclose(decode([[0, 0, 50, 50]], ANCHOR), [[0.0, 0.0, 1.0, 1.0]])


def test_decode_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"box deltas \(2, 4\) and anchors \(1, 4\)"):
        decode(np.zeros((2, 4)), ANCHOR)


def test_softmax_is_stable_and_sums_to_one():
    out = softmax(np.array([[1000.0, 1000.0, -math.inf], [0.0, math.log(3), 0.0]]))
    np.testing.assert_allclose(out, [[0.5, 0.5, 0.0], [0.2, 0.6, 0.2]], atol=1e-6)
    assert out.dtype == np.float32


def test_iou_by_hand():
    a = np.array([[0, 0, 2, 2], [0, 0, 1, 1]], dtype=np.float32)
    b = np.array([[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 5, 5]], dtype=np.float32)
    expected = [[1 / 7, 1.0, 0.0], [0.0, 0.25, 0.0]]  # the last box has no area: IoU 0, not NaN
    np.testing.assert_allclose(iou(a, b), expected, atol=1e-6)
    assert iou(a, np.zeros((0, 4))).shape == (2, 0)


def test_nms_keeps_the_best_of_each_overlapping_group():
    boxes = np.array([[0, 0, 1, 1], [0, 0, 1, 0.9], [2, 2, 3, 3], [0.05, 0, 1.05, 1], [2, 2, 3, 2.5]])
    scores = np.array([0.5, 0.9, 0.8, 0.3, 0.7])
    # 1 (0.9) removes 0 (IoU 0.9) and 3 (IoU 0.95 * 0.9 / (1 + 0.9 - 0.855) ~ 0.82); 2 removes 4 (IoU 0.5 > 0.45).
    assert nms(boxes, scores, 0.45).tolist() == [1, 2]
    # A box whose IoU equals the threshold is kept (only IoU > threshold suppresses).
    assert nms(boxes, scores, 0.5).tolist() == [1, 2, 4]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


def _nms_pairwise(boxes, scores, threshold):
    keep = []
    for i in np.argsort(-scores, kind="stable"):
        if not keep or iou(boxes[i], boxes[keep]).max() <= threshold:
            keep.append(i)
    return keep


def test_nms_over_many_blocks_matches_the_pairwise_definition():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 0.9, (1300, 2))
    boxes = np.column_stack([xy, xy + rng.uniform(0.02, 0.1, (1300, 2))]).astype(np.float32)
    scores = rng.uniform(0, 1, 1300).astype(np.float32)
    kept = nms(boxes, scores, 0.3)
    assert kept.tolist() == _nms_pairwise(boxes, scores, 0.3)
    assert 100 < len(kept) < 1300


def _logits_for(probabilities):
    return np.log(np.asarray(probabilities, dtype=np.float64)).astype(np.float32)


def test_postprocess_thresholds_nms_per_class_and_sorts():
    anchors = np.array([[0.3, 0.3, 0.2, 0.2], [0.31, 0.3, 0.2, 0.2], [0.7, 0.7, 0.2, 0.2], [0.5, 0.5, 0.1, 0.1]], np.float32)
    # background, class 1, class 2 probabilities per anchor
    logits = _logits_for([[0.1, 0.8, 0.1], [0.05, 0.6, 0.35], [0.3, 0.1, 0.6], [0.98, 0.01, 0.01]])
    rows = postprocess(np.zeros((4, 4)), logits, anchors, score_threshold=0.3, nms_threshold=0.45)
    # Class 1: anchors 0 (0.8) and 1 (0.6) overlap -> 0 only. Class 2: anchor 2 (0.6), anchor 1 (0.35).
    # The same box is kept for two classes (NMS is per class). Anchor 3 is background.
    expected = [
        [0, 0.8, 0.2, 0.2, 0.4, 0.4],
        [1, 0.6, 0.6, 0.6, 0.8, 0.8],
        [1, 0.35, 0.21, 0.2, 0.41, 0.4],
    ]
    np.testing.assert_allclose(rows, expected, atol=1e-6)
    assert rows.dtype == np.float32


def test_postprocess_score_threshold_is_strict():
    # Four equal logits: every class scores exactly 0.25.
    assert postprocess(np.zeros((1, 4)), np.zeros((1, 4)), ANCHOR, score_threshold=0.25).shape == (0, 6)
    rows = postprocess(np.zeros((1, 4)), np.zeros((1, 4)), ANCHOR, score_threshold=0.2499)
    assert sorted(rows[:, 0].tolist()) == [0, 1, 2]
    np.testing.assert_allclose(rows[:, 1], 0.25)


def test_postprocess_topk_candidates_and_max_detections():
    anchors = np.array([[0.1 + 0.2 * i, 0.5, 0.1, 0.1] for i in range(5)], np.float32)  # no overlaps
    logits = _logits_for([[0.5, 0.5 - s, s] for s in (0.1, 0.2, 0.3, 0.4, 0.15)])
    rows = postprocess(np.zeros((5, 4)), logits, anchors, score_threshold=0.12)
    np.testing.assert_allclose(rows[:, 1], [0.4, 0.4, 0.35, 0.3, 0.3, 0.2, 0.2, 0.15], atol=1e-6)
    np.testing.assert_allclose(np.sort(rows[rows[:, 0] == 1, 1]), [0.15, 0.2, 0.3, 0.4], atol=1e-6)
    top = postprocess(np.zeros((5, 4)), logits, anchors, score_threshold=0.05, topk_candidates=2)
    np.testing.assert_allclose(top[:, 1], [0.4, 0.4, 0.35, 0.3], atol=1e-6)  # the two best of each class
    assert sorted(top[:, 0].tolist()) == [0, 0, 1, 1]
    assert postprocess(np.zeros((5, 4)), logits, anchors, max_detections=3).shape == (3, 6)


def test_postprocess_with_nothing_above_threshold_is_empty():
    rows = postprocess(np.zeros((1, 4)), _logits_for([[0.9, 0.05, 0.05]]), ANCHOR, score_threshold=0.3)
    assert rows.shape == (0, 6) and rows.dtype == np.float32


def test_postprocess_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"class logits \(2, 3\) must be \(A, C\+1\) with A = 1 anchors"):
        postprocess(np.zeros((1, 4)), np.zeros((2, 3)), ANCHOR)
    with pytest.raises(ValueError, match=r"class logits \(1, 1\)"):
        postprocess(np.zeros((1, 4)), np.zeros((1, 1)), ANCHOR)
