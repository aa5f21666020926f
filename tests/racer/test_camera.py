"""The first-person camera: shape, sky, road ahead, and that the image follows the car."""

from __future__ import annotations

import numpy as np
import pytest

from openmaker.racer import camera
from openmaker.racer.env import RaceSim
from openmaker.racer.tracks import load_track


@pytest.fixture(scope="module")
def sim():
    s = RaceSim(load_track("reinvent_base"), 3, observation="camera", training=False)
    s.reset()
    return s


def test_shape_dtype_and_sky(sim):
    sim.reset()
    img = sim.observe()
    assert img.shape == (3, 120, 160) and img.dtype == np.uint8
    top = img[:, :camera.RAYS.horizon_row]
    assert camera.RAYS.horizon_row > 10 and np.all(top == camera.SKY)


def test_road_ahead_when_centred(sim):
    sim.reset()
    sim.place(0, 2.0)
    img = camera.render(sim)[0]
    bottom = img[100:, 40:120]
    assert np.isin(bottom, [camera.ROAD, camera.CENTRE]).all()  # the road fills the view near the car
    assert (img == camera.TAPE).sum() > 100  # both borders' white tape is visible
    left_half, right_half = img[:, :80], img[:, 80:]
    assert (left_half == camera.TAPE).any() and (right_half == camera.TAPE).any()


def test_image_changes_with_position(sim):
    sim.reset()
    sim.place(0, 2.0)
    sim.place(1, 2.0, offset=0.3)  # near the left border
    sim.place(2, 2.0, offset=1.5)  # off the track, on the left
    img = camera.render(sim)
    assert not np.array_equal(img[0], img[1])
    # near the left border, the left tape sweeps across more of the lower image than when centred
    tape_left_0 = (img[0, 80:, :80] == camera.TAPE).sum()
    tape_left_1 = (img[1, 80:, :80] == camera.TAPE).sum()
    assert tape_left_1 > tape_left_0
    assert (img[2, 100:] == camera.GROUND).mean() > 0.9  # off track: bare ground in front


def test_render_poses_and_camera_steps(sim):
    t = load_track("reinvent_base")
    x, y, h = t.point_at(np.array([1.0, 5.0]))
    img = camera.render_poses(t, x, y, h)
    assert img.shape == (2, 120, 160)
    s = RaceSim(t, 2, observation="camera", reverse=True)
    obs = s.reset()
    obs2, done, _ = s.step(np.zeros(2), np.ones(2))
    assert obs2.shape == (2, 120, 160) and not np.array_equal(obs, obs2)
