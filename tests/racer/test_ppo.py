"""PPO: hyperparameters, networks, GAE, the clipped update, and a short training run on reinvent_base."""

from __future__ import annotations

import csv
import json
import math

from pathlib import Path

import numpy as np
import pytest
import torch

import openmaker.racer

from openmaker.racer.errors import RacerError
from openmaker.racer.ppo import (
    FrameStack,
    Hyperparameters,
    PolicyNet,
    gae,
    make_optimizer,
    minibatch_size,
    network_config,
    ppo_update,
)


@pytest.fixture
def examples() -> Path:
    return Path(openmaker.racer.__file__).parent / "examples"


def test_hyperparameters_defaults_are_deepracers_and_round_trip(tmp_path):
    hp = Hyperparameters()
    assert (hp.batch_size, hp.beta_entropy, hp.discount_factor, hp.lr, hp.num_epochs,
            hp.num_episodes_between_training, hp.loss_type, hp.exploration_type, hp.stack_size) == (
        64, 0.01, 0.999, 0.0003, 10, 20, "huber", "categorical", 1)
    path = hp.save(tmp_path / "hyperparameters.json")
    assert json.loads(path.read_text())["num_epochs"] == 10
    assert Hyperparameters.load(path) == hp
    # DRfC's file (with its spelling of the loss) reads as is
    drfc = {"batch_size": 64, "beta_entropy": 0.01, "discount_factor": 0.99, "e_greedy_value": 0.05,
            "epsilon_steps": 10000, "exploration_type": "categorical", "loss_type": "mean squared error", "lr": 0.0003,
            "num_episodes_between_training": 20, "num_epochs": 5, "stack_size": 1, "term_cond_avg_score": 350.0,
            "term_cond_max_episodes": 1000, "sac_alpha": 0.2}
    hp2 = Hyperparameters.from_dict(drfc)
    assert hp2.loss_type == "mean squared error" and hp2.num_epochs == 5 and hp2.discount_factor == 0.99


@pytest.mark.parametrize("data, needle", [
    ({"batch_size": 0}, "batch_size"),
    ({"lr": "fast"}, "lr"),
    ({"loss_type": "l1"}, "loss_type"),
    ({"discount_factor": 1.5}, "discount_factor"),
    ({"num_epochs": 2.5}, "num_epochs"),
    ({"learning_rate": 0.1}, "unknown hyperparameter 'learning_rate'"),
])
def test_bad_hyperparameters_name_the_key(data, needle):
    with pytest.raises(RacerError, match=needle):
        Hyperparameters.from_dict(data)


def test_bad_hyperparameters_file_names_line(tmp_path):
    p = tmp_path / "hp.json"
    p.write_text('{"batch_size": 64,\n "lr": }')
    with pytest.raises(RacerError, match=r"hp.json: line 2"):
        Hyperparameters.load(p)


def test_gae_matches_hand_computation():
    r = torch.tensor([[1.0], [1.0], [1.0]])
    v = torch.tensor([[0.5], [0.5], [0.5]])
    d = torch.tensor([[0.0], [1.0], [0.0]])  # the episode ends after step 1
    last = torch.tensor([2.0])
    adv, ret = gae(r, v, d, last, gamma=0.9, lam=0.5)
    d2 = 1.0 + 0.9 * 2.0 - 0.5
    d1 = 1.0 - 0.5
    d0 = 1.0 + 0.9 * 0.5 - 0.5
    assert adv[2, 0].item() == pytest.approx(d2)
    assert adv[1, 0].item() == pytest.approx(d1)
    assert adv[0, 0].item() == pytest.approx(d0 + 0.9 * 0.5 * d1)
    assert torch.allclose(ret, adv + v)


def test_minibatch_size_is_batch_size_until_the_cap():
    assert minibatch_size(4096, 64) == 64
    assert minibatch_size(100, 64) == 64
    assert minibatch_size(64 * 64 * 4, 64) == 256


@pytest.mark.parametrize("kind", ["discrete", "continuous"])
def test_ppo_update_learns_a_contextual_bandit(kind):
    """The right action depends on the sign of the first observation; PPO must find it."""
    torch.manual_seed(0)
    net = PolicyNet(network_config("state", (4,), kind, 2 if kind == "discrete" else 2))
    hp = Hyperparameters(num_epochs=4, lr=0.003)
    opt = make_optimizer(net, hp)

    def reward(obs, act):
        want = (obs[:, 0] > 0)
        if kind == "discrete":
            return (act == want.long()).float()
        return -(act[:, 0].clamp(-1, 1) - (want.float() * 2 - 1)).abs()

    def score():
        obs = torch.randn(2000, 4)
        with torch.no_grad():
            out, _ = net(obs)
            act = out.argmax(-1) if kind == "discrete" else out
        return reward(obs, act).mean().item()

    before = score()
    for _ in range(15):
        obs = torch.randn(512, 4)
        net.update_obs_stats(obs)
        with torch.no_grad():
            out, value = net(obs)
            dist = net.distribution(out)
            act = dist.sample()
            logp, _ = net.log_prob_entropy(out, act)
        r = reward(obs, act)
        batch = {"obs": obs, "actions": act, "logp": logp, "advantages": r - value, "returns": r}
        stats = ppo_update(net, opt, batch, hp)
    after = score()
    assert after > before + 0.2, (before, after)
    assert math.isfinite(stats["value_loss"]) and stats["entropy"] > 0


def test_value_loss_types_both_fit():
    torch.manual_seed(1)
    for loss in ("huber", "mean squared error"):
        net = PolicyNet(network_config("state", (3,), "discrete", 3))
        hp = Hyperparameters(loss_type=loss, num_epochs=20, lr=0.003, beta_entropy=0.0)
        opt = make_optimizer(net, hp)
        obs = torch.randn(256, 3)
        target = obs[:, 0] * 2.0
        with torch.no_grad():
            out, _ = net(obs)
            act = net.distribution(out).sample()
            logp, _ = net.log_prob_entropy(out, act)
        batch = {"obs": obs, "actions": act, "logp": logp, "advantages": torch.zeros(256), "returns": target}
        first = ppo_update(net, opt, {**batch}, Hyperparameters(loss_type=loss, num_epochs=1, lr=0.003))["value_loss"]
        last = ppo_update(net, opt, batch, hp)["value_loss"]
        assert last < first * 0.5, (loss, first, last)


def test_shallow_cnn_shapes():
    cfg = network_config("camera", (120, 160), "discrete", 10, stack_size=2)
    net = PolicyNet(cfg)
    convs = [m for m in net.trunk if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [(32, 8, 4), (64, 4, 2), (64, 3, 1)]
    assert [m for m in net.trunk if isinstance(m, torch.nn.Linear)][0].out_features == 512
    obs = np.random.default_rng(0).integers(0, 255, size=(3, 2, 120, 160), dtype=np.uint8)
    out, value = net(net.prepare(obs))
    assert out.shape == (3, 10) and value.shape == (3,)
    assert net.act(obs).shape == (3,)


def test_deep_camera_network_has_batch_norm_and_dropout_and_trains_in_train_mode():
    cfg = network_config("camera", (120, 160), "discrete", 5, neural_network="DEEP_CONVOLUTIONAL_NETWORK_DEEP")
    net = PolicyNet(cfg).eval()
    convs = [m for m in net.trunk if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [(32, 8, 4), (32, 4, 2), (64, 4, 2), (64, 3, 1)]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.trunk) == 4
    assert [m.out_features for m in net.trunk if isinstance(m, torch.nn.Linear)] == [512, 512]
    assert [m.p for m in net.trunk if isinstance(m, torch.nn.Dropout)] == [0.5, 0.5]
    obs = np.random.default_rng(1).integers(0, 255, size=(6, 120, 160), dtype=np.uint8)
    with torch.no_grad():
        first, _ = net(net.prepare(obs))
        again, _ = net(net.prepare(obs))
    assert torch.equal(first, again), "rollouts (eval mode) must be deterministic: no dropout"
    batch = {"obs": torch.from_numpy(obs), "actions": torch.arange(6) % 5, "logp": torch.full((6,), -1.6),
             "advantages": torch.randn(6), "returns": torch.randn(6)}
    before = [p.detach().clone() for p in net.parameters()]
    stats = ppo_update(net, make_optimizer(net, Hyperparameters(batch_size=3, num_epochs=2)), batch,
                       Hyperparameters(batch_size=3, num_epochs=2))
    assert not net.training and math.isfinite(stats["policy_loss"])
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_frame_stack():
    fs = FrameStack(3)
    a = np.arange(4, dtype=np.float32).reshape(2, 2)
    out = fs.reset(a)
    assert out.shape == (2, 6) and np.array_equal(out[0], [0, 1, 0, 1, 0, 1])
    out = fs.push(a + 10)
    assert np.array_equal(out[1], [2, 3, 2, 3, 12, 13])
    out = fs.reset(a + 100, np.array([True, False]))
    assert np.array_equal(out[0], [100, 101] * 3) and np.array_equal(out[1], [2, 3, 2, 3, 12, 13])


def test_two_iterations_on_reinvent_base_write_a_model(tmp_path, examples):
    from openmaker.racer.model import load_model
    from openmaker.racer.ppo import train

    rows = []
    out = train("reinvent_base", examples / "follow_centerline.py", examples / "model_metadata.json", iterations=2,
                out_dir=tmp_path / "m", n_cars=8, rollout_steps=16, progress=False, seed=3,
                hyperparameters=Hyperparameters(num_epochs=2, num_episodes_between_training=4),
                on_iteration=rows.append)
    assert len(rows) == 2
    for name in ("model_metadata.json", "model_config.json", "policy.safetensors", "reward_function.py",
                 "hyperparameters.json", "training_metrics.csv"):
        assert (out / name).is_file(), name
    assert (out / "last" / "policy.safetensors").is_file()
    assert (out / "model_metadata.json").read_bytes() == (examples / "model_metadata.json").read_bytes()
    assert (out / "reward_function.py").read_bytes() == (examples / "follow_centerline.py").read_bytes()
    with open(out / "training_metrics.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [int(r["iteration"]) for r in table] == [1, 2]
    assert all(int(r["episodes"]) >= 4 for r in table)
    assert {"mean_reward", "mean_progress", "completion_pct", "best_lap_time", "mean_lap_time", "elapsed_s"} <= set(table[0])
    assert Hyperparameters.load(out / "hyperparameters.json").num_epochs == 2
    model = load_model(out)
    assert model.observation == "state"
    assert (out / "training_metrics.png").is_file()


def test_camera_and_continuous_training_runs(tmp_path, examples):
    """One short iteration each: the SHALLOW CNN on camera frames (stacked), and a continuous action space."""
    from openmaker.racer.evaluate import evaluate
    from openmaker.racer.model import load_model
    from openmaker.racer.ppo import train

    hp = Hyperparameters(num_epochs=1, num_episodes_between_training=2, stack_size=2)
    cam = train("reinvent_base", examples / "follow_centerline.py", examples / "model_metadata.json", iterations=1,
                out_dir=tmp_path / "cam", n_cars=4, rollout_steps=8, observation="camera", progress=False,
                hyperparameters=hp)
    model = load_model(cam)
    assert model.observation == "camera" and model.config["network"] == "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
    assert model.config["obs_shape"] == [2, 120, 160]
    result = evaluate(cam, "reinvent_base", laps=1, max_resets=1)
    assert result["resets"] <= 1 and result["laps"]
    meta = tmp_path / "continuous.json"
    meta.write_text(json.dumps({"action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 1, "high": 2}},
                                "action_space_type": "continuous", "training_algorithm": "clipped_ppo",
                                "sensor": ["FRONT_FACING_CAMERA"], "version": "5"}))
    cont = train("reinvent_base", examples / "follow_centerline.py", meta, iterations=1, out_dir=tmp_path / "cont",
                 n_cars=8, rollout_steps=16, progress=False, hyperparameters=Hyperparameters(num_epochs=1))
    model = load_model(cont)
    assert model.config["action_kind"] == "continuous" and "log_std" in dict(model.net.named_parameters())
    trace = evaluate(cont, "reinvent_base", laps=1, max_resets=2, trace=True)["trace"]
    assert np.all((trace["cmd_speed"] >= 1.0) & (trace["cmd_speed"] <= 2.0))


def test_train_argument_errors(tmp_path, examples):
    from openmaker.racer.ppo import train

    args = ("reinvent_base", examples / "follow_centerline.py", examples / "model_metadata.json")
    with pytest.raises(RacerError, match="minutes"):
        train(*args, out_dir=tmp_path / "x")
    with pytest.raises(RacerError, match="unknown observation"):
        train(*args, out_dir=tmp_path / "x", iterations=1, observation="lidar")
    with pytest.raises(RacerError, match="unknown track"):
        train("nowhere", *args[1:], out_dir=tmp_path / "x", iterations=1)


def test_six_iterations_learn_to_drive_a_lap(tmp_path, examples):
    """End to end: an untrained policy leaves the track within 40 % of a lap (greedy); six PPO iterations
    (64 cars, about 25k steps) with the centre-line reward drive a full lap without a reset."""
    from openmaker.racer.evaluate import evaluate
    from openmaker.racer.model import save_model
    from openmaker.racer.ppo import train
    from openmaker.racer.actions import load_action_space

    space = load_action_space(examples / "model_metadata.json")
    torch.manual_seed(1)
    untrained = save_model(tmp_path / "untrained", PolicyNet(network_config("state", (23,), "discrete", space.n)), space,
                           examples / "follow_centerline.py")
    before = evaluate(untrained, "reinvent_base", laps=1, max_resets=0)
    assert before["completed_laps"] == 0 and before["laps"][0]["progress"] < 60
    out = train("reinvent_base", examples / "follow_centerline.py", space, iterations=6, out_dir=tmp_path / "m",
                progress=False, seed=1)
    after = evaluate(out, "reinvent_base", laps=1, max_resets=10)
    assert after["completed_laps"] == 1 and after["off_track"] == 0, after
