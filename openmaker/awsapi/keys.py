"""Access keys for the AWS front end: issued by ``openmaker keys create``, kept hashed, revocable.

A key is an access key id (``OMAK`` + 16 characters, 20 in all, like AWS's) and a
40-character secret. The database holds only the secret's SHA-256. The secret itself is
derived, ``HMAC-SHA256(server key, access key id)``, from a server key kept outside the
database (``$OPENMAKER_HOME/aws-keys.secret``, mode 0600, or ``OPENMAKER_AWS_KEY_SECRET``
for several servers sharing one database): SigV4 needs the secret to check a signature,
and this way a copy of the database alone signs nothing. A key may be limited to some
services (``comprehendmedical``, ``rekognition``, ``sagemaker``, ``sagemaker-runtime``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select

from openmaker import db
from openmaker.awsapi.tables import AccessKey

SERVICES = ("comprehendmedical", "rekognition", "sagemaker", "sagemaker-runtime")
KEY_FILE = "aws-keys.secret"
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+=,-]{0,127}$")


class KeyRequestError(ValueError):
    """A bad key request (name, services) or an unknown key; the message says which."""


@dataclass(frozen=True)
class Key:
    access_key_id: str
    name: str
    services: tuple[str, ...] | None  # None: every service
    revoked: bool
    created_at: datetime
    last_used_at: datetime | None

    def allows(self, service: str) -> bool:
        return self.services is None or service in self.services


def load_server_key(home: Path, configured: str | None = None) -> bytes:
    """The server key secrets derive from: ``configured``, else the file in the home (created once)."""
    if configured:
        return configured.encode()
    path = Path(home) / KEY_FILE
    if path.is_file():
        value = path.read_text().strip()
        if value:
            return value.encode()
    value = secrets.token_urlsafe(48)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process (the CLI, a second server) made it first: use theirs
        for _ in range(50):
            existing = path.read_text().strip()
            if existing:
                return existing.encode()
            time.sleep(0.01)
        raise RuntimeError(f"{path} exists but stays empty; remove it and issue the keys again") from None
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value.encode()


def derive_secret(server_key: bytes, access_key_id: str) -> str:
    digest = hmac.new(server_key, b"openmaker-aws-secret:" + access_key_id.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest + hashlib.sha256(digest).digest()[:8]).decode()[:40]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_id() -> str:
    return "OMAK" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16))


def check_services(services: list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    if not services:
        return None
    unknown = [s for s in services if s not in SERVICES]
    if unknown:
        raise KeyRequestError(f"unknown service {unknown[0]!r}; choose from {', '.join(SERVICES)}")
    return tuple(dict.fromkeys(services))


class KeyStore:
    """Keys in the ``aws_access_key`` table; lookups cached for ``ttl`` seconds (revocation shows within it)."""

    def __init__(self, database_url: str, server_key: bytes, ttl: float = 5.0) -> None:
        self.url, self.server_key, self.ttl = database_url, server_key, ttl
        self._cache: dict[str, tuple[float, Key | None]] = {}
        self._used: dict[str, float] = {}
        self._lock = threading.Lock()

    def create(self, name: str, services: list[str] | None = None) -> tuple[Key, str]:
        """A new key and its secret (shown once: only its hash is kept)."""
        if not _NAME.match(name or ""):
            raise KeyRequestError(f"key name {name!r}: use 1-128 letters, digits and _.@+=,- (starting with a letter or digit)")
        allowed = check_services(services)
        access_key_id = _new_id()
        secret = derive_secret(self.server_key, access_key_id)
        with db.session_scope(self.url) as session:
            row = AccessKey(
                access_key_id=access_key_id, name=name, secret_hash=_hash(secret),
                services=json.dumps(list(allowed)) if allowed else None,
            )  # fmt: skip
            session.add(row)
            session.flush()
            key = _to_key(row)
        return key, secret

    def list(self) -> list[Key]:
        with db.session_scope(self.url) as session:
            return [_to_key(row) for row in session.scalars(select(AccessKey).order_by(AccessKey.created_at, AccessKey.id))]

    def revoke(self, access_key_id: str) -> Key:
        with db.session_scope(self.url) as session:
            row = session.scalar(select(AccessKey).where(AccessKey.access_key_id == access_key_id))
            if row is None:
                raise KeyRequestError(f"no access key {access_key_id!r}; `openmaker keys list` shows them")
            row.revoked = True
            key = _to_key(row)
        with self._lock:
            self._cache.pop(access_key_id, None)
        return key

    def lookup(self, access_key_id: str) -> tuple[Key, str] | None:
        """The key and its secret, or None when it is unknown, revoked or not made with this server key."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(access_key_id)
        if cached is None or now - cached[0] > self.ttl:
            with db.session_scope(self.url) as session:
                row = session.scalar(select(AccessKey).where(AccessKey.access_key_id == access_key_id))
                key = None if row is None else _to_key(row)
                secret_hash = None if row is None else row.secret_hash
            secret = derive_secret(self.server_key, access_key_id)
            if key is not None and not hmac.compare_digest(secret_hash, _hash(secret)):
                key = None  # issued under another server key
            cached = (now, key)
            with self._lock:
                self._cache[access_key_id] = cached
        key = cached[1]
        if key is None or key.revoked:
            return None
        return key, derive_secret(self.server_key, access_key_id)

    def touch(self, access_key_id: str) -> None:
        """Record a use (at most once a minute per key)."""
        now = time.monotonic()
        with self._lock:
            if now - self._used.get(access_key_id, -1e9) < 60:
                return
            self._used[access_key_id] = now
        with db.session_scope(self.url) as session:
            row = session.scalar(select(AccessKey).where(AccessKey.access_key_id == access_key_id))
            if row is not None:
                row.last_used_at = datetime.now(timezone.utc)


def _to_key(row: AccessKey) -> Key:
    services = tuple(json.loads(row.services)) if row.services else None
    return Key(row.access_key_id, row.name, services, bool(row.revoked), row.created_at, row.last_used_at)


def key_store(settings) -> KeyStore:
    """The key store of ``settings``' database and home, the schema migrated."""
    url = settings.resolved_database_url
    db.migrate(url)
    return KeyStore(url, load_server_key(settings.home, getattr(settings, "aws_key_secret", None)))
