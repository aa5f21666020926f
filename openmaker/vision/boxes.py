"""Box maths and SSD post-processing in numpy (no torch): decoding, softmax, IoU, NMS.

Semantics follow torchvision: ``BoxCoder.decode_single`` with weights (10, 10, 5, 5) and
``SSD.postprocess_detections`` (per-class score threshold, top-k candidates, per-class NMS,
best ``max_detections`` overall). Boxes are relative to the square network input.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["BBOX_XFORM_CLIP", "decode", "iou", "nms", "postprocess", "softmax"]

BBOX_XFORM_CLIP = math.log(1000.0 / 16)  # torchvision's clamp on dw, dh before exp()
_NMS_BLOCK = 512


def decode(loc: np.ndarray, anchors: np.ndarray, weights=(10.0, 10.0, 5.0, 5.0)) -> np.ndarray:
    """Box deltas ``loc`` (A, 4) on ``anchors`` (A, 4) cx, cy, w, h -> boxes (A, 4) xyxy clipped to [0, 1]."""
    loc = np.asarray(loc, dtype=np.float32)
    anchors = np.asarray(anchors, dtype=np.float32)
    if loc.ndim != 2 or loc.shape[1] != 4 or anchors.shape != loc.shape:
        raise ValueError(f"box deltas {loc.shape} and anchors {anchors.shape} must both be (A, 4)")
    wx, wy, ww, wh = (np.float32(w) for w in weights)
    cx = loc[:, 0] / wx * anchors[:, 2] + anchors[:, 0]
    cy = loc[:, 1] / wy * anchors[:, 3] + anchors[:, 1]
    half_w = 0.5 * np.exp(np.minimum(loc[:, 2] / ww, BBOX_XFORM_CLIP)) * anchors[:, 2]
    half_h = 0.5 * np.exp(np.minimum(loc[:, 3] / wh, BBOX_XFORM_CLIP)) * anchors[:, 3]
    boxes = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)
    return np.clip(boxes, 0.0, 1.0, out=boxes)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, computed stably in float32."""
    z = np.asarray(logits, dtype=np.float32)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    z /= z.sum(axis=-1, keepdims=True)
    return z


def _areas(boxes: np.ndarray) -> np.ndarray:
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of xyxy boxes ``a`` (n, 4) and ``b`` (m, 4) -> (n, m); 0 where the union is empty.

    Computed in float32 when both inputs are float32, else in float64.
    """
    dtype = np.result_type(np.asarray(a).dtype, np.asarray(b).dtype, np.float32)
    a = np.asarray(a, dtype=dtype).reshape(-1, 4)
    b = np.asarray(b, dtype=dtype).reshape(-1, 4)
    width = np.minimum(a[:, 2, None], b[None, :, 2]) - np.maximum(a[:, 0, None], b[None, :, 0])
    height = np.minimum(a[:, 3, None], b[None, :, 3]) - np.maximum(a[:, 1, None], b[None, :, 1])
    inter = np.clip(width, 0.0, None, out=width) * np.clip(height, 0.0, None, out=height)
    union = _areas(a)[:, None] + _areas(b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression: indices of the kept boxes, best score first.

    A box is dropped when its IoU with a kept, higher-scoring box is greater than ``threshold``
    (as ``torchvision.ops.nms``). IoU rows are computed in blocks, so memory stays ``_NMS_BLOCK * n``.
    """
    order = np.argsort(-np.asarray(scores), kind="stable")
    boxes = np.asarray(boxes).reshape(-1, 4)[order]
    keep = np.ones(len(order), dtype=bool)
    for start in range(0, len(order), _NMS_BLOCK):
        over = iou(boxes[start : start + _NMS_BLOCK], boxes[start:]) > threshold
        for row in range(over.shape[0]):
            if keep[start + row]:
                keep[start + row + 1 :] &= ~over[row, row + 1 :]
    return order[keep]


def postprocess(
    loc: np.ndarray,
    logits: np.ndarray,
    anchors: np.ndarray,
    score_threshold: float = 0.01,
    nms_threshold: float = 0.45,
    max_detections: int = 200,
    topk_candidates: int = 400,
    weights=(10.0, 10.0, 5.0, 5.0),
) -> np.ndarray:
    """One image's raw SSD outputs -> rows (k, 6) ``[class_id, score, xmin, ymin, xmax, ymax]``, best first.

    ``logits`` (A, C+1) has the background at index 0; class ids in the rows are 0-based (c -> c-1).
    """
    logits = np.asarray(logits, dtype=np.float32)
    if logits.ndim != 2 or logits.shape[0] != len(anchors) or logits.shape[1] < 2:
        raise ValueError(f"class logits {logits.shape} must be (A, C+1) with A = {len(anchors)} anchors and C >= 1")
    boxes = decode(loc, anchors, weights)
    scores = softmax(logits)
    picked_boxes, picked_scores, picked_labels = [], [], []
    for label in range(1, scores.shape[1]):
        candidates = np.flatnonzero(scores[:, label] > score_threshold)
        if candidates.size == 0:
            continue
        score = scores[candidates, label]
        if candidates.size > topk_candidates:
            top = np.argpartition(-score, topk_candidates - 1)[:topk_candidates]
            candidates, score = candidates[top], score[top]
        kept = nms(boxes[candidates], score, nms_threshold)
        picked_boxes.append(boxes[candidates[kept]])
        picked_scores.append(score[kept])
        picked_labels.append(np.full(kept.size, label - 1, dtype=np.float32))
    if not picked_scores:
        return np.zeros((0, 6), dtype=np.float32)
    all_scores = np.concatenate(picked_scores)
    best = np.argsort(-all_scores, kind="stable")[:max_detections]
    rows = np.column_stack([np.concatenate(picked_labels), all_scores, np.concatenate(picked_boxes)])
    return rows[best].astype(np.float32)
