"""Training entry point of the built-in Linear Learner: ``python -m openmaker.training.linear_learner.train``.

Runs inside SageMaker's job layout:

* ``SM_CHANNEL_TRAIN`` (required), ``SM_CHANNEL_VALIDATION`` and ``SM_CHANNEL_TEST`` (optional)
  — CSV, label first, no header; the channel's ``ContentType`` from ``inputdataconfig.json``.
* hyperparameters (string values) from ``$SM_INPUT_CONFIG_DIR/hyperparameters.json``, else ``$SM_HPS``.
* the model goes to ``$SM_MODEL_DIR``: ``model.json`` and ``MAR-INF/MANIFEST.json``, so the
  packed ``model.tar.gz`` is servable by ``openmaker serve`` with the ``linear-learner`` handler.
* a bad hyperparameter or bad data writes ``ClientError: <message>`` to ``$SM_OUTPUT_DIR/failure``
  and exits 1; an unexpected error writes ``AlgorithmError: ...``.
"""

from __future__ import annotations

import json
import sys

from openmaker.algorithm_env import AlgorithmEnv, run_algorithm
from openmaker.training.linear_learner.params import HyperparameterError

MANIFEST = {"runtime": "python", "model": {"modelName": "linear-learner", "modelVersion": "1.0",
                                           "handler": "linear-learner"}}


def run() -> None:
    from openmaker.training.linear_learner import data
    from openmaker.training.linear_learner.model import LinearLearner

    env = AlgorithmEnv()
    model_dir = env.model_dir

    def log(line: str) -> None:
        print(line, flush=True)

    hps = env.hyperparameters()
    log(f"#linear_learner: hyperparameters {json.dumps(hps, sort_keys=True)}")
    estimator = LinearLearner.from_hyperparameters(hps)
    feature_dim = estimator._hp["feature_dim"]

    train_dir = env.require_channel("train")
    data.check_content_type(env.content_type("train"))
    X, y = data.read_csv_channel(train_dir, feature_dim)
    log(f"#linear_learner: train channel {train_dir}: {X.shape[0]} rows, {X.shape[1]} features")
    X_val = y_val = None
    val_dir = env.channel("validation")
    if val_dir is not None:
        data.check_content_type(env.content_type("validation"))
        X_val, y_val = data.read_csv_channel(val_dir, X.shape[1])
        log(f"#linear_learner: validation channel {val_dir}: {X_val.shape[0]} rows")
    estimator.fit(X, y, X_val, y_val, log=log)

    test_dir = env.channel("test")
    if test_dir is not None:
        data.check_content_type(env.content_type("test"))
        X_test, y_test = data.read_csv_channel(test_dir, X.shape[1])
        for name, value in estimator.evaluate(X_test, y_test).items():
            log(f"#test_score (algo-1) : ('{name}', {value:.8g})")

    estimator.save(model_dir)
    manifest = model_dir / "MAR-INF" / "MANIFEST.json"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(MANIFEST, indent=2))
    log(f"#linear_learner: model written to {model_dir}")


def main() -> int:
    from openmaker.training.linear_learner.model import DataError

    return run_algorithm(run, (HyperparameterError, DataError))


if __name__ == "__main__":
    sys.exit(main())
