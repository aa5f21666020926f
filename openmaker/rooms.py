"""Rooms are found through the ``openmaker.rooms`` entry-point group.

A room publishes a ``Room``: its CLI (mounted under ``openmaker``), the pages
it adds to the console, and the sample workloads ``openmaker up`` starts. The
CLI, the server and the console only ever see ``Room`` objects, so no room
imports another and a room that is not installed simply does not appear.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Awaitable, Callable

if TYPE_CHECKING:
    import typer


@dataclass
class Page:
    """A link on the console: a title, where it goes, and one line about it."""

    title: str
    href: str
    description: str = ""


@dataclass
class Room:
    name: str
    title: str
    description: str
    #: ``(name, typer_app)`` pairs mounted on ``openmaker``; a ``None`` name merges the app's commands.
    commands: list[tuple[str | None, "typer.Typer"]] = field(default_factory=list)
    #: Console links; given the running server (to build URLs).
    pages: Callable[[Any], list[Page]] | None = None
    #: Called by ``openmaker up`` with the running server to start the room's samples.
    samples: Callable[[Any], Awaitable[list[str]]] | None = None
    #: Web apps ``openmaker up`` serves beside the model server: ``(name, factory(server) -> ASGI app,
    #: the Settings field holding its port)``; the server's ``url(name)`` then finds it.
    apps: list[tuple[str, Callable[[Any], Any], str]] = field(default_factory=list)
    #: AWS API operations the room answers itself, not through a model (the SageMaker control plane's
    #: training and transform jobs): a function returning ``{"sagemaker:CreateTrainingJob": fn, ...}``,
    #: called when the AWS front end starts; ``fn(params, ctx: openmaker.awsapi.AwsContext) -> dict``.
    aws_operations: Callable[[], dict[str, Callable[[dict, Any], dict]]] | None = None


class LazyCommands(list):
    """A room's ``(name, typer_app)`` list, built from ``module.commands()`` when the CLI first asks.

    Importing a room stays cheap: its CLI module (Typer apps, their imports) loads only on use.
    """

    def __init__(self, module: str):
        super().__init__()
        self._module = module

    def __iter__(self):
        if not len(self):
            import importlib

            self.extend(importlib.import_module(self._module).commands())
        return super().__iter__()


def lazy_exports(package: str, exports: dict[str, str | tuple[str, str]]) -> Callable[[str], Any]:
    """A package's ``__getattr__`` that imports each public name from its module on first use.

    ``exports`` maps a name to its module, or to ``(module, attribute)`` when the names differ. So
    ``import openmaker.<room>`` stays cheap while ``from openmaker.<room> import X`` still works.
    """

    def __getattr__(name: str) -> Any:
        target = exports.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        import importlib

        module, attribute = target if isinstance(target, tuple) else (target, name)
        return getattr(importlib.import_module(module), attribute)

    return __getattr__


def load_rooms() -> list[Room]:
    """Every installed room, sorted by name."""
    rooms = []
    for ep in entry_points(group="openmaker.rooms"):
        room = ep.load()
        if not isinstance(room, Room):
            raise TypeError(f"entry point {ep.name!r} is not an openmaker.rooms.Room")
        rooms.append(room)
    return sorted(rooms, key=lambda r: r.name)
