"""Training jobs in SageMaker's script mode, built-in algorithms and batch transform.

The public Python API of the room; the CLI (``openmaker train``, ``openmaker
jobs``, ``openmaker transform``) is a thin layer over it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from openmaker.rooms import lazy_exports

__all__ = ["JobNotFound", "TrainingJob", "describe_job", "job_log", "list_jobs", "run_training_job"]

if TYPE_CHECKING:
    from openmaker.training.jobs import TrainingJob, describe_job, job_log, list_jobs, run_training_job
    from openmaker.training.records import JobNotFound

_EXPORTS = {
    "TrainingJob": "openmaker.training.jobs",
    "run_training_job": "openmaker.training.jobs",
    "list_jobs": "openmaker.training.jobs",
    "describe_job": "openmaker.training.jobs",
    "job_log": "openmaker.training.jobs",
    "JobNotFound": "openmaker.training.records",
}


__getattr__ = lazy_exports("openmaker.training", _EXPORTS)
