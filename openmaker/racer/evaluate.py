"""Evaluation as a DeepRacer race runs it: continuous laps from the start line, penalties, lap times.

:func:`evaluate` drives one car with the model's greedy actions, in evaluation mode (it starts at the start
line, s = 0, heading along the track), the way DRfC evaluates with ``IS_CONTINUOUS=True``:

* laps follow one another without stopping: when a lap completes, the next lap's clock starts at once
  and the car keeps its speed;
* when the car leaves the track (no wheel on it), or is reversed or immobilized, it is reset: respawned on
  the centre line where it last was on the track (the front point at its last on-track arc length), at rest,
  heading along the track; the lap's clock keeps running and ``penalty`` seconds are added to the lap
  (DeepRacer pauses the car for the penalty while the clock runs: the same lap time). Off-track resets are
  counted per lap as ``off_track``; every reset as ``resets``;
* lap time is simulation time: the lap's steps x DT (1/15 s) plus its penalties. A lap ends on the step
  whose progress reaches 100 %, so each lap is timed from one crossing of the line to the next;
* the evaluation ends after ``laps`` laps, when the resets exceed ``max_resets`` (the lap is then not
  finished), or when a lap takes more than ``max_lap_steps`` steps (10,000 = DeepRacer's MAX_STEPS).

The result (JSON-ready)::

    {"laps": [{"time": 9.87, "off_track": 0, "resets": 0, "steps": 148, "completed": true, "progress": 100.0},
              ...],   # every lap started; an unfinished last lap has "completed": false
     "completed_laps": 3, "best": 9.6, "total": 29.5, "average": 9.83, "off_track": 1, "resets": 1,
     "timing": "total", "score": 29.5, "penalty": 5.0, "track": "reinvent_base", "stopped": "laps"}

``score`` is the race's timing method over the completed laps: ``total`` (their sum), ``average`` (their
mean) or ``best`` (the fastest), None when no lap was completed. ``stopped`` says why the run ended:
``laps``, ``max_resets`` or ``max_lap_steps``. The pure helpers :func:`lap_time`, :func:`score` and
:func:`summarise` hold the arithmetic.

A ``policy`` can replace the model (tests, baselines): a callable ``policy(obs, sim)`` returning
``(steering_deg, speed)`` or ``(action, steering_deg, speed)`` for the one car.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from openmaker.racer.errors import RacerError

TIMINGS = ("total", "average", "best")
TIMING_ALIASES = {"total": "total", "total_time": "total", "average": "average", "avg": "average",
                  "avg_lap_time": "average", "best": "best", "best_lap_time": "best"}
MAX_LAP_STEPS = 10_000


def timing_method(name: str) -> str:
    """``total`` | ``average`` | ``best`` (DeepRacer's TOTAL_TIME, AVG_LAP_TIME and BEST_LAP_TIME too)."""
    key = str(name).strip().lower()
    if key not in TIMING_ALIASES:
        raise RacerError(f"unknown timing method {name!r} (total, average or best)")
    return TIMING_ALIASES[key]


def lap_time(steps: int, penalties: float, dt: Optional[float] = None) -> float:
    """Simulation time of a lap: its steps x DT plus the penalty seconds it collected."""
    if dt is None:
        from openmaker.racer.physics import DT as dt
    return steps * dt + penalties


def score(times: Sequence[float], timing: str) -> Optional[float]:
    """The race's ranking number over completed lap times (lower is better); None without a lap."""
    timing = timing_method(timing)
    if not times:
        return None
    if timing == "total":
        return float(sum(times))
    if timing == "average":
        return float(sum(times) / len(times))
    return float(min(times))


def summarise(laps: list[dict], timing: str = "total", **extra: Any) -> dict:
    """The result JSON from per-lap records (each with time, off_track, completed; resets optional)."""
    timing = timing_method(timing)
    done = [float(lap["time"]) for lap in laps if lap.get("completed", True)]
    result = {
        "laps": laps,
        "completed_laps": len(done),
        "best": round(min(done), 4) if done else None,
        "total": round(sum(done), 4) if done else None,
        "average": round(sum(done) / len(done), 4) if done else None,
        "off_track": int(sum(int(lap.get("off_track", 0)) for lap in laps)),
        "resets": int(sum(int(lap.get("resets", lap.get("off_track", 0))) for lap in laps)),
        "timing": timing,
        "score": None if not done else round(score(done, timing), 4),
    }
    result.update(extra)
    return result


class _Lap:
    def __init__(self):
        self.steps = 0
        self.penalties = 0.0
        self.off_track = 0
        self.resets = 0

    def record(self, completed: bool, progress: float, dt: float) -> dict:
        return {"time": round(lap_time(self.steps, self.penalties, dt), 4), "off_track": self.off_track,
                "resets": self.resets, "steps": self.steps, "completed": completed, "progress": round(float(progress), 3)}


def _next_lap(sim) -> None:
    """Arm the car for its next lap without moving it (continuous laps): the progress past 100 % carries over."""
    sim.next_lap(0)


def _resolve_policy(model, policy, observation):
    if policy is not None:
        def drive(obs, sim):
            out = policy(obs, sim)
            if len(out) == 3:
                return out
            return None, out[0], out[1]
        return drive, observation or "state", None
    from openmaker.racer.model import Model, load_model

    if not isinstance(model, Model):
        model = load_model(model)
    if observation is not None and observation != model.observation:
        raise RacerError(f"the model was trained on the {model.observation!r} observation, not {observation!r}")
    ctrl = model.controller(greedy=True)
    return (lambda obs, sim: ctrl(obs)), model.observation, model


def evaluate(model, track, *, laps: int = 3, penalty: float = 5.0, max_resets: int = 100, timing: str = "total",
             observation: Optional[str] = None, trace: bool = False, policy: Optional[Callable] = None,
             max_lap_steps: int = MAX_LAP_STEPS) -> dict:
    """Race ``model`` (a model directory or a loaded Model) on ``track`` (a Track or its name).

    See the module docstring for the rules and the result. ``trace=True`` adds ``"trace"``: per-step arrays
    x, y (base_link), fx, fy (front point), speed (actual), steering, cmd_speed (commanded), action, lap,
    progress, reset (True on the step after a respawn).
    """
    from openmaker.racer.env import IN_PROGRESS, LAP_COMPLETE, OFF_TRACK, STATUSES, RaceSim
    from openmaker.racer.physics import DT, FRONT_OFFSET
    from openmaker.racer.tracks import Track, load_track

    timing = timing_method(timing)
    if isinstance(laps, bool) or not isinstance(laps, int) or laps < 1:
        raise RacerError(f"laps must be a positive integer, not {laps!r}")
    if not isinstance(penalty, (int, float)) or not math.isfinite(penalty) or penalty < 0:
        raise RacerError(f"the off-track penalty must be a number of seconds >= 0, not {penalty!r}")
    if isinstance(max_resets, bool) or not isinstance(max_resets, int) or max_resets < 0:
        raise RacerError(f"max_resets must be an integer >= 0, not {max_resets!r}")
    if model is None and policy is None:
        raise RacerError("evaluate needs a model directory or a policy")
    if not isinstance(track, Track):
        track = load_track(str(track))
    drive, observation, _ = _resolve_policy(model, policy, observation)
    sim = RaceSim(track, 1, observation=observation, training=False, max_steps=laps * max_lap_steps + 1)
    obs = sim.reset()
    last_s = float(sim.s[0])
    lap = _Lap()
    records: list[dict] = []
    total_resets = 0
    stopped = "laps"
    tr: dict[str, list] = {k: [] for k in ("x", "y", "fx", "fy", "speed", "steering", "cmd_speed", "action", "lap",
                                           "progress", "reset")} if trace else {}
    respawned = False
    while len(records) < laps:
        action, steering, speed = drive(obs, sim)
        steering = np.asarray(steering, dtype=np.float64).reshape(1)
        speed = np.asarray(speed, dtype=np.float64).reshape(1)
        obs, done, status = sim.step(steering, speed)
        lap.steps += 1
        st = int(status[0])
        if trace:
            tr["x"].append(float(sim.x[0]))
            tr["y"].append(float(sim.y[0]))
            tr["fx"].append(float(sim.fx[0]))
            tr["fy"].append(float(sim.fy[0]))
            tr["speed"].append(float(sim.speed[0]))
            tr["steering"].append(float(steering[0]))
            tr["cmd_speed"].append(float(speed[0]))
            tr["action"].append(_action_value(action))
            tr["lap"].append(len(records))
            tr["progress"].append(float(sim.progress[0]))
            tr["reset"].append(respawned)
        respawned = False
        if st == IN_PROGRESS:
            last_s = float(sim.s[0])
        elif st == LAP_COMPLETE:
            records.append(lap.record(True, 100.0, DT))
            lap = _Lap()
            last_s = float(sim.s[0])
            _next_lap(sim)
            obs = sim.observe()
        elif st in (OFF_TRACK,) or STATUSES[st] in ("reversed", "immobilized"):
            if st == OFF_TRACK:
                lap.off_track += 1
            if total_resets >= max_resets:
                stopped = "max_resets"
                records.append(lap.record(False, float(sim.progress[0]), DT))
                break
            total_resets += 1
            lap.resets += 1
            lap.penalties += float(penalty)
            sim.place(0, (last_s - FRONT_OFFSET) % track.length if track.is_loop else max(last_s - FRONT_OFFSET, 0.0))
            obs = sim.observe()  # a model's frame stack runs on through the respawn, as DeepRacer's does
            respawned = True
        if len(records) < laps and lap.steps >= max_lap_steps:
            stopped = "max_lap_steps"
            records.append(lap.record(False, float(sim.progress[0]), DT))
            break
    result = summarise(records, timing, penalty=float(penalty), track=track.name, stopped=stopped,
                       requested_laps=laps)
    if trace:
        result["trace"] = {k: np.asarray(v) for k, v in tr.items()}
    return result


def _action_value(action) -> Any:
    if action is None:
        return -1
    a = np.asarray(action).reshape(-1)
    return int(a[0]) if a.size == 1 and a.dtype.kind in "iu" else a.astype(float).tolist()


def pure_pursuit(track, *, speed: float = 1.0, lookahead: float = 0.45) -> Callable:
    """A geometric controller (steer towards a centre-line point ``lookahead`` metres ahead) usable as
    :func:`evaluate`'s ``policy``: a baseline, and a deterministic driver for tests."""
    from openmaker.racer.physics import MAX_STEERING_DEG, WHEELBASE

    def policy(obs, sim):
        s_ahead = (sim.s + lookahead) % track.length if track.is_loop else np.minimum(sim.s + lookahead, track.length)
        tx, ty, _ = track.point_at(s_ahead)
        # rear axle at base_link - L/2
        rx = sim.x - 0.5 * WHEELBASE * np.cos(sim.yaw)
        ry = sim.y - 0.5 * WHEELBASE * np.sin(sim.yaw)
        alpha = np.arctan2(ty - ry, tx - rx) - sim.yaw
        alpha = np.arctan2(np.sin(alpha), np.cos(alpha))
        ld = np.hypot(tx - rx, ty - ry)
        steer = np.degrees(np.arctan2(2.0 * WHEELBASE * np.sin(alpha), ld))
        return np.clip(steer, -MAX_STEERING_DEG, MAX_STEERING_DEG), np.full(sim.n, float(speed))

    return policy


def write_json(result: dict, path: str | Path) -> Path:
    import json

    path = Path(path)
    clean = {k: v for k, v in result.items() if k != "trace"}
    path.write_text(json.dumps(clean, indent=2) + "\n", encoding="utf-8")
    return path
