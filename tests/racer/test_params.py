"""The reward params dict: every key of DeepRacer's contract, its type and its conventions."""

from __future__ import annotations

import bisect
import math

import numpy as np
import pytest

from openmaker.racer.env import RaceSim
from openmaker.racer.physics import FRONT_OFFSET, WHEELBASE
from openmaker.racer.tracks import load_track

TYPES = {
    "all_wheels_on_track": bool, "x": float, "y": float, "closest_objects": list, "closest_waypoints": list,
    "distance_from_center": float, "is_crashed": bool, "is_left_of_center": bool, "is_offtrack": bool,
    "is_reversed": bool, "heading": float, "objects_distance": list, "objects_heading": list,
    "objects_left_of_center": list, "objects_location": list, "objects_speed": list, "progress": float,
    "speed": float, "steering_angle": float, "steps": int, "track_length": float, "track_width": float,
    "waypoints": list,
}


def pure_pursuit(sim, speed=1.5, lookahead=0.45):
    tx, ty, _ = sim.track.point_at(sim.s + lookahead)
    dx, dy = tx - sim.x, ty - sim.y
    alpha = np.arctan2(dy, dx) - sim.yaw
    return np.degrees(np.arctan2(2 * WHEELBASE * np.sin(alpha), np.hypot(dx, dy))), np.full(sim.n, speed)


@pytest.fixture(scope="module")
def track():
    return load_track("reinvent_base")


def test_every_key_and_type(track):
    sim = RaceSim(track, 2)
    sim.reset()
    sim.step(*pure_pursuit(sim))
    p = sim.reward_params(1)
    for key, typ in TYPES.items():
        assert key in p, key
        assert type(p[key]) is typ, (key, type(p[key]))
    assert p["closest_objects"] == [0, 0] and p["is_crashed"] is False
    for key in ("objects_distance", "objects_heading", "objects_left_of_center", "objects_location", "objects_speed"):
        assert p[key] == []
    assert all(type(v) is int for v in p["closest_waypoints"])
    assert all(type(w) is tuple and len(w) == 2 and type(w[0]) is float for w in p["waypoints"])
    assert p["track_length"] == pytest.approx(17.709, abs=1e-3)
    assert p["track_width"] == pytest.approx(0.762, abs=0.01)
    assert p["all_wheels_on_track"] is True and p["is_offtrack"] is False and p["is_reversed"] is False


def test_batch_equals_single(track):
    sim = RaceSim(track, 5)
    sim.reset()
    for _ in range(7):
        sim.step(*pure_pursuit(sim))
    batch = sim.reward_params_batch()
    assert len(batch) == 5
    for i in range(5):
        assert batch[i] == sim.reward_params(i)
    assert sim.reward_params_batch(np.array([3, 1])) == [batch[3], batch[1]]
    assert batch[0]["waypoints"] is batch[4]["waypoints"] is sim.reward_params(2)["waypoints"]  # built once


def test_steps_progress_and_commanded_values(track):
    sim = RaceSim(track, 4)  # round robin: car 2 starts half a lap round
    sim.reset()
    assert sim.reward_params(2)["steps"] == 0
    sim.step(np.array([45.0, 0, 0, 0]), np.array([7.0, 1.0, 1.0, 1.0]))
    p = [sim.reward_params(i) for i in range(4)]
    assert [q["steps"] for q in p] == [1, 1, 1, 1]
    assert all(0 < q["progress"] < 0.5 for q in p)  # relative to each car's own start
    # speed and steering_angle are the commanded action, unclipped; the car itself was clipped
    assert p[0]["steering_angle"] == 45.0 and p[0]["speed"] == 7.0
    assert sim.steer[0] == pytest.approx(math.radians(30.0))
    for _ in range(9):
        sim.step(*pure_pursuit(sim, speed=2.0))
    q = sim.reward_params(2)
    assert q["steps"] == 10
    assert q["progress"] == pytest.approx(100 * (sim.s[2] - sim.start_s[2]) / track.length)
    assert q["progress"] < 10 and q["speed"] == 2.0


def test_front_point_heading_and_side(track):
    sim = RaceSim(track, 3, training=False)
    sim.reset()
    sim.place(0, 2.0, offset=0.2, heading_offset_rad=0.3)
    sim.place(1, 2.0, offset=-0.2)
    sim.place(2, 9.0)
    p = sim.reward_params_batch()
    for i, q in enumerate(p):
        assert math.hypot(q["x"] - sim.x[i], q["y"] - sim.y[i]) == pytest.approx(FRONT_OFFSET)
        assert math.atan2(q["y"] - sim.y[i], q["x"] - sim.x[i]) == pytest.approx(math.radians(q["heading"]))
    assert p[0]["is_left_of_center"] is True and p[1]["is_left_of_center"] is False
    # the front point is 0.14 m ahead, so with a heading offset its distance differs from the base's offset
    assert p[1]["distance_from_center"] == pytest.approx(0.2, abs=0.01)
    assert p[0]["distance_from_center"] == pytest.approx(0.2 + FRONT_OFFSET * math.sin(0.3), abs=0.01)


def test_heading_range_over_a_lap(track):
    sim = RaceSim(track, 1, training=False)
    sim.reset()
    headings = []
    for _ in range(200):
        _, done, _ = sim.step(*pure_pursuit(sim, speed=2.0))
        headings.append(sim.reward_params(0)["heading"])
        if done[0]:
            break
    h = np.array(headings)
    assert np.all((h > -180) & (h <= 180))
    assert h.min() < -150 and h.max() > 150  # the lap points every way
    sim.yaw[:] = -math.pi
    assert sim.reward_params(0)["heading"] == 180.0


def test_closest_waypoints_order_and_wrap(track):
    sim = RaceSim(track, 1, training=False)
    sim.reset()
    n = len(track.waypoints)
    for _ in range(60):
        sim.step(*pure_pursuit(sim, speed=2.0))
        q = sim.reward_params(0)
        prev, nxt = q["closest_waypoints"]
        k = bisect.bisect_right(track.cum.tolist(), sim.s[0])
        assert (prev, nxt) == (k - 1, k)
        assert track.cum[prev] <= sim.s[0] < track.cum[nxt]
    prev, nxt = track.closest_waypoints(np.array([track.length - 1e-9, track.length, 0.0]))
    assert prev.tolist() == [n - 2, n - 1, 0] and nxt.tolist() == [n - 1, 0, 1]


def test_waypoints_in_driving_order(track):
    fwd = RaceSim(track, 1, training=False)
    rev = RaceSim(track, 1, training=False, reverse=True)
    fwd.reset()
    rev.reset()
    wf = fwd.reward_params(0)["waypoints"]
    wr = rev.reward_params(0)["waypoints"]
    assert len(wf) == 119 and wf[0] == wf[-1]
    assert wr == wf[::-1]
    assert rev.reward_params(0)["is_reversed"] is True
    # reversed: the car starts at the start line heading the other way, and progress grows driving that way
    assert math.cos(rev.yaw[0] - fwd.yaw[0]) == pytest.approx(-1, abs=0.05)
    for _ in range(10):
        rev.step(*pure_pursuit(rev))
    assert rev.reward_params(0)["progress"] > 0
    prev, nxt = rev.reward_params(0)["closest_waypoints"]
    assert nxt == prev + 1


def test_off_track_flags(track):
    sim = RaceSim(track, 3, training=False)
    sim.reset()
    half = 0.381
    sim.place(0, 3.0, offset=half)  # on the left border: two wheels off
    sim.place(1, 3.0, offset=half + 0.3)  # well off
    sim.place(2, 3.0)
    p = sim.reward_params_batch()
    assert p[0]["all_wheels_on_track"] is False and p[0]["is_offtrack"] is False
    assert p[1]["all_wheels_on_track"] is False and p[1]["is_offtrack"] is True
    assert p[2]["all_wheels_on_track"] is True and p[2]["is_offtrack"] is False
