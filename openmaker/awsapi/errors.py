"""AWS-shaped errors: an exception name (``__type``), a message and an HTTP status.

Rooms raise :class:`AwsError` from the operations they answer (``Room.aws_operations``);
the front end renders it in the protocol the client spoke (JSON 1.1, REST-JSON or
RPCv2 CBOR), so botocore raises ``ClientError`` with ``Error.Code`` set to ``code``.
"""

from __future__ import annotations

from typing import Any


class AwsError(Exception):
    """An error answered in AWS's shape: ``{"__type": code, "message": message, **fields}``."""

    def __init__(self, code: str, message: str, status: int = 400, **fields: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.fields = code, message, status, fields

    def body(self) -> dict[str, Any]:
        return {"__type": self.code, "message": self.message, **self.fields}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def validation(message: str) -> AwsError:
    """``ValidationException``: the request does not match the operation's input shape."""
    return AwsError("ValidationException", message)
