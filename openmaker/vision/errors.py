"""The vision room's errors: bad input names the file and line (or the hyperparameter)."""

from __future__ import annotations

from openmaker.hyperparameters import HyperparameterError  # shared with the other built-in algorithms

__all__ = ["DatasetError", "HyperparameterError", "ModelError"]


class DatasetError(ValueError):
    """A dataset file that cannot be used as it is: the message names the file and, where it has lines, the line."""


class ModelError(ValueError):
    """A model file that cannot be loaded (missing, corrupt, or not an openmaker detector)."""
