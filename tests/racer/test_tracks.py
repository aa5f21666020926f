"""Track loading and geometry: lengths, projection, sides, on-track tests, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from openmaker.racer.errors import RacerError
from openmaker.racer.tracks import Track, TrackInfo, list_tracks, load_track, sanitize_waypoints


@pytest.fixture(scope="module")
def base() -> Track:
    return load_track("reinvent_base")


def _normals(track, s):
    x, y, h = track.point_at(s)
    return x, y, -np.sin(h), np.cos(h)  # unit normal pointing left of the driving direction


def test_list_tracks():
    tracks = list_tracks()
    assert len(tracks) == 127
    assert [t.name for t in tracks] == sorted(t.name for t in tracks)
    by = {t.name: t for t in tracks}
    assert isinstance(by["reinvent_base"], TrackInfo)
    assert by["reinvent_base"].official_name == "re:Invent 2018"
    assert by["reinvent_base"].points == 119 and by["reinvent_base"].loop
    assert by["reinvent_base"].length == pytest.approx(17.709, abs=1e-3)
    assert by["reinvent_base"].width == pytest.approx(0.762, abs=2e-3)
    assert by["Straight_track"].official_name == "Straight_track"  # not in tracks.csv: keeps its id
    assert not by["Straight_track"].loop
    assert sum(t.loop for t in tracks) == 126


def test_reinvent_base_geometry(base):
    assert base.name == "reinvent_base" and base.official_name == "re:Invent 2018"
    assert base.waypoints.shape == (119, 6)
    assert base.is_loop and np.all(base.center[0] == base.center[-1])
    assert base.length == pytest.approx(17.709, abs=1e-3)
    assert base.cum[0] == 0.0 and base.cum[-1] == pytest.approx(base.length)
    assert np.all(np.diff(base.cum) > 0)
    assert base.width.shape == (119,) and np.all((base.width > 0.75) & (base.width < 0.77))
    assert load_track("reinvent_base") is base  # cached
    with pytest.raises(ValueError):
        base.center[0, 0] = 1.0  # read-only


def test_duplicates_removed():
    w = np.array([[0, 0, 0, 1, 0, -1], [1, 0, 1, 1, 1, -1], [1, 0, 1, 1, 1, -1], [2, 0, 2, 1, 2, -1]], float)
    assert len(sanitize_waypoints(w)) == 3
    t = load_track("2022_april_open")  # its route file has one repeated row
    raw = np.load(__import__("importlib.resources").resources.files("openmaker.racer.data")
                  .joinpath("routes/2022_april_open.npy").open("rb"))
    assert len(raw) == 169 and len(t.waypoints) == 168
    assert np.all(t.seg_len > 0) and t.is_loop


def test_unknown_track_lists_close_names():
    with pytest.raises(RacerError, match="unknown track 'reinvent_bas'.*reinvent_base"):
        load_track("reinvent_bas")
    assert load_track("re:Invent 2018").name == "reinvent_base"  # official name
    assert load_track("REINVENT_BASE").name == "reinvent_base"


def test_load_from_path(tmp_path):
    base = load_track("reinvent_base")
    p = tmp_path / "mine.npy"
    np.save(p, base.waypoints)
    t = load_track(str(p))
    assert t.name == "mine" and t.length == pytest.approx(base.length)
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((5, 4)))
    with pytest.raises(RacerError, match="bad.npy.*shape"):
        load_track(str(bad))
    junk = tmp_path / "junk.npy"
    junk.write_text("not numpy")
    with pytest.raises(RacerError, match="junk.npy"):
        load_track(str(junk))
    with pytest.raises(RacerError, match="no such file"):
        load_track(str(tmp_path / "missing.npy"))


def test_point_at_and_wrap(base):
    x, y, h = base.point_at(base.cum[:-1])
    assert np.allclose(np.stack([x, y], 1), base.center[:-1])
    x2, y2, _ = base.point_at(base.cum[:-1] + base.length)  # wraps
    assert np.allclose(x2, x) and np.allclose(y2, y)
    assert np.allclose(h, base.seg_heading)


def test_project_exact_on_centre_and_sides(base):
    s = np.linspace(0, base.length, 200, endpoint=False) + 0.013
    x, y, nx, ny = _normals(base, s)
    p = base.project(x, y)
    assert np.allclose(p.s, s, atol=1e-9) and np.allclose(p.dist, 0, atol=1e-9)
    for off in (0.1, -0.1, 0.3, -0.3):
        q = base.project(x + off * nx, y + off * ny)
        straight = np.abs(q.s - s) < 1e-6  # away from vertices the projection is the same point
        assert straight.mean() > 0.5
        assert np.allclose(q.dist[straight], abs(off))
        assert np.all(q.left[straight] == (off > 0))
    assert np.allclose(p.width, 0.762, atol=0.01)


def test_project_with_hint_matches_exact(base):
    rng = np.random.default_rng(0)
    s = rng.uniform(0, base.length, 5000)
    x, y, nx, ny = _normals(base, s)
    off = rng.uniform(-0.5, 0.5, s.size)
    px, py = x + off * nx, y + off * ny
    exact = base.project(px, py)
    # hint: the segment a little behind (as after one step of driving), or far away (must recover)
    for shift in (-1, 0, 2, 40):
        near = base.project(px, py, hint=(exact.seg - shift) % base.n_seg)
        assert np.allclose(near.dist, exact.dist, atol=1e-12)
        assert np.allclose(near.s, exact.s, atol=1e-9)


def test_on_track_inside_outside_and_sides(base):
    s = np.linspace(0, base.length, 300, endpoint=False)
    x, y, nx, ny = _normals(base, s)
    p = base.project(x, y)
    half = 0.5 * p.width
    assert base.on_track(x, y).all()  # on the centre line
    assert base.on_track(x + 0.3 * nx, y + 0.3 * ny).all()  # well inside, left
    assert base.on_track(x - 0.3 * nx, y - 0.3 * ny).all()  # well inside, right
    assert not base.on_track(x + (half + 0.1) * nx, y + (half + 0.1) * ny).any()  # beyond the left border
    assert not base.on_track(x - (half + 0.1) * nx, y - (half + 0.1) * ny).any()  # beyond the right border
    # the infield (inside the inner border) and far away are off the road
    c = base.inner[:-1].mean(axis=0)
    assert not base.on_track(c[0], c[1])
    assert not base.on_track(100.0, 100.0)
    assert base.on_track(np.array([[x[0], 100.0]]), np.array([[y[0], 100.0]])).tolist() == [[True, False]]


def test_on_track_equals_shapely_near_borders():
    rng = np.random.default_rng(1)
    for name in ("reinvent_base", "Straight_track", "Bowtie_track"):
        t = load_track(name)
        s = rng.uniform(0, t.length, 20000)
        x, y, nx, ny = _normals(t, s)
        off = rng.uniform(-0.6, 0.6, s.size) * t.width.max()  # many points within a few mm of a border
        px, py = x + off * nx, y + off * ny
        assert np.array_equal(t.on_track(px, py), shapely.contains_xy(t.polygon, px, py))


def test_reversed(base):
    r = base.reversed()
    assert r.reverse and not base.reverse
    assert base.reversed() is r and r.reversed() is base
    assert r.length == pytest.approx(base.length)
    assert np.array_equal(r.center, base.center[::-1])
    assert np.array_equal(r.center[0], base.center[0])  # same start line
    x, y, nx, ny = _normals(base, np.array([1.0]))
    assert base.project(x + 0.2 * nx, y + 0.2 * ny).left[0]
    assert not r.project(x + 0.2 * nx, y + 0.2 * ny).left[0]
    assert r.on_track(x, y)[0]


def test_open_track_projection_ends():
    t = load_track("Straight_track")
    assert not t.is_loop
    x0, y0, h = t.point_at(np.array([0.0]))
    p = t.project(x0 - 0.5 * math.cos(h[0]), y0 - 0.5 * math.sin(h[0]))  # before the start
    assert p.s == 0.0
    p = t.project(t.center[-1, 0], t.center[-1, 1], hint=np.array(t.n_seg - 1))
    assert p.s == pytest.approx(t.length)


def test_plot(tmp_path, base):
    out = base.plot(tmp_path / "t.png", lines={"centre again": base.center})
    assert out.exists() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
