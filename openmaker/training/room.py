"""The training room as the platform sees it."""

from __future__ import annotations

from openmaker.rooms import Room


class _LazyCommands(list):
    # Typer apps are built when the CLI asks, so that importing the room stays cheap.
    def __iter__(self):
        if not len(self):
            from openmaker.training.cli import commands

            self.extend(commands())
        return super().__iter__()


room = Room(
    name="training",
    title="Training",
    description="SageMaker script-mode training jobs, the Linear Learner algorithm and batch transform.",
    commands=_LazyCommands(),
)
