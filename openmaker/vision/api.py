"""The common path in a few calls: train on a dataset folder within a time budget, evaluate, predict.

``train_model`` runs the same code as the ``object-detection`` training job, in-process, with
defaults chosen for a CPU and a time budget (EfficientNet-Lite0 with its ImageNet weights, 320 x 320,
batches of 8, SGD at 0.01 with steps at 2/3 and 7/8 of the epochs the budget allows).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

from openmaker.vision.errors import DatasetError

__all__ = ["QUICK_DEFAULTS", "train_model", "evaluate_model", "evaluation_examples"]

QUICK_DEFAULTS: dict[str, Any] = {
    "base_network": "efficientnet-lite0",
    "use_pretrained_model": 1,
    "image_shape": 320,
    "mini_batch_size": 8,
    "learning_rate": 0.01,
    "optimizer": "sgd",
    "momentum": 0.9,
    "weight_decay": 0.0005,
    "epochs": 400,
    "lr_scheduler_step": "267,350",
    "lr_scheduler_factor": 0.1,
}


def train_model(dataset: str | Path, out: str | Path, *, minutes: float = 10.0, hyperparameters: dict | None = None,
                log: Callable[[str], None] = print, on_epoch=None) -> dict:
    """Train on the ``train`` split of an openmaker dataset folder (validating on its ``validation`` split)
    for at most ``minutes``; the model directory ``out`` gets the model, ``metrics.csv``, ``training.png``
    and ``model.tar.gz``. Returns a summary."""
    from openmaker.vision.algorithm import train_from_channels, write_model_files
    from openmaker.vision.dataset import load_dataset
    from openmaker.vision.params import parse_params

    dataset = Path(dataset)
    data = load_dataset(dataset)
    train = data.split("train")
    if not train:
        raise DatasetError(f"{dataset}: the dataset has no images in its train split")
    hps = {**QUICK_DEFAULTS, "num_classes": len(data.classes), "num_training_samples": len(train), "max_minutes": minutes}
    hps.update(hyperparameters or {})
    params = parse_params(hps)
    result, classes = train_from_channels(params, dataset, log=log, on_epoch=on_epoch)
    out = Path(out)
    write_model_files(result, out, params)
    _pack(out)
    return {"model": str(out), "classes": classes, "epochs": len(result.history), "best_epoch": result.best_epoch,
            "validation_map": result.best_map, "seconds": round(result.seconds, 1), "stopped": result.stopped}


def _pack(directory: Path) -> Path:
    """``model.tar.gz`` of the model files, as a training job's artefact (servable by ``openmaker serve``)."""
    import tarfile

    from openmaker.vision.model import MODEL_JSON, WEIGHTS

    target = directory / "model.tar.gz"
    with tarfile.open(target, "w:gz") as archive:
        for name in (MODEL_JSON, WEIGHTS, "MAR-INF/MANIFEST.json"):
            archive.add(directory / name, arcname=name)
    return target


def evaluation_examples(dataset: str | Path, split: str):
    from openmaker.vision.dataset import SPLITS, load_dataset

    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; one of {', '.join(SPLITS)}")
    data = load_dataset(dataset)
    records = data.split(split)
    if not records:
        raise DatasetError(f"{dataset}: no images in the {split} split")
    return data, records


def evaluate_model(model: str | Path, dataset: str | Path, *, split: str = "test", overlap_threshold: float = 0.5,
                   png: str | Path | None = None, examples: str | Path | None = None, progress=None) -> dict:
    """mAP@overlap (VOC, all points) and COCO mAP@[.5:.95] per class on a split; optional bar chart and
    prediction-versus-ground-truth PNGs (the first 8 images) in ``examples``."""
    from openmaker.vision.compare import comparison_png, evaluation_png
    from openmaker.vision.metrics import evaluate
    from openmaker.vision.predictor import Predictor

    predictor = Predictor(model)
    data, records = evaluation_examples(dataset, split)
    if list(data.classes) != predictor.classes:
        raise DatasetError(f"the model's classes {predictor.classes} are not the dataset's {list(data.classes)}")
    predictions, truths = [], []
    for index, record in enumerate(records):
        predictions.append(predictor.predict(data.read_image(record)))
        truths.append(record.boxes)
        if progress:
            progress(index + 1, len(records))
    result = evaluate(truths, predictions, data.classes, overlap_threshold=overlap_threshold)
    result["split"] = split
    if png:
        evaluation_png(result, Path(png))
    if examples:
        folder = Path(examples)
        folder.mkdir(parents=True, exist_ok=True)
        for record, predicted in list(zip(records, predictions))[:8]:
            comparison_png(data.read_image(record), record.boxes, predicted, data.classes,
                           folder / f"{Path(record.file).stem}.png")
    return result


def summary_json(result: dict) -> str:
    return json.dumps(result, indent=2, default=lambda v: float(v) if isinstance(v, np.floating) else str(v))
