"""The kinematic bicycle: distance per step, lag, turning radius, clipping, wheel geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from openmaker.racer import physics
from openmaker.racer.physics import (DT, FRONT_OFFSET, MAX_SPEED, MIN_SPEED, SPEED_TAU, TRACK, WHEELBASE, CarState,
                                     front_point, step, wheel_positions)


def test_constants():
    assert (WHEELBASE, TRACK, DT, physics.MAX_STEERING_DEG, MIN_SPEED, MAX_SPEED, SPEED_TAU, FRONT_OFFSET) == (
        0.164, 0.162, 1 / 15, 30.0, 0.1, 4.0, 0.2, 0.14)


def test_straight_line_distance_per_step_after_lag():
    st = CarState.zeros(3)
    st.yaw[:] = [0.0, math.pi / 2, -2.0]
    cmd = np.array([1.0, 2.0, 3.5])
    for _ in range(60):  # 4 s = 20 time constants: at the commanded speed
        step(st, 0.0, cmd)
    assert np.allclose(st.speed, cmd, rtol=1e-6)
    x0, y0 = st.x.copy(), st.y.copy()
    step(st, 0.0, cmd)
    assert np.allclose(np.hypot(st.x - x0, st.y - y0), cmd * DT, rtol=1e-6)
    assert np.allclose(np.arctan2(st.y - y0, st.x - x0), [0.0, math.pi / 2, -2.0])


def test_speed_lag_time_constant():
    st = CarState.zeros(1)
    speeds = []
    for _ in range(12):
        step(st, 0.0, 2.0)
        speeds.append(st.speed[0])
    t = DT * np.arange(1, 13)
    assert np.allclose(speeds, 2.0 * (1 - np.exp(-t / SPEED_TAU)))
    assert speeds[2] == pytest.approx(2.0 * (1 - math.exp(-1)))  # 3 steps = 0.2 s = one time constant
    # distance travelled is the integral of the speed
    assert st.x[0] == pytest.approx(2.0 * t[-1] - 2.0 * SPEED_TAU * (1 - math.exp(-t[-1] / SPEED_TAU)))


@pytest.mark.parametrize("deg", [10.0, 20.0, -25.0])
def test_turning_radius(deg):
    st = CarState.zeros(1)
    st.speed[:] = 1.0
    rear = []
    for _ in range(60):
        step(st, deg, 1.0)
        rear.append((st.x[0] - WHEELBASE / 2 * math.cos(st.yaw[0]), st.y[0] - WHEELBASE / 2 * math.sin(st.yaw[0])))
    p = np.array(rear[::7][:3])
    # circle through three rear-axle points
    (ax, ay), (bx, by), (cx, cy) = p
    d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    ux = ((ax**2 + ay**2) * (by - cy) + (bx**2 + by**2) * (cy - ay) + (cx**2 + cy**2) * (ay - by)) / d
    uy = ((ax**2 + ay**2) * (cx - bx) + (bx**2 + by**2) * (ax - cx) + (cx**2 + cy**2) * (bx - ax)) / d
    radius = np.hypot(np.array(rear)[:, 0] - ux, np.array(rear)[:, 1] - uy)
    assert np.allclose(radius, WHEELBASE / math.tan(math.radians(abs(deg))), rtol=1e-9)
    assert (uy > 0) == (deg > 0)  # positive steering turns left
    # yaw rate = v tan(delta) / L
    y0 = st.yaw[0]
    step(st, deg, 1.0)
    assert (st.yaw[0] - y0) == pytest.approx(DT * math.tan(math.radians(deg)) / WHEELBASE)


def test_clipping():
    st = CarState.zeros(4)
    step(st, np.array([45.0, -90.0, 10.0, np.nan]), np.array([10.0, 0.0, -3.0, np.nan]))
    assert np.allclose(st.steer, np.radians([30.0, -30.0, 10.0, 0.0]))
    for _ in range(100):
        step(st, 0.0, np.array([10.0, 0.0, -3.0, 1.0]))
    assert np.allclose(st.speed, [MAX_SPEED, MIN_SPEED, MIN_SPEED, 1.0])


def test_geometry_points():
    st = CarState(np.array([1.0]), np.array([2.0]), np.array([math.pi / 2]), np.zeros(1))
    fx, fy = front_point(st)
    assert fx[0] == pytest.approx(1.0) and fy[0] == pytest.approx(2.0 + FRONT_OFFSET)
    w = wheel_positions(st)[0]
    assert w.shape == (4, 2)
    # front-left, front-right, rear-left, rear-right for a car pointing +y
    assert np.allclose(w, [[1 - TRACK / 2, 2 + WHEELBASE / 2], [1 + TRACK / 2, 2 + WHEELBASE / 2],
                           [1 - TRACK / 2, 2 - WHEELBASE / 2], [1 + TRACK / 2, 2 - WHEELBASE / 2]])


def test_vectorised_matches_single_cars():
    rng = np.random.default_rng(0)
    n = 50
    st = CarState(rng.normal(size=n), rng.normal(size=n), rng.uniform(-3, 3, n), rng.uniform(0, 3, n))
    sd, sp = rng.uniform(-40, 40, n), rng.uniform(0, 5, n)
    singles = [CarState(st.x[i:i + 1].copy(), st.y[i:i + 1].copy(), st.yaw[i:i + 1].copy(), st.speed[i:i + 1].copy())
               for i in range(n)]
    step(st, sd, sp)
    for i, s1 in enumerate(singles):
        step(s1, sd[i:i + 1], sp[i:i + 1])
        assert (s1.x[0], s1.y[0], s1.yaw[0], s1.speed[0]) == pytest.approx((st.x[i], st.y[i], st.yaw[i], st.speed[i]))
    assert np.all((st.yaw >= -math.pi) & (st.yaw < math.pi))
