"""Signed, expiring URLs for images (the ``grant_read_access`` filter) and the portal's secret key.

A URL carries the object's URI, an expiry time and an HMAC-SHA256 of both under a key kept in the
openmaker home (``labeling.key``, mode 0600, made on first use). The portal serves the object only
while the signature matches and the time has not passed; nothing else is readable through it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from urllib.parse import urlencode

from openmaker.labeling.errors import Forbidden

DEFAULT_TTL = 3600
IMAGE_PATH = "/image"


def load_key(home: Path) -> bytes:
    """The portal's secret (created once, readable by its owner only)."""
    path = Path(home) / "labeling.key"
    try:
        return base64.b64decode(path.read_bytes())
    except FileNotFoundError:
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.b64encode(key))
        return key
    except FileExistsError:  # another process made it between the two calls
        return base64.b64decode(path.read_bytes())


class Signer:
    def __init__(self, key: bytes, ttl: int = DEFAULT_TTL, base_url: str = ""):
        self._key = key
        self.ttl = ttl
        self.base_url = base_url.rstrip("/")

    def _mac(self, uri: str, expires: int) -> str:
        message = f"{uri}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def url(self, uri: str, now: float | None = None) -> str:
        """A URL under which the portal serves ``uri`` until ``ttl`` seconds from now."""
        expires = int((time.time() if now is None else now) + self.ttl)
        query = urlencode({"uri": uri, "expires": expires, "signature": self._mac(uri, expires)})
        return f"{self.base_url}{IMAGE_PATH}?{query}"

    def verify(self, uri: str, expires: str, signature: str, now: float | None = None) -> None:
        """Raise :class:`Forbidden` unless the signature is ours and still valid."""
        try:
            when = int(expires)
        except (TypeError, ValueError):
            raise Forbidden("the image link is malformed") from None
        if not hmac.compare_digest(self._mac(uri, when), str(signature or "")):
            raise Forbidden("the image link's signature does not match")
        if (time.time() if now is None else now) > when:
            raise Forbidden("the image link has expired; reload the task page")


def token_hash(token: str) -> str:
    """How one-time tokens and session ids are stored: a SHA-256, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)
