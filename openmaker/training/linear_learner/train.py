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
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from openmaker.training.linear_learner.params import HyperparameterError

DEFAULT_PREFIX = Path("/opt/ml")
MANIFEST = {"runtime": "python", "model": {"modelName": "linear-learner", "modelVersion": "1.0",
                                           "handler": "linear-learner"}}


class ClientError(Exception):
    """A problem with the job's input (missing channel, bad config); reported as ClientError."""


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value) if value else default


def load_hyperparameters(config_dir: Path) -> dict[str, Any]:
    path = config_dir / "hyperparameters.json"
    if path.is_file():
        try:
            hps = json.loads(path.read_text() or "{}")
        except ValueError as exc:
            raise ClientError(f"{path} is not valid JSON: {exc}") from None
    elif os.environ.get("SM_HPS"):
        try:
            hps = json.loads(os.environ["SM_HPS"])
        except ValueError as exc:
            raise ClientError(f"SM_HPS is not valid JSON: {exc}") from None
    else:
        hps = {}
    if not isinstance(hps, dict):
        raise ClientError("hyperparameters must be a JSON object of name -> value")
    return hps


def channel_content_type(config_dir: Path, channel: str) -> str | None:
    path = config_dir / "inputdataconfig.json"
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text() or "{}")
    except ValueError:
        return None
    entry = config.get(channel) if isinstance(config, dict) else None
    return entry.get("ContentType") if isinstance(entry, dict) else None


def _channel_dir(name: str, input_dir: Path) -> Path | None:
    value = os.environ.get(f"SM_CHANNEL_{name.upper()}")
    if value:
        return Path(value)
    default = input_dir / "data" / name
    return default if default.exists() else None


def run() -> None:
    from openmaker.training.linear_learner import data
    from openmaker.training.linear_learner.model import LinearLearner

    prefix = DEFAULT_PREFIX
    input_dir = _env_path("SM_INPUT_DIR", prefix / "input")
    config_dir = _env_path("SM_INPUT_CONFIG_DIR", input_dir / "config")
    model_dir = _env_path("SM_MODEL_DIR", prefix / "model")

    def log(line: str) -> None:
        print(line, flush=True)

    hps = load_hyperparameters(config_dir)
    log(f"#linear_learner: hyperparameters {json.dumps(hps, sort_keys=True)}")
    estimator = LinearLearner.from_hyperparameters(hps)
    feature_dim = estimator._hp["feature_dim"]

    train_dir = _channel_dir("train", input_dir)
    if train_dir is None:
        raise ClientError("the train channel is required (SM_CHANNEL_TRAIN is not set and "
                          f"{input_dir / 'data' / 'train'} does not exist)")
    data.check_content_type(channel_content_type(config_dir, "train"))
    X, y = data.read_csv_channel(train_dir, feature_dim)
    log(f"#linear_learner: train channel {train_dir}: {X.shape[0]} rows, {X.shape[1]} features")
    X_val = y_val = None
    val_dir = _channel_dir("validation", input_dir)
    if val_dir is not None:
        data.check_content_type(channel_content_type(config_dir, "validation"))
        X_val, y_val = data.read_csv_channel(val_dir, X.shape[1])
        log(f"#linear_learner: validation channel {val_dir}: {X_val.shape[0]} rows")
    estimator.fit(X, y, X_val, y_val, log=log)

    test_dir = _channel_dir("test", input_dir)
    if test_dir is not None:
        data.check_content_type(channel_content_type(config_dir, "test"))
        X_test, y_test = data.read_csv_channel(test_dir, X.shape[1])
        for name, value in estimator.evaluate(X_test, y_test).items():
            log(f"#test_score (algo-1) : ('{name}', {value:.8g})")

    estimator.save(model_dir)
    manifest = model_dir / "MAR-INF" / "MANIFEST.json"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(MANIFEST, indent=2))
    log(f"#linear_learner: model written to {model_dir}")


def _write_failure(message: str) -> None:
    output_dir = _env_path("SM_OUTPUT_DIR", DEFAULT_PREFIX / "output")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "failure").write_text(message)
    except OSError as exc:  # the log still has the message
        print(f"cannot write {output_dir / 'failure'}: {exc}", file=sys.stderr)


def main() -> int:
    from openmaker.training.linear_learner.model import DataError

    try:
        run()
    except (HyperparameterError, DataError, ClientError, NotImplementedError) as exc:
        message = f"ClientError: {exc}"
        print(message, file=sys.stderr, flush=True)
        _write_failure(message)
        return 1
    except Exception as exc:
        traceback.print_exc()
        message = f"AlgorithmError: {type(exc).__name__}: {exc}"
        _write_failure(message)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
