"""The training room as the platform sees it."""

from __future__ import annotations

from openmaker.rooms import LazyCommands, Room


room = Room(
    name="training",
    title="Training",
    description="SageMaker script-mode training jobs, the Linear Learner algorithm and batch transform.",
    commands=LazyCommands("openmaker.training.cli"),
)
