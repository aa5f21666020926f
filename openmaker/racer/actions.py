"""DeepRacer action spaces: ``model_metadata.json`` read, validated and written back unchanged.

The file is the one the DeepRacer console and simulator use::

    {"action_space": [{"steering_angle": -30, "speed": 0.5}, ...],   # discrete: index = action id
     "sensor": ["FRONT_FACING_CAMERA"], "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
     "training_algorithm": "clipped_ppo", "action_space_type": "discrete", "version": "5"}

    continuous: "action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 1, "high": 2}},
                "action_space_type": "continuous"

Missing keys default as the simulator's parser does: ``action_space_type`` discrete, ``neural_network``
DEEP_CONVOLUTIONAL_NETWORK_SHALLOW, ``training_algorithm`` clipped_ppo, ``sensor`` the front camera.
Extra keys (a discrete action's ``index``, ``lidar_config``, ...) are kept. :attr:`ActionSpace.metadata` is the
document as read; :func:`write_metadata` writes it back, byte for byte when it is unchanged.

Rules (each broken one is a :class:`~openmaker.racer.errors.RacerError` naming the file and what is wrong):

- steering angles within [-30, 30] degrees and speeds within [0.1, 4] m/s: the range the simulator clips
  its commands to, so a value outside it would silently act as the bound;
- a continuous range needs ``low < high``; a discrete list holds 1 to :data:`MAX_DISCRETE_ACTIONS` actions;
- numbers are JSON numbers (not strings or booleans) and finite; object keys are not repeated;
- ``training_algorithm`` must be ``clipped_ppo``: the files of SAC models are DeepRacer's, but only PPO is
  trained and raced here, so a SAC file is refused when read rather than failing later in training;
- ``sensor`` holds exactly one camera (FRONT_FACING_CAMERA, LEFT_CAMERA, STEREO_CAMERAS, or the v1 name
  ``observation``) and at most one lidar, as in the simulator. Our trainer reads the car's ``state``
  observation by default whatever the sensor says; the sensor is kept for DeepRacer compatibility.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from openmaker.racer.errors import RacerError

MAX_STEERING_DEG = 30.0  # the simulator clips steering to +-30 degrees (physics.MAX_STEERING_DEG)
MIN_SPEED = 0.1  # the simulator clips speed to [0.1, 4] m/s (physics.MIN_SPEED / MAX_SPEED)
MAX_SPEED = 4.0
MAX_DISCRETE_ACTIONS = 50  # the console offered at most 7 x 3 = 21; hand-edited files go further, 50 is ample

DISCRETE = "discrete"
CONTINUOUS = "continuous"
NETWORKS = (
    "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "DEEP_CONVOLUTIONAL_NETWORK",
    "DEEP_CONVOLUTIONAL_NETWORK_DEEP",
)
CAMERAS = ("FRONT_FACING_CAMERA", "LEFT_CAMERA", "STEREO_CAMERAS", "observation")
LIDARS = ("LIDAR", "SECTOR_LIDAR", "DISCRETIZED_SECTOR_LIDAR")
SENSORS = CAMERAS + LIDARS
ALGORITHMS = ("clipped_ppo", "sac")


def default_metadata() -> dict:
    """The DeepRacer-on-AWS console default: discrete, steering {-30, -15, 0, 15, 30} x speed {0.5, 1.0} m/s."""
    actions = [
        {"steering_angle": steering, "speed": speed, "index": 0}
        for steering in (-30.0, -15.0, 0.0, 15.0, 30.0)
        for speed in (0.5, 1.0)
    ]
    for i, action in enumerate(actions):
        action["index"] = i
    return {
        "action_space": actions,
        "sensor": ["FRONT_FACING_CAMERA"],
        "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
        "training_algorithm": "clipped_ppo",
        "action_space_type": "discrete",
        "version": "5",
    }


class ActionSpace:
    """A validated DeepRacer action space.

    ``kind`` is "discrete" or "continuous". Discrete: ``actions`` (the list of dicts as read), ``n`` (their
    count), ``steering`` / ``speed`` (float64 arrays indexed by action id). Continuous: ``n`` is 0 and
    ``actions`` empty. Both: ``low`` / ``high`` = arrays [steering_deg, speed] (the continuous range, or the
    discrete table's bounds), also as ``steering_low``, ``steering_high``, ``speed_low``, ``speed_high``;
    the effective ``sensor``, ``neural_network``, ``training_algorithm`` and ``version`` (defaults filled in);
    ``metadata`` (the whole document as read; written back unchanged).
    """

    def __init__(self, metadata: dict, *, source: str = "model_metadata.json", text: str | None = None):
        self.source = source
        self.metadata = metadata
        self._text = text  # the file as read, rewritten as is while metadata still equals it
        self._text_data = json.loads(text) if text is not None else None
        if not isinstance(metadata, dict):
            self._fail(f"the top level must be a JSON object, not {_json_type(metadata)}")
        kind = metadata.get("action_space_type", DISCRETE)
        if not isinstance(kind, str) or kind.lower().strip() not in (DISCRETE, CONTINUOUS):
            self._fail(f"action_space_type must be 'discrete' or 'continuous', not {kind!r}")
        self.kind = kind.lower().strip()
        self.neural_network = self._choice("neural_network", NETWORKS, NETWORKS[0])
        algorithm = metadata.get("training_algorithm", "clipped_ppo")
        if not isinstance(algorithm, str) or algorithm.lower().strip() not in ALGORITHMS:
            self._fail(f"training_algorithm must be 'clipped_ppo' (or DeepRacer's 'sac'), not {algorithm!r}")
        self.training_algorithm = algorithm.lower().strip()
        if self.training_algorithm != "clipped_ppo":
            self._fail(
                f"training_algorithm {algorithm!r} is not supported: only clipped_ppo (PPO) is trained and raced here"
            )
        self.sensor = self._sensors()
        self.version = self._version()
        if "action_space" not in metadata:
            self._fail("no action_space defined")
        space = metadata["action_space"]
        self.actions: list[dict] = []
        if self.kind == DISCRETE:
            self._discrete(space)
        else:
            self._continuous(space)
        self.low = np.array([self.steering_low, self.speed_low])
        self.high = np.array([self.steering_high, self.speed_high])

    # -- construction helpers ------------------------------------------------------------------------------

    @classmethod
    def from_metadata(cls, metadata: dict, *, source: str = "model_metadata.json") -> ActionSpace:
        """Validate a model_metadata dict (e.g. :func:`default_metadata`) that did not come from a file."""
        return cls(metadata, source=source)

    def _fail(self, message: str) -> None:
        raise RacerError(f"{self.source}: {message}")

    def _choice(self, key: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.metadata.get(key, default)
        if value not in allowed:
            self._fail(f"{key} must be one of {', '.join(allowed)}, not {value!r}")
        return value

    def _sensors(self) -> list[str]:
        if "sensor" not in self.metadata:
            return ["FRONT_FACING_CAMERA"]
        sensor = self.metadata["sensor"]
        if not isinstance(sensor, list) or not all(isinstance(s, str) for s in sensor):
            self._fail(f"sensor must be a list of names, e.g. [\"FRONT_FACING_CAMERA\"], not {sensor!r}")
        unknown = [s for s in sensor if s not in SENSORS]
        if unknown:
            self._fail(f"unknown sensor {unknown[0]!r} (known: {', '.join(SENSORS)})")
        if sum(s in CAMERAS for s in sensor) != 1:
            self._fail(f"sensor must hold exactly one camera ({', '.join(CAMERAS[:3])}), got {sensor}")
        if sum(s in LIDARS for s in sensor) > 1:
            self._fail(f"sensor holds more than one lidar: {sensor}")
        return list(sensor)

    def _version(self) -> str:
        version = self.metadata.get("version")
        if version is None:
            return "2" if "sensor" in self.metadata else "1"
        if isinstance(version, bool) or not isinstance(version, (str, int, float)):
            self._fail(f"version must be a string such as \"5\", not {version!r}")
        try:
            float(version)
        except ValueError:
            self._fail(f"version must be a number such as \"5\", not {version!r}")
        return str(version)

    def _number(self, value: Any, where: str, lo: float, hi: float, unit: str, what: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self._fail(f"{where} must be a number, not {_json_type(value)} {value!r}")
        if not math.isfinite(value):
            self._fail(f"{where} must be finite, not {value!r}")
        if not lo <= value <= hi:
            self._fail(
                f"{where} = {value:g} is outside [{lo:g}, {hi:g}] {unit} (the simulator clips {what} to this range)"
            )
        return float(value)

    def _steering(self, value: Any, where: str) -> float:
        return self._number(value, where, -MAX_STEERING_DEG, MAX_STEERING_DEG, "degrees", "steering")

    def _speed(self, value: Any, where: str) -> float:
        return self._number(value, where, MIN_SPEED, MAX_SPEED, "m/s", "speed")

    def _discrete(self, space: Any) -> None:
        if isinstance(space, dict):
            self._fail("action_space is an object of ranges: set \"action_space_type\": \"continuous\" for it")
        if not isinstance(space, list):
            self._fail(f"action_space must be a list of {{steering_angle, speed}} objects, not {_json_type(space)}")
        if not space:
            self._fail("action_space is empty: a discrete action space needs at least one action")
        if len(space) > MAX_DISCRETE_ACTIONS:
            self._fail(f"action_space has {len(space)} actions; at most {MAX_DISCRETE_ACTIONS} are allowed")
        steering, speed = [], []
        for i, action in enumerate(space):
            if not isinstance(action, dict):
                self._fail(f"action_space[{i}] must be an object {{\"steering_angle\": ..., \"speed\": ...}}")
            for key in ("steering_angle", "speed"):
                if key not in action:
                    self._fail(f"action_space[{i}] has no {key}")
            steering.append(self._steering(action["steering_angle"], f"action_space[{i}].steering_angle"))
            speed.append(self._speed(action["speed"], f"action_space[{i}].speed"))
        self.actions = list(space)
        self.n = len(space)
        self.steering = np.array(steering)
        self.speed = np.array(speed)
        self.steering_low, self.steering_high = float(self.steering.min()), float(self.steering.max())
        self.speed_low, self.speed_high = float(self.speed.min()), float(self.speed.max())

    def _continuous(self, space: Any) -> None:
        if isinstance(space, list):
            self._fail("action_space is a list of actions: set \"action_space_type\": \"discrete\" (or drop it)")
        if not isinstance(space, dict):
            self._fail(f"action_space must be an object {{steering_angle: {{low, high}}, speed: {{low, high}}}}")
        bounds = {}
        for key, check in (("steering_angle", self._steering), ("speed", self._speed)):
            if key not in space:
                self._fail(f"action_space has no {key} range")
            rng = space[key]
            if not isinstance(rng, dict) or "low" not in rng or "high" not in rng:
                self._fail(f"action_space.{key} must be an object {{\"low\": ..., \"high\": ...}}")
            low = check(rng["low"], f"action_space.{key}.low")
            high = check(rng["high"], f"action_space.{key}.high")
            if not low < high:
                self._fail(f"action_space.{key}: low ({low:g}) must be below high ({high:g})")
            bounds[key] = (low, high)
        self.n = 0
        self.steering_low, self.steering_high = bounds["steering_angle"]
        self.speed_low, self.speed_high = bounds["speed"]

    # -- use -----------------------------------------------------------------------------------------------

    @property
    def is_discrete(self) -> bool:
        return self.kind == DISCRETE

    def commands(self, action: Any) -> tuple[np.ndarray, np.ndarray]:
        """Actions → (steering_deg, speed) float64 arrays.

        Discrete: integer action ids of any shape (an out-of-range id is a RacerError). Continuous: floats of
        shape (..., 2) = [steering, speed] in [-1, 1] (clipped to it first), scaled linearly to [low, high].
        """
        if self.kind == DISCRETE:
            idx = np.asarray(action)
            if idx.dtype.kind not in "iu":
                if idx.dtype.kind == "f" and np.all(idx == np.round(idx)):
                    idx = idx.astype(np.int64)
                else:
                    raise RacerError(f"{self.source}: discrete actions are integer ids, got {idx.dtype} values")
            if idx.size and (idx.min() < 0 or idx.max() >= self.n):
                raise RacerError(f"{self.source}: action id out of range 0..{self.n - 1}: {idx.min()}..{idx.max()}")
            return self.steering[idx], self.speed[idx]
        a = np.asarray(action, dtype=np.float64)
        if a.shape[-1:] != (2,):
            raise RacerError(f"{self.source}: continuous actions have shape (..., 2), got {a.shape}")
        a = np.clip(a, -1.0, 1.0)
        frac = (a + 1.0) * 0.5
        steering = self.steering_low + frac[..., 0] * (self.steering_high - self.steering_low)
        speed = self.speed_low + frac[..., 1] * (self.speed_high - self.speed_low)
        return steering, speed

    def describe(self) -> str:
        """One line for logs and the CLI."""
        if self.kind == DISCRETE:
            return (
                f"discrete, {self.n} actions: steering {self.steering_low:g}..{self.steering_high:g} deg, "
                f"speed {self.speed_low:g}..{self.speed_high:g} m/s"
            )
        return (
            f"continuous: steering {self.steering_low:g}..{self.steering_high:g} deg, "
            f"speed {self.speed_low:g}..{self.speed_high:g} m/s"
        )

    def __repr__(self) -> str:
        return f"ActionSpace({self.describe()})"

    def to_text(self) -> str:
        """The JSON text to write: the file as read while ``metadata`` is unchanged, else 4-space-indented JSON."""
        if self._text is not None and self.metadata == self._text_data:
            return self._text
        return json.dumps(self.metadata, indent=4) + "\n"


def load_action_space(path: str | Path) -> ActionSpace:
    """Read and validate a model_metadata.json. Malformed → RacerError naming the file (and JSON line/column)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RacerError(f"{path}: no such file (expected a DeepRacer model_metadata.json)") from None
    except IsADirectoryError:
        raise RacerError(f"{path}: is a directory, not a model_metadata.json file") from None
    except OSError as exc:
        raise RacerError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RacerError(f"{path}: not UTF-8 text (byte {exc.start}): not a model_metadata.json") from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise RacerError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except _DuplicateKey as exc:
        raise RacerError(f"{path}: key {exc.args[0]!r} appears twice in one object") from None
    return ActionSpace(data, source=str(path), text=text)


def write_metadata(space: ActionSpace | dict, path: str | Path) -> Path:
    """Write the action space's model_metadata.json (unchanged from what was read). A dict is validated first."""
    if not isinstance(space, ActionSpace):
        space = ActionSpace.from_metadata(space)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(space.to_text(), encoding="utf-8")
    return path


class _DuplicateKey(Exception):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
