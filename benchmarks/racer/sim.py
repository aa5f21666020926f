"""Racer simulator throughput: car-steps/s with the state observation, with a Python reward, and camera frames/s.

    .venv/bin/python benchmarks/racer/sim.py                      # all three, 5 repeats, writes results/sim.json + PNG
    .venv/bin/python benchmarks/racer/sim.py --only state --cars 1024 4096 --repeat 3 --json

What is timed (``RaceSim`` on reinvent_base, training starts, the sim's own cars):

- ``state``: ``sim.step(steering, speed)`` with the state observation, plus ``sim.reset(mask=done)`` for the cars
  that finished, for each car count in ``--cars``. The commands are random picks from the DeepRacer console's
  default action space (steering -30/-15/0/15/30, speed 0.5/1 m/s), drawn before the clock starts; driving
  at random, a car's episode lasts a few dozen steps, so restarts are part of the load.
- ``reward``: the same loop, plus ``sim.reward_params_batch()`` and the AWS sample reward "follow the centre
  line" (defined below) called once per car per step in Python.
- ``camera``: ``camera.render(sim)`` for ``--camera-cars`` cars at changing poses (frames/s), and the full
  ``sim.step`` with ``observation="camera"``.

Each figure is the median of ``--repeat`` runs, each run at least ``--min-seconds`` of wall time; the CPU time
of this process (all its threads) is recorded too, because on a shared machine wall time includes waiting.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from openmaker.racer import camera  # noqa: E402
from openmaker.racer.env import RaceSim  # noqa: E402
from openmaker.racer.tracks import load_track  # noqa: E402

STEERING = np.array([-30.0, -15.0, 0.0, 15.0, 30.0])
SPEEDS = np.array([0.5, 1.0])


def reward_function(params):
    """The AWS DeepRacer sample "Follow the center line"."""
    track_width = params["track_width"]
    distance_from_center = params["distance_from_center"]
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
    return float(reward)


def _commands(n: int, k: int, rng) -> tuple[np.ndarray, np.ndarray]:
    return STEERING[rng.integers(0, 5, (k, n))], SPEEDS[rng.integers(0, 2, (k, n))]


def _timed(run_once, units_per_call: int, min_seconds: float, repeat: int) -> dict:
    """Median units/s over ``repeat`` runs of repeated calls lasting >= min_seconds each."""
    run_once()  # warm up
    walls, cpus = [], []
    for _ in range(repeat):
        calls = 0
        w0, c0 = time.perf_counter(), time.process_time()
        while True:
            run_once()
            calls += 1
            w = time.perf_counter() - w0
            if w >= min_seconds:
                break
        c = time.process_time() - c0
        walls.append(calls * units_per_call / w)
        cpus.append(calls * units_per_call / c)
    return {"per_s": statistics.median(walls), "runs": [round(x) for x in walls],
            "per_cpu_s": statistics.median(cpus)}


def bench_state(track, n: int, args, *, reward: bool = False) -> dict:
    sim = RaceSim(track, n, observation="state")
    sim.reset()
    k = 64
    sd, sp = _commands(n, k, np.random.default_rng(0))
    state = {"i": 0, "done": 0, "steps": 0}

    def run_once():
        i = state["i"] % k
        obs, done, status = sim.step(sd[i], sp[i])
        if reward:
            params = sim.reward_params_batch()
            rewards = [reward_function(p) for p in params]
            assert len(rewards) == n
        if done.any():
            state["done"] += int(done.sum())
            sim.reset(done)
        state["i"] += 1
        state["steps"] += n

    out = _timed(run_once, n, args.min_seconds, args.repeat)
    out["n"] = n
    out["mean_episode_steps"] = round(state["steps"] / max(1, state["done"]), 1)
    return out


def bench_camera(track, n: int, args) -> dict:
    sim = RaceSim(track, n, observation="camera")
    sim.reset()
    rng = np.random.default_rng(1)
    s = rng.uniform(0, track.length, (8, n))
    poses = [track.point_at(si) for si in s]
    state = {"i": 0}

    def render_once():
        x, y, h = poses[state["i"] % 8]
        state["i"] += 1
        img = camera.render_poses(track, x, y, h)
        assert img.shape == (n, 120, 160)

    render = _timed(render_once, n, args.min_seconds, args.repeat)
    k = 64
    sd, sp = _commands(n, k, np.random.default_rng(0))
    st = {"i": 0}

    def step_once():
        i = st["i"] % k
        obs, done, status = sim.step(sd[i], sp[i])
        if done.any():
            sim.reset(done)
        st["i"] += 1

    step = _timed(step_once, n, args.min_seconds, args.repeat)
    return {"n": n, "render": render, "step": step}


def _camera_sample(track, path: Path) -> None:
    """Four frames side by side: centred, near the left border, turning in, off the track."""
    from PIL import Image

    sim = RaceSim(track, 4, observation="camera", training=False)
    sim.reset()
    sim.place(0, 2.0)
    sim.place(1, 2.0, offset=0.3)
    sim.place(2, 6.0, heading_offset_rad=0.3)
    sim.place(3, 2.0, offset=1.2)
    img = camera.render(sim)
    Image.fromarray(np.concatenate(list(img), axis=1)).resize((4 * 320, 240), Image.NEAREST).save(path)


def _plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    if results.get("state"):
        ns = [r["n"] for r in results["state"]]
        ax.plot(ns, [r["per_s"] for r in results["state"]], "o-", label="state obs (reward excluded)")
    if results.get("reward"):
        ns = [r["n"] for r in results["reward"]]
        ax.plot(ns, [r["per_s"] for r in results["reward"]], "s-", label="+ params dicts + Python reward")
    if results.get("camera"):
        ns = [r["n"] for r in results["camera"]]
        ax.plot(ns, [r["step"]["per_s"] for r in results["camera"]], "^-", label="camera obs (full step)")
    ax.axhline(1e6, color="grey", ls="--", lw=0.8)
    ax.axhline(1e5, color="grey", ls=":", lw=0.8)
    ax.axhline(5e3, color="grey", ls="-.", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("cars stepped together (n)")
    ax.set_ylabel("car-steps / s (median)")
    ax.set_title(f"RaceSim on reinvent_base, {os.cpu_count()} CPU cores")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=["state", "reward", "camera"], action="append",
                    help="run only these parts (repeatable); default all")
    ap.add_argument("--cars", type=int, nargs="+", default=[1, 64, 1024, 4096, 16384])
    ap.add_argument("--reward-cars", type=int, nargs="+", default=[64, 1024, 4096])
    ap.add_argument("--camera-cars", type=int, nargs="+", default=[64, 256, 1024])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--min-seconds", type=float, default=1.0)
    ap.add_argument("--track", default="reinvent_base")
    ap.add_argument("--threads", type=int, default=1, help="torch threads while rendering (camera.THREADS)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "sim.json")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args(argv)
    parts = args.only or ["state", "reward", "camera"]
    import torch

    camera.THREADS = args.threads
    track = load_track(args.track)
    results: dict = {
        "command": "python benchmarks/racer/sim.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "track": args.track, "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
        "python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
        "camera_threads": args.threads, "load_average_before": os.getloadavg(),
        "repeat": args.repeat, "min_seconds": args.min_seconds,
    }
    if "state" in parts:
        results["state"] = []
        for n in args.cars:
            r = bench_state(track, n, args)
            results["state"].append(r)
            print(f"state   n={n:>6}: {r['per_s']:>12,.0f} car-steps/s (CPU-time rate {r['per_cpu_s']:,.0f})",
                  file=sys.stderr)
    if "reward" in parts:
        results["reward"] = []
        for n in args.reward_cars:
            r = bench_state(track, n, args, reward=True)
            results["reward"].append(r)
            print(f"reward  n={n:>6}: {r['per_s']:>12,.0f} car-steps/s (CPU-time rate {r['per_cpu_s']:,.0f})",
                  file=sys.stderr)
    if "camera" in parts:
        results["camera"] = []
        for n in args.camera_cars:
            r = bench_camera(track, n, args)
            results["camera"].append(r)
            print(f"camera  n={n:>6}: render {r['render']['per_s']:>10,.0f} frames/s, "
                  f"step {r['step']['per_s']:>10,.0f} car-steps/s", file=sys.stderr)
    results["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    png = args.out.with_suffix(".png")
    _plot(results, png)
    _camera_sample(track, args.out.with_name("camera_sample.png"))
    print(f"wrote {args.out} and {png}", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
