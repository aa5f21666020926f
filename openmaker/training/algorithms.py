"""The built-in algorithms: name -> the module run as ``python -m <module>`` in the job's layout.

Each module reads the ``SM_*`` environment like a script-mode script does
(channels under ``SM_CHANNEL_<NAME>``, hyperparameters in ``SM_HPS``) and
writes its model into ``SM_MODEL_DIR``. Linear Learner is this room's own; other rooms
add theirs through the ``openmaker.algorithms`` entry point group (``name = "module"``),
so this room imports none of them.
"""

from __future__ import annotations

from importlib.metadata import entry_points

__all__ = ["ALGORITHMS", "algorithm_module", "known_algorithms"]

ALGORITHMS: dict[str, str] = {
    "linear-learner": "openmaker.training.linear_learner.train",
}
GROUP = "openmaker.algorithms"


def known_algorithms() -> dict[str, str]:
    """This room's algorithms and those other installed rooms declare."""
    found = {entry.name: entry.value for entry in entry_points(group=GROUP)}
    return {**found, **ALGORITHMS}


def algorithm_module(name: str) -> str:
    """The module of the built-in algorithm ``name``; ``ValueError`` naming the known ones otherwise."""
    known = known_algorithms()
    try:
        return known[name]
    except KeyError:
        raise ValueError(f"unknown algorithm {name!r}; built-in algorithms: {', '.join(sorted(known))}") from None


def default_metric_definitions(name: str) -> list[dict[str, str]]:
    """The metrics an algorithm's module declares (``METRIC_DEFINITIONS``), as SageMaker predefines them.

    A module this process cannot import (it is on the job's PYTHONPATH only) declares none here; the job
    itself reports whether it runs.
    """
    import importlib

    try:
        module = importlib.import_module(algorithm_module(name))
    except ImportError:
        return []
    return [dict(d) for d in getattr(module, "METRIC_DEFINITIONS", [])]
