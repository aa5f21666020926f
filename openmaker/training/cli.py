"""``openmaker train``, ``openmaker jobs`` and ``openmaker transform``."""

from __future__ import annotations


def commands() -> list:
    """``(name, typer_app)`` pairs the platform CLI mounts; filled in as the room's parts land."""
    return []
