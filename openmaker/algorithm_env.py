"""What a built-in algorithm reads and writes inside SageMaker's job layout.

* hyperparameters (string values) from ``$SM_INPUT_CONFIG_DIR/hyperparameters.json``, else ``$SM_HPS``;
* channels under ``$SM_CHANNEL_<NAME>`` (else ``<input>/data/<name>``) and their ``ContentType`` from
  ``inputdataconfig.json``;
* the model goes to ``$SM_MODEL_DIR``; a failure's reason to ``$SM_OUTPUT_DIR/failure``
  (``ClientError: ...`` for bad input, ``AlgorithmError: ...`` otherwise) and the exit code is 1.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

__all__ = ["ClientError", "AlgorithmEnv", "run_algorithm"]

DEFAULT_PREFIX = Path("/opt/ml")


class ClientError(Exception):
    """A problem with the job's input (missing channel, bad config); reported as ClientError."""


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value) if value else default


class AlgorithmEnv:
    """The job's folders as the ``SM_*`` environment gives them."""

    def __init__(self) -> None:
        self.input_dir = _env_path("SM_INPUT_DIR", DEFAULT_PREFIX / "input")
        self.config_dir = _env_path("SM_INPUT_CONFIG_DIR", self.input_dir / "config")
        self.model_dir = _env_path("SM_MODEL_DIR", DEFAULT_PREFIX / "model")
        self.output_data_dir = _env_path("SM_OUTPUT_DATA_DIR", DEFAULT_PREFIX / "output" / "data")

    def hyperparameters(self) -> dict[str, Any]:
        path = self.config_dir / "hyperparameters.json"
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

    def content_type(self, channel: str) -> str | None:
        path = self.config_dir / "inputdataconfig.json"
        if not path.is_file():
            return None
        try:
            config = json.loads(path.read_text() or "{}")
        except ValueError:
            return None
        entry = config.get(channel) if isinstance(config, dict) else None
        return entry.get("ContentType") if isinstance(entry, dict) else None

    def channel(self, name: str) -> Path | None:
        value = os.environ.get(f"SM_CHANNEL_{name.upper()}")
        if value:
            return Path(value)
        default = self.input_dir / "data" / name
        return default if default.exists() else None

    def require_channel(self, name: str) -> Path:
        found = self.channel(name)
        if found is None:
            raise ClientError(f"the {name} channel is required (SM_CHANNEL_{name.upper()} is not set and "
                              f"{self.input_dir / 'data' / name} does not exist)")
        return found


def _write_failure(message: str) -> None:
    output_dir = _env_path("SM_OUTPUT_DIR", DEFAULT_PREFIX / "output")
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "failure").write_text(message)
    except OSError as exc:  # the log still has the message
        print(f"cannot write {output_dir / 'failure'}: {exc}", file=sys.stderr)


def run_algorithm(run: Callable[[], None], client_errors: tuple[type[BaseException], ...]) -> int:
    """Run ``run()``; ``client_errors`` (and :class:`ClientError`) become ``ClientError: ...``, others ``AlgorithmError``."""
    try:
        run()
    except (ClientError, NotImplementedError, *client_errors) as exc:
        message = f"ClientError: {exc}"
        print(message, file=sys.stderr, flush=True)
        _write_failure(message)
        return 1
    except Exception as exc:
        traceback.print_exc()
        _write_failure(f"AlgorithmError: {type(exc).__name__}: {exc}")
        return 1
    return 0
