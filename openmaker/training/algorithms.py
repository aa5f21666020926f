"""The built-in algorithms: name -> the module run as ``python -m <module>`` in the job's layout.

Each module reads the ``SM_*`` environment like a script-mode script does
(channels under ``SM_CHANNEL_<NAME>``, hyperparameters in ``SM_HPS``) and
writes its model into ``SM_MODEL_DIR``.
"""

from __future__ import annotations

__all__ = ["ALGORITHMS", "algorithm_module"]

ALGORITHMS: dict[str, str] = {
    "linear-learner": "openmaker.training.linear_learner.train",
}


def algorithm_module(name: str) -> str:
    """The module of the built-in algorithm ``name``; ``ValueError`` naming the known ones otherwise."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ValueError(f"unknown algorithm {name!r}; built-in algorithms: {', '.join(sorted(ALGORITHMS))}") from None
