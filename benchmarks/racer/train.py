"""Racer training benchmark: how soon does PPO drive full laps of reinvent_base?

    python benchmarks/racer/train.py [--minutes 10] [--reward follow_centerline.py] [--action-space model_metadata.json]
                                     [--track reinvent_base] [--cars 64] [--eval-every 60] [--name NAME]

Trains with :func:`openmaker.racer.ppo.train` (DeepRacer's default hyperparameters, ``state``
observation, 2 torch threads) for ``--minutes`` of wall-clock time, and every ``--eval-every`` seconds of
training evaluates the latest weights (``OUT/last``) the way a race does: 3 continuous laps from the start
line, greedy actions, 5 s off-track penalty (:func:`openmaker.racer.evaluate.evaluate`). The evaluation
time is inside the training clock (it costs ~1 s a minute). At the end the saved model (the best
iteration by mean training progress, DRfC's rule) and the last weights are evaluated too.

Defaults: the example reward ``follow_centerline.py`` and the example action space (11 discrete actions,
steering -30..30 degrees, 1-3 m/s). Targets: full laps within 10 minutes with the centre-line reward; with
``speed_aware.py`` and 30 minutes, a best evaluation lap under 10 s.

Writes ``benchmarks/racer/results/<name>.json`` (the per-iteration metrics, the evaluations over time, the
times to the first lap) and ``<name>.png`` (training curves plus the evaluation lap times over time); the
model goes to ``out/racer/<name>_model/`` at the repository root (``/out/`` is ignored by git).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

import openmaker.racer
from openmaker.racer.actions import load_action_space
from openmaker.racer.evaluate import evaluate
from openmaker.racer.ppo import Hyperparameters, read_metrics, train
from openmaker.racer.reward import load_reward
from openmaker.racer.tracks import load_track

EXAMPLES = Path(openmaker.racer.__file__).parent / "examples"
RESULTS = Path(__file__).parent / "results"


def _eval(model_dir: Path, track, laps: int) -> dict:
    r = evaluate(model_dir, track, laps=laps, penalty=5.0, timing="total")
    return {k: r[k] for k in ("completed_laps", "best", "total", "average", "off_track", "score", "stopped")} | {
        "lap_times": [lap["time"] for lap in r["laps"]]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--reward", type=Path, default=EXAMPLES / "follow_centerline.py")
    ap.add_argument("--action-space", type=Path, default=EXAMPLES / "model_metadata.json")
    ap.add_argument("--track", default="reinvent_base")
    ap.add_argument("--cars", type=int, default=64)
    ap.add_argument("--laps", type=int, default=3)
    ap.add_argument("--eval-every", type=float, default=60.0, help="seconds of training between evaluations")
    ap.add_argument("--hyperparameters", type=Path, default=None, help="a hyperparameters.json (default: DeepRacer's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default=None)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    name = args.name or f"train_{args.reward.stem}_{args.minutes:g}min"
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = Path(__file__).resolve().parents[2] / "out" / "racer" / f"{name}_model"
    if out.exists():
        shutil.rmtree(out)
    track = load_track(args.track)
    space = load_action_space(args.action_space)
    reward = load_reward(args.reward, track=track)
    hp = Hyperparameters.load(args.hyperparameters) if args.hyperparameters else Hyperparameters()
    evals: list[dict] = []
    first_lap_s = [None]
    next_eval = [args.eval_every]

    def on_iteration(row: dict) -> None:
        if first_lap_s[0] is None and row["completion_pct"] not in ("", 0, 0.0):
            first_lap_s[0] = float(row["elapsed_s"])
        if float(row["elapsed_s"]) >= next_eval[0]:
            next_eval[0] += args.eval_every
            e = _eval(out / "last", track, args.laps)
            e.update(elapsed_s=round(float(row["elapsed_s"]), 1), iteration=int(row["iteration"]))
            evals.append(e)
            print(f"[{e['elapsed_s']:7.1f} s] it {e['iteration']}: evaluation {e['completed_laps']}/{args.laps} laps, "
                  f"best {e['best']}, off track {e['off_track']}; training progress {row['mean_progress']}%, "
                  f"completion {row['completion_pct']}%", flush=True)

    t0 = time.perf_counter()
    train(track, reward, space, minutes=args.minutes, out_dir=out, hyperparameters=hp, n_cars=args.cars,
          seed=args.seed, progress=not args.quiet, on_iteration=on_iteration)
    wall = time.perf_counter() - t0
    rows = read_metrics(out / "training_metrics.csv")
    final_best = _eval(out, track, args.laps)
    final_last = _eval(out / "last", track, args.laps)
    first_eval_lap = next((e for e in evals if e["completed_laps"] > 0), None)
    first_eval_all = next((e for e in evals if e["completed_laps"] == args.laps), None)
    best_eval_lap = min([e["best"] for e in evals + [final_best, final_last] if e["best"] is not None], default=None)
    summary = {
        "name": name,
        "track": track.name,
        "reward": args.reward.name,
        "action_space": space.describe(),
        "cars": args.cars,
        "minutes": args.minutes,
        "wall_s": round(wall, 1),
        "iterations": int(rows[-1]["iteration"]) if rows else 0,
        "total_steps": int(rows[-1]["total_steps"]) if rows else 0,
        "steps_per_s": round(rows[-1]["total_steps"] / rows[-1]["elapsed_s"]) if rows else None,
        "first_training_lap_s": first_lap_s[0],
        "first_eval_lap_s": first_eval_lap["elapsed_s"] if first_eval_lap else None,
        "first_eval_all_laps_s": first_eval_all["elapsed_s"] if first_eval_all else None,
        "best_eval_lap_s": best_eval_lap,
        "final_best_model": final_best,
        "final_last_weights": final_last,
        "evaluations": evals,
        "hyperparameters": hp.to_dict(),
        "machine": {"cpus": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads(),
                    "python": sys.version.split()[0], "platform": platform.platform(),
                    "load_avg_at_end": os.getloadavg()},
        "metrics": rows,
    }
    _write(RESULTS / f"{name}.json", summary)
    _plot(rows, evals, RESULTS / f"{name}.png", summary)
    print(json.dumps({k: v for k, v in summary.items() if k not in ("metrics", "evaluations", "hyperparameters")}, indent=1))


def _clean(v):
    if isinstance(v, float):
        return None if math.isnan(v) else round(v, 4)
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def _write(path: Path, summary: dict) -> None:
    """The summary as JSON; the per-iteration metrics as one compact row per line (columns listed once)."""
    rows = summary["metrics"]
    cols = list(rows[0]) if rows else []
    head = _clean({k: v for k, v in summary.items() if k != "metrics"})
    text = json.dumps(head, indent=1)[:-2]
    text += ',\n "metrics_columns": ' + json.dumps(cols) + ',\n "metrics": [\n'
    text += ",\n".join("  " + json.dumps([_clean(r[c]) for c in cols]) for r in rows)
    path.write_text(text + "\n ]\n}\n")


def _plot(rows, evals, path: Path, summary: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    secs = np.array([r["elapsed_s"] for r in rows])
    t = secs / 60.0
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.2), dpi=100)
    ax = axes[0]
    early = secs <= 60.0
    ax.plot(secs[early], [r["mean_progress"] for r, e in zip(rows, early) if e], ".-", lw=1, ms=3, color="tab:green",
            label="mean progress")
    ax.plot(secs[early], [r["completion_pct"] for r, e in zip(rows, early) if e], ".-", lw=1, ms=3, color="tab:purple",
            alpha=0.7, label="episodes completing a lap")
    ax.set_xlabel("training time (s)")
    ax.set_ylabel("%")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    ax.set_title("the first minute (per iteration)")
    ax.grid(alpha=0.3)
    ax = axes[1]
    ax.plot(t, [r["mean_progress"] for r in rows], lw=1, color="tab:green", label="mean progress")
    ax.plot(t, [r["completion_pct"] for r in rows], lw=1, color="tab:purple", alpha=0.7, label="episodes completing a lap")
    ax.set_ylabel("%")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    ax.set_title("training episodes (per iteration)")
    ax = axes[2]
    ax.plot(t, [r["mean_reward"] for r in rows], lw=1, color="tab:blue")
    ax.set_title("mean episode reward")
    ax = axes[3]
    ax.plot(t, [r["mean_lap_time"] for r in rows], ".", ms=2, color="tab:orange", label="training laps (mean)")
    if evals:
        te = np.array([e["elapsed_s"] for e in evals]) / 60.0
        best = [e["best"] if e["best"] is not None else np.nan for e in evals]
        ax.plot(te, best, "o-", color="tab:red", label="evaluation: best of 3 laps")
        failed = [x for x, e in zip(te, evals) if e["completed_laps"] < 3]
        if failed:
            ax.plot(failed, [ax.get_ylim()[0]] * len(failed), "kx", label="evaluation: < 3 laps")
    ax.set_title("lap time (s)")
    ax.legend(fontsize=8)
    for a in axes[1:]:
        a.set_xlabel("training time (min)")
        a.grid(alpha=0.3)
    fig.suptitle(f"{summary['reward']} on {summary['track']}, {summary['cars']} cars, "
                 f"{summary['machine']['threads']} torch thread(s), {summary['machine']['cpus']} cores: "
                 f"{summary['iterations']} iterations, {summary['total_steps']:,} steps")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
