"""The vectorised race simulator (``RaceSim``) and a single-car Gymnasium wrapper (``RaceEnv``).

``RaceSim`` keeps n cars in numpy arrays and steps them all at once (no Python loop per car): physics
(``openmaker.racer.physics``), projection of each car's front point onto the centre line (a local search around
the car's previous segment, ``Track.project(hint=...)``), progress, the four wheels' on-track test, the episode
rules and the observation.

Conventions (as the DeepRacer simulator):

- ``x, y`` arrays are base_link (mid-wheelbase); ``fx, fy`` are the front point 0.14 m ahead, which is what the
  reward params call ``x, y`` and what ``s`` (arc length), ``progress`` and ``distance_from_center`` use.
- ``sim.track`` is the track in the driving direction: ``track.reversed()`` when ``reverse=True`` (the same
  road, centre points in reverse order; a loop keeps its start point). ``sim.base_track`` is the track given.
- ``progress`` = 100 * (arc length of the front point - ``start_s``) / length, wrapped for loops, accumulated
  step by step (so going backwards over the start line gives a negative raw value) and clamped to [0, 100].
  On an open track (Straight_track) it is relative to the distance left: 100 at the end of the route.
  ``reset`` sets ``start_s`` to the front point's arc length, so an episode starts at progress 0.
- ``place(i, s, ...)`` puts base_link on the centre line at arc length ``s`` (a respawn): the episode's
  progress, steps and clock are kept, and progress continues from the new position.
- ``steps`` counts the steps of the episode; the first ``step()`` after a reset gives ``steps == 1``.

Episode rules, checked after every step in this order (the first that holds is the status):
lap_complete (progress >= 100), off_track (no wheel centre inside the road polygon), reversed (progress
decreased, by more than 1e-6 m of arc, for 15 consecutive steps), immobilized (for 15 consecutive steps the
front point moved <= 0.0003 m, DeepRacer's rule, or progressed <= 0.0003 m along the track: the issue's "no
progress for 15 steps"; the first alone never fires since the speed command is at least 0.1 m/s), time_up
(``steps >= max_steps``). ``step`` does NOT restart cars that are done: the caller calls ``reset(mask=done)``
(training), ``place`` (an evaluation respawn after a penalty) or ``next_lap`` (continuous laps).

Starts: in training, car k's j-th episode (j counts its resets, from 0) starts at arc length
``((k / n + j * start_advance) % 1) * length`` (DeepRacer's round robin, 5 % further each time); in
evaluation (``training=False``) every car starts at s = 0, the start line, heading along the track.
``seed`` is accepted for API symmetry: the simulation is deterministic and uses no randomness.

State observation (``observation="state"``), float32, ``obs_dim`` = 23 columns:

====  =====================================================================================
0     speed / 4 (actual speed)
1, 2  sin, cos of the heading error: car yaw minus the centre-line direction at the front point
3     signed lateral offset of the front point / half the local width (+ = left of centre)
4, 5  distance from the front point to the left / right border, metres (width / 2 -/+ offset)
6-21  the centre line 0.3, 0.6, ..., 2.4 m ahead of the front point's projection (K = 8 points), as
      (forward, left) coordinates in the car frame relative to the front point, metres / 2
22    actual steering angle / 30°
====  =====================================================================================

Camera observation (``observation="camera"``): (n, 120, 160) uint8 from ``openmaker.racer.camera.render``.

Beyond the shared interface (all additions; nothing in it changed): ``RaceSim`` also takes a track id
string; ``sim.base_track``; ``next_lap(i)``; ``observe(idx)`` / ``state_obs(idx)`` for some cars;
``reward_params_batch(idx=None)``; ``heading_deg()``; the arrays ``fx, fy`` (front point), ``seg``, ``dist``,
``left``, ``width``, ``wheels_on`` (n, 4), ``all_wheels_on_track``, ``is_offtrack``, ``episode``. The params
dict also carries the simapp's undocumented ``projection_distance`` (front point's arc length from the
route's start), ``objects_distance_from_center`` ([]) and ``object_in_camera`` (False). ``track_width`` is
the border-to-border width interpolated between the two waypoints around the projection (the simapp measures
between the border points nearest to it; equal at the waypoints).

Reward params: ``reward_params(i)`` (one car) and ``reward_params_batch()`` (all cars; columns converted once
with ``tolist()``, for trainers). The ``waypoints`` value is one list of (x, y) tuples per simulator, built
once in driving order and shared by every params dict: treat it as read-only (the simapp hands the reward
function a deep copy; copying 119+ tuples per call would cost more than the rest of the dict).
"""

from __future__ import annotations

import gc
import math

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from openmaker.racer import physics
from openmaker.racer.errors import RacerError
from openmaker.racer.physics import DT, FRONT_OFFSET, MAX_SPEED, MAX_STEERING_RAD
from openmaker.racer.tracks import Track, load_track

STATUSES = ("in_progress", "lap_complete", "off_track", "reversed", "immobilized", "time_up")
IN_PROGRESS, LAP_COMPLETE, OFF_TRACK, REVERSED, IMMOBILIZED, TIME_UP = range(6)
OBSERVATIONS = ("state", "camera")
COUNT_LIMIT = 15  # consecutive steps for reversed / immobilized
IMMOBILE_DIST = 0.0003  # metres per step
REVERSE_EPS = 1e-6  # metres per step: a smaller decrease of progress is rounding, not driving backwards
LOOKAHEAD_K = 8
LOOKAHEAD_SPACING = 0.3  # metres of arc length between the observed centre-line points
_TABLE_DS = 0.01  # resolution of the centre-line table the lookahead points come from
OBS_DIM = 7 + 2 * LOOKAHEAD_K


class RaceSim:
    """n cars on one track, stepped together. See the module docstring for every convention."""

    def __init__(self, track: Track | str, n_cars: int = 1, *, observation: str = "state", training: bool = True,
                 start_advance: float = 0.05, max_steps: int = 10_000, reverse: bool = False,
                 seed: int | None = None):
        if isinstance(track, str):
            track = load_track(track)
        if observation not in OBSERVATIONS:
            raise RacerError(f"unknown observation {observation!r}: choose one of {', '.join(OBSERVATIONS)}")
        n = int(n_cars)
        if n < 1:
            raise RacerError(f"n_cars must be at least 1, got {n_cars}")
        if int(max_steps) < 1:
            raise RacerError(f"max_steps must be at least 1, got {max_steps}")
        self.n = n
        self.base_track = track
        self.track = track.reversed() if reverse else track
        self.observation = observation
        self.training = bool(training)
        self.start_advance = float(start_advance)
        self.max_steps = int(max_steps)
        self.reverse = bool(reverse)
        self.seed = seed
        self.obs_dim = OBS_DIM
        self.length = self.track.length
        z = np.zeros
        # car state (physics.step updates these in place)
        self.x, self.y, self.yaw, self.speed, self.steer = z(n), z(n), z(n), z(n), z(n)
        # episode bookkeeping
        self.start_s = z(n)
        self.s = z(n)  # arc length of the front point
        self.progress = z(n)
        self.steps = z(n, dtype=np.int64)
        self.status = z(n, dtype=np.int64)
        self.lap_time = z(n)
        self.cmd_steering_deg = z(n)
        self.cmd_speed = z(n)
        self.episode = z(n, dtype=np.int64)  # resets done per car (the round-robin j)
        self.fx, self.fy = z(n), z(n)
        self.seg = z(n, dtype=np.int64)
        self.dist = z(n)
        self.left = z(n, dtype=bool)
        self.width = z(n)
        self.wheels_on = np.ones((n, 4), dtype=bool)
        self.all_wheels_on_track = np.ones(n, dtype=bool)
        self.is_offtrack = z(n, dtype=bool)
        self._prog_u = z(n)  # unclamped progress, percent
        self._raw = z(n)  # last raw relative position, percent of a lap
        self._rev_count = z(n, dtype=np.int64)
        self._imm_count = z(n, dtype=np.int64)
        self._waypoints = [tuple(p) for p in self.track.center.tolist()]
        # centre line every 1 cm from s = 0 to length + the lookahead (wrapped for loops, clamped for open tracks)
        self._ahead_cells = np.rint(np.arange(1, LOOKAHEAD_K + 1) * LOOKAHEAD_SPACING / _TABLE_DS).astype(np.int32)
        m = int(math.ceil(self.length / _TABLE_DS)) + int(self._ahead_cells[-1]) + 2
        tx, ty, _ = self.track.point_at(np.arange(m) * _TABLE_DS)
        self._table_x, self._table_y = tx.astype(np.float32), ty.astype(np.float32)
        self._seg_cos, self._seg_sin = np.cos(self.track.seg_heading), np.sin(self.track.seg_heading)
        self._cos, self._sin = np.ones(n), np.zeros(n)  # of yaw
        self._last_obs = None
        self._restart(np.arange(n), count=False)

    # ------------------------------------------------------------------ starts
    def start_positions(self, idx: np.ndarray) -> np.ndarray:
        """Arc lengths where the next episode of cars ``idx`` starts (without counting it)."""
        if not self.training:
            return np.zeros(len(idx))
        frac = (idx / self.n + self.episode[idx] * self.start_advance) % 1.0
        return frac * self.length

    def _restart(self, idx: np.ndarray, count: bool) -> None:
        s0 = self.start_positions(idx)
        if count:
            self.episode[idx] += 1
        self._put(idx, s0, 0.0, 0.0, 0.0)
        self.start_s[idx] = self.s[idx]
        self._raw[idx] = 0.0
        self._prog_u[idx] = 0.0
        self.progress[idx] = 0.0
        self.steps[idx] = 0
        self.lap_time[idx] = 0.0
        self.status[idx] = IN_PROGRESS
        self.cmd_steering_deg[idx] = 0.0
        self.cmd_speed[idx] = 0.0

    def _put(self, idx, s, offset, heading_offset, speed) -> None:
        cx, cy, hd = self.track.point_at(s)
        offset = np.broadcast_to(np.asarray(offset, dtype=np.float64), np.shape(cx))
        self.x[idx] = cx - np.sin(hd) * offset
        self.y[idx] = cy + np.cos(hd) * offset
        self.yaw[idx] = np.remainder(hd + heading_offset + math.pi, 2 * math.pi) - math.pi
        self._cos[idx], self._sin[idx] = np.cos(self.yaw[idx]), np.sin(self.yaw[idx])
        self.speed[idx] = speed
        self.steer[idx] = 0.0
        self._rev_count[idx] = 0
        self._imm_count[idx] = 0
        fx = self.x[idx] + FRONT_OFFSET * np.cos(self.yaw[idx])
        fy = self.y[idx] + FRONT_OFFSET * np.sin(self.yaw[idx])
        p = self.track.project(fx, fy)
        self.fx[idx], self.fy[idx] = fx, fy
        self.s[idx], self.seg[idx], self.dist[idx] = p.s, p.seg, p.dist
        self.left[idx], self.width[idx] = p.left, p.width
        wheels = self._wheels_on(idx)
        self.wheels_on[idx] = wheels
        self.all_wheels_on_track[idx] = wheels.all(axis=1)
        self.is_offtrack[idx] = ~wheels.any(axis=1)

    def _wheels_on(self, idx=None) -> np.ndarray:
        if idx is None:
            x, y, yaw = self.x, self.y, self.yaw
        else:
            x, y, yaw = self.x[idx], self.y[idx], self.yaw[idx]
        c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
        ox, oy = physics.WHEEL_OFFSETS[:, 0], physics.WHEEL_OFFSETS[:, 1]
        wx = x[:, None] + (ox * c - oy * s)
        wy = y[:, None] + (ox * s + oy * c)
        return self.track.on_track(wx, wy)

    def _mask_to_idx(self, mask) -> np.ndarray:
        if mask is None:
            return np.arange(self.n)
        mask = np.asarray(mask)
        if mask.dtype == bool:
            if mask.shape != (self.n,):
                raise RacerError(f"mask must have shape ({self.n},), got {mask.shape}")
            return np.flatnonzero(mask)
        return np.atleast_1d(mask).astype(np.int64)

    def reset(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Start a new episode for every car (or those where ``mask``); returns the observation of all cars."""
        idx = self._mask_to_idx(mask)
        if idx.size:
            self._restart(idx, count=True)
        if self._last_obs is None or idx.size == self.n:
            return self.observe()
        obs = self._last_obs.copy()  # the step's array stays as the caller got it
        if idx.size:
            obs[idx] = self.observe(idx)
        self._last_obs = obs
        return obs

    def place(self, i, s, offset=0.0, heading_offset_rad=0.0, speed=0.0) -> None:
        """Respawn car(s) ``i`` with base_link on the centre line at arc length ``s`` (+ ``offset`` metres to the
        left, yaw = track direction + ``heading_offset_rad``). Progress, steps and clock carry on; status resets
        to in_progress."""
        idx = np.atleast_1d(np.asarray(i, dtype=np.int64))
        s = np.broadcast_to(np.asarray(s, dtype=np.float64), idx.shape)
        self._put(idx, s, offset, heading_offset_rad, speed)
        self._raw[idx] = self._raw_progress(idx)
        self.status[idx] = IN_PROGRESS

    def next_lap(self, i) -> None:
        """Continuous laps: car(s) ``i`` start their next lap where they are, without moving. Progress beyond
        100 % carries over; steps, clock and status restart."""
        idx = np.atleast_1d(np.asarray(i, dtype=np.int64))
        self._prog_u[idx] -= 100.0
        self.progress[idx] = np.clip(self._prog_u[idx], 0.0, 100.0)
        self.steps[idx] = 0
        self.lap_time[idx] = 0.0
        self.status[idx] = IN_PROGRESS
        self._rev_count[idx] = 0
        self._imm_count[idx] = 0

    def _raw_progress(self, idx=None) -> np.ndarray:
        s = self.s if idx is None else self.s[idx]
        st = self.start_s if idx is None else self.start_s[idx]
        if self.track.is_loop:
            return np.remainder((s - st) * (100.0 / self.length), 100.0)
        # an open track: 100 % at its end, counted from where the episode started
        return (s - st) * 100.0 / np.maximum(self.length - st, 1e-9)

    # ------------------------------------------------------------------ stepping
    def step(self, steering_deg, speed):
        """Apply the commands to every car and advance one step (1/15 s). Returns (obs, done, status)."""
        n = self.n
        sd = np.asarray(steering_deg, dtype=np.float64)
        sp = np.asarray(speed, dtype=np.float64)
        self.cmd_steering_deg[...] = sd
        self.cmd_speed[...] = sp
        c, s = physics.step(self, sd, sp)
        self._cos, self._sin = c, s
        self.steps += 1
        np.multiply(self.steps, DT, out=self.lap_time)
        fx = self.x + FRONT_OFFSET * c
        fy = self.y + FRONT_OFFSET * s
        moved = np.hypot(fx - self.fx, fy - self.fy)
        self.fx, self.fy = fx, fy
        p = self.track.project(fx, fy, hint=self.seg)
        self.s, self.seg, self.dist, self.left, self.width = p.s, p.seg, p.dist, p.left, p.width
        # progress, accumulated with wrap
        raw = self._raw_progress()
        delta = raw - self._raw
        if self.track.is_loop:
            delta = np.remainder(delta + 50.0, 100.0) - 50.0
        self._raw = raw
        self._prog_u += delta
        np.clip(self._prog_u, 0.0, 100.0, out=self.progress)
        # wheels
        ox, oy = physics.WHEEL_OFFSETS[:, 0], physics.WHEEL_OFFSETS[:, 1]
        cc, ss = c[:, None], s[:, None]
        wheels = self.track.on_track(self.x[:, None] + (ox * cc - oy * ss), self.y[:, None] + (ox * ss + oy * cc))
        self.wheels_on = wheels
        self.all_wheels_on_track = wheels.all(axis=1)
        self.is_offtrack = ~wheels.any(axis=1)
        # counters
        delta_m = delta * (self.length / 100.0)
        self._rev_count = np.where(delta_m < -REVERSE_EPS, self._rev_count + 1, 0)
        self._imm_count = np.where((delta_m <= IMMOBILE_DIST) | (moved <= IMMOBILE_DIST), self._imm_count + 1, 0)
        status = np.zeros(n, dtype=np.int64)
        status[self.steps >= self.max_steps] = TIME_UP
        status[self._imm_count >= COUNT_LIMIT] = IMMOBILIZED
        status[self._rev_count >= COUNT_LIMIT] = REVERSED
        status[self.is_offtrack] = OFF_TRACK
        status[self._prog_u >= 100.0] = LAP_COMPLETE
        self.status = status
        return self.observe(), status != IN_PROGRESS, status

    # ------------------------------------------------------------------ observations
    def observe(self, idx: np.ndarray | None = None) -> np.ndarray:
        """state: (n, obs_dim) float32; camera: (n, 120, 160) uint8 (the rows of cars ``idx`` if given)."""
        if self.observation == "camera":
            from openmaker.racer.camera import render_poses

            if idx is None:
                obs = render_poses(self.track, self.x, self.y, self.yaw)
            else:
                return render_poses(self.track, self.x[idx], self.y[idx], self.yaw[idx])
        else:
            obs = self.state_obs(idx)
        if idx is None:
            self._last_obs = obs
        return obs

    def state_obs(self, idx: np.ndarray | None = None) -> np.ndarray:
        """The state observation (see the module docstring) of every car, or of cars ``idx``."""
        if idx is None:
            c, sn, seg, speed, width, left, dist = (self._cos, self._sin, self.seg, self.speed, self.width,
                                                    self.left, self.dist)
            s, fx, fy, steer = self.s, self.fx, self.fy, self.steer
        else:
            c, sn, seg, speed, width, left, dist = (self._cos[idx], self._sin[idx], self.seg[idx], self.speed[idx],
                                                    self.width[idx], self.left[idx], self.dist[idx])
            s, fx, fy, steer = self.s[idx], self.fx[idx], self.fy[idx], self.steer[idx]
        out = np.empty((len(s), OBS_DIM), dtype=np.float32)
        ch, sh = self._seg_cos[seg], self._seg_sin[seg]
        out[:, 0] = speed * (1.0 / MAX_SPEED)
        out[:, 1] = sn * ch - c * sh  # sin(yaw - track direction)
        out[:, 2] = c * ch + sn * sh  # cos(yaw - track direction)
        half = 0.5 * width
        off = np.where(left, dist, -dist)
        out[:, 3] = off / half
        out[:, 4] = half - off
        out[:, 5] = half + off
        # lookahead points from the 1 cm centre-line table (it runs on past the end, so no wrap is needed),
        # in float32: centimetre-level points need no more
        k = (s * (1.0 / _TABLE_DS) + 0.5).astype(np.int32)[:, None] + self._ahead_cells
        dx = self._table_x[k] - fx.astype(np.float32)[:, None]
        dy = self._table_y[k] - fy.astype(np.float32)[:, None]
        cc = (c * 0.5).astype(np.float32)[:, None]
        ss = (sn * 0.5).astype(np.float32)[:, None]
        out[:, 6:6 + 2 * LOOKAHEAD_K:2] = dx * cc + dy * ss
        out[:, 7:7 + 2 * LOOKAHEAD_K:2] = dy * cc - dx * ss
        out[:, 6 + 2 * LOOKAHEAD_K] = steer * (1.0 / MAX_STEERING_RAD)
        return out

    # ------------------------------------------------------------------ reward params
    def heading_deg(self) -> np.ndarray:
        """Yaw in degrees, counter-clockwise from +x, in (-180, 180]."""
        h = np.degrees(self.yaw)
        return np.where(h <= -180.0, h + 360.0, h)

    def closest_waypoints(self) -> tuple[np.ndarray, np.ndarray]:
        return self.track.closest_waypoints(self.s)

    def reward_params(self, i: int) -> dict:
        """The DeepRacer ``params`` dict of car ``i`` (after the last step)."""
        i = int(i)
        if not 0 <= i < self.n:
            raise IndexError(f"car index {i} out of range for {self.n} cars")
        return self.reward_params_batch(np.array([i]))[0]

    def reward_params_batch(self, idx: np.ndarray | None = None) -> list[dict]:
        """Params dicts of all cars (or cars ``idx``), built from columns converted once with ``tolist()``."""
        if idx is None:
            sel = slice(None)
            s = self.s
        else:
            sel = np.asarray(idx, dtype=np.int64)
            s = self.s[sel]
        prev, nxt = self.track.closest_waypoints(s)
        h = np.degrees(self.yaw[sel])
        h = np.where(h <= -180.0, h + 360.0, h)
        cols = zip(self.all_wheels_on_track[sel].tolist(), self.fx[sel].tolist(), self.fy[sel].tolist(),
                   prev.tolist(), nxt.tolist(), self.dist[sel].tolist(), self.left[sel].tolist(),
                   self.is_offtrack[sel].tolist(), h.tolist(), self.progress[sel].tolist(),
                   self.cmd_speed[sel].tolist(), self.cmd_steering_deg[sel].tolist(), self.steps[sel].tolist(),
                   self.width[sel].tolist(), s.tolist())
        wp = self._waypoints
        length = float(self.length)
        rev = self.reverse
        # the dicts hold no reference cycles: pausing the cyclic GC while building thousands of them saves
        # its repeated scans (measured: 3x faster with 4,096 cars)
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._build_params(cols, wp, length, rev)
        finally:
            if gc_was_enabled:
                gc.enable()

    @staticmethod
    def _build_params(cols, wp, length, rev) -> list[dict]:
        return [{
            "all_wheels_on_track": aw,
            "x": x,
            "y": y,
            "closest_objects": [0, 0],
            "closest_waypoints": [pw, nw],
            "distance_from_center": d,
            "is_crashed": False,
            "is_left_of_center": lf,
            "is_offtrack": off,
            "is_reversed": rev,
            "heading": hd,
            "objects_distance": [],
            "objects_heading": [],
            "objects_left_of_center": [],
            "objects_location": [],
            "objects_speed": [],
            "progress": pr,
            "speed": sp,
            "steering_angle": st,
            "steps": stp,
            "track_length": length,
            "track_width": w,
            "waypoints": wp,
            "projection_distance": pd,
            "objects_distance_from_center": [],
            "object_in_camera": False,
        } for aw, x, y, pw, nw, d, lf, off, hd, pr, sp, st, stp, w, pd in cols]


# ---------------------------------------------------------------------- Gymnasium wrapper
class RaceEnv(gym.Env):
    """One car as a Gymnasium env. ``action_space``: an ``openmaker.racer.actions.ActionSpace`` (or any object
    with ``kind`` 'discrete'|'continuous', ``n`` and ``commands(actions) -> (steering_deg, speed)``);
    ``reward_fn``: ``params -> float``. Discrete spaces become ``Discrete(n)``; continuous ones
    ``Box([-1, -1], [1, 1])``, which ``commands`` rescales to [low, high].

    ``terminated`` on lap_complete, off_track, reversed or immobilized; ``truncated`` on time_up.
    ``info``: ``reward_params`` (the dict the reward function saw), ``status`` (a STATUSES name),
    ``progress``, ``lap_time``. ``render()`` returns the camera image as RGB (120, 160, 3) uint8.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(self, track, action_space, reward_fn, *, observation: str = "state", training: bool = True,
                 max_steps: int = 10_000, reverse: bool = False, start_advance: float = 0.05,
                 render_mode: str | None = None):
        super().__init__()
        self.sim = RaceSim(track, 1, observation=observation, training=training, max_steps=max_steps,
                           reverse=reverse, start_advance=start_advance)
        self.actions = action_space
        self.reward_fn = reward_fn
        self.render_mode = render_mode
        kind = getattr(action_space, "kind", None)
        if kind == "discrete":
            self.action_space = spaces.Discrete(int(action_space.n))
        elif kind == "continuous":
            self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        else:
            raise RacerError(f"action space kind must be 'discrete' or 'continuous', got {kind!r}")
        if observation == "state":
            self.observation_space = spaces.Box(-np.inf, np.inf, shape=(OBS_DIM,), dtype=np.float32)
        else:
            self.observation_space = spaces.Box(0, 255, shape=(120, 160), dtype=np.uint8)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:  # a seeded reset restarts the round robin: same seed, same episode
            self.sim.episode[:] = 0
        obs = self.sim.reset()
        return obs[0], {"status": STATUSES[0], "progress": 0.0, "lap_time": 0.0}

    def step(self, action):
        if self.actions.kind == "discrete":
            a = np.array([int(action)])
        else:
            a = np.asarray(action, dtype=np.float64).reshape(1, 2)
        steering, speed = self.actions.commands(a)
        obs, done, status = self.sim.step(np.asarray(steering, dtype=np.float64).reshape(1),
                                          np.asarray(speed, dtype=np.float64).reshape(1))
        params = self.sim.reward_params(0)
        reward = float(self.reward_fn(params))
        st = int(status[0])
        terminated = st in (LAP_COMPLETE, OFF_TRACK, REVERSED, IMMOBILIZED)
        truncated = st == TIME_UP
        info = {"reward_params": params, "status": STATUSES[st], "progress": float(self.sim.progress[0]),
                "lap_time": float(self.sim.lap_time[0])}
        return obs[0], reward, terminated, truncated, info

    def render(self):
        from openmaker.racer.camera import render

        g = render(self.sim)[0]
        return np.repeat(g[:, :, None], 3, axis=2)
