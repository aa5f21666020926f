"""Clipped PPO for the racer: DeepRacer's hyperparameters, its networks, batched over the vectorised cars.

DeepRacer trains with Intel RL Coach's Clipped PPO: clip ε 0.2, GAE λ 0.95, Adam (ε 1e-5, β2 0.999),
"categorical" exploration (sample from the policy), a value loss that is Huber or mean squared error.
The hyperparameters keep DeepRacer's names and defaults and are read and written as
``hyperparameters.json`` (:class:`Hyperparameters`).

Networks (:class:`PolicyNet`):

* ``state`` observation: two separate MLPs (policy and value), 2 x 128 tanh, on running-normalised
  observations (the running mean and variance are saved with the weights);
* ``camera`` observation: DeepRacer's ``DEEP_CONVOLUTIONAL_NETWORK_SHALLOW`` (Conv 32 8x8 s4, 64 4x4 s2,
  64 3x3 s1, ReLU, Dense 512) or ``DEEP_CONVOLUTIONAL_NETWORK`` (Conv 32 5x5 s2, 32 3x3 s1, 64 3x3 s2,
  64 3x3 s1, Dense 64 tanh), shared by a policy head and a value head, as in Coach.

Discrete action spaces use a categorical policy over the action indices; continuous ones a diagonal
Gaussian in [-1, 1]² (the sample is clipped to [-1, 1] and rescaled to [low, high] by the action space).

How an iteration maps onto the vectorised cars (DeepRacer semantics first, speed second):

* An *iteration* is DeepRacer's "``num_episodes_between_training`` episodes, then ``num_epochs`` of
  minibatch SGD". All ``n_cars`` cars drive at once in chunks of ``rollout_steps`` steps; after each chunk
  the iteration stops collecting when at least ``num_episodes_between_training`` episodes finished (counted
  over all cars) or when it holds at least 10,000 steps (SageMaker's per-iteration cap). Episodes still
  running at the end are cut there and bootstrapped with the value estimate (they continue into the next
  iteration under the new policy), so no step is thrown away.
* ``batch_size`` is the minibatch size, as in DeepRacer, as long as that gives at most
  :data:`MAX_MINIBATCHES` minibatches per epoch; a bigger batch of experience is split into
  :data:`MAX_MINIBATCHES` larger minibatches instead (the cost of an update stays bounded however many
  cars drive). With the defaults (64 cars x 64 steps = 4,096 steps) that is exactly 64 x 64.
* Episodes start where DeepRacer's round robin puts them (each one 5 % further round the lap).
* Rewards come from the user's ``reward_function(params)`` once per car and step, with the exact params
  dict of the simulator. For learning they are divided by a running standard deviation of the discounted
  return (the reported metrics are the raw rewards): reward functions range from 1e-3 to 1e3 per step and
  the value loss (Huber in DeepRacer) would otherwise be far off its quadratic range.
* Episodes that end on the step limit (``time_up``) are bootstrapped, the others (lap complete, off track,
  reversed, immobilized) are terminal.
* Gradients are clipped to a norm of 0.5 (not in Coach; it keeps a 10-epoch update stable).
* torch runs 1 thread for the ``state`` MLP (a second thread gains nothing on a network this small, and on
  a busy 2-core machine two spinning OpenMP threads made an update 10x slower) and 2 for the camera CNN;
  ``train(threads=...)`` / ``--threads`` overrides.

Checkpoints: after every iteration the latest weights go to ``OUT/last/`` and, when the iteration's mean
progress is the best so far (DRfC's ``best_model_metric=progress``; at equal progress the faster mean lap
time wins), to ``OUT/`` itself: ``OUT`` is always a complete model directory (:mod:`openmaker.racer.model`).
``OUT/training_metrics.csv`` gets one row per iteration and ``training_metrics.png`` is redrawn every 30 s.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
from torch import nn

from openmaker.racer.errors import RacerError

CLIP_EPSILON = 0.2
GAE_LAMBDA = 0.95
ADAM_EPSILON = 1e-5
ADAM_BETAS = (0.9, 0.999)
VALUE_COEF = 0.5
MAX_GRAD_NORM = 0.5
MAX_MINIBATCHES = 64
MAX_STEPS_PER_ITERATION = 10_000
HIDDEN = (128, 128)

LOSS_TYPES = {"huber": "huber", "mean squared error": "mean squared error", "mean_squared_error": "mean squared error", "mse": "mean squared error"}
EXPLORATION_TYPES = {"categorical": "categorical", "e-greedy": "e-greedy", "e_greedy": "e-greedy", "egreedy": "e-greedy"}
CAMERA_NETWORKS = ("DEEP_CONVOLUTIONAL_NETWORK_SHALLOW", "DEEP_CONVOLUTIONAL_NETWORK", "DEEP_CONVOLUTIONAL_NETWORK_DEEP")

METRIC_COLUMNS = ("iteration", "episodes", "steps", "mean_reward", "mean_progress", "completion_pct", "best_lap_time",
                  "mean_lap_time", "elapsed_s", "total_steps", "entropy", "value_loss")


# --- hyperparameters ----------------------------------------------------------------------------


@dataclass
class Hyperparameters:
    """DeepRacer's training hyperparameters, with the simulation app's defaults (``hyperparameters.json``).

    ``sac_alpha`` is accepted because DRfC's files carry it; PPO does not use it.
    ``term_cond_max_episodes`` stops training after that many episodes, ``term_cond_avg_score`` when an
    iteration's mean episode reward reaches it.
    """

    batch_size: int = 64
    beta_entropy: float = 0.01
    discount_factor: float = 0.999
    e_greedy_value: float = 0.05
    epsilon_steps: int = 10000
    exploration_type: str = "categorical"
    loss_type: str = "huber"
    lr: float = 0.0003
    num_episodes_between_training: int = 20
    num_epochs: int = 10
    stack_size: int = 1
    term_cond_avg_score: float = 100000.0
    term_cond_max_episodes: int = 100000
    sac_alpha: float = 0.2

    def __post_init__(self) -> None:
        self.validate()

    def validate(self, source: str = "hyperparameters") -> "Hyperparameters":
        def bad(name: str, why: str) -> RacerError:
            return RacerError(f"{source}: {name} {why} (got {getattr(self, name)!r})")

        ints = ("batch_size", "epsilon_steps", "num_episodes_between_training", "num_epochs", "stack_size", "term_cond_max_episodes")
        floats = ("beta_entropy", "discount_factor", "e_greedy_value", "lr", "term_cond_avg_score", "sac_alpha")
        for name in ints:
            value = getattr(self, name)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad(name, "must be an integer")
            setattr(self, name, value)
        for name in floats:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise bad(name, "must be a finite number")
            setattr(self, name, float(value))
        for name in ("batch_size", "num_episodes_between_training", "num_epochs", "stack_size", "term_cond_max_episodes"):
            if getattr(self, name) < 1:
                raise bad(name, "must be at least 1")
        if self.epsilon_steps < 0:
            raise bad("epsilon_steps", "must not be negative")
        if not 0.0 < self.discount_factor <= 1.0:
            raise bad("discount_factor", "must be in (0, 1]")
        if not 0.0 < self.lr < 1.0:
            raise bad("lr", "must be in (0, 1)")
        if self.beta_entropy < 0:
            raise bad("beta_entropy", "must not be negative")
        if not 0.0 <= self.e_greedy_value <= 1.0:
            raise bad("e_greedy_value", "must be in [0, 1]")
        if not isinstance(self.loss_type, str) or self.loss_type.strip().lower() not in LOSS_TYPES:
            raise bad("loss_type", "must be 'huber' or 'mean squared error'")
        self.loss_type = LOSS_TYPES[self.loss_type.strip().lower()]
        if not isinstance(self.exploration_type, str) or self.exploration_type.strip().lower() not in EXPLORATION_TYPES:
            raise bad("exploration_type", "must be 'categorical' or 'e-greedy'")
        self.exploration_type = EXPLORATION_TYPES[self.exploration_type.strip().lower()]
        return self

    @classmethod
    def from_dict(cls, data: Any, source: str = "hyperparameters") -> "Hyperparameters":
        if not isinstance(data, dict):
            raise RacerError(f"{source}: expected a JSON object of hyperparameters, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RacerError(f"{source}: unknown hyperparameter {unknown[0]!r} (known: {', '.join(sorted(known))})")
        obj = cls.__new__(cls)
        for f in dataclasses.fields(cls):
            setattr(obj, f.name, data.get(f.name, f.default))
        return obj.validate(source)

    @classmethod
    def load(cls, path: str | Path) -> "Hyperparameters":
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RacerError(f"{path}: cannot read: {exc.strerror or exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RacerError(f"{path}: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        return cls.from_dict(data, str(path))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path


# --- networks -------------------------------------------------------------------------------------


def network_config(observation: str, obs_shape: Sequence[int], action_kind: str, n_actions: int, *,
                   neural_network: str = "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW", stack_size: int = 1,
                   hidden: Sequence[int] = HIDDEN) -> dict:
    """The architecture as saved in ``model_config.json`` (everything needed to rebuild the network)."""
    if observation not in ("state", "camera"):
        raise RacerError(f"unknown observation {observation!r} (state or camera)")
    if action_kind not in ("discrete", "continuous"):
        raise RacerError(f"unknown action space type {action_kind!r} (discrete or continuous)")
    if observation == "state":
        network = "mlp"
        shape = [int(stack_size) * int(np.prod(obs_shape))]
    else:
        if neural_network not in CAMERA_NETWORKS:
            raise RacerError(f"unknown neural_network {neural_network!r} (known: {', '.join(CAMERA_NETWORKS)})")
        network = neural_network
        shape = [int(stack_size), *[int(v) for v in obs_shape[-2:]]]
    return {
        "format": 1,
        "observation": observation,
        "network": network,
        "obs_shape": shape,
        "stack_size": int(stack_size),
        "hidden": [int(h) for h in hidden],
        "action_kind": action_kind,
        "n_actions": int(n_actions) if action_kind == "discrete" else 2,
    }


def _mlp(sizes: Sequence[int], out: int, out_gain: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        lin = nn.Linear(a, b)
        nn.init.orthogonal_(lin.weight, math.sqrt(2))
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.Tanh()]
    head = nn.Linear(sizes[-1], out)
    nn.init.orthogonal_(head.weight, out_gain)
    nn.init.zeros_(head.bias)
    layers.append(head)
    return nn.Sequential(*layers)


def _dense(a: int, b: int) -> nn.Linear:
    lin = nn.Linear(a, b)
    nn.init.orthogonal_(lin.weight, math.sqrt(2))
    nn.init.zeros_(lin.bias)
    return lin


def _conv_trunk(network: str, channels: int, height: int, width: int) -> tuple[nn.Sequential, int]:
    """The camera embedder of DeepRacer's simulation app for ``network`` (its scheme: convolutions as
    (filters, kernel, stride), then dense layers); DEEP adds batch norm after each convolution and
    dropout 0.5 after each of its two 512-unit dense layers."""
    batch_norm, dropout = False, 0.0
    if network == "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW":
        convs, dense, act = [(32, 8, 4), (64, 4, 2), (64, 3, 1)], [512], nn.ReLU
    elif network == "DEEP_CONVOLUTIONAL_NETWORK":
        convs, dense, act = [(32, 5, 2), (32, 3, 1), (64, 3, 2), (64, 3, 1)], [64], nn.Tanh
    else:  # DEEP_CONVOLUTIONAL_NETWORK_DEEP
        convs, dense, act = [(32, 8, 4), (32, 4, 2), (64, 4, 2), (64, 3, 1)], [512, 512], nn.ReLU
        batch_norm, dropout = True, 0.5
    layers: list[nn.Module] = []
    c, h, w = channels, height, width
    for out, k, s in convs:
        conv = nn.Conv2d(c, out, k, s)
        nn.init.orthogonal_(conv.weight, math.sqrt(2))
        nn.init.zeros_(conv.bias)
        layers += [conv, nn.BatchNorm2d(out), nn.ReLU()] if batch_norm else [conv, nn.ReLU()]
        c, h, w = out, (h - k) // s + 1, (w - k) // s + 1
    layers.append(nn.Flatten())
    size = c * h * w
    for units in dense:
        layers += [_dense(size, units), act()] + ([nn.Dropout(dropout)] if dropout else [])
        size = units
    return nn.Sequential(*layers), size


class PolicyNet(nn.Module):
    """Policy and value networks of one model; ``forward(obs) -> (logits or mean, value)``."""

    def __init__(self, config: dict):
        super().__init__()
        self.config = dict(config)
        self.observation = config["observation"]
        self.action_kind = config["action_kind"]
        self.n_actions = int(config["n_actions"])
        self.obs_shape = tuple(int(v) for v in config["obs_shape"])
        hidden = [int(h) for h in config.get("hidden", HIDDEN)]
        if self.observation == "state":
            d = self.obs_shape[0]
            self.pi = _mlp([d, *hidden], self.n_actions, 0.01)
            self.v = _mlp([d, *hidden], 1, 1.0)
            self.register_buffer("obs_mean", torch.zeros(d))
            self.register_buffer("obs_var", torch.ones(d))
            self.register_buffer("obs_count", torch.tensor(1e-4, dtype=torch.float64))
        else:
            self.trunk, dense = _conv_trunk(config["network"], *self.obs_shape)
            self.pi = _mlp([dense], self.n_actions, 0.01)
            self.v = _mlp([dense], 1, 1.0)
        if self.action_kind == "continuous":
            self.log_std = nn.Parameter(torch.full((self.n_actions,), -0.5))

    def prepare(self, obs) -> torch.Tensor:
        """Observations as the network takes them (float32; images scaled to [0, 1])."""
        if not isinstance(obs, torch.Tensor):
            obs = torch.from_numpy(np.ascontiguousarray(obs))
        if self.observation == "camera":
            obs = obs.to(torch.float32) / 255.0
            if obs.dim() == 3:  # (n, H, W): stack size 1
                obs = obs.unsqueeze(1)
            return obs
        return obs.to(torch.float32).reshape(obs.shape[0], -1)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        if self.observation != "state":
            return x
        return torch.clamp((x - self.obs_mean) / torch.sqrt(self.obs_var + 1e-8), -10.0, 10.0)

    @torch.no_grad()
    def update_obs_stats(self, x: torch.Tensor) -> None:
        """Running mean and variance of the state observations (Welford over batches)."""
        if self.observation != "state":
            return
        x = x.to(torch.float64)
        b_mean, b_var, b_n = x.mean(0), x.var(0, unbiased=False), x.shape[0]
        mean, var, n = self.obs_mean.double(), self.obs_var.double(), self.obs_count
        tot = n + b_n
        delta = b_mean - mean
        new_mean = mean + delta * b_n / tot
        m2 = var * n + b_var * b_n + delta.pow(2) * n * b_n / tot
        self.obs_mean.copy_(new_mean.float())
        self.obs_var.copy_((m2 / tot).float())
        self.obs_count.copy_(tot)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.normalise(x)
        if self.observation == "camera":
            x = self.trunk(x)
        return self.pi(x), self.v(x).squeeze(-1)

    def distribution(self, out: torch.Tensor):
        if self.action_kind == "discrete":
            return torch.distributions.Categorical(logits=out)
        return torch.distributions.Normal(out, self.log_std.exp().expand_as(out))

    def log_prob_entropy(self, out: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dist = self.distribution(out)
        if self.action_kind == "discrete":
            return dist.log_prob(actions), dist.entropy()
        return dist.log_prob(actions).sum(-1), dist.entropy().sum(-1)

    @torch.no_grad()
    def act(self, obs, greedy: bool = True) -> np.ndarray:
        """Actions for a batch of observations: indices (n,) or values in [-1, 1] (n, 2)."""
        out, _ = self(self.prepare(obs))
        if self.action_kind == "discrete":
            a = out.argmax(-1) if greedy else self.distribution(out).sample()
            return a.numpy()
        a = out if greedy else self.distribution(out).sample()
        return a.clamp(-1.0, 1.0).numpy().astype(np.float64)


# --- the PPO update --------------------------------------------------------------------------------


def gae(rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor, last_value: torch.Tensor,
        gamma: float, lam: float = GAE_LAMBDA) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over a (T, n) rollout; ``dones[t]`` ends the episode after step t."""
    T = rewards.shape[0]
    adv = torch.zeros_like(rewards)
    last = torch.zeros_like(last_value)
    next_value = last_value
    for t in range(T - 1, -1, -1):
        nonterminal = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_value * nonterminal - values[t]
        last = delta + gamma * lam * nonterminal * last
        adv[t] = last
        next_value = values[t]
    return adv, adv + values


def minibatch_size(samples: int, batch_size: int, max_minibatches: int = MAX_MINIBATCHES) -> int:
    """DeepRacer's ``batch_size`` unless that makes more than ``max_minibatches`` minibatches per epoch."""
    return max(int(batch_size), math.ceil(samples / max_minibatches))


def ppo_update(net: PolicyNet, optimizer: torch.optim.Optimizer, batch: dict, hp: Hyperparameters, *,
               generator: Optional[torch.Generator] = None, max_minibatches: int = MAX_MINIBATCHES) -> dict:
    """``num_epochs`` passes of clipped-PPO minibatch SGD over one batch of experience.

    ``batch``: obs (as :meth:`PolicyNet.prepare` takes them: camera frames stay uint8 until a minibatch needs
    them), actions, logp (behaviour log-probabilities), advantages, returns (all first-dim aligned).
    Returns the mean losses of the last epoch and the mean entropy.
    """
    net.train()  # batch norm and dropout (DEEP network) learn here; rollouts run in eval mode
    try:
        return _ppo_epochs(net, optimizer, batch, hp, generator, max_minibatches)
    finally:
        net.eval()


def _ppo_epochs(net: PolicyNet, optimizer: torch.optim.Optimizer, batch: dict, hp: Hyperparameters,
                generator: Optional[torch.Generator], max_minibatches: int) -> dict:
    obs, actions, old_logp = batch["obs"], batch["actions"], batch["logp"]
    advantages, returns = batch["advantages"], batch["returns"]
    n = obs.shape[0]
    mb = minibatch_size(n, hp.batch_size, max_minibatches)
    huber = hp.loss_type == "huber"
    stats = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "clip_fraction": 0.0}
    for epoch in range(hp.num_epochs):
        perm = torch.randperm(n, generator=generator)
        sums = {k: 0.0 for k in stats}
        count = 0
        for start in range(0, n, mb):
            idx = perm[start:start + mb]
            out, value = net(net.prepare(obs[idx]))
            logp, entropy = net.log_prob_entropy(out, actions[idx])
            adv = advantages[idx]
            if adv.numel() > 1:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            ratio = torch.exp(logp - old_logp[idx])
            pg_loss = -torch.min(ratio * adv, torch.clamp(ratio, 1 - CLIP_EPSILON, 1 + CLIP_EPSILON) * adv).mean()
            if huber:
                v_loss = nn.functional.smooth_l1_loss(value, returns[idx])
            else:
                v_loss = nn.functional.mse_loss(value, returns[idx])
            ent = entropy.mean()
            loss = pg_loss + VALUE_COEF * v_loss - hp.beta_entropy * ent
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), MAX_GRAD_NORM)
            optimizer.step()
            with torch.no_grad():
                sums["policy_loss"] += float(pg_loss)
                sums["value_loss"] += float(v_loss)
                sums["entropy"] += float(ent)
                sums["clip_fraction"] += float(((ratio - 1).abs() > CLIP_EPSILON).float().mean())
            count += 1
        stats = {k: v / max(count, 1) for k, v in sums.items()}
    return stats


def make_optimizer(net: PolicyNet, hp: Hyperparameters) -> torch.optim.Optimizer:
    return torch.optim.Adam(net.parameters(), lr=hp.lr, betas=ADAM_BETAS, eps=ADAM_EPSILON)


# --- rollouts ----------------------------------------------------------------------------------------


class FrameStack:
    """The last ``k`` observations of every car (DeepRacer's ``stack_size``); k = 1 passes through."""

    def __init__(self, k: int):
        self.k = int(k)
        self.frames: Optional[np.ndarray] = None

    def reset(self, obs: np.ndarray, mask: Optional[np.ndarray] = None) -> np.ndarray:
        if self.k == 1:
            return obs
        if self.frames is None or mask is None:
            self.frames = np.repeat(obs[:, None], self.k, axis=1)
        else:
            self.frames[mask] = obs[mask][:, None]
        return self.view()

    def push(self, obs: np.ndarray) -> np.ndarray:
        if self.k == 1:
            return obs
        self.frames = np.concatenate([self.frames[:, 1:], obs[:, None]], axis=1)
        return self.view()

    def view(self) -> np.ndarray:
        f = self.frames
        return f.reshape(f.shape[0], -1) if f.ndim == 3 else f


class RunningReturnStd:
    """Running standard deviation of the discounted return, to scale rewards for learning."""

    def __init__(self, n: int, gamma: float):
        self.ret = np.zeros(n)
        self.gamma = gamma
        self.mean, self.var, self.count = 0.0, 1.0, 1e-4

    def update(self, rewards: np.ndarray, dones: np.ndarray) -> None:
        self.ret = self.ret * self.gamma + rewards
        b_mean, b_var, b_n = float(self.ret.mean()), float(self.ret.var()), self.ret.size
        tot = self.count + b_n
        delta = b_mean - self.mean
        self.mean += delta * b_n / tot
        self.var = (self.var * self.count + b_var * b_n + delta ** 2 * self.count * b_n / tot) / tot
        self.count = tot
        self.ret[dones] = 0.0

    @property
    def std(self) -> float:
        return math.sqrt(self.var) + 1e-8


def _epsilon(hp: Hyperparameters, total_steps: int) -> float:
    """Coach's e-greedy schedule: linear from 1.0 to ``e_greedy_value`` over ``epsilon_steps``."""
    if hp.epsilon_steps <= 0:
        return hp.e_greedy_value
    frac = min(1.0, total_steps / hp.epsilon_steps)
    return 1.0 + frac * (hp.e_greedy_value - 1.0)


def _rewards(reward_fn: Callable, params: list) -> np.ndarray:
    """One reward per params dict, under the reward module's time limit and float/range checks."""
    from openmaker.racer.reward import call_batch

    return np.asarray(call_batch(reward_fn, params), dtype=np.float64)


# --- training ----------------------------------------------------------------------------------------


def _resolve_inputs(track, reward_fn, action_space):
    from openmaker.racer.actions import ActionSpace, load_action_space
    from openmaker.racer.tracks import load_track

    if isinstance(track, (str, Path)):
        track = load_track(str(track))
    if isinstance(reward_fn, (str, Path)):
        from openmaker.racer.reward import load_reward

        reward_fn = load_reward(reward_fn)
    if isinstance(action_space, (str, Path)):
        action_space = load_action_space(action_space)
    elif isinstance(action_space, dict):
        raise RacerError("pass an ActionSpace or a model_metadata.json path, not a dict")
    if not isinstance(action_space, ActionSpace):
        raise RacerError(f"not an action space: {action_space!r}")
    return track, reward_fn, action_space


class _Progress:
    """A Rich progress bar over time (``--minutes``) or iterations, or nothing."""

    def __init__(self, enabled: bool, seconds: Optional[float], iterations: Optional[int]):
        self.bar = None
        if not enabled:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.by_time = seconds is not None
        total = seconds if self.by_time else iterations
        self.bar = Progress(TextColumn("[bold]training"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                            TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.description}"), transient=False)
        self.bar.start()
        self.task = self.bar.add_task("", total=total)

    def update(self, elapsed: float, iteration: int, row: dict) -> None:
        if self.bar is None:
            return
        desc = (f"it {iteration}  progress {row['mean_progress']:.1f}%  laps {row['completion_pct']:.0f}%"
                + (f"  best lap {row['best_lap_time']:.2f}s" if row["best_lap_time"] != "" else ""))
        self.bar.update(self.task, completed=elapsed if self.by_time else iteration, description=desc)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return "" if math.isnan(v) else round(v, 4)
    return v


def train(track, reward_fn, action_space, *, minutes: Optional[float] = None, out_dir: str | Path,
          hyperparameters: Optional[Hyperparameters | str | Path | dict] = None, n_cars: int = 64,
          observation: str = "state", seed: Optional[int] = 0, progress: bool = True,
          iterations: Optional[int] = None, rollout_steps: int = 64, threads: Optional[int] = None,
          max_steps: int = 10_000, on_iteration: Optional[Callable[[dict], None]] = None) -> Path:
    """Train a policy with clipped PPO; returns ``out_dir`` (a complete model directory, the best iteration).

    ``track``: a Track or its name; ``reward_fn``: a RewardFunction or the path of a reward file;
    ``action_space``: an ActionSpace or the path of a model_metadata.json. Stops after ``minutes`` of
    wall-clock time, after ``iterations`` iterations, or on DeepRacer's termination conditions, whichever
    comes first (at least one of ``minutes`` and ``iterations`` is required). ``threads``: torch threads
    (default 1 for the ``state`` MLP, 2 for the camera CNN).
    """
    from openmaker.racer import model as model_mod
    from openmaker.racer.env import STATUSES, RaceSim

    if minutes is None and iterations is None:
        raise RacerError("give a time limit (minutes) or a number of iterations")
    if minutes is not None and not (minutes > 0):
        raise RacerError(f"minutes must be positive, not {minutes}")
    if iterations is not None and iterations < 1:
        raise RacerError(f"iterations must be at least 1, not {iterations}")
    if n_cars < 1:
        raise RacerError(f"the number of cars must be at least 1, not {n_cars}")
    if observation not in ("state", "camera"):
        raise RacerError(f"unknown observation {observation!r} (state or camera)")
    if hyperparameters is None:
        hp = Hyperparameters()
    elif isinstance(hyperparameters, Hyperparameters):
        hp = hyperparameters
    elif isinstance(hyperparameters, dict):
        hp = Hyperparameters.from_dict(hyperparameters)
    else:
        hp = Hyperparameters.load(hyperparameters)
    track, reward_fn, action_space = _resolve_inputs(track, reward_fn, action_space)
    # torch threads: the state MLP is too small to gain from a second thread, and on a busy 2-core machine two
    # spinning OpenMP threads made its update 10x slower (measured); the camera CNN uses 2.
    torch.set_num_threads(int(threads) if threads else (1 if observation == "state" else 2))
    if seed is not None:
        torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed if seed is not None else int(rng.integers(2**31)))

    sim = RaceSim(track, n_cars, observation=observation, training=True, max_steps=max_steps, seed=seed)
    time_up = STATUSES.index("time_up")
    lap_complete = STATUSES.index("lap_complete")
    first = sim.reset()
    obs_shape = first.shape[1:]
    config = network_config(observation, obs_shape, action_space.kind, getattr(action_space, "n", 2) or 2,
                            neural_network=getattr(action_space, "neural_network", "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"),
                            stack_size=hp.stack_size)
    net = PolicyNet(config).eval()  # rollouts in eval mode; ppo_update trains
    optimizer = make_optimizer(net, hp)
    out_dir = Path(out_dir)
    reward_path = getattr(reward_fn, "path", None)
    writer = model_mod.ModelWriter(out_dir, config, action_space, reward_path, hp, reward_source=_source_of(reward_fn))
    stack = FrameStack(hp.stack_size)
    obs = stack.reset(first)
    ret_std = RunningReturnStd(n_cars, hp.discount_factor)
    ep_reward = np.zeros(n_cars)
    discrete = action_space.kind == "discrete"
    e_greedy = hp.exploration_type == "e-greedy"

    t0 = time.monotonic()
    deadline = t0 + minutes * 60.0 if minutes is not None else math.inf
    bar = _Progress(progress, minutes * 60.0 if minutes is not None else None, iterations)
    rows: list[dict] = []
    best_key: Optional[tuple] = None
    total_steps = total_episodes = 0
    last_png = t0
    iteration = 0
    stop = False
    try:
        while not stop:
            iteration += 1
            buf_obs, buf_act, buf_logp, buf_val, buf_rew, buf_done = [], [], [], [], [], []
            episodes: list[tuple[float, float, bool, float]] = []  # (reward, progress, complete, lap_time)
            steps = 0
            while True:
                for _ in range(rollout_steps):
                    x = net.prepare(obs)
                    net.update_obs_stats(x)
                    with torch.no_grad():
                        out, value = net(x)
                        dist = net.distribution(out)
                        a = dist.sample()
                        if e_greedy:
                            eps = _epsilon(hp, total_steps + steps)
                            pick = torch.rand(n_cars, generator=gen) < eps
                            if pick.any():
                                if discrete:
                                    a[pick] = torch.randint(0, net.n_actions, (int(pick.sum()),), generator=gen)
                                else:
                                    a[pick] = torch.rand((int(pick.sum()), 2), generator=gen) * 2 - 1
                        logp = dist.log_prob(a) if discrete else dist.log_prob(a).sum(-1)
                    a_np = a.numpy() if discrete else a.clamp(-1.0, 1.0).numpy().astype(np.float64)
                    steering, speed = action_space.commands(a_np)
                    next_obs, done, status = sim.step(steering, speed)
                    raw = _rewards(reward_fn, sim.reward_params_batch())
                    ep_reward += raw
                    done = np.asarray(done, dtype=bool)
                    ret_std.update(raw, done)
                    r = raw / ret_std.std
                    truncated = done & (np.asarray(status) == time_up)
                    pushed = stack.push(next_obs)
                    if truncated.any():
                        with torch.no_grad():
                            _, v_tail = net(net.prepare(pushed[truncated]))
                        r = r.copy()
                        r[truncated] += hp.discount_factor * v_tail.numpy()
                    buf_obs.append(x if net.observation == "state" else torch.from_numpy(np.ascontiguousarray(obs)))
                    buf_act.append(a)
                    buf_logp.append(logp)
                    buf_val.append(value)
                    buf_rew.append(torch.as_tensor(r, dtype=torch.float32))
                    buf_done.append(torch.as_tensor(done, dtype=torch.float32))
                    steps += n_cars
                    if done.any():
                        for i in np.flatnonzero(done):
                            complete = int(status[i]) == lap_complete
                            episodes.append((float(ep_reward[i]), float(sim.progress[i]), complete,
                                             float(sim.lap_time[i]) if complete else math.nan))
                        ep_reward[done] = 0.0
                        fresh = _merge(next_obs, sim.reset(mask=done), done)
                        obs = stack.reset(fresh, done) if hp.stack_size > 1 else fresh
                    else:
                        obs = pushed
                if len(episodes) >= hp.num_episodes_between_training or steps >= MAX_STEPS_PER_ITERATION:
                    break
                if time.monotonic() > deadline:
                    break
            with torch.no_grad():
                _, last_value = net(net.prepare(obs))
            values = torch.stack(buf_val)
            adv, ret = gae(torch.stack(buf_rew), values, torch.stack(buf_done), last_value, hp.discount_factor)
            batch = {
                "obs": torch.cat(buf_obs),
                "actions": torch.cat(buf_act),
                "logp": torch.cat(buf_logp),
                "advantages": adv.reshape(-1),
                "returns": ret.reshape(-1),
            }
            stats = ppo_update(net, optimizer, batch, hp, generator=gen)
            total_steps += steps
            total_episodes += len(episodes)
            row = _metrics_row(iteration, episodes, steps, time.monotonic() - t0, total_steps, stats)
            rows.append(row)
            key = _best_key(row)
            writer.save_last(net)
            if key is not None and (best_key is None or key > best_key):
                best_key = key
                writer.save_best(net, iteration)
            writer.append_metrics(row)
            now = time.monotonic()
            if now - last_png > 30.0:
                writer.plot_metrics()
                last_png = now
            bar.update(now - t0, iteration, row)
            if on_iteration is not None:
                on_iteration(row)
            if iterations is not None and iteration >= iterations:
                stop = True
            if now >= deadline:
                stop = True
            if total_episodes >= hp.term_cond_max_episodes:
                stop = True
            if episodes and row["mean_reward"] >= hp.term_cond_avg_score:
                stop = True
    finally:
        bar.close()
    if best_key is None:  # no episode finished at all: keep the last weights as the model
        writer.save_best(net, iteration)
    writer.plot_metrics()
    return out_dir


def _merge(next_obs: np.ndarray, fresh: np.ndarray, done: np.ndarray) -> np.ndarray:
    """Observations after a step where the finished cars were reset: theirs from ``fresh``."""
    fresh = np.asarray(fresh)
    if fresh.shape == next_obs.shape:
        out = next_obs.copy()
        out[done] = fresh[done]
        return out
    return fresh


def _source_of(reward_fn) -> Optional[str]:
    source = getattr(reward_fn, "source", None)
    if isinstance(source, str):
        return source
    try:
        import inspect

        return inspect.getsource(reward_fn)
    except (OSError, TypeError):
        return None


def _metrics_row(iteration: int, episodes: list, steps: int, elapsed: float, total_steps: int, stats: dict) -> dict:
    if episodes:
        rewards = np.array([e[0] for e in episodes])
        progress = np.array([e[1] for e in episodes])
        laps = np.array([e[3] for e in episodes if e[2]])
        row = {
            "mean_reward": float(rewards.mean()),
            "mean_progress": float(progress.mean()),
            "completion_pct": 100.0 * len(laps) / len(episodes),
            "best_lap_time": float(laps.min()) if laps.size else math.nan,
            "mean_lap_time": float(laps.mean()) if laps.size else math.nan,
        }
    else:
        row = {"mean_reward": math.nan, "mean_progress": math.nan, "completion_pct": math.nan,
               "best_lap_time": math.nan, "mean_lap_time": math.nan}
    row = {"iteration": iteration, "episodes": len(episodes), "steps": steps, **row, "elapsed_s": elapsed,
           "total_steps": total_steps, "entropy": stats["entropy"], "value_loss": stats["value_loss"]}
    return {k: _fmt(row[k]) for k in METRIC_COLUMNS}


def _best_key(row: dict) -> Optional[tuple]:
    """DRfC's best_model_metric=progress; at equal (full) progress the faster mean lap wins."""
    if row["mean_progress"] == "":
        return None
    lap = row["mean_lap_time"]
    return (round(float(row["mean_progress"]), 1), -(float(lap) if lap != "" else math.inf))


def read_metrics(path: str | Path) -> list[dict]:
    """Rows of a ``training_metrics.csv`` with numbers as floats (empty cells as NaN)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise RacerError(f"{path}: cannot read: {exc.strerror or exc}") from None
    out = []
    for line, row in enumerate(rows, start=2):
        try:
            out.append({k: (float(v) if v not in ("", None) else math.nan) for k, v in row.items() if k})
        except ValueError as exc:
            raise RacerError(f"{path}: line {line}: {exc}") from None
    return out
