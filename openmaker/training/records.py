"""Training jobs in the database: one ``training_job`` row per job, its metrics in ``training_job_metric``.

The tables live on :class:`openmaker.db.Base` and are created by the Alembic
revision ``0002``. :func:`describe` renders a record like SageMaker's
``DescribeTrainingJob``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from openmaker.db import Base

__all__ = [
    "COMPLETED",
    "FAILED",
    "IN_PROGRESS",
    "SECONDARY_STATUS",
    "STOPPED",
    "JobNotFound",
    "TrainingJobRecord",
    "TrainingMetric",
    "describe",
    "get_job",
    "job_metrics",
    "last_metrics",
    "list_jobs",
    "utc",
]

IN_PROGRESS = "InProgress"
COMPLETED = "Completed"
FAILED = "Failed"
#: Past its ``max_runtime_seconds``.
STOPPED = "Stopped"
#: SageMaker's ``SecondaryStatus`` of a job in each status (a job in progress: while its script runs).
SECONDARY_STATUS = {IN_PROGRESS: "Training", COMPLETED: "Completed", FAILED: "Failed", STOPPED: "MaxRuntimeExceeded"}


class JobNotFound(LookupError):
    """No training job of that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no training job named {name!r}")
        self.name = name


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class TrainingJobRecord(Base):
    """A training job: what was asked (spec fields), how it went (status, times, reason), what it made."""

    __tablename__ = "training_job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    status: Mapped[str] = mapped_column(String(32), default=IN_PROGRESS)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    algorithm: Mapped[str | None] = mapped_column(String(255), nullable=True)
    entry_point: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    source_dir: Mapped[str | None] = mapped_column(Text, nullable=True)
    engine: Mapped[str] = mapped_column(String(32), default="local", server_default="local")
    hyperparameters: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")  # JSON, string values
    channels: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")  # JSON {name: uri}
    metric_definitions: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")  # JSON [{Name, Regex}]
    model_artifacts: Mapped[str | None] = mapped_column(Text, nullable=True)  # URI of model.tar.gz
    output_path: Mapped[str | None] = mapped_column(Text, nullable=True)  # where the job's artifacts go
    job_dir: Mapped[str | None] = mapped_column(Text, nullable=True)
    log_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_utcnow, server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    billable_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)

    metrics: Mapped[list[TrainingMetric]] = relationship(
        back_populates="job",
        cascade="all, delete-orphan",
        order_by="TrainingMetric.id",
        lazy="selectin",
    )

    @property
    def hyperparameters_dict(self) -> dict[str, str]:
        return json.loads(self.hyperparameters or "{}")

    @property
    def channels_dict(self) -> dict[str, str]:
        return json.loads(self.channels or "{}")

    @property
    def metric_definitions_list(self) -> list[dict[str, str]]:
        return json.loads(self.metric_definitions or "[]")

    def __repr__(self) -> str:
        return f"TrainingJobRecord({self.name!r}, status={self.status!r})"


class TrainingMetric(Base):
    """One value of a metric, as parsed from a job's log by its regex."""

    __tablename__ = "training_job_metric"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("training_job.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    value: Mapped[float] = mapped_column(Float)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)

    job: Mapped[TrainingJobRecord] = relationship(back_populates="metrics")

    def __repr__(self) -> str:
        return f"TrainingMetric({self.name!r}, {self.value!r})"


def list_jobs(session: Session) -> list[TrainingJobRecord]:
    """Every training job, newest first."""
    return list(
        session.scalars(select(TrainingJobRecord).order_by(TrainingJobRecord.created_at.desc(), TrainingJobRecord.id.desc()))
    )


def get_job(session: Session, name: str) -> TrainingJobRecord:
    """The job called ``name``; raises :class:`JobNotFound`."""
    record = session.scalars(select(TrainingJobRecord).where(TrainingJobRecord.name == name)).one_or_none()
    if record is None:
        raise JobNotFound(name)
    return record


def job_metrics(session: Session, name: str) -> list[TrainingMetric]:
    """Every metric value of the job called ``name``, in the order they were logged."""
    job = get_job(session, name)
    return list(
        session.scalars(select(TrainingMetric).where(TrainingMetric.job_id == job.id).order_by(TrainingMetric.id))
    )


def utc(value: datetime | None) -> datetime | None:
    """A stored time, timezone-aware (SQLite hands back naive datetimes; they were stored in UTC)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


def _iso(value: datetime | None) -> str | None:
    value = utc(value)
    return None if value is None else value.isoformat()


def last_metrics(record: TrainingJobRecord) -> list[TrainingMetric]:
    """The last value of each metric of the job, sorted by metric name."""
    last: dict[str, TrainingMetric] = {}
    for metric in record.metrics:
        last[metric.name] = metric
    return sorted(last.values(), key=lambda m: m.name)


def final_metrics(record: TrainingJobRecord) -> list[dict[str, Any]]:
    """The last value of each metric, as ``FinalMetricDataList``."""
    return [{"MetricName": m.name, "Value": m.value, "Timestamp": _iso(m.timestamp)} for m in last_metrics(record)]


def describe(record: TrainingJobRecord) -> dict[str, Any]:
    """The job as SageMaker's ``DescribeTrainingJob`` answers it (the fields that apply here)."""
    algorithm: dict[str, Any] = {"TrainingInputMode": "File", "MetricDefinitions": record.metric_definitions_list}
    if record.algorithm:
        algorithm["AlgorithmName"] = record.algorithm
    out: dict[str, Any] = {
        "TrainingJobName": record.name,
        "TrainingJobStatus": record.status,
        "SecondaryStatus": SECONDARY_STATUS.get(record.status, record.status),
        "HyperParameters": record.hyperparameters_dict,
        "AlgorithmSpecification": algorithm,
        "InputDataConfig": [
            {
                "ChannelName": name,
                "DataSource": {"S3DataSource": {"S3Uri": uri, "S3DataType": "S3Prefix", "S3DataDistributionType": "FullyReplicated"}},
            }
            for name, uri in record.channels_dict.items()
        ],
        "OutputDataConfig": {"S3OutputPath": record.output_path},
        "ResourceConfig": {"InstanceType": "local", "InstanceCount": 1},
        "CreationTime": _iso(record.created_at),
        "TrainingStartTime": _iso(record.started_at),
        "TrainingEndTime": _iso(record.ended_at),
        "BillableTimeInSeconds": record.billable_seconds,
        "FinalMetricDataList": final_metrics(record),
        "Engine": record.engine,
        "LogPath": record.log_path,
    }
    if record.entry_point:
        out["HyperParameters"] = {
            **out["HyperParameters"],
            "sagemaker_program": record.entry_point,
            **({"sagemaker_submit_directory": record.source_dir} if record.source_dir else {}),
        }
    if record.failure_reason is not None:
        out["FailureReason"] = record.failure_reason
    if record.model_artifacts:
        out["ModelArtifacts"] = {"S3ModelArtifacts": record.model_artifacts}
    return out
