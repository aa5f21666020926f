"""``openmaker train``, ``openmaker jobs`` and ``openmaker transform``.

Each part of the room builds its own Typer app here; :func:`commands` lists
what the platform CLI mounts. Bad input exits with code 2 and a message
naming the problem, a failed job with code 1 and its reason.
"""

from __future__ import annotations

import json
from typing import NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True, highlight=False)

BAD_INPUT = 2
JOB_FAILED = 1


def _bad_input(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(BAD_INPUT)


def _pairs(values: list[str], what: str, example: str) -> dict[str, str]:
    """``NAME=VALUE`` options as a dict; the value may itself hold ``=``."""
    out: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            _bad_input(f"{what} {value!r} is not NAME=VALUE (e.g. {example})")
        key = key.strip()
        if key in out:
            _bad_input(f"{what} {key!r} given twice")
        out[key] = rest
    return out


# --- openmaker train --------------------------------------------------------------

train_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)


@train_app.command("train")
def train(
    entry_point: Optional[str] = typer.Option(None, "--entry-point", help="The training script (relative to --source-dir when given)."),
    source_dir: Optional[str] = typer.Option(None, "--source-dir", help="Folder copied as the job's code (the script's cwd, on PYTHONPATH)."),
    algorithm: Optional[str] = typer.Option(None, "--algorithm", help="A built-in algorithm instead of a script: linear-learner, object-detection."),
    channel: list[str] = typer.Option([], "--channel", help="NAME=URI: a local folder or file, or an s3:// prefix (repeatable)."),
    hyperparameter: list[str] = typer.Option([], "--hyperparameter", help="NAME=VALUE, passed as --NAME VALUE and in SM_HPS (repeatable)."),
    metric_definition: list[str] = typer.Option([], "--metric-definition", help="NAME=REGEX: its first group in a log line is a value of metric NAME (repeatable)."),
    output: Optional[str] = typer.Option(None, "--output", help="Where <job>/output/model.tar.gz goes (default: $OPENMAKER_HOME/artifacts)."),
    job_name: Optional[str] = typer.Option(None, "--job-name", help="Default: <script or algorithm>-<timestamp>."),
    engine: str = typer.Option("local", "--engine", help="local, or ray (the cluster at $RAY_ADDRESS, else a local Ray)."),
    num_cpus: Optional[int] = typer.Option(None, "--num-cpus", help="CPUs for the job (SM_NUM_CPUS; the Ray task's num_cpus)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not stream the job's log."),
) -> None:
    """Run a training job in SageMaker's script mode (or a built-in algorithm) and record it."""
    from openmaker.training.jobs import TrainingJob, run_training_job
    from openmaker.training.records import COMPLETED

    channels = _pairs(channel, "--channel", "train=s3://bucket/abalone/")
    hyperparameters = _pairs(hyperparameter, "--hyperparameter", "epochs=10")
    metrics = _pairs(metric_definition, "--metric-definition", "'rmse=rmse: ([0-9.]+)'")
    try:
        spec = TrainingJob(
            entry_point=entry_point,
            source_dir=source_dir,
            algorithm=algorithm,
            channels=channels,
            hyperparameters=hyperparameters,
            metric_definitions=[{"Name": k, "Regex": v} for k, v in metrics.items()],
            output_path=output,
            name=job_name,
            engine=engine,
            num_cpus=num_cpus,
        )
        record = run_training_job(spec, progress=not quiet)
    except ValueError as exc:
        _bad_input(str(exc))
    except ModuleNotFoundError as exc:  # an optional extra (ray, s3fs) that is not installed
        _bad_input(str(exc))
    typer.echo(f"TrainingJobName: {record.name}")
    typer.echo(f"TrainingJobStatus: {record.status}")
    if record.status != COMPLETED:
        typer.echo(f"FailureReason: {record.failure_reason}")
        raise typer.Exit(JOB_FAILED)
    typer.echo(f"ModelArtifacts: {record.model_artifacts}")


# --- openmaker jobs ---------------------------------------------------------------

jobs_app = typer.Typer(no_args_is_help=True, help="Training jobs: list, describe, logs.", pretty_exceptions_enable=False)


@jobs_app.command("list")
def jobs_list(as_json: bool = typer.Option(False, "--json", help="One JSON object per job instead of a table.")) -> None:
    """The training jobs, newest first."""
    from rich.table import Table

    from openmaker.training.jobs import list_jobs

    found = list_jobs()
    if as_json:
        from openmaker.training.records import describe

        for record in found:
            typer.echo(json.dumps(describe(record)))
        return
    table = Table("TrainingJobName", "Status", "Created", "Seconds", "Algorithm / script")
    table.columns[0].no_wrap = True  # names are copied into `jobs describe`: never cut or folded
    for record in found:
        table.add_row(
            record.name,
            record.status,
            record.created_at.strftime("%Y-%m-%d %H:%M:%S") if record.created_at else "",
            "" if record.billable_seconds is None else str(record.billable_seconds),
            record.algorithm or record.entry_point or "",
        )
    out = Console(highlight=False)
    if not out.is_terminal:
        out.width = max(out.width, 160)
    out.print(table)


@jobs_app.command("describe")
def jobs_describe(name: str = typer.Argument(..., help="The job's name.")) -> None:
    """The job as JSON, shaped like SageMaker's DescribeTrainingJob."""
    from openmaker.training.jobs import describe_job
    from openmaker.training.records import JobNotFound

    try:
        typer.echo(json.dumps(describe_job(name), indent=2))
    except JobNotFound as exc:
        _bad_input(str(exc.args[0]))


@jobs_app.command("logs")
def jobs_logs(name: str = typer.Argument(..., help="The job's name.")) -> None:
    """Print the job's log (its script's stdout and stderr)."""
    from openmaker.training.jobs import job_log
    from openmaker.training.records import JobNotFound

    try:
        typer.echo(job_log(name), nl=False)
    except JobNotFound as exc:
        _bad_input(str(exc.args[0]))


def commands() -> list:
    """``(name, typer_app)`` pairs the platform CLI mounts (``None`` merges into the top level)."""
    from openmaker.training.transform_cli import transform_app

    return [(None, train_app), ("jobs", jobs_app), ("transform", transform_app)]
