"""What travels between the frontend and a worker process.

One Unix socket per worker; each message is a 4-byte big-endian length and
a pickle. Both ends are this package running as the same user, so pickle is
safe here and fast for numpy arrays and raw bytes.

The frontend sends ``Batch`` and ``Stop``; the worker sends ``Ready`` (or
``LoadFailed``) once, then one ``BatchResult`` per ``Batch``.
"""

from __future__ import annotations

import asyncio
import pickle
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

_HEADER = struct.Struct(">I")
MAX_MESSAGE = 1 << 31


@dataclass(slots=True)
class InferenceRequest:
    """One client request as a handler sees it."""

    body: bytes = b""
    content_type: str = ""
    accept: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    #: Open Inference Protocol inputs, by name (set instead of ``body``).
    tensors: dict[str, Any] | None = None
    request_id: str = ""


@dataclass(slots=True)
class InferenceResponse:
    """One handler answer; ``status`` >= 400 carries an error message in ``body``."""

    body: bytes = b""
    content_type: str = "application/json"
    status: int = 200
    #: Open Inference Protocol outputs, by name (set instead of ``body``).
    tensors: dict[str, Any] | None = None


@dataclass(slots=True)
class Batch:
    batch_id: int
    requests: list[InferenceRequest]


@dataclass(slots=True)
class BatchResult:
    batch_id: int
    responses: list[InferenceResponse]


@dataclass(slots=True)
class Ready:
    pid: int
    metadata: dict[str, Any]


@dataclass(slots=True)
class LoadFailed:
    error: str


@dataclass(slots=True)
class Stop:
    pass


def encode(message: object) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


async def read_message(reader: asyncio.StreamReader) -> object:
    """Read one message; raises ``asyncio.IncompleteReadError`` when the peer is gone."""
    (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    return pickle.loads(await reader.readexactly(size))


def recv_message(sock: socket.socket) -> object:
    """Blocking read of one message (the worker side); raises ``EOFError`` at end."""
    (size,) = _HEADER.unpack(_recv_exactly(sock, _HEADER.size))
    return pickle.loads(_recv_exactly(sock, size))


def send_message(sock: socket.socket, message: object) -> None:
    sock.sendall(encode(message))


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:], size - got)
        if n == 0:
            raise EOFError("frontend closed the connection")
        got += n
    return bytes(buf)
