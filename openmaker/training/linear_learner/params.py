"""Linear Learner hyperparameters: SageMaker's names, defaults and string values.

SageMaker passes every hyperparameter as a string (``"auto"``, ``"true"``,
``"0.01"``); the Python API also takes native values. Each parser raises
``HyperparameterError`` naming the hyperparameter and what it accepts.
"""

from __future__ import annotations

import math
from typing import Any

PREDICTOR_TYPES = ("regressor", "binary_classifier", "multiclass_classifier")

REGRESSION_LOSSES = (
    "squared_loss",
    "absolute_loss",
    "eps_insensitive_squared_loss",
    "eps_insensitive_absolute_loss",
    "quantile_loss",
    "huber_loss",
)
BINARY_LOSSES = ("logistic", "hinge_loss")
MULTICLASS_LOSSES = ("softmax_loss",)
LOSS_ALIASES = {"softmax": "softmax_loss", "squared": "squared_loss", "hinge": "hinge_loss"}

OPTIMIZERS = ("adam", "sgd", "rmsprop")
SELECTION_CRITERIA_SUPPORTED = ("accuracy", "f_beta", "loss_function")
SELECTION_CRITERIA_UNSUPPORTED = ("precision_at_target_recall", "recall_at_target_precision")

#: Hyperparameters the job runner or the SageMaker SDK may add that are not the algorithm's.
IGNORED_PREFIXES = ("sagemaker_", "_tuning_objective_metric")


class HyperparameterError(ValueError):
    """A hyperparameter with a bad value; the message names it."""


def is_auto(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() == "auto")


def _clean(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def parse_bool(name: str, value: Any) -> bool:
    value = _clean(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise HyperparameterError(f"{name} must be true or false, got {value!r}")


def parse_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    value = _clean(value)
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError
            number = int(value)
        else:
            number = int(str(value))
    except (ValueError, TypeError):
        raise HyperparameterError(f"{name} must be an integer, got {value!r}") from None
    _check_range(name, number, low, high)
    return number


def parse_float(name: str, value: Any, low: float | None = None, high: float | None = None,
                low_open: bool = False) -> float:
    value = _clean(value)
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (ValueError, TypeError):
        raise HyperparameterError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise HyperparameterError(f"{name} must be a finite number, got {value!r}")
    if low_open and low is not None and number <= low:
        raise HyperparameterError(f"{name} must be > {low}, got {number:g}")
    _check_range(name, number, None if low_open else low, high)
    return number


def _check_range(name: str, number: float, low: float | None, high: float | None) -> None:
    if low is not None and number < low:
        raise HyperparameterError(f"{name} must be >= {low}, got {number:g}")
    if high is not None and number > high:
        raise HyperparameterError(f"{name} must be <= {high}, got {number:g}")


def parse_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    text = str(_clean(value)).lower() if value is not None else ""
    if text not in choices:
        raise HyperparameterError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return text


def auto_or(parse, name: str, value: Any, *args, **kwargs):
    """``None`` for ``auto``, else ``parse(name, value, ...)``."""
    return None if is_auto(value) else parse(name, value, *args, **kwargs)
