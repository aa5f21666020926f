"""RaceSim episode rules, starts, observations, and the Gymnasium wrapper."""

from __future__ import annotations

import math

import numpy as np
import pytest

from openmaker.racer.env import OBS_DIM, STATUSES, RaceEnv, RaceSim
from openmaker.racer.errors import RacerError
from openmaker.racer.physics import DT, FRONT_OFFSET, WHEELBASE
from openmaker.racer.tracks import load_track

S = {name: i for i, name in enumerate(STATUSES)}


def pure_pursuit(sim: RaceSim, speed: float = 1.5, lookahead: float = 0.45):
    """Steer base_link towards the centre-line point ``lookahead`` m ahead of the front point's projection."""
    tx, ty, _ = sim.track.point_at(sim.s + lookahead)
    dx, dy = tx - sim.x, ty - sim.y
    alpha = np.arctan2(dy, dx) - sim.yaw
    steer = np.degrees(np.arctan2(2 * WHEELBASE * np.sin(alpha), np.hypot(dx, dy)))
    return steer, np.full(sim.n, speed)


@pytest.fixture(scope="module")
def track():
    return load_track("reinvent_base")


def run_until_done(sim, policy, limit=2000):
    for _ in range(limit):
        obs, done, status = sim.step(*policy(sim))
        if done.any():
            return obs, done, status
    raise AssertionError("no car finished")


@pytest.mark.parametrize("reverse", [False, True])
def test_lap_complete_with_pure_pursuit(track, reverse):
    sim = RaceSim(track, 3, training=False, reverse=reverse)
    sim.reset()
    _, done, status = run_until_done(sim, lambda s: pure_pursuit(s, speed=2.0))
    assert done.all() and (status == S["lap_complete"]).all()
    assert np.all(sim.progress == 100.0)
    assert sim.all_wheels_on_track.all()
    # about length / speed seconds (plus the start-up lag), timed in simulation steps
    assert sim.lap_time[0] == pytest.approx(sim.steps[0] * DT)
    assert 17.709 / 2.0 < sim.lap_time[0] < 17.709 / 2.0 + 1.0


def test_next_lap_carries_progress_over(track):
    sim = RaceSim(track, 1, training=False)
    sim.reset()
    _, done, status = run_until_done(sim, lambda s: pure_pursuit(s, speed=2.0))
    assert status[0] == S["lap_complete"]
    over = sim._prog_u[0] - 100.0
    sim.next_lap(0)
    assert sim.steps[0] == 0 and sim.status[0] == S["in_progress"] and sim.progress[0] == pytest.approx(max(over, 0))
    _, done, status = run_until_done(sim, lambda s: pure_pursuit(s, speed=2.0))
    assert status[0] == S["lap_complete"] and abs(sim.lap_time[0] - 17.709 / 2.0) < 0.5  # flying start, cut corners


def test_open_track_completes_at_its_end():
    straight = load_track("Straight_track")
    sim = RaceSim(straight, 1, training=False)
    sim.reset()
    _, done, status = run_until_done(sim, lambda s: pure_pursuit(s, speed=2.0))
    assert status[0] == S["lap_complete"] and sim.s[0] == pytest.approx(straight.length, abs=0.2)


def test_off_track(track):
    sim = RaceSim(track, 1, training=False)
    sim.reset()
    _, done, status = run_until_done(sim, lambda s: (np.full(1, 30.0), np.full(1, 2.0)))
    assert status[0] == S["off_track"] and sim.is_offtrack[0] and not sim.wheels_on[0].any()
    # the car is not restarted by step(): the caller resets it
    sim.step(np.zeros(1), np.ones(1))
    assert sim.steps[0] > 1
    sim.reset(done)
    assert sim.steps[0] == 0 and sim.status[0] == S["in_progress"]


def test_reversed(track):
    sim = RaceSim(track, 1, training=False)
    sim.reset()
    sim.place(0, 2.5, heading_offset_rad=math.pi)  # on the first straight, facing backwards
    statuses = []
    for _ in range(20):
        _, done, status = sim.step(np.zeros(1), np.ones(1))
        statuses.append(int(status[0]))
        if done[0]:
            break
    assert STATUSES[statuses[-1]] == "reversed"
    assert len(statuses) == 15


def test_immobilized(track):
    sim = RaceSim(track, 1, training=False)
    sim.reset()
    sim.place(0, 2.5, heading_offset_rad=math.radians(89.0))  # crawling sideways: no progress
    statuses = [STATUSES[int(sim.step(np.zeros(1), np.full(1, 0.1))[2][0])] for _ in range(15)]
    assert statuses[:14] == ["in_progress"] * 14 and statuses[14] == "immobilized"


def test_time_up(track):
    sim = RaceSim(track, 2, max_steps=5)
    sim.reset()
    for k in range(5):
        _, done, status = sim.step(*pure_pursuit(sim))
        assert done.all() == (k == 4)
    assert (status == S["time_up"]).all()


def test_round_robin_starts(track):
    n = 4
    sim = RaceSim(track, n)
    sim.reset()
    L = track.length
    x, y, _ = track.point_at(np.arange(n) / n * L)
    assert np.allclose(sim.x, x) and np.allclose(sim.y, y)
    assert np.allclose(sim.start_s, (np.arange(n) / n * L + FRONT_OFFSET) % L, atol=1e-3)
    assert np.all(sim.progress == 0)
    for j in range(1, 4):  # car 1's next episodes start 5 % further each time; the others stay put
        mask = np.array([False, True, False, False])
        before = sim.x.copy()
        sim.reset(mask)
        xj, yj, _ = track.point_at((1 / n + j * 0.05) * L)
        assert sim.x[1] == pytest.approx(xj) and sim.y[1] == pytest.approx(yj)
        assert np.array_equal(sim.x[[0, 2, 3]], before[[0, 2, 3]])
    sim2 = RaceSim(track, 3, training=False)  # evaluation: the start line
    sim2.reset()
    x0, y0, h0 = track.point_at(0.0)
    assert np.allclose(sim2.x, x0) and np.allclose(sim2.yaw, h0)


def test_progress_wraps_over_start_line(track):
    sim = RaceSim(track, 1)
    sim.reset()
    sim.place(0, track.length - 0.5)  # respawn before the start line, progress carries on
    sim.start_s[:] = sim.s  # as if the episode started here
    sim._raw[:] = 0.0
    for _ in range(20):
        sim.step(np.zeros(1), np.full(1, 2.0))
    expect = 100 * ((sim.s[0] - sim.start_s[0]) % track.length) / track.length
    assert sim.progress[0] == pytest.approx(expect) and 0 < expect < 20


def test_place_keeps_progress(track):
    sim = RaceSim(track, 1, training=False)
    sim.reset()
    for _ in range(30):
        sim.step(*pure_pursuit(sim))
    p, steps = sim.progress[0], sim.steps[0]
    sim.place(0, sim.s[0] - FRONT_OFFSET)
    assert sim.progress[0] == p and sim.steps[0] == steps and sim.speed[0] == 0
    sim.step(*pure_pursuit(sim))
    assert sim.progress[0] > p


def test_state_observation(track):
    sim = RaceSim(track, 8)
    obs = sim.reset()
    assert sim.obs_dim == OBS_DIM == 23
    assert obs.shape == (8, OBS_DIM) and obs.dtype == np.float32
    assert np.allclose(obs[:, 0], 0)  # at rest
    assert np.allclose(obs[:, 2], 1, atol=0.02)  # heading along the track
    assert np.allclose(obs[:, 4] + obs[:, 5], 0.762, atol=0.01)  # distances to both borders
    fwd = obs[:, 6:22:2]
    assert np.all(fwd[:, 0] > 0.1)  # the next centre-line point is ahead
    ahead = np.hypot(obs[:, 6:22:2], obs[:, 7:22:2]) * 2
    assert np.all(ahead[:, -1] <= 2.4 + 1e-6) and np.all(ahead[:, 0] >= 0.25)
    sim.place(0, 3.0, offset=0.2)
    o = sim.observe()[0]
    assert o[3] == pytest.approx(0.2 / 0.381, abs=0.02) and o[4] < o[5]
    assert np.isfinite(sim.step(*pure_pursuit(sim))[0]).all()


def test_bad_arguments(track):
    with pytest.raises(RacerError, match="observation"):
        RaceSim(track, observation="lidar")
    with pytest.raises(RacerError, match="n_cars"):
        RaceSim(track, 0)
    assert RaceSim("reinvent_base").track is track


class _StandIn:
    """A minimal action space with the interface RaceEnv needs (actions.ActionSpace has the same)."""

    def __init__(self, kind):
        self.kind = kind
        self.table = np.array([[-30.0, 1.0], [0.0, 1.0], [30.0, 1.0]])
        self.n = len(self.table) if kind == "discrete" else 0

    def commands(self, a):
        if self.kind == "discrete":
            t = self.table[np.asarray(a)]
            return t[..., 0], t[..., 1]
        a = np.clip(np.asarray(a, float), -1, 1)
        return a[..., 0] * 30.0, 0.5 + (a[..., 1] + 1) * 0.75


def _centre_reward(params):
    return 1.0 if params["distance_from_center"] < 0.1 * params["track_width"] else 1e-3


@pytest.mark.filterwarnings("ignore:.*Box observation space m:UserWarning")
@pytest.mark.parametrize("kind", ["discrete", "continuous"])
def test_gymnasium_env(track, kind):
    from gymnasium.utils.env_checker import check_env

    env = RaceEnv(track, _StandIn(kind), _centre_reward, max_steps=50)
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert obs.shape == (OBS_DIM,) and info["status"] == "in_progress"
    total, steps = 0.0, 0
    while True:
        a = 1 if kind == "discrete" else np.array([0.0, 0.0], dtype=np.float32)
        obs, r, terminated, truncated, info = env.step(a)
        total += r
        steps += 1
        assert info["reward_params"]["steps"] == steps
        if terminated or truncated:
            break
    assert info["status"] in STATUSES[1:] and total > 0
    assert env.render().shape == (120, 160, 3)


def test_gymnasium_env_with_real_action_space(track):
    actions = pytest.importorskip("openmaker.racer.actions")
    space = actions.ActionSpace.from_metadata(actions.default_metadata())
    env = RaceEnv(track, space, _centre_reward, observation="camera", max_steps=3)
    obs, _ = env.reset()
    assert obs.shape == (120, 160) and obs.dtype == np.uint8
    obs, r, term, trunc, info = env.step(0)
    assert info["reward_params"]["steering_angle"] == space.commands(np.array([0]))[0][0]
