"""Float versus int8: the mAP of an exported detector before and after static int8 quantisation.

    .venv/bin/python benchmarks/vision/int8.py MODEL_DIR DATASET_DIR --out /tmp/int8 [--split test]
        [--calibration 64] [--exclude-head] [--json]

Exports MODEL_DIR to ONNX, quantises it with ``calibration`` images of the dataset's train split,
then runs both ONNX models (onnxruntime, the edge loop's code path) on the split and prints mAP@0.5
and COCO mAP side by side. The target is the int8 model within 2 mAP points of float.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--calibration", type=int, default=64)
    parser.add_argument("--exclude-head", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from openmaker.vision.api import evaluation_examples
    from openmaker.vision.edge import EdgeDetector
    from openmaker.vision.export import export_onnx
    from openmaker.vision.metrics import evaluate
    from openmaker.vision.quantize import quantize_int8

    args.out.mkdir(parents=True, exist_ok=True)
    float_path = export_onnx(args.model, args.out / "model.onnx")
    data, records = evaluation_examples(args.dataset, args.split)
    train = data.split("train")
    step = max(1, len(train) // args.calibration)
    calibration = [data.image_path(r) for r in train[::step][: args.calibration]]
    int8_path = quantize_int8(float_path, args.out / "model.int8.onnx", calibration, exclude_head=args.exclude_head)
    images = [data.read_image(r) for r in records]
    truth = [r.boxes for r in records]
    report = {"split": args.split, "images": len(records), "calibration_images": len(calibration),
              "sizes_mb": {}, "map50": {}, "map": {}}
    for name, path in (("float", float_path), ("int8", int8_path)):
        detector = EdgeDetector(path)
        predictions = [detector.detect(image, score_threshold=0.01) for image in images]
        result = evaluate(truth, predictions, data.classes)
        report["map50"][name], report["map"][name] = result["map50"], result["map"]
        report["sizes_mb"][name] = round(path.stat().st_size / 1e6, 2)
    report["map50_drop_points"] = round(100 * (report["map50"]["float"] - report["map50"]["int8"]), 2)
    (args.out / "int8.json").write_text(json.dumps(report, indent=2))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"mAP@0.5 float {report['map50']['float']:.4f}, int8 {report['map50']['int8']:.4f} "
              f"({report['map50_drop_points']:+.2f} points lost); COCO mAP float {report['map']['float']:.4f}, "
              f"int8 {report['map']['int8']:.4f}; sizes {report['sizes_mb']} MB")


if __name__ == "__main__":
    main()
