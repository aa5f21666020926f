"""The built-in ``object-detection`` algorithm: ``python -m openmaker.vision.algorithm`` in a training job.

Channels, as SageMaker's Object Detection algorithm takes them:

* ``train`` (required) and ``validation`` (optional): RecordIO (``.rec`` packed by ``im2rec``), images
  with per-image JSON annotations in ``train_annotation`` / ``validation_annotation``, an augmented
  manifest (JSON Lines), an im2rec ``.lst`` with its images, or an openmaker dataset folder
  (``openmaker vision dataset import``), whose ``validation`` split is used when no validation
  channel is given.
* hyperparameters: :mod:`openmaker.vision.params` (SageMaker's names and defaults).

Each epoch logs ``#quality_metric: host=algo-1, epoch=N, validation mAP <score>=(x)``. The model goes
to ``$SM_MODEL_DIR`` (``model.json``, ``model.safetensors``, ``MAR-INF/MANIFEST.json`` for the
``object-detection`` handler), packed by the job into ``model.tar.gz``; ``metrics.csv`` and
``training.png`` go to the output data folder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

from openmaker.algorithm_env import AlgorithmEnv, run_algorithm
from openmaker.vision.errors import DatasetError, HyperparameterError, ModelError

__all__ = ["METRIC_DEFINITIONS", "run", "main", "train_from_channels", "write_model_files"]

METRIC_DEFINITIONS = [{"Name": "validation:mAP", "Regex": r"validation mAP <score>=\(([0-9.eE+-]+)\)"}]
MANIFEST = {"runtime": "python", "model": {"modelName": "object-detection", "modelVersion": "1.0", "handler": "object-detection"}}


def _is_dataset(path: Path | None) -> bool:
    return path is not None and path.is_dir() and (path / "dataset.json").is_file()


def _classes(names: list[str] | None, num_classes: int, channel: str) -> list[str]:
    if names is None:
        return [f"class_{i}" for i in range(num_classes)]
    if len(names) != num_classes:
        raise HyperparameterError(f"num_classes={num_classes} but the {channel} channel names {len(names)} classes ({', '.join(names)})")
    return list(names)


def train_from_channels(params, train_dir: Path, validation_dir: Path | None = None, *, train_annotation: Path | None = None,
                        validation_annotation: Path | None = None, content_types: dict | None = None,
                        log: Callable[[str], None] = print, on_epoch=None):
    """Read the channels, check them against the hyperparameters, train. Returns the TrainResult and the class names."""
    from openmaker.vision.channels import read_channel
    from openmaker.vision.train import load_examples, train_detector

    types = content_types or {}
    if _is_dataset(train_dir):
        train = read_channel(train_dir, split="train")
        if validation_dir is None:
            validation_dir, validation_split = train_dir, "validation"
        else:
            validation_split = "validation" if _is_dataset(validation_dir) else None
    else:
        train = read_channel(train_dir, train_annotation, types.get("train"))
        validation_split = "validation" if _is_dataset(validation_dir) else None
    classes = _classes(train.classes, params.num_classes, "train")
    log(f"#object_detection: train channel {train_dir}: {len(train.samples)} images, classes {classes}")
    if params.num_training_samples != len(train.samples):
        log(f"#object_detection: warning: num_training_samples={params.num_training_samples} but the train channel "
            f"holds {len(train.samples)} images; using {len(train.samples)}")
    validation = []
    if validation_dir is not None:
        if validation_split:
            samples = read_channel(validation_dir, split=validation_split)
        else:
            samples = read_channel(validation_dir, validation_annotation, types.get("validation"))
        validation = load_examples(samples.samples, params.image_shape)
        log(f"#object_detection: validation channel {validation_dir}: {len(validation)} images")
    if params.kv_store:
        log(f"#object_detection: kv_store={params.kv_store} has no effect on one machine")
    result = train_detector(params, classes, load_examples(train.samples, params.image_shape), validation,
                            log=log, on_epoch=on_epoch)
    return result, classes


def write_model_files(result, model_dir: Path, params, output_dir: Path | None = None) -> None:
    """The model (weights, configuration, serving manifest) and, in ``output_dir``, metrics.csv and training.png."""
    from openmaker.vision.model import save_model
    from openmaker.vision.plots import training_csv, training_png

    extra = {"hyperparameters": params.to_json(), "best_epoch": result.best_epoch, "validation_map": result.best_map,
             "training_seconds": round(result.seconds, 1), "stopped": result.stopped}
    save_model(result.model, model_dir, extra)
    manifest = model_dir / "MAR-INF" / "MANIFEST.json"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(MANIFEST, indent=2))
    for folder in {model_dir, output_dir or model_dir}:
        folder.mkdir(parents=True, exist_ok=True)
        training_csv(result.history, folder / "metrics.csv")
        training_png(result.history, folder / "training.png")


def run() -> None:
    from openmaker.vision.params import parse_params

    env = AlgorithmEnv()
    hps = env.hyperparameters()
    print(f"#object_detection: hyperparameters {json.dumps(hps, sort_keys=True)}", flush=True)
    params = parse_params(hps)
    result, _ = train_from_channels(
        params, env.require_channel("train"), env.channel("validation"),
        train_annotation=env.channel("train_annotation"), validation_annotation=env.channel("validation_annotation"),
        content_types={name: env.content_type(name) for name in ("train", "validation")},
        log=lambda line: print(line, flush=True),
    )  # fmt: skip
    write_model_files(result, env.model_dir, params, env.output_data_dir)
    print(f"#object_detection: model written to {env.model_dir}", flush=True)


def main() -> int:
    return run_algorithm(run, (HyperparameterError, DatasetError, ModelError, FloatingPointError))


if __name__ == "__main__":
    sys.exit(main())
