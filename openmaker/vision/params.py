"""The object-detection algorithm's hyperparameters: SageMaker's names, defaults and checks.

Every hyperparameter is checked before training starts; a bad one raises
:class:`~openmaker.vision.errors.HyperparameterError` naming it. openmaker adds three of its own:
``pretrained_weights`` (a torchvision state dict for ``vgg-16``/``resnet-50``/``mobilenet-v3-large``),
``max_minutes`` (a time budget: training stops, and the learning-rate steps are placed, within it) and
``seed``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from openmaker.hyperparameters import parse_bool, parse_choice, parse_float, parse_int
from openmaker.vision.backbones import BASE_NETWORKS
from openmaker.vision.errors import HyperparameterError

__all__ = ["ObjectDetectionParams", "parse_params", "OPTIMIZERS"]

OPTIMIZERS = ("sgd", "adam", "rmsprop", "adadelta")
IGNORED_PREFIXES = ("sagemaker_", "_tuning_objective_metric")


@dataclass
class ObjectDetectionParams:
    num_classes: int
    num_training_samples: int
    base_network: str = "vgg-16"
    use_pretrained_model: bool = True
    early_stopping: bool = False
    early_stopping_min_epochs: int = 10
    early_stopping_patience: int = 5
    early_stopping_tolerance: float = 0.0
    image_shape: int = 300
    epochs: int = 30
    freeze_layer_pattern: str = ""
    kv_store: str = ""
    label_width: int = 350
    learning_rate: float = 0.001
    lr_scheduler_factor: float = 0.1
    lr_scheduler_step: tuple[int, ...] = ()
    mini_batch_size: int = 32
    momentum: float = 0.9
    nms_threshold: float = 0.45
    optimizer: str = "sgd"
    overlap_threshold: float = 0.5
    weight_decay: float = 0.0005
    pretrained_weights: str = ""
    max_minutes: float = 0.0
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["lr_scheduler_step"] = ",".join(str(s) for s in self.lr_scheduler_step)
        return out


def _steps(value: Any, epochs: int) -> tuple[int, ...]:
    text = str(value).strip()
    if not text:
        return ()
    try:
        steps = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise HyperparameterError(f"lr_scheduler_step must be comma-separated epochs such as '33,67', got {value!r}") from None
    if any(s <= 0 for s in steps):
        raise HyperparameterError(f"lr_scheduler_step epochs must be positive, got {value!r}")
    if any(b <= a for a, b in zip(steps, steps[1:])):
        raise HyperparameterError(f"lr_scheduler_step must be increasing, got {value!r}")
    if steps[-1] >= epochs:
        raise HyperparameterError(f"lr_scheduler_step {value!r} has a step at or after the last epoch ({epochs} epochs)")
    return steps


def _image_shape(value: Any) -> int:
    shape = parse_int("image_shape", value, 64, 2048)
    if shape % 4:
        raise HyperparameterError(f"image_shape must be a multiple of 4 (the network halves it six times), got {shape}")
    return shape


def _regex(value: Any) -> str:
    text = str(value or "")
    try:
        re.compile(text)
    except re.error as exc:
        raise HyperparameterError(f"freeze_layer_pattern is not a valid regular expression: {exc}") from None
    return text


def parse_params(hps: dict[str, Any]) -> ObjectDetectionParams:
    """Check and convert SageMaker-style hyperparameters (strings or native values)."""
    known = {f.name for f in fields(ObjectDetectionParams)}
    unknown = sorted(k for k in hps if k not in known and not k.startswith(IGNORED_PREFIXES))
    if unknown:
        raise HyperparameterError(f"unknown hyperparameter {unknown[0]!r} for object-detection; known: {', '.join(sorted(known))}")
    for required in ("num_classes", "num_training_samples"):
        if required not in hps:
            raise HyperparameterError(f"{required} is required")
    get = hps.get
    epochs = parse_int("epochs", get("epochs", 30), 1)
    params = ObjectDetectionParams(
        num_classes=parse_int("num_classes", hps["num_classes"], 1),
        num_training_samples=parse_int("num_training_samples", hps["num_training_samples"], 1),
        base_network=parse_choice("base_network", get("base_network", "vgg-16"), BASE_NETWORKS),
        use_pretrained_model=parse_bool("use_pretrained_model", get("use_pretrained_model", 1)),
        early_stopping=parse_bool("early_stopping", get("early_stopping", False)),
        early_stopping_min_epochs=parse_int("early_stopping_min_epochs", get("early_stopping_min_epochs", 10), 0),
        early_stopping_patience=parse_int("early_stopping_patience", get("early_stopping_patience", 5), 1),
        early_stopping_tolerance=parse_float("early_stopping_tolerance", get("early_stopping_tolerance", 0.0), 0.0, 1.0),
        image_shape=_image_shape(get("image_shape", 300)),
        epochs=epochs,
        freeze_layer_pattern=_regex(get("freeze_layer_pattern", "")),
        kv_store=str(get("kv_store", "") or ""),
        label_width=parse_int("label_width", get("label_width", 350), 7),
        learning_rate=parse_float("learning_rate", get("learning_rate", 0.001), 0.0, 1.0, low_open=True),
        lr_scheduler_factor=parse_float("lr_scheduler_factor", get("lr_scheduler_factor", 0.1), 0.0, 1.0, low_open=True),
        lr_scheduler_step=_steps(get("lr_scheduler_step", ""), epochs),
        mini_batch_size=parse_int("mini_batch_size", get("mini_batch_size", 32), 1, 4096),
        momentum=parse_float("momentum", get("momentum", 0.9), 0.0, 0.999),
        nms_threshold=parse_float("nms_threshold", get("nms_threshold", 0.45), 0.0, 1.0, low_open=True),
        optimizer=parse_choice("optimizer", get("optimizer", "sgd"), OPTIMIZERS),
        overlap_threshold=parse_float("overlap_threshold", get("overlap_threshold", 0.5), 0.0, 1.0, low_open=True),
        weight_decay=parse_float("weight_decay", get("weight_decay", 0.0005), 0.0, 1.0),
        pretrained_weights=str(get("pretrained_weights", "") or ""),
        max_minutes=parse_float("max_minutes", get("max_minutes", 0.0), 0.0),
        seed=parse_int("seed", get("seed", 0), 0),
    )  # fmt: skip
    if params.kv_store and params.kv_store not in ("dist_sync", "dist_async"):
        raise HyperparameterError(f"kv_store must be dist_sync or dist_async, got {params.kv_store!r}")
    if params.pretrained_weights and not Path(params.pretrained_weights).is_file():
        raise HyperparameterError(f"pretrained_weights: no such file {params.pretrained_weights}")
    return params
