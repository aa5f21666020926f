"""Errors of the labeling room: one line a user can act on, with the HTTP status the portal answers."""

from __future__ import annotations


class LabelingError(ValueError):
    """Bad input or a request that cannot be honoured; ``str(exc)`` names the problem."""

    status = 400


class NotFound(LabelingError):
    status = 404


class Forbidden(LabelingError):
    status = 403


class Conflict(LabelingError):
    """A replayed, late or duplicate request (the state moved on)."""

    status = 409
