"""The training room as the platform sees it."""

from __future__ import annotations

from typing import Any, Callable

from openmaker.rooms import LazyCommands, Room


def aws_operations() -> dict[str, Callable[[dict, Any], dict]]:
    """The SageMaker operations this room answers (training and transform jobs), imported on first use."""
    from openmaker.training.aws_operations import operations

    return operations()


room = Room(
    name="training",
    title="Training",
    description="SageMaker script-mode training jobs, the Linear Learner algorithm and batch transform.",
    commands=LazyCommands("openmaker.training.cli"),
    aws_operations=aws_operations,
)
