"""Reward functions: static checks, the validation subprocess, runtime checks, call_batch's time limit, test_reward."""

from __future__ import annotations

import math
import pickle
import signal
import sys
import textwrap
import threading
import time
from importlib import resources

import numpy as np
import pytest

from openmaker.racer import reward as rw
from openmaker.racer.errors import RacerError
from openmaker.racer.reward import RewardError, RewardFunction, call_batch, load_reward

EXAMPLES = resources.files("openmaker.racer").joinpath("examples")
GOOD = "def reward_function(params):\n    return 1.0\n"


def _write(tmp_path, source, name="reward.py"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(source))
    return p


def _refused(tmp_path, source, *needles, line=None, timeout=2.0, **kw):
    p = _write(tmp_path, source)
    with pytest.raises(RewardError) as exc:
        load_reward(p, timeout=timeout, **kw)
    msg = str(exc.value)
    assert isinstance(exc.value, RacerError)
    assert msg.startswith(str(p)), msg
    if line is not None:
        assert msg.startswith(f"{p}:{line}:"), msg
    for needle in needles:
        assert needle in msg, msg
    return msg


# ------------------------------------------------------------------ good functions


@pytest.mark.parametrize("name", ["follow_centerline.py", "speed_aware.py"])
def test_examples_load_and_return_floats(name):
    rf = load_reward(EXAMPLES.joinpath(name))
    assert isinstance(rf, RewardFunction) and rf.line >= 1
    values = [rf(p) for _, p in rw.validation_cases()]
    assert all(type(v) is float and math.isfinite(v) for v in values)
    assert values[0] > values[2]  # on the centre line at the start beats off the track


def test_follow_centerline_is_the_aws_sample():
    rf = load_reward(EXAMPLES.joinpath("follow_centerline.py"))
    base = dict(rw.validation_cases()[0][1], track_width=1.0)
    got = [rf(dict(base, distance_from_center=d)) for d in (0.05, 0.2, 0.4, 0.6)]
    assert got == [1.0, 0.5, 0.1, 1e-3]


def test_speed_aware_pays_for_speed_and_the_lap():
    rf = load_reward(EXAMPLES.joinpath("speed_aware.py"))
    base = dict(rw.validation_cases()[1][1], distance_from_center=0.0, progress=50.0, steps=100)
    assert rf(dict(base, speed=3.0)) > rf(dict(base, speed=1.0))
    assert rf(dict(base, steps=60)) > rf(dict(base, steps=120))  # same progress in fewer steps
    assert rf(dict(base, progress=100.0)) > rf(dict(base, progress=99.0)) + 5  # the lap bonus


def test_allowed_imports_helpers_and_names_with_forbidden_words(tmp_path):
    p = _write(tmp_path, """
        import math
        import numpy as np
        from scipy import spatial
        import shapely.geometry
        import random

        payload = 0.5  # the console refused this file: 'load' in 'payload', 'save' in this comment

        def helper(params):
            saved_speed = params["speed"]
            return saved_speed / 4.0

        class Memo:
            def __init__(self):
                self._cache = {}

            def get(self, k):
                return self._cache.get(k, 0.0)

        def reward_function(params):
            d = np.hypot(params["x"], params["y"])
            pt = shapely.geometry.Point(params["x"], params["y"])
            r = payload + helper(params) + 0.0 * d + 0.0 * pt.x + Memo().get("a") + 0.0 * random.random()
            return float(math.sqrt(r)) if getattr(spatial, "distance") is not None else 0.0
        """)
    rf = load_reward(p)
    assert type(rf(rw.validation_cases()[0][1])) is float
    with pytest.raises(RewardError, match="'load'.*console"):
        load_reward(p, console=True)


def test_numpy_float64_passes_like_the_console(tmp_path):
    p = _write(tmp_path, """
        import numpy as np

        def reward_function(params):
            return np.float64(params["speed"])
        """)
    assert load_reward(p)(dict(speed=2.0)) == 2.0


# ------------------------------------------------------------------ static checks


def test_syntax_error_names_line_and_column(tmp_path):
    msg = _refused(tmp_path, "x = 1\n\ndef reward_function(params)\n    return 1.0\n", "syntax error", line=3)
    assert "expected ':'" in msg
    _refused(tmp_path, "def reward_function(params):\nreturn 1.0\n", "syntax error", "indented block", line=2)


def test_compiler_only_errors(tmp_path):
    _refused(tmp_path, "def reward_function(params):\n    return 1.0\nreturn 2\n", "syntax error", line=3)


@pytest.mark.parametrize("src,needles,line", [
    ("import os\n" + GOOD, ["import of 'os' is not allowed", "math, random, numpy, scipy, shapely"], 1),
    ("import numpy, subprocess\n" + GOOD, ["'subprocess'"], 1),
    ("from os import path\n" + GOOD, ["'os'"], 1),
    ("from . import helper\n" + GOOD, ["relative imports"], 1),
    ("from math import *\n" + GOOD, ["import *"], 1),
    ("def reward_function(params):\n    import math\n    return 1.0\n", ["imports must be at the top"], 2),
    ("def reward_function(params):\n    from numpy import pi\n    return 1.0\n", ["imports must be at the top"], 2),
    ("from numpy import load\n" + GOOD, ["imported name 'load'"], 1),
    ("import numpy as np\nx = np.load('a.npy')\n" + GOOD, ["attribute 'load'"], 2),
    ("import numpy as np\ndef reward_function(params):\n    np.savetxt('a', [1])\n    return 1.0\n", ["'savetxt'"], 3),
    ("import numpy as np\ndef reward_function(params):\n    np.zeros(2).tofile('x')\n    return 1.0\n", ["'tofile'"], 3),
    ("import scipy.io\nm = scipy.io.loadmat\n" + GOOD, ["'loadmat'"], 2),
    ("def reward_function(params):\n    f = open('/etc/passwd')\n    return 1.0\n", ["'open' is not allowed"], 2),
    ("def reward_function(params):\n    return eval('1.0')\n", ["'eval' is not allowed"], 2),
    ("def reward_function(params):\n    exec('x = 1')\n    return 1.0\n", ["'exec'"], 2),
    ("def reward_function(params):\n    c = compile('1', 'f', 'eval')\n    return 1.0\n", ["'compile'"], 2),
    ("def reward_function(params):\n    return float(input())\n", ["'input'"], 2),
    ("def reward_function(params):\n    os = __import__('os')\n    return 1.0\n", ["'__import__'"], 2),
    ("def reward_function(params):\n    g = globals()\n    return 1.0\n", ["'globals'"], 2),
    ("def reward_function(params):\n    b = __builtins__\n    return 1.0\n", ["'__builtins__'"], 2),
    ("def reward_function(params):\n    k = ().__class__.__base__\n    return 1.0\n", ["dunder"], 2),
    ("import numpy as np\nx = np.lib._datasource\n" + GOOD, ["private"], 2),
    ("import numpy as np\ndef reward_function(params):\n    n = 'lo' + 'ad'\n    f = getattr(np, n)\n    return 1.0\n",
     ["getattr() needs a constant"], 4),
    ("import numpy as np\nf = getattr(np, 'load')\n" + GOOD, ["'load'"], 2),
    ("g = getattr\n" + GOOD, ["getattr may only be called directly"], 1),
    ("def reward_function(params):\n    return float(speeed)\n", ["undefined name 'speeed'"], 2),
])
def test_static_rules(tmp_path, src, needles, line):
    _refused(tmp_path, src, *needles, line=line)


@pytest.mark.parametrize("src,needles", [
    ("def reward_function(params, extra):\n    return 1.0\n", ["exactly one parameter", "(it takes 2)"]),
    ("def reward_function():\n    return 1.0\n", ["exactly one parameter"]),
    ("def reward_function(*args):\n    return 1.0\n", ["exactly one parameter"]),
    ("def reward_function(params, *, k=1):\n    return 1.0\n", ["exactly one parameter"]),
    ("def reward(params):\n    return 1.0\n", ["no top-level function reward_function"]),
    ("reward_function = lambda params: 1.0\n", ["no top-level function reward_function"]),
    ("class A:\n    def reward_function(params):\n        return 1.0\n", ["no top-level function"]),
    (GOOD + GOOD, ["defined 2 times"]),
    ("async def reward_function(params):\n    return 1.0\n", ["async def"]),
])
def test_signature_rules(tmp_path, src, needles):
    _refused(tmp_path, src, *needles)


def test_missing_file(tmp_path):
    with pytest.raises(RewardError, match="no such file"):
        load_reward(tmp_path / "nope.py")


# ------------------------------------------------------------------ the validation run


def test_int_return_fails_validation_naming_the_return_line(tmp_path):
    msg = _refused(tmp_path, """
        def reward_function(params):
            if params["is_offtrack"]:
                return 0.001
            return 1
        """, "must return a float, got int", "return float(reward)", line=5)
    assert "validation call 'start'" in msg


def test_nan_and_out_of_range_fail_validation(tmp_path):
    _refused(tmp_path, "def reward_function(params):\n    return float('nan')\n", "nan", "[-1e5, 1e5]", line=2)
    _refused(tmp_path, "def reward_function(params):\n    return 1e6\n", "1000000.0", "[-1e5, 1e5]", line=2)
    msg = _refused(tmp_path, """
        def reward_function(params):
            if params["is_offtrack"]:
                return -float("inf")
            return 1.0
        """, "-inf", line=4)
    assert "'off-track'" in msg


def test_exception_names_the_users_line(tmp_path):
    msg = _refused(tmp_path, """
        import math

        def reward_function(params):
            steps = params["steps"]
            progress = params["progress"]
            return float(steps / progress)
        """, "ZeroDivisionError", "division by zero", line=7)
    assert "'start'" in msg


def test_exception_in_a_helper_and_in_numpy_names_the_users_line(tmp_path):
    _refused(tmp_path, """
        def helper(params):
            return params["no_such_key"]

        def reward_function(params):
            return float(helper(params))
        """, "KeyError", "no_such_key", line=3)
    _refused(tmp_path, """
        import numpy as np

        def reward_function(params):
            a = np.zeros(3)
            return float(a.reshape(2, 2)[0, 0])
        """, "ValueError", line=6)


def test_exception_at_module_level(tmp_path):
    _refused(tmp_path, "import math\nX = math.sqrt(-1)\n" + GOOD, "ValueError", "math domain error",
             "top-level code", line=2)


def test_endless_loop_times_out(tmp_path):
    t0 = time.monotonic()
    msg = _refused(tmp_path, """
        def reward_function(params):
            while True:
                pass
        """, "did not return within 1 s (an endless loop?)", timeout=1.0)
    assert time.monotonic() - t0 < 6.0
    assert "'start'" in msg


def test_endless_loop_that_swallows_exceptions_times_out(tmp_path):
    t0 = time.monotonic()
    _refused(tmp_path, """
        def reward_function(params):
            while True:
                try:
                    while True:
                        pass
                except BaseException:
                    pass
        """, "did not return within 0.5 s", timeout=0.5)
    assert time.monotonic() - t0 < 6.0


def test_endless_loop_at_module_level_times_out(tmp_path):
    _refused(tmp_path, "while True:\n    pass\n" + GOOD, "top-level code did not finish within 0.5 s", timeout=0.5)


def test_validation_crash(tmp_path):
    _refused(tmp_path, "import random\nx = random.random()\nraise SystemExit(3)\n" + GOOD, "SystemExit")


def test_validation_cases_carry_every_param():
    keys = {"all_wheels_on_track", "x", "y", "closest_objects", "closest_waypoints", "distance_from_center",
            "is_crashed", "is_left_of_center", "is_offtrack", "is_reversed", "heading", "objects_distance",
            "objects_heading", "objects_left_of_center", "objects_location", "objects_speed", "progress", "speed",
            "steering_angle", "steps", "track_length", "track_width", "waypoints"}
    cases = dict(rw.validation_cases())
    assert {"start", "mid-lap", "off-track", "finish"} <= set(cases)
    for name, p in cases.items():
        assert keys <= set(p), name
        assert -180 < p["heading"] <= 180
        assert isinstance(p["steps"], int) and p["steps"] >= 1
    assert cases["off-track"]["is_offtrack"] and not cases["off-track"]["all_wheels_on_track"]
    assert cases["start"]["all_wheels_on_track"] and not cases["start"]["is_offtrack"]
    assert cases["finish"]["progress"] == 100.0
    assert abs(cases["start"]["track_length"] - 17.709) < 0.01
    assert cases["mid-lap"]["is_left_of_center"]
    assert cases["start"]["closest_waypoints"] == [0, 1]
    synth = dict(rw._synthetic_cases())
    assert set(synth) == set(cases) and all(keys <= set(p) for p in synth.values())


def test_validation_cases_match_the_simulators_params():
    env = pytest.importorskip("openmaker.racer.env")
    from openmaker.racer.tracks import load_track

    track = load_track("reinvent_base")
    sim = env.RaceSim(track, 1, training=False)
    sim.place(0, 5.0, 0.1)
    ours = rw._param_dicts(track, sim.fx[0], sim.fy[0], float(np.degrees(sim.yaw[0])), 1.0, 0.0, 1, 0.0)[0]
    theirs = sim.reward_params(0)
    assert set(ours) == set(theirs)
    for k in ("x", "y", "distance_from_center", "track_width", "heading", "projection_distance"):
        assert ours[k] == pytest.approx(theirs[k], abs=1e-9), k
    for k in ("closest_waypoints", "is_left_of_center", "all_wheels_on_track", "is_offtrack", "waypoints"):
        assert ours[k] == theirs[k], k


# ------------------------------------------------------------------ runtime


def test_runtime_checks_name_file_and_line(tmp_path):
    p = _write(tmp_path, """
        def reward_function(params):
            mode = params.get("mode")
            if mode == "nan":
                return float("nan")
            if mode == "big":
                return -2e5
            if mode == "int":
                return 3
            if mode == "str":
                return "fast"
            if mode == "raise":
                return 1.0 / 0.0
            return 1.0
        """)
    rf = load_reward(p)
    assert rf({"mode": "int"}) == 3.0
    with pytest.raises(RewardError, match=rf"^{p}:2: reward_function returned nan"):
        rf({"mode": "nan"})
    with pytest.raises(RewardError, match=r"returned -200000.0"):
        rf({"mode": "big"})
    with pytest.raises(RewardError, match=r"returned str 'fast', not a number"):
        rf({"mode": "str"})
    with pytest.raises(RewardError, match=rf"^{p}:13: reward_function raised ZeroDivisionError"):
        rf({"mode": "raise"})


def test_module_globals_and_pickle(tmp_path):
    p = _write(tmp_path, """
        WHO = __name__

        def reward_function(params):
            return 1.0 if WHO == "reward_function" and __file__.endswith("reward.py") else 0.5
        """)
    rf = load_reward(p)
    assert rf({}) == 1.0
    again = pickle.loads(pickle.dumps(rf))
    assert again({}) == 1.0 and again.path == rf.path and again.source == rf.source


LOOPY = """
    def reward_function(params):
        if params.get("loop"):
            while True:
                pass
        return 1.0
    """


def test_call_batch_values_and_time_limit(tmp_path):
    rf = load_reward(_write(tmp_path, LOOPY))
    np.testing.assert_array_equal(call_batch(rf, [{}, {}, {}]), [1.0, 1.0, 1.0])
    before = signal.getsignal(signal.SIGALRM)
    outer = signal.getitimer(signal.ITIMER_REAL)  # pytest-timeout may have one running
    t0 = time.monotonic()
    with pytest.raises(RewardError, match=r"did not return within 0.3 s \(an endless loop\?\).*call 3 of 4"):
        call_batch(rf, [{}, {}, {"loop": True}, {}], timeout=0.3)
    assert time.monotonic() - t0 < 3.0
    assert signal.getsignal(signal.SIGALRM) is before
    remaining, interval = signal.getitimer(signal.ITIMER_REAL)
    assert interval == outer[1] and (remaining == 0.0 if outer[0] == 0.0 else 0.0 < remaining <= outer[0])


def test_call_batch_stops_a_loop_that_swallows_the_first_alarm():
    def fn(params):
        while True:
            try:
                while True:
                    sum(range(100))
            except BaseException:
                pass

    trace = sys.gettrace()
    t0 = time.monotonic()
    with pytest.raises(RewardError, match="did not return within 0.2 s"):
        call_batch(fn, [{}], timeout=0.2)
    assert time.monotonic() - t0 < 3.0
    assert sys.gettrace() is trace


def test_call_batch_checks_plain_callables_and_keeps_an_outer_timer():
    assert call_batch(lambda p: 2, [{}]).tolist() == [2.0]
    with pytest.raises(RewardError, match="returned nan"):
        call_batch(lambda p: float("nan"), [{}])
    signal.setitimer(signal.ITIMER_REAL, 100.0)
    try:
        call_batch(lambda p: 1.0, [{}] * 10, timeout=1.0)
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 90.0 < remaining <= 100.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def test_call_batch_outside_the_main_thread_has_no_limit():
    out = {}

    def worker():
        out["r"] = call_batch(lambda p: 1.5, [{}, {}], timeout=0.1).tolist()

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert out["r"] == [1.5, 1.5]


# ------------------------------------------------------------------ test_reward


def _trajectory_csv(tmp_path, track, n=60):
    s = np.linspace(0.0, 0.6 * track.length, n)
    x, y, h = track.point_at(s)
    off = 0.15 * np.sin(s)
    x, y = x - off * np.sin(h), y + off * np.cos(h)
    p = tmp_path / "lap.csv"
    rows = ["x,y,heading,speed,steering_angle,extra"]
    rows += [f"{a},{b},{math.degrees(c)},2.0,0.0,z" for a, b, c in zip(x, y, h)]
    p.write_text("\n".join(rows) + "\n")
    return p


def test_test_reward_writes_pngs(tmp_path):
    pytest.importorskip("openmaker.racer.tracks")
    from openmaker.racer.tracks import load_track

    track = load_track("reinvent_base")
    traj = _trajectory_csv(tmp_path, track)
    report = rw.test_reward(EXAMPLES.joinpath("follow_centerline.py"), "reinvent_base", trajectory=traj,
                            out_dir=tmp_path / "out", samples=100, heat_shape=(60, 9))
    assert report["valid"] is True and report["track"] == "reinvent_base"
    assert report["min"] == report["max"] == report["mean"] == 1.0  # on the centre line the sample pays 1
    assert report["heatmap"]["min"] == pytest.approx(1e-3) and report["heatmap"]["max"] == 1.0
    assert report["trajectory"]["rows"] == 60 and 0.0 < report["trajectory"]["mean"] <= 1.0
    names = [p.rsplit("/", 1)[-1] for p in report["pngs"]]
    assert names == ["reward_centerline.png", "reward_heatmap.png", "reward_trajectory.png"]
    for p in report["pngs"]:
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_test_reward_refuses_a_bad_function_and_bad_trajectories(tmp_path):
    pytest.importorskip("openmaker.racer.tracks")
    bad = _write(tmp_path, "import os\n" + GOOD)
    with pytest.raises(RewardError, match="'os'"):
        rw.test_reward(bad, "reinvent_base", out_dir=tmp_path / "o")
    good = _write(tmp_path, GOOD, name="good.py")
    csv = tmp_path / "t.csv"
    csv.write_text("x,y,heading,speed\n1,2,3,4\n")
    with pytest.raises(RacerError, match=r"t.csv:1: .*missing steering_angle"):
        rw.test_reward(good, "reinvent_base", trajectory=csv, out_dir=tmp_path / "o")
    csv.write_text("X,Y,yaw,throttle,steer,steps\n1,2,3,4,5,1\n1,2,abc,4,5,2\n")
    with pytest.raises(RacerError, match=r"t.csv:3: column heading: not a number: 'abc'"):
        rw.read_trajectory(csv)
    with pytest.raises(RacerError, match="unknown track"):
        rw.test_reward(good, "no_such_track", out_dir=tmp_path / "o")


def test_sim_trace_column_names(tmp_path):
    csv = tmp_path / "trace.csv"
    csv.write_text("episode,steps,X,Y,yaw,steer,throttle,progress\n0,1,1.0,2.0,90,-15,1.5,0.4\n0,2,1.1,2.1,91,0,2,0.9\n")
    t = rw.read_trajectory(csv)
    assert t["heading"].tolist() == [90, 91] and t["steering_angle"].tolist() == [-15, 0]
    assert t["speed"].tolist() == [1.5, 2] and t["steps"].tolist() == [1, 2] and t["progress"].tolist() == [0.4, 0.9]


AWS_SAMPLES = {
    "all_wheels_on_track": '''
        def reward_function(params):
            all_wheels_on_track = params['all_wheels_on_track']
            distance_from_center = params['distance_from_center']
            track_width = params['track_width']
            reward = 1e-3
            if all_wheels_on_track and (0.5*track_width - distance_from_center) >= 0.05:
                reward = 1.0
            return float(reward)
        ''',
    "prevent_zig_zag": '''
        def reward_function(params):
            distance_from_center = params['distance_from_center']
            track_width = params['track_width']
            abs_steering = abs(params['steering_angle'])
            marker_1 = 0.1 * track_width
            marker_2 = 0.25 * track_width
            marker_3 = 0.5 * track_width
            if distance_from_center <= marker_1:
                reward = 1.0
            elif distance_from_center <= marker_2:
                reward = 0.5
            elif distance_from_center <= marker_3:
                reward = 0.1
            else:
                reward = 1e-3
            ABS_STEERING_THRESHOLD = 15
            if abs_steering > ABS_STEERING_THRESHOLD:
                reward *= 0.8
            return float(reward)
        ''',
    "follow_waypoints": '''
        import math

        def reward_function(params):
            waypoints = params['waypoints']
            closest_waypoints = params['closest_waypoints']
            heading = params['heading']
            reward = 1.0
            next_point = waypoints[closest_waypoints[1]]
            prev_point = waypoints[closest_waypoints[0]]
            track_direction = math.atan2(next_point[1] - prev_point[1], next_point[0] - prev_point[0])
            track_direction = math.degrees(track_direction)
            direction_diff = abs(track_direction - heading)
            if direction_diff > 180:
                direction_diff = 360 - direction_diff
            DIRECTION_THRESHOLD = 10.0
            if direction_diff > DIRECTION_THRESHOLD:
                reward *= 0.5
            return float(reward)
        ''',
    "numpy_and_shapely": '''
        import numpy as np
        from shapely.geometry import LineString, Point

        def reward_function(params):
            line = LineString(params['waypoints'])
            d = line.distance(Point(params['x'], params['y']))
            w = np.asarray(params['waypoints'])
            speed_bonus = float(np.clip(params['speed'] / 4.0, 0.0, 1.0))
            return float(max(1e-3, 1.0 - d / params['track_width']) + 0.1 * speed_bonus + 0.0 * w.sum())
        ''',
}


@pytest.mark.parametrize("name", sorted(AWS_SAMPLES))
def test_common_reward_functions_pass(tmp_path, name):
    rf = load_reward(_write(tmp_path, AWS_SAMPLES[name]))
    values = [rf(p) for _, p in rw.validation_cases()]
    assert all(0.0 < v <= 2.0 for v in values), values
