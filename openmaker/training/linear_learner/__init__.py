"""SageMaker's built-in Linear Learner: estimator (``model``), CSV input (``data``),
training entry point (``train``) and serving handler (``handler``)."""

from openmaker.training.linear_learner.model import DataError, LinearLearner
from openmaker.training.linear_learner.params import HyperparameterError

__all__ = ["DataError", "HyperparameterError", "LinearLearner"]
