"""The car: a kinematic bicycle at 15 Hz with a first-order speed lag, vectorised over cars.

Geometry of the DeepRacer URDF: wheelbase 0.164 m, track 0.162 m; ``base_link`` sits at mid-wheelbase.
Both front hinges get the same angle (no Ackermann), so a bicycle model with the steering angle ``steer`` is
exact for the kinematics: the rear axle turns on a circle of radius ``WHEELBASE / tan(steer)``.

One ``step`` (DT = 1/15 s, one camera frame):

1. commands are clipped: steering to ±30° (positive = left), speed to [0.1, 4] m/s;
2. the actual steering angle becomes the clipped command at once;
3. the speed approaches the command as ``v(t) = cmd + (v0 - cmd) * exp(-t / SPEED_TAU)``;
   ``speed`` after the step is ``v(DT)``, i.e. ``speed += (cmd - speed) * (1 - exp(-DT / SPEED_TAU))``, and the
   rear axle travels the exact integral ``cmd * DT - (cmd - v0) * SPEED_TAU * (1 - exp(-DT / SPEED_TAU))``;
4. the rear axle moves along its circular arc (exact for constant steering: the chord of length
   ``d * sinc(dpsi / 2)`` at the mean heading), the yaw turns by ``dpsi = d * tan(steer) / WHEELBASE``;
5. ``x, y`` (base_link) = rear axle + WHEELBASE / 2 ahead.

``speed`` is the rear-axle (wheel) speed. The state is any object with float arrays ``x, y, yaw, speed, steer``
of shape (n,), e.g. ``CarState`` or ``openmaker.racer.env.RaceSim``; ``step`` updates them in place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

WHEELBASE = 0.164
TRACK = 0.162
DT = 1.0 / 15.0
MAX_STEERING_DEG = 30.0
MIN_SPEED = 0.1
MAX_SPEED = 4.0
SPEED_TAU = 0.2
FRONT_OFFSET = 0.14  # the reward params' x, y: this far ahead of base_link

MAX_STEERING_RAD = math.radians(MAX_STEERING_DEG)
SPEED_ALPHA = 1.0 - math.exp(-DT / SPEED_TAU)  # fraction of the speed error closed in one step
_HALF_L = WHEELBASE / 2.0
_HALF_T = TRACK / 2.0
# wheel centres in the car frame (x forward, y left): front-left, front-right, rear-left, rear-right
WHEEL_OFFSETS = np.array([[_HALF_L, _HALF_T], [_HALF_L, -_HALF_T], [-_HALF_L, _HALF_T], [-_HALF_L, -_HALF_T]])


@dataclass
class CarState:
    """Arrays of shape (n,): base_link x, y (m), yaw (rad), speed (m/s, actual), steer (rad, actual)."""

    x: np.ndarray
    y: np.ndarray
    yaw: np.ndarray
    speed: np.ndarray
    steer: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self):
        n = len(self.x)
        if self.steer is None:
            self.steer = np.zeros(n)

    @classmethod
    def zeros(cls, n: int) -> CarState:
        return cls(np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n))


def clip_commands(steering_deg, speed_cmd) -> tuple[np.ndarray, np.ndarray]:
    """(steering rad clipped to ±30°, speed clipped to [0.1, 4]); NaN commands become 0° / MIN_SPEED."""
    sd = np.clip(np.asarray(steering_deg, dtype=np.float64), -MAX_STEERING_DEG, MAX_STEERING_DEG)
    sp = np.clip(np.asarray(speed_cmd, dtype=np.float64), MIN_SPEED, MAX_SPEED)
    if np.isnan(sd.sum() + sp.sum()):  # NaN passes through clip
        sd = np.nan_to_num(sd, nan=0.0)
        sp = np.nan_to_num(sp, nan=MIN_SPEED)
    return np.radians(sd), sp


def step(state, steering_deg, speed_cmd, dt: float = DT) -> tuple[np.ndarray, np.ndarray]:
    """Advance every car one step in place (commands broadcast over the cars). Returns cos, sin of the new yaw."""
    steer, cmd = clip_commands(steering_deg, speed_cmd)
    if dt == DT:
        alpha = SPEED_ALPHA
    else:
        alpha = 1.0 - math.exp(-dt / SPEED_TAU)
    v0 = state.speed
    err = cmd - v0
    dist = cmd * dt - err * (SPEED_TAU * alpha)
    state.speed[...] = v0 + err * alpha
    state.steer[...] = steer
    yaw = state.yaw
    dpsi = dist * np.tan(steer) * (1.0 / WHEELBASE)
    half = 0.5 * dpsi
    # chord of the rear axle's arc: dist * sin(half) / half (-> dist as half -> 0)
    sh = np.sin(half)
    small = np.abs(half) < 1e-9
    chord = dist * np.where(small, 1.0, sh / np.where(small, 1.0, half))
    ch = np.cos(half)
    c0, s0 = np.cos(yaw), np.sin(yaw)
    cm, sm = c0 * ch - s0 * sh, s0 * ch + c0 * sh  # direction of the mean heading
    c1, s1 = cm * ch - sm * sh, sm * ch + cm * sh  # the new heading
    # base_link = rear + HALF_L * (cos, sin): the rear axle moves by the chord, the half-wheelbase arm rotates
    state.x += chord * cm + _HALF_L * (c1 - c0)
    state.y += chord * sm + _HALF_L * (s1 - s0)
    new_yaw = yaw + dpsi
    state.yaw[...] = np.remainder(new_yaw + math.pi, 2.0 * math.pi) - math.pi
    return c1, s1

def front_point(state) -> tuple[np.ndarray, np.ndarray]:
    """The reward params' (x, y): FRONT_OFFSET ahead of base_link."""
    return state.x + FRONT_OFFSET * np.cos(state.yaw), state.y + FRONT_OFFSET * np.sin(state.yaw)


def wheel_positions(state) -> np.ndarray:
    """(n, 4, 2) wheel centres: front-left, front-right, rear-left, rear-right."""
    c, s = np.cos(state.yaw)[:, None], np.sin(state.yaw)[:, None]
    ox, oy = WHEEL_OFFSETS[:, 0][None, :], WHEEL_OFFSETS[:, 1][None, :]
    wx = state.x[:, None] + ox * c - oy * s
    wy = state.y[:, None] + ox * s + oy * c
    return np.stack([wx, wy], axis=-1)
