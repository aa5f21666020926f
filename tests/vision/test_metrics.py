"""mAP arithmetic on hand-made boxes, with the APs worked out by hand in the comments."""

from __future__ import annotations

import numpy as np
import pytest

from openmaker.vision.metrics import evaluate

CLASSES = ["cat", "dog", "bird"]


def gt(*rows):
    return np.array(rows, dtype=np.float32).reshape(-1, 5)


def pred(*rows):
    return np.array(rows, dtype=np.float32).reshape(-1, 6)


def test_perfect_predictions_score_one():
    truth = [gt([0, 0.1, 0.1, 0.4, 0.4], [1, 0.5, 0.5, 0.9, 0.8]), gt([0, 0.2, 0.3, 0.6, 0.7])]
    found = [pred([0, 0.9, 0.1, 0.1, 0.4, 0.4], [1, 0.8, 0.5, 0.5, 0.9, 0.8]), pred([0, 0.7, 0.2, 0.3, 0.6, 0.7])]
    result = evaluate(truth, found, CLASSES)
    assert result["map50"] == pytest.approx(1.0)
    assert result["map"] == pytest.approx(1.0)
    assert result["images"] == 2
    assert result["overlap_threshold"] == 0.5
    assert result["per_class"]["cat"] == {"ap50": pytest.approx(1.0), "ap": pytest.approx(1.0), "ground_truth": 2, "detections": 2}
    # No bird in the ground truth: reported, not averaged.
    assert result["per_class"]["bird"] == {"ap50": None, "ap": None, "ground_truth": 0, "detections": 0}
    assert result["iou_thresholds"] == [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
    assert "all-point" in result["interpolation"] and "101-point" in result["interpolation"]


def test_false_positive_ranked_first_halves_ap():
    # Ranked: FP (0.9), TP (0.8): precision 0, 1/2 at recall 0, 1 -> envelope 1/2 over recall (0, 1].
    truth = [gt([0, 0.1, 0.1, 0.3, 0.3])]
    found = [pred([0, 0.9, 0.6, 0.6, 0.9, 0.9], [0, 0.8, 0.1, 0.1, 0.3, 0.3])]
    result = evaluate(truth, found, CLASSES)
    assert result["map50"] == pytest.approx(0.5)
    assert result["map"] == pytest.approx(0.5)


def test_false_positive_ranked_last_costs_nothing():
    truth = [gt([0, 0.1, 0.1, 0.3, 0.3])]
    found = [pred([0, 0.9, 0.1, 0.1, 0.3, 0.3], [0, 0.8, 0.6, 0.6, 0.9, 0.9])]
    assert evaluate(truth, found, CLASSES)["map50"] == pytest.approx(1.0)


def test_missed_box_caps_recall_at_half():
    # Recall 1/2 at precision 1. VOC: 0.5. COCO: recall points 0, 0.01, ..., 0.5 (51 of 101) get 1.
    truth = [gt([0, 0.1, 0.1, 0.3, 0.3], [0, 0.5, 0.5, 0.8, 0.8])]
    found = [pred([0, 0.9, 0.1, 0.1, 0.3, 0.3])]
    result = evaluate(truth, found, CLASSES)
    assert result["map50"] == pytest.approx(0.5)
    assert result["map"] == pytest.approx(51 / 101)


def test_duplicate_detection_is_a_false_positive():
    # Ranked TP (0.9), duplicate FP (0.8), TP (0.7): precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1.
    # VOC: 1/2 * 1 + 1/2 * 2/3. COCO: 51 points at 1, 50 points at 2/3.
    truth = [gt([0, 0.1, 0.1, 0.3, 0.3]), gt([0, 0.4, 0.4, 0.7, 0.7])]
    found = [
        pred([0, 0.9, 0.1, 0.1, 0.3, 0.3], [0, 0.8, 0.1, 0.1, 0.3, 0.3]),
        pred([0, 0.7, 0.4, 0.4, 0.7, 0.7]),
    ]
    result = evaluate(truth, found, CLASSES)
    assert result["map50"] == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert result["map"] == pytest.approx((51 + 50 * 2 / 3) / 101)
    assert result["per_class"]["cat"]["detections"] == 3


def test_two_classes_average_and_a_class_without_ground_truth_is_left_out():
    # cat found (AP 1), dog only a wrong box (AP 0), bird predicted but never in the truth.
    truth = [gt([0, 0.1, 0.1, 0.3, 0.3], [1, 0.5, 0.5, 0.9, 0.9])]
    found = [pred([0, 0.9, 0.1, 0.1, 0.3, 0.3], [1, 0.9, 0.0, 0.6, 0.2, 0.9], [2, 0.95, 0.5, 0.5, 0.9, 0.9])]
    result = evaluate(truth, found, CLASSES)
    assert result["per_class"]["cat"]["ap50"] == pytest.approx(1.0)
    assert result["per_class"]["dog"]["ap50"] == pytest.approx(0.0)
    assert result["per_class"]["bird"] == {"ap50": None, "ap": None, "ground_truth": 0, "detections": 1}
    assert result["map50"] == pytest.approx(0.5)
    assert result["map"] == pytest.approx(0.5)


def test_class_with_ground_truth_and_no_detection_scores_zero():
    truth = [gt([0, 0.1, 0.1, 0.3, 0.3], [1, 0.5, 0.5, 0.9, 0.9])]
    found = [pred([0, 0.9, 0.1, 0.1, 0.3, 0.3])]
    result = evaluate(truth, found, CLASSES)
    assert result["per_class"]["dog"] == {"ap50": 0.0, "ap": 0.0, "ground_truth": 1, "detections": 0}
    assert result["map50"] == pytest.approx(0.5)


def test_iou_057_counts_at_050_and_055_only():
    # IoU = (0.5 * 0.285) / (0.5 * 0.5) = 0.57: a hit at thresholds 0.5 and 0.55 of the ten.
    truth = [gt([0, 0.0, 0.0, 0.5, 0.5])]
    found = [pred([0, 0.9, 0.0, 0.0, 0.5, 0.285])]
    assert evaluate(truth, found, CLASSES)["map50"] == pytest.approx(1.0)
    assert evaluate(truth, found, CLASSES)["map"] == pytest.approx(0.2)
    strict = evaluate(truth, found, CLASSES, overlap_threshold=0.6)
    assert strict["map50"] == pytest.approx(0.0)
    assert strict["overlap_threshold"] == 0.6


def test_iou_exactly_at_threshold_voc_strict_coco_inclusive():
    # IoU exactly 0.5: MXNet/VOC needs IoU > 0.5, pycocotools IoU >= 0.5.
    truth = [gt([0, 0.0, 0.0, 0.5, 0.5])]
    found = [pred([0, 0.9, 0.0, 0.0, 0.5, 0.25])]
    result = evaluate(truth, found, CLASSES)
    assert result["map50"] == pytest.approx(0.0)
    assert result["map"] == pytest.approx(0.1)


def test_voc_takes_the_best_overlap_even_if_matched_coco_the_best_unmatched():
    # g1 = [0, 0, 10, 10], g2 = [2, 0, 12, 10] (x 1/20). d1 = g1 (0.9); d2 = [0.5, 0, 10.5, 10] (0.8):
    # IoU(d2, g1) = 95/105 = 0.905, IoU(d2, g2) = 85/115 = 0.739.
    # VOC: d2's best box g1 is taken -> FP: recall 1/2 at precision 1 -> AP 0.5.
    # COCO: d2 takes g2 at t <= 0.70 (AP 1), misses at t >= 0.75 (AP 51/101).
    truth = [gt([0, 0, 0, 10 / 20, 10 / 20], [0, 2 / 20, 0, 12 / 20, 10 / 20])]
    found = [pred([0, 0.9, 0, 0, 10 / 20, 10 / 20], [0, 0.8, 0.5 / 20, 0, 10.5 / 20, 10 / 20])]
    result = evaluate(truth, found, CLASSES)
    assert result["map50"] == pytest.approx(0.5)
    assert result["map"] == pytest.approx((5 * 1 + 5 * 51 / 101) / 10)


def test_ranking_across_images_uses_scores():
    # Image 1: FP at 0.95; image 2: TP at 0.5 -> the FP comes first across images: AP 0.5.
    truth = [gt([0, 0.1, 0.1, 0.3, 0.3]), gt([0, 0.1, 0.1, 0.3, 0.3])]
    found = [pred([0, 0.95, 0.6, 0.6, 0.9, 0.9], [0, 0.4, 0.1, 0.1, 0.3, 0.3]), pred([0, 0.5, 0.1, 0.1, 0.3, 0.3])]
    # Ranked: FP .95, TP .5, TP .4 -> precision 0, 1/2, 2/3 at recall 0, 1/2, 1 -> 1/2 * 2/3 + 1/2 * 2/3.
    assert evaluate(truth, found, CLASSES)["map50"] == pytest.approx(2 / 3)


def test_coco_caps_detections_per_image_and_class():
    # 3 false positives ranked above the hit: with a cap of 2 the hit is never seen.
    truth = [gt([0, 0.1, 0.1, 0.3, 0.3])]
    wrong = [[0, 0.9 - i / 100, 0.6, 0.6, 0.7 + i / 100, 0.9] for i in range(3)]
    found = [pred(*wrong, [0, 0.5, 0.1, 0.1, 0.3, 0.3])]
    assert evaluate(truth, found, CLASSES, coco_max_detections=2)["map"] == pytest.approx(0.0)
    assert evaluate(truth, found, CLASSES)["map"] == pytest.approx(0.25)
    assert evaluate(truth, found, CLASSES, coco_max_detections=2)["map50"] == pytest.approx(0.25)


def test_empty_images_are_accepted():
    truth = [gt([0, 0.1, 0.1, 0.3, 0.3]), np.zeros((0, 5), np.float32)]
    found = [pred([0, 0.9, 0.1, 0.1, 0.3, 0.3]), np.zeros((0, 6), np.float32)]
    assert evaluate(truth, found, CLASSES)["map50"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("truth", "found", "message"),
    [
        ([gt([0, 0.1, 0.1, 0.3, 0.3])], [], "1 images of ground truth but 0 of predictions"),
        ([gt([0, 0.1, 0.1, 0.3, 0.3])], [np.zeros((1, 5))], "predictions of image 0: expected rows of 6"),
        ([np.zeros((1, 4))], [pred()], "ground truth of image 0: expected rows of 5"),
        ([gt([3, 0.1, 0.1, 0.3, 0.3])], [pred()], "ground truth of image 0: class id 3 is not in 0..2"),
        ([gt([0, 0.1, 0.1, 0.3, 0.3])], [pred([-1, 0.5, 0.1, 0.1, 0.3, 0.3])], "predictions of image 0: class id -1"),
        ([gt()], [pred()], "no ground-truth boxes in the 1 images"),
    ],
)
def test_bad_input_is_named(truth, found, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        evaluate(truth, found, CLASSES)


def test_overlap_threshold_out_of_range():
    with pytest.raises(ValueError, match="overlap_threshold must be in"):
        evaluate([gt([0, 0.1, 0.1, 0.3, 0.3])], [pred()], CLASSES, overlap_threshold=1.5)


def _random_set(rng, images, classes):
    truth, found = [], []
    for _ in range(images):
        n = rng.integers(0, 6)
        xy = rng.uniform(0, 0.7, (n, 2))
        boxes = np.column_stack([rng.integers(0, classes, n), xy, xy + rng.uniform(0.05, 0.3, (n, 2))])
        truth.append(boxes.astype(np.float32))
        # Jittered copies of the truth (some good, some poor) plus random boxes.
        jitter = boxes[:, 1:] + rng.normal(0, 0.02, (n, 4))
        jitter[:, 2:] = np.maximum(jitter[:, 2:], jitter[:, :2] + 0.01)
        noise_xy = rng.uniform(0, 0.7, (3, 2))
        noise = np.column_stack([noise_xy, noise_xy + rng.uniform(0.05, 0.3, (3, 2))])
        labels = np.concatenate([boxes[:, 0], rng.integers(0, classes, 3)])
        rows = np.column_stack([labels, rng.uniform(0.05, 1, n + 3), np.concatenate([jitter, noise])])
        found.append(rows.astype(np.float32))
    return truth, found


def test_matches_pycocotools():
    coco_module = pytest.importorskip("pycocotools.coco")
    cocoeval = pytest.importorskip("pycocotools.cocoeval")
    rng = np.random.default_rng(7)
    truth, found = _random_set(rng, 40, 3)
    size = 100.0  # pixel coordinates for pycocotools; IoU is scale-free
    images, annotations, detections = [], [], []
    for i, (t, f) in enumerate(zip(truth, found)):
        images.append({"id": i, "width": size, "height": size})
        for c, x1, y1, x2, y2 in t.astype(float) * [1, size, size, size, size]:
            w, h = x2 - x1, y2 - y1
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": int(c), "bbox": [x1, y1, w, h],
                                "area": w * h, "iscrowd": 0})  # fmt: skip
        for c, s, x1, y1, x2, y2 in f.astype(float) * [1, 1, size, size, size, size]:
            detections.append({"image_id": i, "category_id": int(c), "bbox": [x1, y1, x2 - x1, y2 - y1], "score": s})
    ground = coco_module.COCO()
    ground.dataset = {"images": images, "annotations": annotations, "categories": [{"id": c} for c in range(3)]}
    ground.createIndex()
    run = cocoeval.COCOeval(ground, ground.loadRes(detections), "bbox")
    run.evaluate()
    run.accumulate()
    run.summarize()
    result = evaluate(truth, found, CLASSES)
    assert result["map"] == pytest.approx(run.stats[0], abs=1e-6)
