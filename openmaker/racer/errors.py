"""Errors of the racer room: one line a user can act on (a file and line where there is one)."""

from __future__ import annotations


class RacerError(ValueError):
    """Bad input: an unknown track, a malformed model_metadata.json, a reward function that breaks the rules."""
