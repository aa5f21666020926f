"""The SageMaker control plane's training and transform jobs, answered by the training room.

Published as ``Room.aws_operations`` (:func:`operations`). The AWS front end calls each
``fn(params, ctx)`` in a worker thread with the request already validated against
botocore's input shape, and answers the dict returned or the ``AwsError`` raised. Each
Create returns at once: the job runs in a daemon thread.

- ``CreateTrainingJob`` maps the request onto a :class:`~openmaker.training.jobs.TrainingJob`:
  a built-in algorithm when the training image's repository (``.../linear-learner:1``) or
  the ``AlgorithmName`` names one of :func:`~openmaker.training.algorithms.known_algorithms`,
  else script mode from the hyperparameters the SageMaker Python SDK's framework
  estimators set (``sagemaker_program``, the entry point; ``sagemaker_submit_directory``,
  the folder or ``sourcedir.tar.gz`` holding it). All hyperparameters reach the job as
  given: the ``sagemaker_*`` ones stay in ``hyperparameters.json`` and are left out of the
  script's arguments and ``SM_HPS``, as the SDK's containers do. The request, and the job's
  secondary-status transitions, are kept in the resource store (kind ``training-job``);
  openmaker's ``training_job`` record says how the job went. The model lands at
  ``<S3OutputPath>/<TrainingJobName>/output/model.tar.gz``.
- ``DescribeTrainingJob`` joins the two; a job started by ``openmaker train`` is described too.
- ``CreateTransformJob`` runs :func:`~openmaker.training.transform.batch_transform` on the
  model the front end stored from ``CreateModel`` (kind ``model``; ``Containers`` run as a
  serial pipeline), writing ``<object>.out`` under ``S3OutputPath``. It runs in a spawned
  process, so that the containers' and the job's ``Environment`` reach the model's workers
  without touching the server's. A container whose ``Environment`` names
  ``SAGEMAKER_PROGRAM`` is served in script mode with that program, its code taken from
  ``SAGEMAKER_SUBMIT_DIRECTORY`` when that is a URI (as the SDK's framework models set it).
  The description (kind ``transform-job``) goes from ``InProgress`` to ``Completed`` or
  ``Failed`` with a ``FailureReason``.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import re
import shutil
import socket
import tarfile
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from openmaker import storage
from openmaker.awsapi.errors import AwsError
from openmaker.training import records
from openmaker.training.algorithms import known_algorithms
from openmaker.training.jobs import (
    TrainingJob,
    absolute_uri,
    check_channel,
    check_metric_definition,
    get_job,
    mark_failed,
    run_training_job,
)

if TYPE_CHECKING:
    from openmaker.awsapi.context import AwsContext

__all__ = [
    "create_training_job",
    "create_transform_job",
    "describe_training_job",
    "describe_transform_job",
    "operations",
]

TRAINING_JOB = "training-job"
TRANSFORM_JOB = "transform-job"
MODEL = "model"
PROGRAM = "sagemaker_program"
SUBMIT_DIRECTORY = "sagemaker_submit_directory"
#: SageMaker's default ``StoppingCondition.MaxRuntimeInSeconds``: one day.
DEFAULT_MAX_RUNTIME = 86400
#: SageMaker's default ``MaxPayloadInMB``, and its cap on ``MaxPayloadInMB`` x ``MaxConcurrentTransforms``.
DEFAULT_MAX_PAYLOAD_MB = 6
MAX_PAYLOAD_TOTAL_MB = 100
MAX_FAILURE_REASON = 1024
#: A ``SAGEMAKER_SUBMIT_DIRECTORY`` under this prefix is a path inside the container: the code is in the model.
CONTAINER_PATH = "/opt/ml/"
NOT_FOUND = "Requested resource not found."
TRANSITION_MESSAGES = {
    "Starting": "Starting the training job",
    "Downloading": "Downloading the code and input data",
    "Training": "Training in progress",
    "Uploading": "Uploading the model",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "MaxRuntimeExceeded": "Training job stopped: it ran longer than MaxRuntimeInSeconds",
}

Operation = Callable[[dict[str, Any], "AwsContext"], dict[str, Any]]


def operations() -> dict[str, Operation]:
    """What ``Room.aws_operations`` returns: ``"sagemaker:<Operation>"`` -> ``fn(params, ctx)``."""
    return {
        "sagemaker:CreateTrainingJob": create_training_job,
        "sagemaker:DescribeTrainingJob": describe_training_job,
        "sagemaker:CreateTransformJob": create_transform_job,
        "sagemaker:DescribeTransformJob": describe_transform_job,
    }


# --- shared ---------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _invalid(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def _in_use(kind: str, arn: str) -> AwsError:
    return AwsError(
        "ResourceInUse",
        f"{kind.capitalize()} job names must be unique within an AWS account and region, "
        f"and a {kind} job with this name already exists ({arn})",
    )


def _uri(value: str, what: str) -> str:
    try:
        return absolute_uri(value, what)
    except ValueError as exc:
        raise _invalid(str(exc)) from None


def _described(operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The members of ``body`` that ``operation``'s output has: the request echoed, nothing of ours."""
    from openmaker.awsapi.shapes import operation_model

    members = operation_model("sagemaker", operation).output_shape.members
    return {key: value for key, value in body.items() if key in members}


#: Tells this server process from an earlier one that had the same pid.
_PROCESS_TOKEN = uuid.uuid4().hex


def _runner() -> dict[str, Any]:
    """Who runs a job created here: the jobs run in this process's threads and end with it."""
    return {"Host": socket.gethostname(), "Pid": os.getpid(), "Token": _PROCESS_TOKEN}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _orphaned(body: Mapping[str, Any]) -> str | None:
    """Why a job in progress can never end (the server process running it is gone), or None.

    Only jobs run on this host are judged; one whose process is alive is left alone, for it may be
    another server sharing the database.
    """
    runner = body.get("Runner") or {}
    if runner.get("Host") != socket.gethostname() or runner.get("Token") == _PROCESS_TOKEN:
        return None
    pid = int(runner.get("Pid") or 0)
    if pid != os.getpid() and _pid_alive(pid):
        return None
    return (
        f"InternalServerError: the server process that ran this job (pid {pid} on {runner.get('Host')}) stopped "
        "before the job ended; create the job again under a new name"
    )


def _in_background(target: Callable[..., None], *args: Any, name: str) -> None:
    threading.Thread(target=target, args=args, name=name, daemon=True).start()


def _failure_reason(exc: BaseException) -> str:
    """A job's ``FailureReason`` for an exception: the caller's problem (bad input, missing data) or ours."""
    from openmaker.training.transform import TransformError

    if isinstance(exc, (ValueError, OSError, TransformError)):
        return f"ClientError: {exc}"[:MAX_FAILURE_REASON]
    return f"InternalServerError: {type(exc).__name__}: {exc}"[:MAX_FAILURE_REASON]


def _unpack_into(uri: str, dest: Path) -> Path:
    """The folder at ``uri`` copied into ``dest``, or the tar archive at ``uri`` unpacked there; returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=dest.parent) as staging:
        fetched = storage.download(uri, staging)
        if fetched.is_dir():
            shutil.copytree(fetched, dest, dirs_exist_ok=True)
            return dest
        try:
            with tarfile.open(fetched) as tar:
                tar.extractall(dest, filter="data")
        except tarfile.TarError as exc:
            raise ValueError(f"cannot unpack {uri} (a folder or a tar archive): {exc}") from None
    return dest


# --- training jobs ----------------------------------------------------------------


class _Code(NamedTuple):
    """What a training job runs: a built-in algorithm, or a script (``program``) from a submit directory."""

    algorithm: str | None
    program: str | None = None
    submit_directory: str | None = None


@dataclass
class _Training:
    """A CreateTrainingJob request, checked, in openmaker's terms."""

    name: str
    code: _Code
    channels: dict[str, str]
    channel_options: dict[str, dict[str, str]]
    hyperparameters: dict[str, str]
    metric_definitions: list[dict[str, str]]
    output_path: str
    max_runtime: int
    environment: dict[str, str] = field(default_factory=dict)

    def spec(self, source_dir: str | None) -> TrainingJob:
        """The job, its script's code in ``source_dir`` (None for a built-in algorithm)."""
        return TrainingJob(
            entry_point=self.code.program,
            source_dir=source_dir,
            algorithm=self.code.algorithm,
            channels=self.channels,
            channel_options=self.channel_options,
            hyperparameters=self.hyperparameters,
            metric_definitions=self.metric_definitions,
            output_path=self.output_path,
            name=self.name,
            environment=self.environment,
            max_runtime_seconds=self.max_runtime,
        )


def _repository(image: str) -> str:
    """An image URI's repository: ``123.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1`` -> ``linear-learner``."""
    return re.split(r"[:@]", image.rsplit("/", 1)[-1], maxsplit=1)[0]


def _hyperparameter_text(value: str | None) -> str | None:
    """A string hyperparameter as the SDK sends it, JSON-encoded (``'"train.py"'``), or plain."""
    if value is None:
        return None
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, str) else value


def _code(algorithm_spec: Mapping[str, Any], hyperparameters: Mapping[str, str]) -> _Code:
    image, algorithm_name = algorithm_spec.get("TrainingImage"), algorithm_spec.get("AlgorithmName")
    if bool(image) == bool(algorithm_name):
        raise _invalid("AlgorithmSpecification needs a TrainingImage or an AlgorithmName, not both or neither")
    known = known_algorithms()
    builtin = ", ".join(sorted(known))
    if algorithm_name:
        name = algorithm_name.rsplit("/", 1)[-1]  # a name, or an algorithm's ARN
        if name not in known:
            raise _invalid(
                f"AlgorithmName {algorithm_name!r} is not an algorithm openmaker has; built-in algorithms: {builtin}"
            )
        return _Code(name)
    if _repository(image) in known:
        return _Code(_repository(image))
    program = _hyperparameter_text(hyperparameters.get(PROGRAM))
    submit_directory = _hyperparameter_text(hyperparameters.get(SUBMIT_DIRECTORY))
    if program and submit_directory:
        return _Code(None, program, submit_directory)
    if program:
        raise _invalid(
            f"script mode needs the hyperparameter {SUBMIT_DIRECTORY} (the URI of the folder or sourcedir.tar.gz "
            f"holding the code) beside {PROGRAM} {program!r}"
        )
    raise _invalid(
        f"TrainingImage {image!r} is not supported: openmaker runs its built-in algorithms ({builtin}), named by the "
        "image's repository (e.g. .../linear-learner:1), and framework images in script mode, with the code given by "
        f"the hyperparameters {PROGRAM} and {SUBMIT_DIRECTORY} as the SageMaker Python SDK sets them"
    )


def _channels(config: list[Mapping[str, Any]], default_mode: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """``InputDataConfig`` as channel URIs and each channel's ``inputdataconfig.json`` fields."""
    uris: dict[str, str] = {}
    options: dict[str, dict[str, str]] = {}
    for channel in config:
        name, source = channel["ChannelName"], channel["DataSource"].get("S3DataSource")
        if name in uris:
            raise _invalid(f"channel {name!r} is given twice in InputDataConfig")
        if source is None:
            given = ", ".join(channel["DataSource"]) or "none"
            raise _invalid(f"channel {name!r}: only an S3DataSource is supported (given: {given})")
        if source["S3DataType"] != "S3Prefix":
            raise _invalid(f"channel {name!r}: S3DataType {source['S3DataType']} is not supported; use S3Prefix")
        mode = channel.get("InputMode") or default_mode
        if mode == "Pipe":
            raise _invalid(f"channel {name!r}: Pipe input mode is not supported; use File or FastFile")
        try:
            uris[name] = check_channel(name, source["S3Uri"])
        except ValueError as exc:
            raise _invalid(str(exc)) from None
        fields = {
            "TrainingInputMode": mode,
            "ContentType": channel.get("ContentType"),
            "CompressionType": channel.get("CompressionType"),
            "RecordWrapperType": channel.get("RecordWrapperType"),
            "S3DistributionType": source.get("S3DataDistributionType"),
        }
        options[name] = {key: value for key, value in fields.items() if value}
    return uris, options


def _refuse_unsupported_training(params: Mapping[str, Any]) -> None:
    algorithm_spec = params["AlgorithmSpecification"]
    if algorithm_spec.get("ContainerEntrypoint") or algorithm_spec.get("ContainerArguments"):
        raise _invalid(
            "AlgorithmSpecification.ContainerEntrypoint and ContainerArguments are not supported: "
            "openmaker runs built-in algorithms and script-mode code, not containers"
        )
    count = (params.get("ResourceConfig") or {}).get("InstanceCount", 1)
    if count > 1:
        raise _invalid(f"ResourceConfig.InstanceCount {count} is not supported: openmaker trains on one host; use 1")
    if params.get("CheckpointConfig"):
        raise _invalid("CheckpointConfig is not supported: openmaker does not sync checkpoints to S3")
    if params["OutputDataConfig"].get("CompressionType") == "NONE":
        raise _invalid("OutputDataConfig.CompressionType NONE is not supported: the model is packed into model.tar.gz")


def _training(params: Mapping[str, Any]) -> _Training:
    """The request checked and mapped; ``ValidationException`` for what openmaker cannot run."""
    algorithm_spec = params.get("AlgorithmSpecification")
    if not algorithm_spec:
        raise _invalid("AlgorithmSpecification is required: a TrainingImage or an AlgorithmName")
    _refuse_unsupported_training(params)
    hyperparameters = dict(params.get("HyperParameters") or {})
    channels, options = _channels(params.get("InputDataConfig") or [], algorithm_spec["TrainingInputMode"])
    try:
        metrics = [check_metric_definition(d) for d in algorithm_spec.get("MetricDefinitions") or []]
    except ValueError as exc:
        raise _invalid(f"AlgorithmSpecification.MetricDefinitions: {exc}") from None
    return _Training(
        name=params["TrainingJobName"],
        code=_code(algorithm_spec, hyperparameters),
        channels=channels,
        channel_options=options,
        hyperparameters=hyperparameters,
        metric_definitions=metrics,
        output_path=_uri(params["OutputDataConfig"]["S3OutputPath"], "OutputDataConfig.S3OutputPath"),
        max_runtime=(params.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds") or DEFAULT_MAX_RUNTIME,
        environment=dict(params.get("Environment") or {}),
    )


def _record(ctx: AwsContext, name: str) -> records.TrainingJobRecord | None:
    try:
        return get_job(name, database_url=ctx.resources.url)
    except records.JobNotFound:
        return None


def _entry(status: str, start: datetime, *, final: bool = False) -> dict[str, Any]:
    """A ``SecondaryStatusTransitions`` entry; a final one ends as it starts."""
    entry = {"Status": status, "StartTime": start, "StatusMessage": TRANSITION_MESSAGES.get(status, status)}
    return {**entry, "EndTime": start} if final else entry


def _transition(ctx: AwsContext, name: str, status: str, *, final: bool = False, **fields: Any) -> None:
    """Enter secondary status ``status`` (closing the one before), unless the job is in it already;
    ``fields`` are stored in the same write."""
    body = ctx.resources.get(TRAINING_JOB, name) or {}
    transitions = body.get("SecondaryStatusTransitions") or []
    if transitions and transitions[-1]["Status"] == status:
        return
    now = _now()
    if transitions:
        transitions[-1]["EndTime"] = now
    transitions.append(_entry(status, now, final=final))
    ctx.resources.update(TRAINING_JOB, name, SecondaryStatusTransitions=transitions, LastModifiedTime=now, **fields)


@contextlib.contextmanager
def _code_folder(code: _Code) -> Iterator[str | None]:
    """The script's code unpacked into a temporary folder while the job runs (None for a built-in algorithm)."""
    if code.submit_directory is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="sourcedir-") as tmp:
        yield str(_unpack_into(code.submit_directory, Path(tmp) / "code"))


def _run_training(training: _Training, ctx: AwsContext) -> None:
    """The job from start to end (a daemon thread). How it ended is in openmaker's record; a failure before
    openmaker's runner has the job is kept in the description, with ``TrainingJobStatus`` ``Failed``."""
    name = training.name

    def phase(status: str) -> None:
        _transition(ctx, name, status)

    try:
        phase("Downloading")
        with _code_folder(training.code) as source_dir:
            run_training_job(training.spec(source_dir), progress=False, on_phase=phase, database_url=ctx.resources.url)
    except Exception as exc:
        reason = _failure_reason(exc)
        ended = _now()
        _transition(ctx, name, "Failed", final=True, TrainingJobStatus="Failed", FailureReason=reason, TrainingEndTime=ended)


def create_training_job(params: dict[str, Any], ctx: AwsContext) -> dict[str, Any]:
    """``CreateTrainingJob``: check, record and start the job; ``{"TrainingJobArn": ...}``."""
    name = params["TrainingJobName"]
    arn = ctx.arn(TRAINING_JOB, name)
    training = _training(params)
    if _record(ctx, name) is not None:  # a job of that name started by `openmaker train`
        raise _in_use("training", arn)
    now = _now()
    body = {
        **params,
        "StoppingCondition": {**(params.get("StoppingCondition") or {}), "MaxRuntimeInSeconds": training.max_runtime},
        "TrainingJobArn": arn,
        "CreationTime": now,
        "LastModifiedTime": now,
        "SecondaryStatusTransitions": [_entry("Starting", now)],
        "Runner": _runner(),
    }
    if not ctx.resources.create(TRAINING_JOB, name, body):
        raise _in_use("training", arn)
    _in_background(_run_training, training, ctx, name=f"training-job-{name}")
    return {"TrainingJobArn": arn}


def _as_requested(record: records.TrainingJobRecord) -> dict[str, Any]:
    """A job started by ``openmaker train``, told as the CreateTrainingJob request that would have started it."""
    described = records.describe(record)
    keep = ("HyperParameters", "AlgorithmSpecification", "InputDataConfig", "OutputDataConfig")
    return {
        **{key: described[key] for key in keep},
        "StoppingCondition": {},
        "CreationTime": records.utc(record.created_at),
        "LastModifiedTime": records.utc(record.ended_at or record.started_at or record.created_at),
    }


def _transitions(body: Mapping[str, Any], record: records.TrainingJobRecord | None) -> list[dict[str, Any]]:
    """The secondary-status transitions kept, ended by the one the record's final status makes."""
    transitions = [dict(t) for t in body.get("SecondaryStatusTransitions") or []]
    if record is None or record.status == records.IN_PROGRESS or body.get("TrainingJobStatus") or not transitions:
        return transitions
    final = records.SECONDARY_STATUS.get(record.status, record.status)
    if transitions[-1]["Status"] != final:
        ended = records.utc(record.ended_at) or transitions[-1]["StartTime"]  # no end: it failed before it started
        transitions[-1].setdefault("EndTime", ended)
        transitions.append(_entry(final, ended, final=True))
    return transitions


def _progress(record: records.TrainingJobRecord | None, algorithm_spec: Mapping[str, Any]) -> dict[str, Any]:
    """What openmaker's record says of the job: status, times, reason, metrics, the model."""
    if record is None:
        return {"TrainingJobStatus": records.IN_PROGRESS}
    found = {
        "TrainingJobStatus": record.status,
        "FailureReason": record.failure_reason,
        "TrainingStartTime": records.utc(record.started_at),
        "TrainingEndTime": records.utc(record.ended_at),
        "TrainingTimeInSeconds": record.billable_seconds,
        "BillableTimeInSeconds": record.billable_seconds,
        "FinalMetricDataList": [
            {"MetricName": m.name, "Value": m.value, "Timestamp": records.utc(m.timestamp)}
            for m in records.last_metrics(record)
        ],
        # The metrics the job looked for: a built-in algorithm's predefined ones too.
        "AlgorithmSpecification": {**algorithm_spec, "MetricDefinitions": record.metric_definitions_list},
        "ModelArtifacts": {"S3ModelArtifacts": record.model_artifacts} if record.model_artifacts else None,
    }
    return {key: value for key, value in found.items() if value is not None}


def describe_training_job(params: dict[str, Any], ctx: AwsContext) -> dict[str, Any]:
    """``DescribeTrainingJob``: the request as kept, with the job's progress; ``ResourceNotFound`` when unknown."""
    name = params["TrainingJobName"]
    body = ctx.resources.get(TRAINING_JOB, name)
    record = _record(ctx, name)
    if body is None and record is None:
        raise AwsError("ResourceNotFound", NOT_FOUND)
    in_progress = body is not None and "TrainingJobStatus" not in body and (record is None or record.status == records.IN_PROGRESS)
    reason = _orphaned(body) if in_progress else None
    if reason is not None:
        ended = _now()
        if record is not None:
            mark_failed(name, reason, database_url=ctx.resources.url)
        _transition(ctx, name, "Failed", final=True, TrainingJobStatus="Failed", FailureReason=reason, TrainingEndTime=ended)
        body, record = ctx.resources.get(TRAINING_JOB, name), _record(ctx, name)
    out = _described("DescribeTrainingJob", body if body is not None else _as_requested(record))
    out.update(TrainingJobName=name, TrainingJobArn=ctx.arn(TRAINING_JOB, name))
    if body is not None:
        out["SecondaryStatusTransitions"] = _transitions(body, record)
        out["SecondaryStatus"] = out["SecondaryStatusTransitions"][-1]["Status"]
    else:  # a job started by `openmaker train`
        out["SecondaryStatus"] = records.SECONDARY_STATUS.get(record.status, record.status)
    if "TrainingJobStatus" not in out:  # openmaker's runner has (or will have) the job
        out.update(_progress(record, out.get("AlgorithmSpecification") or {"TrainingInputMode": "File"}))
        out["LastModifiedTime"] = max(t for t in (out["LastModifiedTime"], out.get("TrainingEndTime")) if t)
    # Where SageMaker puts (or will put) the model; the member is required even before there is one.
    model_uri = storage.join(out["OutputDataConfig"]["S3OutputPath"], name, "output", "model.tar.gz")
    out.setdefault("ModelArtifacts", {"S3ModelArtifacts": model_uri})
    return out


# --- transform jobs ---------------------------------------------------------------


@dataclass
class _Transform:
    """A CreateTransformJob request, checked: the model's stages and ``batch_transform``'s arguments.

    Picklable: the job runs in a spawned process.
    """

    stages: list[dict[str, Any]]  # {"ModelData": uri, "Environment": {...}} per container, in order
    input_uri: str
    output_uri: str
    options: dict[str, Any]
    environment: dict[str, str]


#: Handled through the model's folder (:func:`_model_source`), not through the workers' environment,
#: so that the stages of a pipeline keep their own.
_SCRIPT_VARIABLES = ("SAGEMAKER_PROGRAM", "SAGEMAKER_SUBMIT_DIRECTORY")


def _stages(model: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The model's containers as the transform's stages, in order."""
    name = model.get("ModelName")
    containers = model.get("Containers") or ([model["PrimaryContainer"]] if model.get("PrimaryContainer") else [])
    if not containers:
        raise _invalid(f"model {name!r} has no container (PrimaryContainer or Containers)")
    if (model.get("InferenceExecutionConfig") or {}).get("Mode") == "Direct":
        raise _invalid(
            f"model {name!r} invokes its containers directly (InferenceExecutionConfig Direct); "
            "a transform job runs them in series"
        )
    stages = []
    for number, container in enumerate(containers, start=1):
        source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
        uri = container.get("ModelDataUrl") or source.get("S3Uri")
        if container.get("Mode") == "MultiModel":
            raise _invalid(
                f"container {number} of model {name!r} is a multi-model container, which a transform job cannot run"
            )
        if not uri:
            raise _invalid(
                f"container {number} of model {name!r} has no ModelDataUrl or ModelDataSource: "
                "openmaker serves a model from its artifacts, not from an image"
            )
        stages.append({"ModelData": uri, "Environment": dict(container.get("Environment") or {})})
    return stages


def _refuse_unsupported_transform(params: Mapping[str, Any]) -> None:
    transform_input = params["TransformInput"]
    data_type = transform_input["DataSource"]["S3DataSource"]["S3DataType"]
    if data_type != "S3Prefix":
        raise _invalid(f"TransformInput S3DataType {data_type} is not supported; use S3Prefix")
    if transform_input.get("CompressionType", "None") != "None":
        raise _invalid("TransformInput.CompressionType Gzip is not supported; give uncompressed objects (None)")
    processing = params.get("DataProcessing") or {}
    defaults = {"InputFilter": "$", "OutputFilter": "$", "JoinSource": "None"}
    if any(processing.get(key, default) != default for key, default in defaults.items()):
        raise _invalid("DataProcessing (InputFilter, OutputFilter, JoinSource) is not supported")
    if params.get("DataCaptureConfig"):
        raise _invalid("DataCaptureConfig is not supported")


def _payload(params: Mapping[str, Any]) -> tuple[int, int | None]:
    """``(MaxPayloadInMB, MaxConcurrentTransforms)`` checked as SageMaker checks them."""
    payload, concurrency = params.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB), params.get("MaxConcurrentTransforms")
    if payload == 0:
        raise _invalid("MaxPayloadInMB 0 (unlimited payloads, sent chunked) is not supported; give 1 to 100")
    if concurrency and payload * concurrency > MAX_PAYLOAD_TOTAL_MB:
        raise _invalid(
            f"MaxPayloadInMB ({payload}) x MaxConcurrentTransforms ({concurrency}) must not exceed {MAX_PAYLOAD_TOTAL_MB} MB"
        )
    return payload, concurrency


def _transform(params: Mapping[str, Any], model: Mapping[str, Any]) -> _Transform:
    """The request checked and mapped; ``ValidationException`` for what openmaker cannot run."""
    from openmaker.training.transform import TransformInputError, validate_options

    _refuse_unsupported_transform(params)
    transform_input, transform_output = params["TransformInput"], params["TransformOutput"]
    payload, concurrency = _payload(params)
    options: dict[str, Any] = {
        "split_type": transform_input.get("SplitType") or "None",
        "assemble_with": transform_output.get("AssembleWith") or "None",
        "strategy": params.get("BatchStrategy") or "MultiRecord",
        "max_payload_mb": payload,
        "accept": transform_output.get("Accept"),
    }
    if transform_input.get("ContentType"):
        options["content_type"] = transform_input["ContentType"]
    if concurrency:  # one worker process per concurrent request, up to the CPUs
        options["workers"] = min(concurrency, os.cpu_count() or 1)
    stages = _stages(model)
    workers = options.get("workers", 1)
    try:
        validate_options(stages, options["split_type"], options["assemble_with"], options["strategy"], payload, workers)
    except (TransformInputError, NotImplementedError) as exc:
        raise _invalid(str(exc)) from None
    environment: dict[str, str] = {}
    for stage in stages:
        environment.update({k: v for k, v in stage["Environment"].items() if k not in _SCRIPT_VARIABLES})
    environment.update(params.get("Environment") or {})
    return _Transform(
        stages=stages,
        input_uri=_uri(transform_input["DataSource"]["S3DataSource"]["S3Uri"], "TransformInput S3Uri"),
        output_uri=_uri(transform_output["S3OutputPath"], "TransformOutput.S3OutputPath"),
        options=options,
        environment=environment,
    )


def _model_source(stage: Mapping[str, Any], dest: Path) -> str:
    """Where the transform finds a stage's model: its artifacts as they are or, in script mode
    (``SAGEMAKER_PROGRAM``), ``dest`` holding the artifacts, the code from ``SAGEMAKER_SUBMIT_DIRECTORY``
    in ``code/`` when that is a URI, and a manifest naming the program."""
    from openmaker.serving.archive import MANIFEST_PATH

    environment = stage["Environment"]
    program = environment.get("SAGEMAKER_PROGRAM")
    if not program:
        return stage["ModelData"]
    _unpack_into(stage["ModelData"], dest)
    submit_directory = environment.get("SAGEMAKER_SUBMIT_DIRECTORY")
    if submit_directory and not submit_directory.startswith(CONTAINER_PATH):
        _unpack_into(submit_directory, dest / "code")
    manifest_path = dest / MANIFEST_PATH
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {"runtime": "python"}
    manifest.setdefault("model", {}).update(handler="sagemaker", entryPoint=program)
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest))
    return str(dest)


def _transform_in_child(job: _Transform, answer: Any) -> None:
    """The job in a spawned process, its environment set; sends ``(ok, summary or FailureReason)`` back."""
    from openmaker.config import get_settings
    from openmaker.training.transform import batch_transform

    os.environ.update(job.environment)
    try:
        scratch_root = get_settings().home / "transform"
        scratch_root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="models-", dir=scratch_root) as scratch:
            models = [_model_source(stage, Path(scratch) / f"model-{i}") for i, stage in enumerate(job.stages)]
            result = batch_transform(models, job.input_uri, job.output_uri, progress=False, **job.options)
        answer.send((True, result.summary()))
    except Exception as exc:
        answer.send((False, _failure_reason(exc)))
    finally:
        answer.close()


def _transform_in_process(job: _Transform) -> tuple[bool, str]:
    spawn = multiprocessing.get_context("spawn")
    reader, writer = spawn.Pipe(duplex=False)
    process = spawn.Process(target=_transform_in_child, args=(job, writer), name="openmaker-transform", daemon=True)
    process.start()
    writer.close()
    try:
        return reader.recv()
    except EOFError:
        process.join()
        code = process.exitcode
        return False, f"InternalServerError: the transform process ended (exit code {code}) before it answered"
    finally:
        reader.close()
        process.join()


def _run_transform(name: str, job: _Transform, ctx: AwsContext) -> None:
    """The job from start to end (a daemon thread), its description updated as it goes."""
    ctx.resources.update(TRANSFORM_JOB, name, TransformStartTime=_now())
    try:
        ok, message = _transform_in_process(job)
    except Exception as exc:
        ok, message = False, _failure_reason(exc)
    fields: dict[str, Any] = {"TransformJobStatus": "Completed" if ok else "Failed", "TransformEndTime": _now()}
    if not ok:
        fields["FailureReason"] = message
    ctx.resources.update(TRANSFORM_JOB, name, **fields)


def create_transform_job(params: dict[str, Any], ctx: AwsContext) -> dict[str, Any]:
    """``CreateTransformJob``: check, record and start the job; ``{"TransformJobArn": ...}``."""
    name = params["TransformJobName"]
    arn = ctx.arn(TRANSFORM_JOB, name)
    model = ctx.resources.get(MODEL, params["ModelName"])
    if model is None:
        raise _invalid(f'Could not find model "{ctx.arn(MODEL, params["ModelName"])}".')
    job = _transform(params, model)
    body = {**params, "TransformJobArn": arn, "TransformJobStatus": "InProgress", "CreationTime": _now(), "Runner": _runner()}
    if not ctx.resources.create(TRANSFORM_JOB, name, body):
        raise _in_use("transform", arn)
    _in_background(_run_transform, name, job, ctx, name=f"transform-job-{name}")
    return {"TransformJobArn": arn}


def describe_transform_job(params: dict[str, Any], ctx: AwsContext) -> dict[str, Any]:
    """``DescribeTransformJob``: the job's description as kept; ``ResourceNotFound`` when unknown."""
    name = params["TransformJobName"]
    body = ctx.resources.get(TRANSFORM_JOB, name)
    if body is None:
        raise AwsError("ResourceNotFound", NOT_FOUND)
    reason = _orphaned(body) if body["TransformJobStatus"] == "InProgress" else None
    if reason is not None:
        body = ctx.resources.update(
            TRANSFORM_JOB, name, TransformJobStatus="Failed", FailureReason=reason, TransformEndTime=_now()
        )  # fmt: skip
    return _described("DescribeTransformJob", body)
