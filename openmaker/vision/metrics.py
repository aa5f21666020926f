"""Detection mAP: VOC-style AP at the overlap threshold and COCO-style AP over IoU .50:.05:.95, per class.

``map50``: for each class, detections of all images in descending score, each matched to the
ground-truth box of its class it overlaps most in its image; a true positive when that IoU is
greater than ``overlap_threshold`` and the box is not matched yet, else a false positive (MXNet
SSD's ``MApMetric``, which SageMaker's ``validation:mAP`` comes from). AP is the area under the
all-point interpolated precision/recall curve (VOC2010 and later).

``map``: pycocotools' rule: each detection (at most ``coco_max_detections`` per image and class,
best first) takes the unmatched ground-truth box with the highest IoU >= t; AP is the mean of
the interpolated precision at the 101 recall points 0, 0.01, ..., 1, averaged over t = .50:.05:.95.

Classes with no ground-truth box have AP ``None`` and are left out of both means.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from openmaker.vision.boxes import iou

__all__ = ["COCO_IOU_THRESHOLDS", "INTERPOLATION", "evaluate"]

COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
_RECALL_POINTS = np.linspace(0.0, 1.0, 101)
INTERPOLATION = (
    "map50: VOC2010+ all-point interpolation at overlap_threshold (IoU > threshold); "
    "map: COCO 101-point interpolation averaged over IoU .50:.05:.95 (IoU >= threshold), as pycocotools"
)


def _rows(array, columns: int, what: str, image: int) -> np.ndarray:
    rows = np.asarray(array, dtype=np.float64)
    if rows.size == 0:
        return rows.reshape(0, columns)
    if rows.ndim != 2 or rows.shape[1] != columns:
        raise ValueError(f"{what} of image {image}: expected rows of {columns} values, got shape {rows.shape}")
    return rows


def _check_classes(rows: np.ndarray, n_classes: int, what: str, image: int) -> None:
    ids = rows[:, 0]
    bad = (ids < 0) | (ids >= n_classes) | (ids != np.round(ids))
    if bad.any():
        raise ValueError(f"{what} of image {image}: class id {ids[bad][0]:g} is not in 0..{n_classes - 1}")


def _match_voc(ious: np.ndarray, threshold: float) -> np.ndarray:
    """True positives of detections (rows of ``ious``, best first) under MXNet/VOC matching."""
    tp = np.zeros(ious.shape[0], dtype=bool)
    if ious.shape[1] == 0:
        return tp
    found = np.zeros(ious.shape[1], dtype=bool)
    best = ious.argmax(axis=1)
    for d, g in enumerate(best):
        if ious[d, g] > threshold and not found[g]:
            found[g] = tp[d] = True
    return tp


def _match_coco(ious: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """True positives (T, k) of detections (rows of ``ious``, best first) under pycocotools matching."""
    tp = np.zeros((len(thresholds), ious.shape[0]), dtype=bool)
    if ious.shape[1] == 0:
        return tp
    matched = np.zeros((len(thresholds), ious.shape[1]), dtype=bool)
    rows, last = np.arange(len(thresholds)), ious.shape[1] - 1
    for d in range(ious.shape[0]):
        candidates = np.where(matched | (ious[d][None, :] < thresholds[:, None]), -1.0, ious[d][None, :])
        best = last - candidates[:, ::-1].argmax(axis=1)  # the last of equally good boxes, as pycocotools
        hit = candidates[rows, best] >= 0
        matched[rows[hit], best[hit]] = True
        tp[hit, d] = True
    return tp


def _precision_recall(tp: np.ndarray, n_gt: int) -> tuple[np.ndarray, np.ndarray]:
    hits = np.cumsum(tp, axis=-1, dtype=np.float64)
    seen = np.arange(1, tp.shape[-1] + 1, dtype=np.float64)
    return hits / seen, hits / n_gt


def _ap_all_points(tp: np.ndarray, n_gt: int) -> float:
    precision, recall = _precision_recall(tp, n_gt)
    precision = np.concatenate([[0.0], precision, [0.0]])
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    step = np.flatnonzero(recall[1:] != recall[:-1])
    return float(np.sum((recall[step + 1] - recall[step]) * precision[step + 1]))


def _ap_101_points(tp: np.ndarray, n_gt: int) -> float:
    if tp.size == 0:
        return 0.0
    precision, recall = _precision_recall(tp, n_gt)
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    at = np.searchsorted(recall, _RECALL_POINTS, side="left")
    sampled = np.where(at < len(precision), precision[np.minimum(at, len(precision) - 1)], 0.0)
    return float(sampled.mean())


def _class_ap(gts: list[np.ndarray], dets: list[np.ndarray], overlap_threshold: float, coco_max: int):
    """(ap at the overlap threshold, COCO ap) of one class from per-image boxes (n, 4) and detections (k, 5)."""
    n_gt = sum(len(g) for g in gts)
    scores, voc_tp, coco_scores, coco_tp = [], [], [], []
    for g, d in zip(gts, dets):
        d = d[np.argsort(-d[:, 0], kind="stable")]
        ious = iou(d[:, 1:], g)
        scores.append(d[:, 0])
        voc_tp.append(_match_voc(ious, overlap_threshold))
        coco_scores.append(d[:coco_max, 0])
        coco_tp.append(_match_coco(ious[:coco_max], COCO_IOU_THRESHOLDS))
    order = np.argsort(-np.concatenate(scores), kind="stable")
    ap50 = _ap_all_points(np.concatenate(voc_tp)[order], n_gt)
    order = np.argsort(-np.concatenate(coco_scores), kind="stable")
    coco = np.concatenate(coco_tp, axis=1)[:, order]
    ap = float(np.mean([_ap_101_points(row, n_gt) for row in coco]))
    return ap50, ap


def evaluate(
    ground_truth: Sequence[np.ndarray],
    predictions: Sequence[np.ndarray],
    classes: Sequence[str],
    *,
    overlap_threshold: float = 0.5,
    coco_max_detections: int = 100,
) -> dict:
    """mAP of ``predictions`` (per image (k, 6) ``[cls, score, xmin, ymin, xmax, ymax]``) against
    ``ground_truth`` (per image (n, 5) ``[cls, xmin, ymin, xmax, ymax]``), same image order."""
    if len(ground_truth) != len(predictions):
        raise ValueError(f"{len(ground_truth)} images of ground truth but {len(predictions)} of predictions")
    if not 0.0 < overlap_threshold < 1.0:
        raise ValueError(f"overlap_threshold must be in (0, 1), got {overlap_threshold}")
    gt_rows = [_rows(g, 5, "ground truth", i) for i, g in enumerate(ground_truth)]
    pred_rows = [_rows(p, 6, "predictions", i) for i, p in enumerate(predictions)]
    for i, (g, p) in enumerate(zip(gt_rows, pred_rows)):
        _check_classes(g, len(classes), "ground truth", i)
        _check_classes(p, len(classes), "predictions", i)
    if not any(len(g) for g in gt_rows):
        raise ValueError(f"no ground-truth boxes in the {len(gt_rows)} images: nothing to evaluate")
    per_class = {}
    for c, name in enumerate(classes):
        gts = [g[g[:, 0] == c, 1:] for g in gt_rows]
        dets = [p[p[:, 0] == c, 1:] for p in pred_rows]
        n_gt, n_det = sum(len(g) for g in gts), sum(len(d) for d in dets)
        ap50, ap = _class_ap(gts, dets, overlap_threshold, coco_max_detections) if n_gt else (None, None)
        per_class[name] = {"ap50": ap50, "ap": ap, "ground_truth": n_gt, "detections": n_det}
    scored = [v for v in per_class.values() if v["ap50"] is not None]
    return {
        "map50": float(np.mean([v["ap50"] for v in scored])),
        "map": float(np.mean([v["ap"] for v in scored])),
        "overlap_threshold": overlap_threshold,
        "per_class": per_class,
        "images": len(gt_rows),
        "iou_thresholds": [round(float(t), 2) for t in COCO_IOU_THRESHOLDS],
        "interpolation": INTERPOLATION,
    }
