"""Linear Learner hyperparameters: SageMaker's names, defaults and string values.

SageMaker passes every hyperparameter as a string (``"auto"``, ``"true"``,
``"0.01"``); the Python API also takes native values. Each parser raises
``HyperparameterError`` naming the hyperparameter and what it accepts.
"""

from __future__ import annotations

from openmaker.hyperparameters import (
    HyperparameterError,
    auto_or,
    is_auto,
    parse_bool,
    parse_choice,
    parse_float,
    parse_int,
)

__all__ = ["HyperparameterError", "auto_or", "is_auto", "parse_bool", "parse_choice", "parse_float", "parse_int"]

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
