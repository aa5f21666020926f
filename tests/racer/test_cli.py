"""``openmaker race``: every command once for real, and bad input → exit 2 with one ``error:`` line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import openmaker.racer
from openmaker.cli import app

runner = CliRunner()
EXAMPLES = Path(openmaker.racer.__file__).parent / "examples"
REWARD = EXAMPLES / "follow_centerline.py"
META = EXAMPLES / "model_metadata.json"
PNG = b"\x89PNG\r\n\x1a\n"


def invoke(*args):
    return runner.invoke(app, ["race", *map(str, args)])


def ok(result) -> str:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    return result.stdout


def bad(result, *fragments: str) -> str:
    assert result.exit_code == 2, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    assert "Traceback" not in result.output
    message = result.stderr.strip()
    assert message.startswith("error: "), message
    assert len(message.splitlines()) == 1, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("race") / "model"
    hp = out.parent / "hp.json"
    hp.write_text(json.dumps({"num_epochs": 2, "num_episodes_between_training": 8}))
    result = invoke("train", "--track", "reinvent_base", "--reward", REWARD, "--action-space", META, "--iterations", 2,
                    "--cars", 8, "--out", out, "--hyperparameters", hp, "--quiet")
    text = ok(result)
    assert "2 iterations" in text and f"model: {out}" in text
    return out


def test_tracks():
    rows = json.loads(ok(invoke("tracks", "--json")))
    by_name = {r["name"]: r for r in rows}
    assert len(rows) == 127 and by_name["reinvent_base"]["length"] == pytest.approx(17.71, abs=0.01)
    assert by_name["reinvent_base"]["official_name"] == "re:Invent 2018"
    assert "reinvent_base" in ok(invoke("tracks"))


def test_track_png(tmp_path):
    ok(invoke("track-png", "reinvent_base", "--out", tmp_path / "t.png"))
    assert (tmp_path / "t.png").read_bytes()[:8] == PNG
    bad(invoke("track-png", "reinvent_bse", "--out", tmp_path / "u.png"), "unknown track 'reinvent_bse'", "reinvent_base")


def test_test_reward(tmp_path):
    text = ok(invoke("test-reward", REWARD, "--track", "reinvent_base", "--out", tmp_path / "rt"))
    assert "valid on reinvent_base" in text
    assert (tmp_path / "rt" / "reward_centerline.png").read_bytes()[:8] == PNG
    broken = tmp_path / "broken.py"
    broken.write_text("def reward_function(params):\n    return float(1.0\n")
    bad(invoke("test-reward", broken, "--track", "reinvent_base", "--out", tmp_path / "x"), "broken.py:")
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("import os\n\ndef reward_function(params):\n    return 1.0\n")
    bad(invoke("test-reward", sneaky, "--out", tmp_path / "x"), "sneaky.py:1", "os")
    bad(invoke("test-reward", tmp_path / "missing.py"), "missing.py", "no such file")
    bad(invoke("test-reward", REWARD, "--track", "nowhere", "--out", tmp_path / "x"), "unknown track 'nowhere'")


def test_train_bad_input(tmp_path):
    base = ["train", "--reward", REWARD, "--action-space", META, "--out", tmp_path / "m", "--iterations", 1]
    bad(invoke(*base, "--track", "nowhere"), "unknown track 'nowhere'")
    meta = tmp_path / "model_metadata.json"
    meta.write_text('{"action_space": [{"steering_angle": 0, "speed": 9}]}')
    bad(invoke("train", "--reward", REWARD, "--action-space", meta, "--out", tmp_path / "m", "--iterations", 1),
        "model_metadata.json", "speed")
    meta.write_text('{"action_space": [\n  {"steering_angle": 0, "speed": 1},\n]}')
    bad(invoke("train", "--reward", REWARD, "--action-space", meta, "--out", tmp_path / "m", "--iterations", 1),
        "model_metadata.json:3")
    reward = tmp_path / "nan.py"
    reward.write_text("def reward_function(params):\n    return float('nan')\n")
    bad(invoke("train", "--reward", reward, "--action-space", META, "--out", tmp_path / "m", "--iterations", 1), "nan.py")
    hp = tmp_path / "hp.json"
    hp.write_text('{"batch_size": -1}')
    bad(invoke(*base, "--hyperparameters", hp), "batch_size")
    bad(invoke("train", "--reward", REWARD, "--action-space", META, "--out", tmp_path / "m"), "--minutes")
    bad(invoke(*base, "--observation", "lidar"), "--observation")
    bad(invoke(*base, "--cars", 0), "--cars")
    bad(invoke(*base, "--threads", 0), "--threads")


def test_train_evaluate_export_analyze(model_dir, tmp_path):
    for name in ("model_metadata.json", "model_config.json", "policy.safetensors", "reward_function.py",
                 "hyperparameters.json", "training_metrics.csv"):
        assert (model_dir / name).is_file(), name
    assert json.loads((model_dir / "hyperparameters.json").read_text())["num_epochs"] == 2
    result = json.loads(ok(invoke("evaluate", model_dir, "--track", "reinvent_base", "--laps", 1, "--penalty", 2,
                                  "--timing", "best", "--max-resets", 5, "--json", "--plot", tmp_path / "lap.png",
                                  "--trace", tmp_path / "trace.csv")))
    assert {"laps", "completed_laps", "best", "total", "off_track", "timing", "score"} <= set(result)
    assert result["timing"] == "best" and result["penalty"] == 2.0
    for lap in result["laps"]:
        assert {"time", "off_track"} <= set(lap)
    assert (tmp_path / "lap.png").read_bytes()[:8] == PNG
    header = (tmp_path / "trace.csv").read_text().splitlines()[0]
    assert header.startswith("steps,x,y,heading,speed,steering_angle")
    # the evaluation trace replays through the reward tester
    text = ok(invoke("test-reward", REWARD, "--track", "reinvent_base", "--trajectory", tmp_path / "trace.csv",
                     "--out", tmp_path / "rt"))
    assert "trajectory:" in text
    table = ok(invoke("evaluate", model_dir, "--track", "reinvent_base", "--laps", 1, "--max-resets", 2))
    assert "score (total)" in table
    onnx = ok(invoke("export-onnx", model_dir)).strip()
    assert Path(onnx).is_file() and Path(onnx).name == "policy.onnx"
    out = json.loads(ok(invoke("analyze", model_dir, "--track", "reinvent_base", "--out", tmp_path / "an", "--json")))
    assert {"lap", "actions", "reward"} <= set(out["files"])
    for path in out["files"].values():
        assert Path(path).read_bytes()[:8] == PNG


def test_evaluate_bad_input(model_dir, tmp_path):
    bad(invoke("evaluate", tmp_path / "nothing", "--track", "reinvent_base"), "no such model directory")
    bad(invoke("evaluate", model_dir, "--track", "nowhere"), "unknown track 'nowhere'")
    bad(invoke("evaluate", model_dir, "--track", "reinvent_base", "--timing", "fastest"), "unknown timing method")
    bad(invoke("evaluate", model_dir, "--track", "reinvent_base", "--laps", 0), "--laps")
    bad(invoke("evaluate", model_dir, "--track", "reinvent_base", "--penalty", -1), "--penalty")
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in model_dir.iterdir():
        if f.is_file():
            (broken / f.name).write_bytes(f.read_bytes())
    weights = broken / "policy.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    bad(invoke("evaluate", broken, "--track", "reinvent_base"), "policy.safetensors", "not a valid safetensors file")
    bad(invoke("export-onnx", broken), "policy.safetensors")
    (broken / "model_metadata.json").write_text("{ nope")
    bad(invoke("evaluate", broken, "--track", "reinvent_base"), "model_metadata.json")


def test_league_is_mounted():
    text = ok(invoke("league", "--help"))
    assert "league" in text.lower()
