"""Model directories: save, load, validation of every file, ONNX export."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

import openmaker.racer
from openmaker.racer.actions import ActionSpace, load_action_space
from openmaker.racer.errors import RacerError
from openmaker.racer.model import export_onnx, load_model, save_model
from openmaker.racer.ppo import Hyperparameters, PolicyNet, network_config

EXAMPLES = Path(openmaker.racer.__file__).parent / "examples"
CONTINUOUS = {"action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 1, "high": 3}},
              "sensor": ["FRONT_FACING_CAMERA"], "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
              "training_algorithm": "clipped_ppo", "action_space_type": "continuous", "version": "5"}


def _model(tmp_path: Path, kind: str = "discrete") -> tuple[Path, PolicyNet, ActionSpace]:
    torch.manual_seed(0)
    if kind == "discrete":
        space = load_action_space(EXAMPLES / "model_metadata.json")
        net = PolicyNet(network_config("state", (23,), "discrete", space.n))
    else:
        meta = tmp_path / "meta.json"
        meta.write_text(json.dumps(CONTINUOUS))
        space = load_action_space(meta)
        net = PolicyNet(network_config("state", (23,), "continuous", 2))
    net.update_obs_stats(torch.randn(100, 23) * 3 + 1)
    rows = [{"iteration": 1, "episodes": 20, "steps": 4096, "mean_reward": 12.5, "mean_progress": 30.0,
             "completion_pct": 0.0, "best_lap_time": "", "mean_lap_time": "", "elapsed_s": 1.5}]
    out = save_model(tmp_path / "model", net, space, EXAMPLES / "follow_centerline.py", Hyperparameters(lr=0.001), rows)
    return out, net, space


@pytest.mark.parametrize("kind", ["discrete", "continuous"])
def test_round_trip(tmp_path, kind):
    out, net, space = _model(tmp_path, kind)
    for name in ("model_metadata.json", "model_config.json", "policy.safetensors", "reward_function.py",
                 "hyperparameters.json", "training_metrics.csv", "training_metrics.png"):
        assert (out / name).is_file(), name
    if kind == "discrete":
        assert (out / "model_metadata.json").read_bytes() == (EXAMPLES / "model_metadata.json").read_bytes()
    assert (out / "reward_function.py").read_bytes() == (EXAMPLES / "follow_centerline.py").read_bytes()
    # weights only: a safetensors header, not a pickle
    raw = (out / "policy.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    assert "pi.0.weight" in header and "obs_mean" in header
    config = json.loads((out / "model_config.json").read_text())
    assert config["observation"] == "state" and config["network"] == "mlp" and config["obs_shape"] == [23]
    model = load_model(out)
    assert model.hyperparameters.lr == 0.001
    assert model.action_space.kind == kind
    obs = np.random.default_rng(1).normal(size=(16, 23)).astype(np.float32)
    with torch.no_grad():
        a, va = net(net.prepare(obs))
        b, vb = model.net(model.net.prepare(obs))
    assert torch.allclose(a, b) and torch.allclose(va, vb)
    act = model.act(obs)
    assert act.shape == ((16,) if kind == "discrete" else (16, 2))
    steering, speed = model.action_space.commands(act)
    assert np.all(np.abs(steering) <= 30) and np.all((speed >= 0.1) & (speed <= 4))


@pytest.mark.parametrize("name", ["model_metadata.json", "model_config.json", "policy.safetensors"])
def test_missing_file_is_named(tmp_path, name):
    out, _, _ = _model(tmp_path)
    (out / name).unlink()
    with pytest.raises(RacerError, match=name):
        load_model(out)


def test_not_a_directory(tmp_path):
    with pytest.raises(RacerError, match="no such model directory"):
        load_model(tmp_path / "nothing")
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(RacerError, match="not a directory"):
        load_model(f)


@pytest.mark.parametrize("corrupt", ["truncated", "garbage", "empty", "bad_header"])
def test_corrupt_weights_name_the_file(tmp_path, corrupt):
    out, _, _ = _model(tmp_path)
    path = out / "policy.safetensors"
    raw = path.read_bytes()
    if corrupt == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif corrupt == "garbage":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, size=5000, dtype=np.uint8).tobytes())
    elif corrupt == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(struct.pack("<Q", 20) + b"{not json at all....")
    with pytest.raises(RacerError, match=r"policy\.safetensors: not a valid safetensors file"):
        load_model(out)


def test_shape_mismatch_and_nan(tmp_path):
    out, _, _ = _model(tmp_path)
    config = json.loads((out / "model_config.json").read_text())
    config["hidden"] = [64, 64]
    (out / "model_config.json").write_text(json.dumps(config))
    with pytest.raises(RacerError, match=r"policy\.safetensors: tensor 'pi\.0\.weight' has shape \(128, 23\)"):
        load_model(out)
    config["hidden"] = [128, 128]
    (out / "model_config.json").write_text(json.dumps(config))
    from safetensors.torch import load_file, save_file

    tensors = load_file(out / "policy.safetensors")
    tensors["v.0.bias"][3] = float("nan")
    save_file(tensors, out / "policy.safetensors")
    with pytest.raises(RacerError, match="NaN"):
        load_model(out)
    del tensors["v.0.bias"]
    save_file(tensors, out / "policy.safetensors")
    with pytest.raises(RacerError, match="missing tensor 'v.0.bias'"):
        load_model(out)


def test_config_and_metadata_errors(tmp_path):
    out, _, _ = _model(tmp_path)
    (out / "model_config.json").write_text('{"observation": "state",\n  "network": }')
    with pytest.raises(RacerError, match=r"model_config\.json: line 2"):
        load_model(out)
    (out / "model_config.json").write_text(json.dumps({"observation": "lidar", "network": "mlp", "obs_shape": [23],
                                                        "action_kind": "discrete", "n_actions": 11}))
    with pytest.raises(RacerError, match="unknown observation 'lidar'"):
        load_model(out)
    out2, _, _ = _model(tmp_path / "b")
    meta = json.loads((out2 / "model_metadata.json").read_text())
    meta["action_space"] = meta["action_space"][:5]
    (out2 / "model_metadata.json").write_text(json.dumps(meta))
    with pytest.raises(RacerError, match="5 actions but the network has 11 outputs"):
        load_model(out2)
    (out2 / "model_metadata.json").write_text('{"action_space": [')
    with pytest.raises(RacerError, match="model_metadata.json"):
        load_model(out2)


def test_export_onnx_matches_torch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    out, net, _ = _model(tmp_path)
    path = export_onnx(out)
    assert path == out / "policy.onnx" and path.stat().st_size > 1000
    obs = np.random.default_rng(2).normal(size=(5, 23)).astype(np.float32)
    probs, value = ort.InferenceSession(str(path)).run(None, {"obs": obs})
    with torch.no_grad():
        logits, v = net(torch.from_numpy(obs))
    np.testing.assert_allclose(probs, torch.softmax(logits, -1).numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(value, v.numpy(), rtol=1e-4, atol=1e-5)
