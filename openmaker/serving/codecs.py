"""SageMaker's default decoders and encoders for ``text/csv``, ``application/json``
and ``application/x-npy``, with errors that say what was wrong.

Where the SageMaker inference toolkit answers an unsupported type with a 500,
these raise ``UnsupportedMediaType`` (415) or ``NotAcceptable`` (406).
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from openmaker.serving.errors import BadRequest, NotAcceptable, UnsupportedMediaType

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
SUPPORTED = (JSON, CSV, NPY)


def media_type(header: str | None) -> str:
    """``'text/csv; charset=utf-8'`` -> ``'text/csv'``; empty for a missing header."""
    return (header or "").split(";", 1)[0].strip().lower()


def decode(body: bytes | str, content_type: str) -> np.ndarray:
    """Decode a request body into a numpy array."""
    ctype = media_type(content_type)
    if ctype == JSON:
        try:
            return np.array(json.loads(body))
        except (ValueError, TypeError) as exc:
            raise BadRequest(f"body is not valid JSON: {exc}") from exc
    if ctype == CSV:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        if not text.strip():
            raise BadRequest("CSV body is empty")
        try:
            rows = [[float(v) for v in line.split(",")] for line in text.strip().splitlines() if line.strip()]
        except ValueError as exc:
            raise BadRequest(f"CSV body has a non-numeric value: {exc}") from exc
        if len({len(r) for r in rows}) > 1:
            raise BadRequest("CSV rows have different numbers of columns")
        return np.array(rows if len(rows) > 1 else rows[0])
    if ctype == NPY:
        try:
            return np.load(io.BytesIO(body if isinstance(body, bytes) else body.encode()), allow_pickle=False)
        except Exception as exc:
            raise BadRequest(f"body is not a valid .npy array: {exc}") from exc
    raise UnsupportedMediaType(
        f"unsupported Content-Type {content_type or '(none)'!r}; expected one of {', '.join(SUPPORTED)}"
    )


def _tolist(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode(value: Any, accept: str) -> tuple[bytes, str]:
    """Encode a prediction for the first acceptable type in an ``Accept`` header."""
    for candidate in parse_accept(accept):
        if candidate == JSON:
            return json.dumps(value, default=_tolist).encode(), JSON
        if candidate == CSV:
            buf = io.StringIO()
            array = np.asarray(value)
            np.savetxt(buf, array if array.ndim else array.reshape(1), delimiter=",", fmt="%s")
            return buf.getvalue().encode(), CSV
        if candidate == NPY:
            buf = io.BytesIO()
            np.save(buf, np.asarray(value), allow_pickle=False)
            return buf.getvalue(), NPY
    raise NotAcceptable(f"cannot produce any type in Accept {accept!r}; supported: {', '.join(SUPPORTED)}")


def parse_accept(accept: str | None, default: str = JSON) -> list[str]:
    """Media types of an Accept header in preference order; ``*/*`` or empty means ``default``."""
    if not accept:
        return [default]
    weighted = []
    for order, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        q = 1.0
        for f in fields[1:]:
            if f.startswith("q="):
                try:
                    q = float(f[2:])
                except ValueError:
                    q = 0.0
        if fields[0]:
            weighted.append((-q, order, fields[0].lower()))
    types = [t for _, _, t in sorted(weighted)]
    return [default if t in ("*/*", "application/*") else t for t in types] or [default]
