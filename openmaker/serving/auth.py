"""The management API's bearer token: generated once, kept in ``$OPENMAKER_HOME/management.token`` (0600)."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from fastapi import Request

from openmaker.serving.errors import InferenceError


class Unauthorized(InferenceError):
    status = 401


def token_path(home: Path) -> Path:
    return home / "management.token"


def load_or_create_token(home: Path) -> tuple[str, bool]:
    """Return the token and whether it was just created (so it is printed only once)."""
    path = token_path(home)
    if path.is_file():
        token = path.read_text().strip()
        if token:
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
            return token, False
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    path.chmod(0o600)
    return token, True


def bearer_checker(token: str):
    """A FastAPI dependency refusing requests without ``Authorization: Bearer <token>``."""
    expected = token.encode()

    async def check(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise Unauthorized("missing 'Authorization: Bearer <token>'; the token is in $OPENMAKER_HOME/management.token")
        if not hmac.compare_digest(given.strip().encode(), expected):
            raise Unauthorized("wrong management token")

    return check
