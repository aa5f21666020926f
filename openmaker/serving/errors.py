"""Errors a handler or the server raises, each carrying the HTTP status it becomes.

A handler raises ``BadRequest`` for a malformed body (400) and
``UnsupportedMediaType`` for a content type it cannot decode (415); anything
else it raises becomes a 500 whose message reaches the client while the
worker keeps serving.
"""

from __future__ import annotations


class InferenceError(Exception):
    """An error with an HTTP status; the message is shown to the client."""

    status = 500

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class BadRequest(InferenceError):
    status = 400


class UnsupportedMediaType(InferenceError):
    status = 415


class NotAcceptable(InferenceError):
    status = 406


class ModelNotFound(InferenceError):
    status = 404


class Forbidden(InferenceError):
    status = 403


class Conflict(InferenceError):
    status = 409


class ServiceUnavailable(InferenceError):
    status = 503

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QueueFull(ServiceUnavailable):
    """The model's request queue is full: the client should slow down (AWS's front end says ThrottlingException)."""


class RequestTimeout(InferenceError):
    status = 504


class ArchiveError(InferenceError):
    """A model archive that cannot be read: missing files, a bad manifest."""

    status = 400
