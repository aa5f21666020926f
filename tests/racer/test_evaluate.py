"""Evaluation: lap-time arithmetic, penalties, resets, continuous laps, the result JSON, analysis PNGs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import openmaker.racer
from openmaker.racer.errors import RacerError
from openmaker.racer.evaluate import evaluate, lap_time, pure_pursuit, score, summarise, timing_method
from openmaker.racer.physics import DT
from openmaker.racer.tracks import load_track

EXAMPLES = Path(openmaker.racer.__file__).parent / "examples"


@pytest.fixture(scope="module")
def track():
    return load_track("reinvent_base")


def test_arithmetic():
    assert lap_time(150, 0.0) == pytest.approx(10.0)
    assert lap_time(150, 10.0) == pytest.approx(20.0)
    assert score([10.0, 12.0, 11.0], "total") == pytest.approx(33.0)
    assert score([10.0, 12.0, 11.0], "average") == pytest.approx(11.0)
    assert score([10.0, 12.0, 11.0], "best") == pytest.approx(10.0)
    assert score([], "total") is None
    assert timing_method("AVG_LAP_TIME") == "average" and timing_method("BEST_LAP_TIME") == "best"
    with pytest.raises(RacerError, match="unknown timing method"):
        timing_method("fastest")
    laps = [{"time": 10.0, "off_track": 1, "completed": True}, {"time": 9.0, "off_track": 0, "completed": True},
            {"time": 30.0, "off_track": 2, "completed": False}]
    r = summarise(laps, "average")
    assert (r["completed_laps"], r["best"], r["total"], r["off_track"], r["score"]) == (2, 9.0, 19.0, 3, 9.5)
    assert summarise([], "best")["score"] is None


def test_pure_pursuit_laps_are_deterministic_and_timed_by_steps(track):
    result = evaluate(None, track, laps=3, policy=pure_pursuit(track, speed=2.0), timing="total")
    json.dumps(result)  # JSON-ready
    assert set(result) >= {"laps", "completed_laps", "best", "total", "off_track", "timing", "score"}
    assert result["completed_laps"] == 3 and result["off_track"] == 0 and result["stopped"] == "laps"
    for lap in result["laps"]:
        assert set(lap) >= {"time", "off_track"}
        assert lap["completed"] and lap["time"] == pytest.approx(lap["steps"] * DT, abs=1e-3)
    times = [lap["time"] for lap in result["laps"]]
    # a lap of 17.7 m at 2 m/s: about 9 s; the first starts from rest, the others at speed (continuous laps)
    assert 8.0 < times[1] < 10.0 and times[0] > times[1] and times[2] == pytest.approx(times[1], abs=0.15)
    assert result["score"] == pytest.approx(sum(times), abs=1e-3) == pytest.approx(result["total"], abs=1e-3)
    again = evaluate(None, track, laps=3, policy=pure_pursuit(track, speed=2.0), timing="best")
    assert [lap["time"] for lap in again["laps"]] == times
    assert again["score"] == pytest.approx(min(times)) and again["timing"] == "best"


def _off_track_once(track, speed=2.0):
    """Pure pursuit, except that once past 20 % of the first lap it steers hard left until it is reset."""
    pp = pure_pursuit(track, speed=speed)
    state = {"phase": 0}

    def policy(obs, sim):
        if state["phase"] == 0 and sim.progress[0] > 20.0:
            state["phase"] = 1
        elif state["phase"] == 1 and sim.speed[0] == 0.0:  # respawned at rest
            state["phase"] = 2
        if state["phase"] == 1:
            return np.array([30.0]), np.array([speed])
        return pp(obs, sim)

    return policy


def test_off_track_adds_the_penalty_and_is_counted(track):
    with_penalty = evaluate(None, track, laps=2, penalty=5.0, policy=_off_track_once(track))
    no_penalty = evaluate(None, track, laps=2, penalty=0.0, policy=_off_track_once(track))
    first, nopen = with_penalty["laps"][0], no_penalty["laps"][0]
    assert first["off_track"] == 1 and first["resets"] == 1 and first["completed"]
    assert first["steps"] == nopen["steps"]  # the penalty is clock time, not driving
    assert first["time"] == pytest.approx(first["steps"] * DT + 5.0, abs=1e-3)
    assert first["time"] - nopen["time"] == pytest.approx(5.0, abs=1e-3)
    assert with_penalty["laps"][1]["off_track"] == 0
    assert with_penalty["off_track"] == 1 and with_penalty["completed_laps"] == 2
    assert with_penalty["total"] == pytest.approx(no_penalty["total"] + 5.0, abs=1e-3)


def test_resets_exhausted_end_the_run(track):
    result = evaluate(None, track, laps=3, max_resets=0, policy=_off_track_once(track))
    assert result["stopped"] == "max_resets"
    assert result["completed_laps"] == 0 and result["score"] is None and result["best"] is None
    assert result["laps"][0]["completed"] is False and 20.0 < result["laps"][0]["progress"] < 40.0
    assert result["off_track"] == 1


def test_step_cap_ends_an_unfinished_lap(track):
    result = evaluate(None, track, laps=1, max_lap_steps=60, policy=pure_pursuit(track, speed=1.0))
    assert result["stopped"] == "max_lap_steps" and result["completed_laps"] == 0
    assert result["laps"][0]["steps"] == 60 and not result["laps"][0]["completed"]


def test_bad_arguments(track):
    pp = pure_pursuit(track)
    for kwargs, needle in (({"laps": 0}, "laps"), ({"penalty": -1.0}, "penalty"), ({"max_resets": -1}, "max_resets"),
                           ({"timing": "fastest"}, "timing")):
        with pytest.raises(RacerError, match=needle):
            evaluate(None, track, policy=pp, **kwargs)
    with pytest.raises(RacerError, match="unknown track"):
        evaluate(None, "no_such_track", policy=pp)


def test_a_model_drives_and_analysis_draws(tmp_path, track):
    from openmaker.racer.actions import load_action_space
    from openmaker.racer.analysis import analyze
    from openmaker.racer.model import save_model
    from openmaker.racer.ppo import PolicyNet, network_config

    torch.manual_seed(0)
    space = load_action_space(EXAMPLES / "model_metadata.json")
    net = PolicyNet(network_config("state", (23,), "discrete", space.n))
    model_dir = save_model(tmp_path / "m", net, space, EXAMPLES / "follow_centerline.py")
    result = evaluate(model_dir, track, laps=1, max_resets=3, trace=True)
    trace = result.pop("trace")
    json.dumps(result)
    assert result["resets"] <= 4 and len(trace["x"]) == len(trace["action"]) > 0
    assert set(np.unique(trace["action"])) <= set(range(space.n))
    with pytest.raises(RacerError, match="trained on the 'state' observation"):
        evaluate(model_dir, track, observation="camera")
    # the pictures of a model (no training metrics here: only the lap, the actions and the reward)
    out = analyze(model_dir, track, tmp_path / "analysis", penalty=1.0)
    assert set(out["files"]) == {"lap", "actions", "reward"}
    for path in out["files"].values():
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
