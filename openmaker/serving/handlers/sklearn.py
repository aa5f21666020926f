"""Serve a pickled scikit-learn estimator (``*.joblib`` / ``*.pkl``) like SageMaker's scikit-learn container.

The manifest's ``model.method`` picks the method (default ``predict``; e.g.
``predict_proba``); ``model.dtype`` the input type (default FP64, as
scikit-learn computes in float64). The input shape comes from the fitted
estimator's ``n_features_in_``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from openmaker.serving.errors import ArchiveError
from openmaker.serving.handlers.arrays import (
    ArrayHandler,
    Feed,
    TensorSpec,
    find_model_file,
    numpy_dtype,
    specs_from_manifest,
)
from openmaker.serving.handlers.base import Context

SUFFIXES = (".joblib", ".pkl", ".pickle")


class SklearnHandler(ArrayHandler):
    """Calls ``estimator.<method>(X)`` once per batch; one row of ``X`` per instance."""

    platform = "scikit-learn"

    def initialize(self, context: Context) -> None:
        super().initialize(context)
        import joblib

        model = context.manifest.get("model", {})
        self.model_path = find_model_file(context, SUFFIXES)
        try:
            self.estimator = joblib.load(self.model_path)
        except Exception as exc:  # unpickling runs arbitrary code; any error means a bad artifact
            raise ArchiveError(f"cannot load {self.model_path.name} with joblib: {type(exc).__name__}: {exc}") from exc
        self.method = str(model.get("method", "predict"))
        self.predict = getattr(self.estimator, self.method, None)
        if not callable(self.predict):
            raise ArchiveError(f"{type(self.estimator).__name__} has no method {self.method!r} (manifest model.method)")
        dtype = numpy_dtype(str(model.get("dtype", "FP64")))
        features = getattr(self.estimator, "n_features_in_", None)
        shape = (None, int(features)) if features is not None else None
        self.inputs = specs_from_manifest(model.get("inputs")) or [TensorSpec(name="input0", dtype=dtype, shape=shape)]
        self.outputs = specs_from_manifest(model.get("outputs")) or [self._output_spec()]

    def _output_spec(self) -> TensorSpec:
        classes = getattr(self.estimator, "classes_", None)
        if self.method in ("predict_proba", "predict_log_proba") and classes is not None and np.ndim(classes) == 1:
            return TensorSpec(name=self.method, dtype=np.dtype(np.float64), shape=(None, len(classes)))
        if self.method == "predict" and classes is not None and np.ndim(classes) == 1:
            return TensorSpec(name=self.method, dtype=np.asarray(classes).dtype, shape=(None,))
        return TensorSpec(name=self.method, dtype=np.dtype(np.float64))

    def run(self, feed: Feed) -> dict[str, Any]:
        (X,) = feed.values()
        return {self.outputs[0].name: np.asarray(self.predict(X))}
