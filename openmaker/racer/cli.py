"""``openmaker race``: tracks, reward tests, PPO training, evaluation, analysis, ONNX export, the league.

Every command is a thin layer over the racer's Python API (:mod:`openmaker.racer.tracks`,
:mod:`~openmaker.racer.reward`, :mod:`~openmaker.racer.ppo`, :mod:`~openmaker.racer.evaluate`,
:mod:`~openmaker.racer.analysis`, :mod:`~openmaker.racer.model`). Bad input (an unknown track, a malformed
model_metadata.json, a reward function that breaks the rules, a corrupt model) exits with code 2 and one
line ``error: <message>`` on stderr, never a traceback. ``openmaker race league ...`` is the league's own
command group, loaded only when used.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from openmaker.clitools import bad_input as _bad_input
from openmaker.clitools import input_errors
from openmaker.clitools import one_line as _one_line

race_app = typer.Typer(no_args_is_help=True, help="DeepRacer-compatible racing: tracks, reward functions, training, "
                       "evaluation, analysis and the league.", pretty_exceptions_enable=False)


def _errors():
    """Bad input of any layer (RacerError, RewardError, a missing extra) becomes ``error: <message>``, exit 2."""
    return input_errors("racer")


def _out() -> Console:
    out = Console(highlight=False)
    if not out.is_terminal:
        out.width = max(out.width, 160)
    return out


def _echo_json(value) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _existing_file(path: Path, what: str) -> Path:
    if not path.exists():
        _bad_input(f"{path}: no such file ({what})")
    if path.is_dir():
        _bad_input(f"{path}: is a directory, not a file ({what})")
    return path


def _fmt_s(value) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f} s"


# --- tracks ----------------------------------------------------------------------------------------


@race_app.command("tracks")
def tracks(as_json: bool = typer.Option(False, "--json", help="JSON instead of a table.")) -> None:
    """List the tracks (DeepRacer route files): id, official name, length, width."""
    from rich.table import Table

    from openmaker.racer.tracks import list_tracks

    with _errors():
        infos = list_tracks()
    if as_json:
        _echo_json([{"name": t.name, "official_name": t.official_name, "length": round(t.length, 3),
                     "width": round(t.width, 3), "points": t.points, "loop": t.loop} for t in infos])
        return
    table = Table(title=f"{len(infos)} tracks")
    for col, justify in (("track", "left"), ("official name", "left"), ("length m", "right"), ("width m", "right"),
                         ("points", "right"), ("loop", "left")):
        table.add_column(col, justify=justify)
    for t in infos:
        table.add_row(t.name, t.official_name if t.official_name != t.name else "", f"{t.length:.2f}",
                      f"{t.width:.3f}", str(t.points), "yes" if t.loop else "no")
    _out().print(table)


@race_app.command("track-png")
def track_png(track: str = typer.Argument(..., help="A track id (see `openmaker race tracks`) or an .npy route file."),
              out: Path = typer.Option(..., "--out", help="The PNG to write.")) -> None:
    """Draw a track: road, borders, centre line, start line and driving direction."""
    from openmaker.racer.tracks import load_track

    with _errors():
        path = load_track(track).plot(out)
    typer.echo(str(path))


# --- reward functions --------------------------------------------------------------------------------


@race_app.command("test-reward")
def test_reward(reward: Path = typer.Argument(..., help="The reward function file (def reward_function(params))."),
                track: str = typer.Option("reinvent_base", "--track", help="The track to test on."),
                trajectory: Optional[Path] = typer.Option(None, "--trajectory", help="A recorded trajectory CSV "
                                                          "(x, y, heading, speed, steering_angle), e.g. from `evaluate --trace`."),
                out: Path = typer.Option(Path("reward_test"), "--out", help="Directory for the PNGs."),
                speed: float = typer.Option(2.0, "--speed", help="Speed (m/s) of the cars along the centre line."),
                as_json: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
    """Validate a reward function as the console did and plot what it pays on a track."""
    from openmaker.racer.reward import test_reward as run_test

    _existing_file(reward, "a reward function file")
    if trajectory is not None:
        _existing_file(trajectory, "a trajectory CSV")
    with _errors():
        report = run_test(reward, track, trajectory=trajectory, out_dir=out, speed=speed)
    if as_json:
        _echo_json(json.loads(json.dumps(report, default=str)))
        return
    typer.echo(f"{reward}: valid on {track}; along the centre line at {speed:g} m/s: min {report['min']:.4g}, "
               f"mean {report['mean']:.4g}, max {report['max']:.4g}")
    traj = report.get("trajectory")
    if traj:
        typer.echo(f"trajectory: {traj['rows']} rows, total {traj['total']:.4g}, mean {traj['mean']:.4g}")
    for png in report.get("pngs", []):
        typer.echo(str(png))


# --- training ----------------------------------------------------------------------------------------


@race_app.command("train")
def train(track: str = typer.Option("reinvent_base", "--track", help="The track to train on."),
          reward: Path = typer.Option(..., "--reward", help="The reward function file."),
          action_space: Path = typer.Option(..., "--action-space", help="The model_metadata.json (action space)."),
          out: Path = typer.Option(..., "--out", help="The model directory to write."),
          minutes: Optional[float] = typer.Option(None, "--minutes", help="Training time (wall clock)."),
          iterations: Optional[int] = typer.Option(None, "--iterations", help="Stop after this many iterations."),
          cars: int = typer.Option(64, "--cars", help="Cars driving at once (the vectorised simulator)."),
          observation: str = typer.Option("state", "--observation", help="state (fast features) or camera (160x120 grey)."),
          hyperparameters: Optional[Path] = typer.Option(None, "--hyperparameters", help="A DeepRacer hyperparameters.json."),
          seed: int = typer.Option(0, "--seed", help="Random seed."),
          threads: Optional[int] = typer.Option(None, "--threads", help="Torch threads (default: 1 for state, 2 for camera)."),
          quiet: bool = typer.Option(False, "--quiet", help="No progress bar.")) -> None:
    """Train a model with PPO (DeepRacer's hyperparameters) and write it to --out."""
    from openmaker.racer.actions import load_action_space
    from openmaker.racer.ppo import Hyperparameters, read_metrics, train as run_train
    from openmaker.racer.reward import load_reward
    from openmaker.racer.tracks import load_track

    if minutes is None and iterations is None:
        _bad_input("give --minutes (training time) or --iterations")
    if minutes is not None and not minutes > 0:
        _bad_input(f"--minutes must be positive, not {minutes:g}")
    if iterations is not None and iterations < 1:
        _bad_input(f"--iterations must be at least 1, not {iterations}")
    if cars < 1:
        _bad_input(f"--cars must be at least 1, not {cars}")
    if threads is not None and threads < 1:
        _bad_input(f"--threads must be at least 1, not {threads}")
    if observation not in ("state", "camera"):
        _bad_input(f"--observation must be state or camera, not {observation!r}")
    _existing_file(reward, "a reward function file")
    _existing_file(action_space, "a model_metadata.json")
    if hyperparameters is not None:
        _existing_file(hyperparameters, "a hyperparameters.json")
    with _errors():
        trk = load_track(track)
        space = load_action_space(action_space)
        hp = Hyperparameters.load(hyperparameters) if hyperparameters is not None else Hyperparameters()
        fn = load_reward(reward, track=trk)
        result = run_train(trk, fn, space, minutes=minutes, iterations=iterations, out_dir=out, hyperparameters=hp,
                           n_cars=cars, observation=observation, seed=seed, progress=not quiet, threads=threads)
        rows = read_metrics(result / "training_metrics.csv")
    if rows:
        last = rows[-1]
        done = [r for r in rows if not math.isnan(r["best_lap_time"])]
        best = min((r["best_lap_time"] for r in done), default=None)
        typer.echo(f"{int(last['iteration'])} iterations, {int(last['total_steps'])} steps in "
                   f"{last['elapsed_s'] / 60:.1f} min; last iteration: progress {last['mean_progress']:.1f}%, "
                   f"laps completed {last['completion_pct']:.0f}%; best training lap {_fmt_s(best)}")
    typer.echo(f"model: {result}")


# --- evaluation --------------------------------------------------------------------------------------


def _write_trace_csv(trace: dict, path: Path) -> None:
    """A trajectory CSV as `test-reward --trajectory` reads it (front point x, y; heading; speed; steering)."""
    import csv

    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    heading = np.degrees(np.arctan2(np.asarray(trace["fy"]) - np.asarray(trace["y"]),
                                    np.asarray(trace["fx"]) - np.asarray(trace["x"])))
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["steps", "x", "y", "heading", "speed", "steering_angle", "progress", "lap", "action"])
        for i in range(len(trace["x"])):
            a = trace["action"][i]
            w.writerow([i + 1, f"{trace['fx'][i]:.5f}", f"{trace['fy'][i]:.5f}", f"{heading[i]:.3f}",
                        f"{trace['cmd_speed'][i]:.4g}", f"{trace['steering'][i]:.4g}", f"{trace['progress'][i]:.3f}",
                        int(trace["lap"][i]), a if not isinstance(a, list) else " ".join(f"{v:.4f}" for v in a)])


@race_app.command("evaluate")
def evaluate(model: Path = typer.Argument(..., help="The model directory."),
             track: str = typer.Option(..., "--track", help="The track to race on."),
             laps: int = typer.Option(3, "--laps", help="Laps to drive (continuously)."),
             penalty: float = typer.Option(5.0, "--penalty", help="Seconds added per off-track reset."),
             timing: str = typer.Option("total", "--timing", help="Ranking: total, average or best lap time."),
             max_resets: int = typer.Option(100, "--max-resets", help="Resets allowed before the run ends."),
             as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
             plot: Optional[Path] = typer.Option(None, "--plot", help="PNG of the run coloured by speed."),
             trace: Optional[Path] = typer.Option(None, "--trace", help="CSV of every step (for test-reward --trajectory).")) -> None:
    """Race a model: continuous laps from the start line, off-track penalties, lap times."""
    from openmaker.racer.evaluate import evaluate as run_eval
    from openmaker.racer.evaluate import timing_method
    from openmaker.racer.tracks import load_track

    if laps < 1:
        _bad_input(f"--laps must be at least 1, not {laps}")
    if not penalty >= 0 or not math.isfinite(penalty):
        _bad_input(f"--penalty must be a number of seconds >= 0, not {penalty:g}")
    if max_resets < 0:
        _bad_input(f"--max-resets must be >= 0, not {max_resets}")
    with _errors():
        timing = timing_method(timing)
        trk = load_track(track)
        result = run_eval(model, trk, laps=laps, penalty=penalty, timing=timing, max_resets=max_resets,
                          trace=plot is not None or trace is not None)
        tr = result.pop("trace", None)
        if plot is not None:
            from openmaker.racer.analysis import plot_lap

            plot_lap(trk, tr, plot, title=f"{model.name} on {trk.name}: {result['completed_laps']}/{laps} laps")
        if trace is not None:
            _write_trace_csv(tr, trace)
    if as_json:
        _echo_json(result)
        return
    from rich.table import Table

    table = Table(title=f"{model} on {trk.name}")
    for col in ("lap", "time", "off track", "status"):
        table.add_column(col, justify="right" if col != "status" else "left")
    for i, lap in enumerate(result["laps"], start=1):
        table.add_row(str(i), _fmt_s(lap["time"]), str(lap["off_track"]),
                      "complete" if lap["completed"] else f"not finished ({lap['progress']:.1f}%)")
    out = _out()
    out.print(table)
    out.print(f"completed {result['completed_laps']}/{laps} laps; best {_fmt_s(result['best'])}, total "
              f"{_fmt_s(result['total'])}, off track {result['off_track']}; score ({result['timing']}): "
              f"{_fmt_s(result['score'])}")
    for p in (plot, trace):
        if p is not None:
            out.print(str(p))


@race_app.command("export-onnx")
def export_onnx(model: Path = typer.Argument(..., help="The model directory."),
                out: Optional[Path] = typer.Option(None, "--out", help="Where to write (default DIR/policy.onnx).")) -> None:
    """Export the policy as ONNX (input obs; outputs action probabilities or mean, and value)."""
    from openmaker.racer.model import export_onnx as run_export

    with _errors():
        path = run_export(model, out)
    typer.echo(str(path))


@race_app.command("analyze")
def analyze(model: Path = typer.Argument(..., help="The model directory."),
            track: str = typer.Option(..., "--track", help="The track to drive for the pictures."),
            out: Path = typer.Option(..., "--out", help="Directory for the PNGs."),
            laps: int = typer.Option(1, "--laps", help="Evaluation laps to draw."),
            as_json: bool = typer.Option(False, "--json", help="Print the result as JSON.")) -> None:
    """PNGs of a model: an evaluation run coloured by speed, the actions, the reward heat map, the training."""
    from openmaker.racer.analysis import analyze as run_analyze

    if laps < 1:
        _bad_input(f"--laps must be at least 1, not {laps}")
    with _errors():
        result = run_analyze(model, track, out, laps=laps)
    if as_json:
        _echo_json(result)
        return
    ev = result["evaluation"]
    typer.echo(f"{ev['completed_laps']}/{laps} laps, best {_fmt_s(ev['best'])}, off track {ev['off_track']}")
    for path in result["files"].values():
        typer.echo(path)


# --- the league (its own module, loaded on use) ---------------------------------------------------------


@race_app.command("league", context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                              "help_option_names": []}, add_help_option=False)
def league(ctx: typer.Context) -> None:
    """The league: races, submissions, the evaluation queue, leaderboards (see `openmaker race league --help`)."""
    try:
        from openmaker.racer.league.cli import league_app
    except Exception as exc:  # the league is a separate module: say why it cannot run, keep the rest working
        _bad_input(f"the league is not available: {_one_line(exc)}")
    command = typer.main.get_command(league_app)
    prog = f"{ctx.find_root().info_name or 'openmaker'} race league"
    command.main(args=list(ctx.args), prog_name=prog, standalone_mode=True)


def commands() -> List[tuple]:
    return [("race", race_app)]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(race_app())
