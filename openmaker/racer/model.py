"""A trained racer model on disk: weights as safetensors, never pickle.

A model directory holds

* ``model_metadata.json``: the action space, an unchanged copy of the file training read;
* ``model_config.json``: the architecture (observation, network, input shape, hidden sizes, action kind and
  count, stack size), enough to rebuild the network before loading the weights;
* ``policy.safetensors``: the weights (policy, value, the running observation statistics);
* ``reward_function.py``: a copy of the reward function it was trained with;
* ``hyperparameters.json``: DeepRacer's training hyperparameters;
* ``training_metrics.csv`` and ``training_metrics.png``: one row per training iteration and its curves.

:func:`load_model` checks everything it reads: a missing file, a ``model_config.json`` that is not the
expected JSON, a truncated or garbage ``policy.safetensors``, a tensor whose name or shape does not match
the configured network, non-finite weights, or an action space whose size differs from the network's
output all raise :class:`RacerError` naming the file. :func:`export_onnx` writes ``policy.onnx``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np
import torch

from openmaker.racer.errors import RacerError
from openmaker.racer.ppo import METRIC_COLUMNS, FrameStack, Hyperparameters, PolicyNet

METADATA = "model_metadata.json"
CONFIG = "model_config.json"
WEIGHTS = "policy.safetensors"
REWARD = "reward_function.py"
HYPERPARAMETERS = "hyperparameters.json"
METRICS_CSV = "training_metrics.csv"
METRICS_PNG = "training_metrics.png"
ONNX = "policy.onnx"
REQUIRED = (METADATA, CONFIG, WEIGHTS)


@dataclass
class Model:
    """A loaded model: its network, action space and settings."""

    dir: Path
    config: dict
    action_space: Any  # openmaker.racer.actions.ActionSpace
    net: PolicyNet
    hyperparameters: Hyperparameters
    weights_metadata: dict

    @property
    def observation(self) -> str:
        return self.config["observation"]

    @property
    def stack_size(self) -> int:
        return int(self.config.get("stack_size", 1))

    def act(self, obs, greedy: bool = True) -> np.ndarray:
        """Actions for a batch of (stacked) observations."""
        return self.net.act(obs, greedy=greedy)

    def controller(self, greedy: bool = True) -> "Controller":
        """A stateful driver (it keeps the frame stack) for :func:`openmaker.racer.evaluate.evaluate`."""
        return Controller(self, greedy)


class Controller:
    """Observation in, (action, steering_deg, speed) out, stacking frames as the model was trained."""

    def __init__(self, model: Model, greedy: bool = True):
        self.model = model
        self.greedy = greedy
        self.stack = FrameStack(model.stack_size)
        self.started = False

    def reset(self, obs: np.ndarray, mask: Optional[np.ndarray] = None) -> None:
        self.stack.reset(obs, None if not self.started else mask)
        self.started = True

    def __call__(self, obs: np.ndarray):
        if not self.started:
            self.reset(obs)
            stacked = self.stack.view() if self.model.stack_size > 1 else obs
        else:
            stacked = self.stack.push(obs)
        action = self.model.act(stacked, greedy=self.greedy)
        steering, speed = self.model.action_space.commands(action)
        return action, np.asarray(steering, dtype=np.float64), np.asarray(speed, dtype=np.float64)


# --- writing ----------------------------------------------------------------------------------------


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _write_weights(net: PolicyNet, path: Path, metadata: Optional[dict] = None) -> None:
    from safetensors.torch import save

    tensors = {k: v.detach().contiguous().clone() for k, v in net.state_dict().items()}
    meta = {"format": "openmaker-racer-policy", **{k: str(v) for k, v in (metadata or {}).items()}}
    _atomic_write_bytes(path, save(tensors, metadata=meta))


def _write_metadata(action_space, path: Path) -> None:
    source = getattr(action_space, "path", None)
    if source is not None and Path(source).is_file():
        shutil.copyfile(source, path)  # an unchanged copy of what training read
        return
    try:
        from openmaker.racer.actions import write_metadata

        write_metadata(action_space, path)
    except ImportError:
        path.write_text(json.dumps(action_space.metadata, indent=4) + "\n", encoding="utf-8")


class ModelWriter:
    """Writes a model directory during training: static files once, weights and metrics as they come.

    ``OUT/`` holds the best weights, ``OUT/last/`` (a model directory too) the latest.
    """

    def __init__(self, out_dir: str | Path, config: dict, action_space, reward_path: Optional[str | Path],
                 hyperparameters: Hyperparameters, *, reward_source: Optional[str] = None, keep_last: bool = True):
        self.dir = Path(out_dir)
        self.last = self.dir / "last"
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            if keep_last:
                self.last.mkdir(exist_ok=True)
        except OSError as exc:
            raise RacerError(f"{self.dir}: cannot create the model directory: {exc.strerror or exc}") from None
        self.keep_last = keep_last
        self.config = dict(config)
        for d in ([self.dir, self.last] if keep_last else [self.dir]):
            _write_metadata(action_space, d / METADATA)
            (d / CONFIG).write_text(json.dumps(self.config, indent=2) + "\n", encoding="utf-8")
            hyperparameters.save(d / HYPERPARAMETERS)
            if reward_path is not None and Path(reward_path).is_file():
                if Path(reward_path).resolve() != (d / REWARD).resolve():
                    shutil.copyfile(reward_path, d / REWARD)
            elif reward_source is not None:
                (d / REWARD).write_text(reward_source, encoding="utf-8")
        self.csv = self.dir / METRICS_CSV
        with self.csv.open("w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerow(METRIC_COLUMNS)

    def save_last(self, net: PolicyNet, iteration: Optional[int] = None) -> None:
        if self.keep_last:
            _write_weights(net, self.last / WEIGHTS, {"iteration": iteration} if iteration is not None else None)

    def save_best(self, net: PolicyNet, iteration: Optional[int] = None) -> None:
        _write_weights(net, self.dir / WEIGHTS, {"iteration": iteration} if iteration is not None else None)

    def append_metrics(self, row: dict) -> None:
        with self.csv.open("a", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerow([row.get(k, "") for k in METRIC_COLUMNS])

    def plot_metrics(self) -> Optional[Path]:
        from openmaker.racer.analysis import plot_training

        try:
            return plot_training(self.csv, self.dir / METRICS_PNG)
        except RacerError:
            return None  # no finished episode yet: nothing to draw


def save_model(dir: str | Path, policy: PolicyNet, action_space, reward_path: Optional[str | Path],
               hyperparameters: Optional[Hyperparameters] = None, metrics: Optional[Iterable[dict] | str | Path] = None,
               *, reward_source: Optional[str] = None) -> Path:
    """Write a complete model directory for ``policy`` (a :class:`PolicyNet`)."""
    hp = hyperparameters or Hyperparameters()
    if policy.action_kind != action_space.kind:
        raise RacerError(f"the policy is {policy.action_kind} but the action space is {action_space.kind}")
    writer = ModelWriter(dir, policy.config, action_space, reward_path, hp, reward_source=reward_source, keep_last=False)
    writer.save_best(policy)
    if isinstance(metrics, (str, Path)):
        if Path(metrics).resolve() != writer.csv.resolve():
            shutil.copyfile(metrics, writer.csv)
    elif metrics is not None:
        for row in metrics:
            writer.append_metrics(row)
    if metrics is not None:
        writer.plot_metrics()
    return Path(dir)


# --- reading ----------------------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RacerError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise RacerError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RacerError(f"{path}: line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def _check_config(config: Any, path: Path) -> dict:
    if not isinstance(config, dict):
        raise RacerError(f"{path}: expected a JSON object")
    need = {"observation": str, "network": str, "obs_shape": list, "action_kind": str, "n_actions": int}
    for key, kind in need.items():
        if key not in config:
            raise RacerError(f"{path}: missing key {key!r}")
        if not isinstance(config[key], kind) or isinstance(config[key], bool):
            raise RacerError(f"{path}: {key} must be a {kind.__name__}, got {config[key]!r}")
    if config["observation"] not in ("state", "camera"):
        raise RacerError(f"{path}: unknown observation {config['observation']!r} (state or camera)")
    if config["action_kind"] not in ("discrete", "continuous"):
        raise RacerError(f"{path}: unknown action_kind {config['action_kind']!r}")
    shape = config["obs_shape"]
    if not shape or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape):
        raise RacerError(f"{path}: obs_shape must be a list of positive integers, got {shape!r}")
    if config["observation"] == "state" and (config["network"] != "mlp" or len(shape) != 1):
        raise RacerError(f"{path}: a state model needs network 'mlp' and a 1-D obs_shape")
    if config["observation"] == "camera" and len(shape) != 3:
        raise RacerError(f"{path}: a camera model needs obs_shape [stack, height, width]")
    hidden = config.get("hidden", [128, 128])
    if not isinstance(hidden, list) or not hidden or not all(isinstance(h, int) and h > 0 for h in hidden):
        raise RacerError(f"{path}: hidden must be a list of positive integers, got {hidden!r}")
    if config["n_actions"] < 1:
        raise RacerError(f"{path}: n_actions must be at least 1")
    stack = config.get("stack_size", 1)
    if not isinstance(stack, int) or stack < 1:
        raise RacerError(f"{path}: stack_size must be a positive integer, got {stack!r}")
    return config


def _read_weights(path: Path) -> tuple[dict, dict]:
    from safetensors import safe_open

    try:
        tensors = {}
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            for key in fh.keys():
                tensors[key] = fh.get_tensor(key)
    except OSError as exc:
        raise RacerError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except Exception as exc:  # SafetensorError, a bad header, a truncated file: any of them means corrupt
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise RacerError(f"{path}: not a valid safetensors file ({detail})") from None
    return tensors, meta


def load_model(dir: str | Path) -> Model:
    """Load and check a model directory (see the module docstring); problems raise RacerError."""
    from openmaker.racer.actions import load_action_space

    d = Path(dir)
    if not d.exists():
        raise RacerError(f"{d}: no such model directory")
    if not d.is_dir():
        raise RacerError(f"{d}: not a directory (a model is a directory with {', '.join(REQUIRED)})")
    for name in REQUIRED:
        if not (d / name).is_file():
            raise RacerError(f"{d / name}: missing (a model directory needs {', '.join(REQUIRED)})")
    action_space = load_action_space(d / METADATA)
    config = _check_config(_read_json(d / CONFIG), d / CONFIG)
    if config["action_kind"] != action_space.kind:
        raise RacerError(f"{d / METADATA}: the action space is {action_space.kind} but the network "
                         f"({d / CONFIG}) was trained for a {config['action_kind']} one")
    if action_space.kind == "discrete" and config["n_actions"] != action_space.n:
        raise RacerError(f"{d / METADATA}: {action_space.n} actions but the network has {config['n_actions']} outputs")
    hp = Hyperparameters.load(d / HYPERPARAMETERS) if (d / HYPERPARAMETERS).is_file() else Hyperparameters()
    try:
        net = PolicyNet(config)
    except (KeyError, ValueError, RuntimeError) as exc:
        raise RacerError(f"{d / CONFIG}: cannot build the network: {exc}") from None
    tensors, meta = _read_weights(d / WEIGHTS)
    expected = net.state_dict()
    missing = [k for k in expected if k not in tensors]
    if missing:
        raise RacerError(f"{d / WEIGHTS}: missing tensor {missing[0]!r} for the network in {CONFIG}")
    extra = [k for k in tensors if k not in expected]
    if extra:
        raise RacerError(f"{d / WEIGHTS}: unexpected tensor {extra[0]!r} for the network in {CONFIG}")
    for key, ref in expected.items():
        t = tensors[key]
        if tuple(t.shape) != tuple(ref.shape):
            raise RacerError(f"{d / WEIGHTS}: tensor {key!r} has shape {tuple(t.shape)}, the network in {CONFIG} "
                             f"needs {tuple(ref.shape)}")
        if not t.dtype.is_floating_point:
            raise RacerError(f"{d / WEIGHTS}: tensor {key!r} is {t.dtype}, not floating point")
        if not bool(torch.isfinite(t).all()):
            raise RacerError(f"{d / WEIGHTS}: tensor {key!r} holds NaN or infinite values")
        tensors[key] = t.to(ref.dtype)
    net.load_state_dict(tensors)
    net.eval()
    return Model(dir=d, config=config, action_space=action_space, net=net, hyperparameters=hp, weights_metadata=meta)


# --- ONNX -------------------------------------------------------------------------------------------


class _OnnxPolicy(torch.nn.Module):
    def __init__(self, net: PolicyNet):
        super().__init__()
        self.net = net

    def forward(self, obs: torch.Tensor):
        x = obs.to(torch.float32)
        if self.net.observation == "camera":
            x = x / 255.0
        out, value = self.net(x)
        if self.net.action_kind == "discrete":
            return torch.softmax(out, -1), value
        return torch.clamp(out, -1.0, 1.0), value


def export_onnx(dir: str | Path, out: Optional[str | Path] = None) -> Path:
    """Write ``policy.onnx``: input ``obs`` (n, *obs_shape) float32 (camera: 0–255 grey values);
    outputs ``action`` (discrete: the action probabilities, continuous: the mean action in [-1, 1]) and
    ``value``. The batch dimension is dynamic."""
    model = load_model(dir)
    path = Path(out) if out is not None else model.dir / ONNX
    shape = (1, *model.net.obs_shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_OnnxPolicy(model.net), (torch.zeros(shape),), str(path), dynamo=False,
                          input_names=["obs"], output_names=["action", "value"],
                          dynamic_axes={"obs": {0: "n"}, "action": {0: "n"}, "value": {0: "n"}})
    return path


def metrics_png(dir: str | Path) -> Optional[Path]:
    """Redraw ``training_metrics.png`` of a model directory from its CSV."""
    from openmaker.racer.analysis import plot_training

    d = Path(dir)
    if not (d / METRICS_CSV).is_file():
        return None
    return plot_training(d / METRICS_CSV, d / METRICS_PNG)


__all__ = ["Model", "Controller", "ModelWriter", "save_model", "load_model", "export_onnx", "metrics_png"]
