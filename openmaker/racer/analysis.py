"""Pictures of a model, as DeepRacer's log analysis draws them: PNGs only.

* :func:`plot_training`: the training curves of ``training_metrics.csv`` (mean episode reward, mean
  progress, completion %, best and mean lap time per iteration);
* :func:`plot_lap`: an evaluation run on the track, coloured by the car's speed;
* :func:`plot_actions`: the action distribution of a run (a bar per discrete action, or a 2-D histogram of
  steering x speed for a continuous space);
* :func:`plot_reward_heatmap`: the reward function over the track surface: cars placed on a grid of arc
  length x lateral offset, heading along the centre line at a given speed, one reward each;
* :func:`analyze`: all of them for a model directory (one evaluation lap with a trace).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional

import numpy as np

from openmaker.racer.errors import RacerError


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _draw_track(ax, track) -> None:
    from matplotlib.patches import Polygon as MplPolygon

    if track.is_loop:
        ax.add_patch(MplPolygon(track.outer, closed=True, facecolor="#d8d8d8", edgecolor="none", zorder=0))
        ax.add_patch(MplPolygon(track.inner, closed=True, facecolor="white", edgecolor="none", zorder=0))
    else:
        ax.add_patch(MplPolygon(np.vstack([track.outer, track.inner[::-1]]), closed=True, facecolor="#d8d8d8",
                                edgecolor="none", zorder=0))
    ax.plot(*track.outer.T, color="black", lw=1.0, zorder=1)
    ax.plot(*track.inner.T, color="black", lw=1.0, zorder=1)
    ax.plot(*track.center.T, color="#999999", lw=0.6, ls="--", zorder=1)
    ax.plot([track.inner[0, 0], track.outer[0, 0]], [track.inner[0, 1], track.outer[0, 1]], color="red", lw=2, zorder=2)
    ax.set_aspect("equal")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")


def _save(fig, path: Path) -> Path:
    plt = _plt()
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.tight_layout()
        fig.savefig(path)
    except OSError as exc:
        raise RacerError(f"{path}: cannot write: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
    return path


def plot_training(csv_path: str | Path, png_path: str | Path) -> Path:
    """Training curves from a ``training_metrics.csv``; RacerError when it holds no finished episode."""
    from openmaker.racer.ppo import read_metrics

    rows = [r for r in read_metrics(csv_path) if not math.isnan(r.get("mean_progress", math.nan))]
    if not rows:
        raise RacerError(f"{csv_path}: no training iteration with a finished episode yet")
    plt = _plt()
    minutes = np.array([r.get("elapsed_s", math.nan) for r in rows]) / 60.0
    if np.isnan(minutes).all():
        minutes = np.array([r["iteration"] for r in rows])
        xlabel = "iteration"
    else:
        xlabel = "training time (min)"

    def col(name):
        return np.array([r.get(name, math.nan) for r in rows], dtype=float)

    fig, axes = plt.subplots(2, 2, figsize=(11, 7), dpi=100, sharex=True)
    ax = axes[0, 0]
    ax.plot(minutes, col("mean_reward"), color="tab:blue", lw=1)
    ax.set_ylabel("mean episode reward")
    ax = axes[0, 1]
    ax.plot(minutes, col("mean_progress"), color="tab:green", lw=1)
    ax.set_ylabel("mean progress (%)")
    ax.set_ylim(0, 105)
    ax = axes[1, 0]
    ax.plot(minutes, col("completion_pct"), color="tab:purple", lw=1)
    ax.set_ylabel("episodes completing a lap (%)")
    ax.set_ylim(-2, 102)
    ax = axes[1, 1]
    best, mean = col("best_lap_time"), col("mean_lap_time")
    if np.isfinite(best).any():
        ax.plot(minutes, mean, ".", color="tab:orange", ms=3, label="mean lap")
        ax.plot(minutes, best, ".", color="tab:red", ms=3, label="best lap")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no lap completed yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylabel("training lap time (s)")
    for a in axes[1]:
        a.set_xlabel(xlabel)
    for a in axes.flat:
        a.grid(alpha=0.3)
    fig.suptitle(f"training: {int(rows[-1]['iteration'])} iterations, "
                 f"{int(np.nansum(col('episodes')))} episodes, {int(np.nansum(col('steps')))} steps")
    return _save(fig, Path(png_path))


def plot_lap(track, trace: dict, png_path: str | Path, *, title: Optional[str] = None) -> Path:
    """The path of a run (``trace`` with arrays x, y, speed; optional reset markers) coloured by speed."""
    from matplotlib.collections import LineCollection

    x, y, v = (np.asarray(trace[k], dtype=float) for k in ("x", "y", "speed"))
    if x.size < 2:
        raise RacerError("the trace is too short to draw")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 7), dpi=110)
    _draw_track(ax, track)
    pts = np.stack([x, y], axis=1)
    segs = np.stack([pts[:-1], pts[1:]], axis=1)
    resets = np.asarray(trace.get("reset", np.zeros(x.size, bool)), dtype=bool)
    keep = ~resets[1:]  # no line across a respawn
    lc = LineCollection(segs[keep], cmap="viridis", linewidths=2.5, zorder=3)
    lc.set_array(v[1:][keep])
    lc.set_clim(0.0, max(float(v.max()), 0.5))
    ax.add_collection(lc)
    if resets.any():
        ax.plot(x[resets], y[resets], "x", color="red", ms=8, mew=2, zorder=4, label="off track (respawn)")
        ax.legend(loc="best", fontsize=8)
    fig.colorbar(lc, ax=ax, label="speed (m/s)", shrink=0.8)
    ax.set_title(title or f"{track.official_name}: evaluation coloured by speed")
    return _save(fig, Path(png_path))


def plot_actions(trace: dict, action_space, png_path: str | Path, *, title: Optional[str] = None) -> Path:
    """How often each action was taken during a run."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 5), dpi=100)
    if action_space.kind == "discrete":
        actions = np.asarray(trace["action"], dtype=int).reshape(-1)
        counts = np.bincount(actions, minlength=action_space.n)
        labels = [f"{i}\n{action_space.steering[i]:g}°\n{action_space.speed[i]:g}" for i in range(action_space.n)]
        ax.bar(np.arange(action_space.n), counts, color="tab:blue")
        ax.set_xticks(np.arange(action_space.n))
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_xlabel("action (index, steering, speed m/s)")
        ax.set_ylabel("steps")
    else:
        steer = np.asarray(trace["steering"], dtype=float)
        speed = np.asarray(trace["cmd_speed"], dtype=float)
        h = ax.hist2d(steer, speed, bins=[24, 16], range=[[action_space.steering_low, action_space.steering_high],
                                                         [action_space.speed_low, action_space.speed_high]], cmap="Blues")
        fig.colorbar(h[3], ax=ax, label="steps")
        ax.set_xlabel("steering angle (deg, + = left)")
        ax.set_ylabel("speed (m/s)")
    ax.set_title(title or "action distribution")
    return _save(fig, Path(png_path))


def reward_grid(track, reward_fn, *, speed: float = 1.0, n_s: int = 160, n_offsets: int = 15) -> dict:
    """The reward of cars placed on a grid over the road: arc length x lateral offset (heading along the
    centre line, commanded speed ``speed``, steering 0, ``steps`` 1). Returns x, y, s, offset, reward arrays."""
    from openmaker.racer.env import RaceSim
    from openmaker.racer.ppo import _rewards

    s = np.linspace(0.0, track.length, n_s, endpoint=not track.is_loop)
    half = 0.5 * float(np.min(track.width))
    offsets = np.linspace(-0.95 * half, 0.95 * half, n_offsets)
    S, O = np.meshgrid(s, offsets, indexing="ij")
    S, O = S.reshape(-1), O.reshape(-1)
    sim = RaceSim(track, S.size, training=False)
    sim.reset()
    for i in range(S.size):
        sim.place(i, float(S[i]), offset=float(O[i]), speed=speed)
    sim.cmd_speed[:] = speed
    sim.cmd_steering_deg[:] = 0.0
    rewards = _rewards(reward_fn, sim.reward_params_batch())
    return {"x": np.asarray(sim.x, float).copy(), "y": np.asarray(sim.y, float).copy(), "s": S, "offset": O,
            "reward": rewards}


def plot_reward_heatmap(track, reward_fn, png_path: str | Path, *, speed: float = 1.0, title: Optional[str] = None) -> Path:
    """The reward over the road surface (see :func:`reward_grid`)."""
    grid = reward_grid(track, reward_fn, speed=speed)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 7), dpi=110)
    _draw_track(ax, track)
    sc = ax.scatter(grid["x"], grid["y"], c=grid["reward"], s=9, cmap="inferno", zorder=3, linewidths=0)
    fig.colorbar(sc, ax=ax, label="reward", shrink=0.8)
    ax.set_title(title or f"reward at {speed:g} m/s, heading along the centre line")
    return _save(fig, Path(png_path))


def analyze(model_dir: str | Path, track, out_dir: str | Path, *, laps: int = 1, penalty: float = 5.0) -> dict[str, Any]:
    """Every picture for a model: an evaluation run coloured by speed, its actions, the reward heat map of
    the model's reward function, the training curves. Returns the evaluation result and the PNG paths."""
    from openmaker.racer.evaluate import evaluate
    from openmaker.racer.model import METRICS_CSV, REWARD, load_model
    from openmaker.racer.tracks import load_track

    if isinstance(track, (str, Path)):
        track = load_track(str(track))
    model = load_model(model_dir)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RacerError(f"{out}: cannot create: {exc.strerror or exc}") from None
    result = evaluate(model, track, laps=laps, penalty=penalty, trace=True)
    trace = result.pop("trace")
    files = {"lap": str(plot_lap(track, trace, out / "evaluation_speed.png",
                                 title=f"{track.official_name}: {result['completed_laps']}/{laps} laps, "
                                       f"best {_fmt_time(result['best'])}, off track {result['off_track']}")),
             "actions": str(plot_actions(trace, model.action_space, out / "action_distribution.png"))}
    reward_file = Path(model_dir) / REWARD
    if reward_file.is_file():
        from openmaker.racer.reward import load_reward

        space = model.action_space
        speed = float(np.median(space.speed)) if space.kind == "discrete" else 0.5 * (space.speed_low + space.speed_high)
        files["reward"] = str(plot_reward_heatmap(track, load_reward(reward_file), out / "reward_heatmap.png", speed=speed))
    if (Path(model_dir) / METRICS_CSV).is_file():
        try:
            files["training"] = str(plot_training(Path(model_dir) / METRICS_CSV, out / "training_metrics.png"))
        except RacerError:
            pass
    return {"evaluation": result, "files": files}


def _fmt_time(t: Optional[float]) -> str:
    return "-" if t is None else f"{t:.2f} s"
