"""Training jobs in SageMaker's script mode: a spec (:class:`TrainingJob`) and :func:`run_training_job`.

A job runs in ``$OPENMAKER_HOME/jobs/<name>/``, laid out like ``/opt/ml``
(:mod:`openmaker.training.layout`): its channels are downloaded (local paths
or ``s3://`` prefixes) into ``input/data/<channel>/``, its code is copied into
``code/``, and ``python <entry_point> --name value ...`` runs there with the
``SM_*`` environment. Its output (stdout and stderr together) goes to
``logs/job.log`` and, line by line as it comes, to the console and to the
metric regexes. On success ``model/`` and ``output/data/`` are packed into
``model.tar.gz`` and ``output.tar.gz`` under ``<output_path>/<job>/output/``,
as SageMaker does; on failure the job's reason is ``output/failure`` or the
last log lines. The job's record is kept in the database.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from openmaker import db, storage
from openmaker.config import get_settings
from openmaker.training import records
from openmaker.training.algorithms import algorithm_module, default_metric_definitions
from openmaker.training.layout import JobLayout, encode_hyperparameters, sagemaker_env, user_args
from openmaker.training.records import COMPLETED, FAILED, IN_PROGRESS, STOPPED, TrainingJobRecord

__all__ = [
    "ENGINES",
    "PHASES",
    "TrainingJob",
    "absolute_uri",
    "check_channel",
    "check_metric_definition",
    "describe_job",
    "get_job",
    "job_log",
    "list_jobs",
    "run_training_job",
]

ENGINES = ("local", "ray")
#: SageMaker's TrainingJobName pattern.
JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
#: SageMaker's ChannelName pattern.
CHANNEL_NAME = re.compile(r"^[A-Za-z0-9.\-_]{1,64}$")
FAILURE_LOG_LINES = 20
#: SageMaker caps FailureReason at 1024 characters.
MAX_FAILURE_FILE_CHARS = 1024
RAY_MISSING = "the ray engine needs ray: pip install 'openmaker[ray]'"
#: What ``run_training_job`` reports to ``on_phase`` as it goes, in order (SageMaker's secondary statuses).
PHASES = ("Downloading", "Training", "Uploading")
#: Seconds a job stopped at its time limit has between SIGTERM and SIGKILL, as SageMaker gives it.
STOP_GRACE_SECONDS = 120
_POLL_SECONDS = 0.05


def _now() -> datetime:
    return datetime.now(timezone.utc)


def default_job_name(base: str, when: datetime | None = None) -> str:
    """``<base>-YYYY-MM-DD-HH-MM-SS-mmm`` (UTC), as the SageMaker SDK names jobs; ``base`` is cleaned and cut to fit."""
    when = when or _now()
    stamp = when.strftime("%Y-%m-%d-%H-%M-%S-") + f"{when.microsecond // 1000:03d}"
    clean = re.sub(r"[^a-zA-Z0-9]+", "-", base).strip("-") or "job"
    return f"{clean[: 63 - len(stamp) - 1].rstrip('-')}-{stamp}"


def absolute_uri(uri: str, what: str) -> str:
    """``uri`` as a job keeps it: remote and ``file://`` URIs as they are, local paths made absolute (from here, now).

    Raises ``ValueError`` naming ``what`` for an unsupported scheme.
    """
    try:
        remote = storage.is_remote(uri)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
    if remote or uri.startswith("file://"):
        return uri
    # The job runs in its own folder: relative paths are taken from here, now.
    return os.path.abspath(os.path.expanduser(uri))


def check_channel(name: str, uri: str) -> str:
    """The channel's URI as a job keeps it; ``ValueError`` for a bad channel name or URI."""
    if not CHANNEL_NAME.match(name):
        raise ValueError(f"invalid channel name {name!r}: letters, digits, '.', '-' and '_' only")
    if not uri:
        raise ValueError(f"channel {name!r} has no URI")
    return absolute_uri(str(uri), f"channel {name!r}")


def check_metric_definition(definition: Mapping[str, str]) -> dict[str, str]:
    """SageMaker's ``{"Name": ..., "Regex": ...}`` checked: the regex compiles and captures the value."""
    try:
        name, regex = definition["Name"], definition["Regex"]
    except (KeyError, TypeError):
        raise ValueError(f"a metric definition needs 'Name' and 'Regex': {definition!r}") from None
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise ValueError(f"metric {name!r}: bad regex {regex!r}: {exc}") from None
    if compiled.groups < 1:
        raise ValueError(f"metric {name!r}: the regex {regex!r} needs a group that captures the value")
    return {"Name": str(name), "Regex": regex}


@dataclass
class TrainingJob:
    """What a training job runs, on what, and where its artifacts go. Validated when made (``ValueError``).

    Give either ``entry_point`` (a script; relative to ``source_dir`` when
    that is given, whose whole content becomes the job's code) or
    ``algorithm`` (a built-in one, see :func:`openmaker.training.algorithms.known_algorithms`).
    ``channels`` maps channel names to URIs (local folder or file, ``file://``,
    ``s3://`` prefix). ``hyperparameters`` values are stored as strings
    (non-strings JSON-encoded). ``metric_definitions`` are SageMaker's
    ``[{"Name": ..., "Regex": ...}]``; the regex's first group is the value.
    ``output_path`` (default ``$OPENMAKER_HOME/artifacts``) receives
    ``<name>/output/model.tar.gz``. ``name`` defaults to
    ``<base_job_name or script/algorithm>-<timestamp>``.
    ``channel_options`` adds fields to a channel's entry in ``inputdataconfig.json``
    (``ContentType``, ``CompressionType``, ``TrainingInputMode`` ...), as SageMaker
    writes them from the request's channels. ``environment`` is set in the job's
    process (the ``SM_*`` variables win). ``max_runtime_seconds`` stops the
    script when it runs longer (SIGTERM, then SIGKILL after
    :data:`STOP_GRACE_SECONDS`): the job ends ``Stopped`` with what ``model/``
    holds then uploaded, as SageMaker's ``MaxRuntimeInSeconds`` does.
    """

    entry_point: str | None = None
    source_dir: str | None = None
    algorithm: str | None = None
    channels: dict[str, str] = field(default_factory=dict)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    metric_definitions: list[dict[str, str]] = field(default_factory=list)
    output_path: str | None = None
    name: str | None = None
    base_job_name: str | None = None
    engine: str = "local"
    #: CPUs the job may use (``SM_NUM_CPUS``; the Ray task's ``num_cpus``). Default: all of them (1 on Ray).
    num_cpus: int | None = None
    channel_options: dict[str, dict[str, str]] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    max_runtime_seconds: int | None = None

    def __post_init__(self) -> None:
        if (self.entry_point is None) == (self.algorithm is None):
            raise ValueError("give either an entry point (a script) or a built-in algorithm, not both or neither")
        if self.algorithm is not None:
            algorithm_module(self.algorithm)  # ValueError naming the known ones
            if self.source_dir is not None:
                raise ValueError("a source dir goes with an entry point, not with a built-in algorithm")
            if not self.metric_definitions:  # SageMaker predefines a built-in algorithm's metrics
                self.metric_definitions = default_metric_definitions(self.algorithm)
        else:
            self._check_code()
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}; use one of: {', '.join(ENGINES)}")
        if self.num_cpus is not None and self.num_cpus < 1:
            raise ValueError(f"num_cpus must be at least 1, not {self.num_cpus}")
        if self.max_runtime_seconds is not None and self.max_runtime_seconds < 1:
            raise ValueError(f"max_runtime_seconds must be at least 1, not {self.max_runtime_seconds}")
        self.channels = {str(k): check_channel(str(k), v) for k, v in dict(self.channels).items()}
        unknown = sorted(set(self.channel_options) - set(self.channels))
        if unknown:
            raise ValueError(f"channel options for {', '.join(map(repr, unknown))}, which is not a channel of the job")
        self.environment = {str(k): str(v) for k, v in dict(self.environment).items()}
        self.hyperparameters = encode_hyperparameters(dict(self.hyperparameters))
        self.metric_definitions = [check_metric_definition(d) for d in self.metric_definitions]
        if self.output_path is not None:
            self.output_path = absolute_uri(self.output_path, "output path")
        if self.name is None:
            base = self.base_job_name or self.algorithm or Path(self.entry_point or "job").stem
            self.name = default_job_name(base)
        elif not JOB_NAME.match(self.name):
            raise ValueError(
                f"invalid job name {self.name!r}: 1 to 63 letters, digits and dashes, "
                "starting and ending with a letter or digit"
            )

    def _check_code(self) -> None:
        assert self.entry_point is not None
        if self.source_dir is not None:
            source = Path(self.source_dir).expanduser()
            if not source.is_dir():
                raise ValueError(f"source dir {self.source_dir!r} is not a folder")
            self.source_dir = str(source.resolve())
            script = source / self.entry_point
            if Path(self.entry_point).is_absolute() or ".." in Path(self.entry_point).parts:
                raise ValueError(f"entry point {self.entry_point!r} must be a path inside the source dir")
        else:
            script = Path(self.entry_point).expanduser()
            self.entry_point = str(script.resolve())
        if not script.is_file():
            where = f" in source dir {self.source_dir!r}" if self.source_dir else ""
            raise ValueError(f"entry point {str(self.entry_point)!r} not found{where}")

    @property
    def module(self) -> str | None:
        """The module a built-in algorithm runs as (``python -m``), None for a script."""
        return algorithm_module(self.algorithm) if self.algorithm else None

    @property
    def script(self) -> str | None:
        """The script's path relative to ``code/``, None for a built-in algorithm."""
        if self.entry_point is None:
            return None
        return self.entry_point if self.source_dir else Path(self.entry_point).name

    def command(self, python: str = sys.executable) -> list[str]:
        """The command line run in ``code/``: ``python <script> --name value ...`` or ``python -m <module>``.

        Built-in algorithms read their hyperparameters from ``input/config``
        and ``SM_HPS``, as SageMaker's do, so they get no arguments.
        """
        if self.module:
            return [python, "-m", self.module]
        return [python, str(self.script), *user_args(self.hyperparameters)]


class MetricParser:
    """Finds the values of the declared metrics in log lines (each regex match -> one value)."""

    def __init__(self, definitions: list[dict[str, str]]) -> None:
        self._patterns = [(d["Name"], re.compile(d["Regex"])) for d in definitions]

    def parse(self, line: str, when: datetime | None = None) -> list[tuple[str, float, datetime]]:
        """``(name, value, timestamp)`` for every match in ``line``; values that are not finite numbers are skipped."""
        found = []
        for name, pattern in self._patterns:
            for match in pattern.finditer(line):
                try:
                    value = float(match.group(1))
                except (TypeError, ValueError):
                    continue
                if math.isfinite(value):
                    found.append((name, value, when or _now()))
        return found


# --- the database --------------------------------------------------------------

_migrated: set[str] = set()


def _ensure_schema(url: str | None) -> str:
    resolved = url or get_settings().resolved_database_url
    if resolved not in _migrated:
        db.migrate(resolved)
        _migrated.add(resolved)
    return resolved


def _update(url: str, name: str, **fields: Any) -> None:
    with db.session_scope(url) as session:
        record = records.get_job(session, name)
        for key, value in fields.items():
            setattr(record, key, value)


def _load(url: str, name: str) -> TrainingJobRecord:
    with db.session_scope(url) as session:
        return records.get_job(session, name)


def mark_failed(name: str, reason: str, *, database_url: str | None = None) -> None:
    """End a job that cannot finish any more (its runner is gone): ``Failed``, with ``reason``, now."""
    _update(_ensure_schema(database_url), name, status=records.FAILED, failure_reason=reason, ended_at=_now())


def get_job(name: str, *, database_url: str | None = None) -> TrainingJobRecord:
    """The record of the job called ``name`` (with its metrics); raises ``records.JobNotFound``."""
    return _load(_ensure_schema(database_url), name)


def list_jobs(*, database_url: str | None = None) -> list[TrainingJobRecord]:
    """Every training job recorded in the database (default: the settings' one), newest first."""
    url = _ensure_schema(database_url)
    with db.session_scope(url) as session:
        return records.list_jobs(session)


def describe_job(name: str, *, database_url: str | None = None) -> dict[str, Any]:
    """The job called ``name`` as SageMaker's ``DescribeTrainingJob`` shows it; raises ``records.JobNotFound``."""
    return records.describe(_load(_ensure_schema(database_url), name))


def job_log(name: str, *, database_url: str | None = None) -> str:
    """The log of the job called ``name`` (empty when it never started); raises ``records.JobNotFound``."""
    record = _load(_ensure_schema(database_url), name)
    if not record.log_path or not Path(record.log_path).is_file():
        return ""
    return Path(record.log_path).read_text(encoding="utf-8", errors="replace")


# --- running a job ---------------------------------------------------------------


def run_process(
    command: list[str],
    env: dict[str, str],
    cwd: str,
    log_path: str,
    max_runtime_seconds: int | None = None,
    tick: Callable[[], None] | None = None,
) -> int | None:
    """Run ``command`` with its stdout and stderr appended to ``log_path``; returns its exit code.

    Past ``max_runtime_seconds`` the process is stopped (:func:`_stop`) and None is returned.
    ``tick`` is called between polls (to follow the log). Module-level so that a Ray task can run it as it is.
    """
    deadline = None if max_runtime_seconds is None else time.monotonic() + max_runtime_seconds
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        while process.poll() is None:
            if tick is not None:
                tick()
            if deadline is not None and time.monotonic() >= deadline:
                _stop(process)
                return None
            time.sleep(_POLL_SECONDS)
        return process.returncode
    except BaseException:
        process.kill()
        process.wait()
        raise


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM, and SIGKILL when the process is still there :data:`STOP_GRACE_SECONDS` later."""
    process.terminate()
    try:
        process.wait(STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class _LogFollower:
    """Reads the lines appended to the log file, hands each to the console, the sink and the metric parser."""

    def __init__(self, path: Path, on_line: Callable[[str], None]) -> None:
        self._path = path
        self._on_line = on_line
        self._handle = None
        self._partial = b""

    def poll(self, final: bool = False) -> None:
        if self._handle is None:
            if not self._path.exists():
                return
            self._handle = self._path.open("rb")
        chunk = self._handle.read()
        if chunk:
            data = self._partial + chunk
            *lines, self._partial = data.split(b"\n")
            for line in lines:
                self._on_line(line.rstrip(b"\r").decode("utf-8", errors="replace"))
        if final:
            if self._partial:
                self._on_line(self._partial.decode("utf-8", errors="replace"))
                self._partial = b""
            self._handle.close()
            self._handle = None


def _pack(folder: Path, tar_path: Path) -> Path:
    # Members relative to the folder ("model.joblib", not "model/model.joblib"), as SageMaker packs them.
    with tarfile.open(tar_path, "w:gz") as tar:
        for child in sorted(folder.iterdir()):
            tar.add(child, arcname=child.name)
    return tar_path


def _copy_code(spec: TrainingJob, layout: JobLayout) -> None:
    if spec.source_dir:
        shutil.copytree(
            spec.source_dir,
            layout.code_dir,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", ".git", "*.pyc"),
        )
    elif spec.entry_point:
        shutil.copy2(spec.entry_point, layout.code_dir / Path(spec.entry_point).name)


def _missing_channels(spec: TrainingJob) -> list[str]:
    problems = []
    for name, uri in spec.channels.items():
        try:
            found = storage.exists(uri)
        except Exception as exc:  # an unreachable store counts as missing data, with its reason
            problems.append(f"channel '{name}': cannot read {uri}: {exc}")
            continue
        if not found:
            problems.append(f"channel '{name}': no data at {uri}")
    return problems


def _init_ray(num_cpus: int | None) -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ModuleNotFoundError(RAY_MISSING) from exc
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address)
        else:
            ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False)
    return ray


def _reason_from(layout: JobLayout, returncode: int, tail: deque[str]) -> str:
    if layout.failure_file.is_file():
        text = layout.failure_file.read_text(encoding="utf-8", errors="replace").strip()
        if text:
            return text[:MAX_FAILURE_FILE_CHARS]
    lines = "\n".join(tail)
    return f"AlgorithmError: the training script exited with code {returncode}. Last log lines:\n{lines}".rstrip()


def run_training_job(
    spec: TrainingJob,
    *,
    progress: bool = True,
    log_sink: Callable[[str], None] | None = None,
    on_phase: Callable[[str], None] | None = None,
    database_url: str | None = None,
) -> TrainingJobRecord:
    """Run the training job ``spec`` to its end and return its record (status ``Completed``, ``Failed``
    or, past its ``max_runtime_seconds``, ``Stopped``).

    The job is recorded in the database (default: the settings' one) before
    anything runs. A channel with no data fails the job before it starts
    (nothing is downloaded, no process runs). ``progress`` streams the job's
    log lines to the console (stderr); ``log_sink`` is called with each line
    too; ``on_phase`` with each of :data:`PHASES` as the job enters it.
    Raises ``ValueError`` when a job of that name already exists.
    A failing script does not raise: the record says why it failed.
    """
    from rich.console import Console

    url = _ensure_schema(database_url)
    name = spec.name
    assert name is not None
    settings = get_settings()
    layout = JobLayout(settings.home / "jobs" / name)
    output_path = spec.output_path or str(settings.home / "artifacts")
    console = Console(stderr=True, highlight=False)

    with db.session_scope(url) as session:
        try:
            records.get_job(session, name)
        except records.JobNotFound:
            pass
        else:
            raise ValueError(f"a training job named {name!r} already exists")
        session.add(
            TrainingJobRecord(
                name=name,
                status=IN_PROGRESS,
                algorithm=spec.algorithm,
                entry_point=spec.script,
                source_dir=spec.source_dir,
                engine=spec.engine,
                hyperparameters=json.dumps(spec.hyperparameters, sort_keys=True),
                channels=json.dumps(spec.channels, sort_keys=True),
                metric_definitions=json.dumps(spec.metric_definitions),
                output_path=output_path,
                job_dir=str(layout.root),
                log_path=str(layout.log_file),
            )
        )

    started: datetime | None = None

    def fail(reason: str, metrics: list[tuple[str, float, datetime]] | None = None) -> TrainingJobRecord:
        fields: dict[str, Any] = {"status": FAILED, "failure_reason": reason}
        if started is None:  # failed before it started: no log, no billable time
            fields["log_path"] = None
        else:
            ended = _now()
            fields.update(ended_at=ended, billable_seconds=_billable(started, ended))
        # Metrics logged before the failure are kept, as SageMaker keeps them.
        _save_metrics(url, name, metrics or [])
        _update(url, name, **fields)
        if progress:
            console.print(f"[red]Training job {name} failed:[/red] ", end="")
            console.print(reason, markup=False)
        return _load(url, name)

    problems = _missing_channels(spec)
    if problems:
        return fail("ClientError: " + "; ".join(problems))

    started = _now()
    _update(url, name, started_at=started)
    phase = on_phase or (lambda _: None)
    phase("Downloading")
    try:
        if layout.root.exists():  # a leftover of an earlier job of this name in another database
            shutil.rmtree(layout.root)
        layout.create()
        for channel, uri in spec.channels.items():
            if progress:
                console.print(f"Downloading channel {channel} from {uri}", markup=False)
            # The folder exists first, so that a single file lands inside it under its own name.
            layout.channel_dir(channel).mkdir(parents=True, exist_ok=True)
            storage.download(uri, layout.channel_dir(channel))
        _copy_code(spec, layout)
        layout.write_config(spec.hyperparameters, {c: spec.channel_options.get(c) for c in spec.channels})
        layout.log_file.touch()
    except Exception as exc:
        return fail(f"ClientError: cannot prepare the job: {exc}")

    entry = spec.module or spec.script or ""
    env = {**os.environ, **spec.environment}
    env.update(
        sagemaker_env(
            layout,
            list(spec.channels),
            spec.hyperparameters,
            entry,
            job_name=name,
            num_cpus=spec.num_cpus,
            framework_module=spec.module or "",
            input_data_config=json.loads(layout.input_data_config_file.read_text(encoding="utf-8")),
        )
    )
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(layout.code_dir), os.environ.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"  # lines reach the log as they are printed
    command = spec.command()

    parser = MetricParser(spec.metric_definitions)
    metrics: list[tuple[str, float, datetime]] = []
    tail: deque[str] = deque(maxlen=FAILURE_LOG_LINES)

    def on_line(line: str) -> None:
        tail.append(line)
        metrics.extend(parser.parse(line))
        if progress:
            console.print(line, markup=False)
        if log_sink is not None:
            log_sink(line)

    follower = _LogFollower(layout.log_file, on_line)
    if progress:
        console.print(f"Training job {name}: running {' '.join(command[1:])} ({spec.engine} engine)", markup=False)
    phase("Training")
    try:
        returncode = _execute(spec, command, env, layout, follower)  # None: stopped at its time limit
    except KeyboardInterrupt:
        follower.poll(final=True)
        fail("Stopped: interrupted by the user", metrics)
        raise
    except Exception as exc:
        follower.poll(final=True)
        return fail(f"InternalServerError: the job could not run: {exc}", metrics)

    if returncode is not None and returncode != 0:
        return fail(_reason_from(layout, returncode, tail), metrics)

    # Stopped at its time limit, the job still uploads what its model folder holds, as SageMaker does.
    phase("Uploading")
    try:
        prefix = storage.join(output_path, name, "output")
        model_uri = storage.join(prefix, "model.tar.gz")
        storage.upload(_pack(layout.model_dir, layout.root / "model.tar.gz"), model_uri)
        storage.upload(_pack(layout.output_data_dir, layout.root / "output.tar.gz"), storage.join(prefix, "output.tar.gz"))
        layout.success_file.touch()
    except Exception as exc:
        return fail(f"ClientError: cannot upload the artifacts to {output_path}: {exc}", metrics)

    ended = _now()
    _save_metrics(url, name, metrics)
    stopped = returncode is None
    fields = {"status": STOPPED, "failure_reason": _max_runtime_reason(spec)} if stopped else {"status": COMPLETED}
    _update(url, name, **fields, model_artifacts=model_uri, ended_at=ended, billable_seconds=_billable(started, ended))
    if progress:
        console.print(f"[green]Training job {name} {fields['status'].lower()}[/green]: ", end="")
        console.print(model_uri, markup=False)
    return _load(url, name)


def _max_runtime_reason(spec: TrainingJob) -> str:
    return (
        f"MaxRuntimeExceeded: the job ran longer than its limit of {spec.max_runtime_seconds} s and was stopped; "
        "what its model folder held then was uploaded"
    )


def _billable(started: datetime, ended: datetime) -> int:
    return max(1, math.ceil((ended - started).total_seconds()))


def _save_metrics(url: str, name: str, metrics: list[tuple[str, float, datetime]]) -> None:
    if not metrics:
        return
    with db.session_scope(url) as session:
        job = records.get_job(session, name)
        session.add_all(records.TrainingMetric(job_id=job.id, name=n, value=v, timestamp=t) for n, v, t in metrics)


def _execute(
    spec: TrainingJob, command: list[str], env: dict[str, str], layout: JobLayout, follower: _LogFollower
) -> int | None:
    """Run the job's process on its engine while following its log; returns the exit code (None: stopped at its limit)."""
    args = (command, env, str(layout.code_dir), str(layout.log_file), spec.max_runtime_seconds)
    if spec.engine == "ray":
        ray = _init_ray(spec.num_cpus)
        task = ray.remote(num_cpus=spec.num_cpus or 1, max_retries=0)(run_process)
        ref = task.remote(*args)
        try:
            while True:
                ready, _ = ray.wait([ref], timeout=_POLL_SECONDS)
                follower.poll()
                if ready:
                    break
        except BaseException:
            ray.cancel(ref, force=True)
            raise
        returncode = ray.get(ref)
        follower.poll(final=True)
        return returncode

    returncode = run_process(*args, tick=follower.poll)
    follower.poll(final=True)
    return returncode
