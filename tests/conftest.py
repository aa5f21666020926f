"""Fixtures for the shared modules: an isolated home, real databases, a real S3 endpoint.

PostgreSQL: the server at ``OPENMAKER_TEST_POSTGRES_URL`` (default
``postgresql://root@127.0.0.1:5432/postgres``) must let that user create
databases. Each test gets a fresh database, dropped afterwards. Tests skip
when the server cannot be reached, and fail instead when ``CI`` is set, so a
CI run never passes by skipping the real database.

S3: moto's server mode on a loopback port, a real HTTP endpoint that s3fs
talks to like any S3-compatible store.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator

import pytest

from openmaker import config

S3_BUCKET = "openmaker-test"
DEFAULT_POSTGRES_URL = "postgresql://root@127.0.0.1:5432/postgres"

# Settings and AWS variables of the developer's shell must not leak into tests.
_LEAKY_ENV = (
    "OPENMAKER_DATABASE_URL",
    "OPENMAKER_S3_ENDPOINT_URL",
    "OPENMAKER_S3_REGION",
    "OPENMAKER_MODEL_STORE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
)


@pytest.fixture(autouse=True)
def openmaker_home(tmp_path, monkeypatch) -> Iterator[object]:
    """A fresh ``OPENMAKER_HOME`` and working directory per test, settings re-read."""
    for name in _LEAKY_ENV:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("OPENMAKER_HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    # An openmaker.toml in the directory pytest was started from must not count.
    monkeypatch.chdir(work)
    config.get_settings.cache_clear()
    yield home
    config.get_settings.cache_clear()
    # Engines made on this test's default URL point into its tmp dir.
    if "openmaker.db" in sys.modules:
        sys.modules["openmaker.db"].dispose_engines()


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so the PostgreSQL tests may not be skipped)")
    pytest.skip(reason)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a freshly created, uniquely named PostgreSQL database, dropped after the test."""
    try:
        import psycopg
    except ImportError:
        _unavailable("psycopg is not installed: pip install openmaker[postgres]")
    from sqlalchemy.engine import make_url

    from openmaker import db

    admin = make_url(os.environ.get("OPENMAKER_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    connect_args = {
        "host": admin.host or "127.0.0.1",
        "port": admin.port or 5432,
        "user": admin.username,
        "password": admin.password,
        "dbname": admin.database or "postgres",
        "connect_timeout": 5,
        "autocommit": True,
    }
    try:
        server = psycopg.connect(**{k: v for k, v in connect_args.items() if v is not None})
    except psycopg.OperationalError as exc:
        _unavailable(f"PostgreSQL at {admin.render_as_string()} is unreachable: {exc}")
    name = f"openmaker_test_{uuid.uuid4().hex[:12]}"
    with server:
        server.execute(f'CREATE DATABASE "{name}"')
        try:
            yield admin.set(drivername="postgresql+psycopg", database=name).render_as_string(
                hide_password=False
            )
        finally:
            # Pooled connections would keep the database busy; FORCE ends stray ones.
            db.dispose_engines()
            server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> Iterator[str]:
    """A database URL with nothing in it yet: a SQLite file, or a fresh PostgreSQL database."""
    from openmaker import db

    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        db.dispose_engines()
    else:
        yield request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def _moto_server() -> Iterator[str]:
    # One server for the session (starting moto's backends takes seconds);
    # s3_endpoint wipes its state before each test.
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_endpoint(_moto_server, monkeypatch) -> Iterator[str]:
    """A real S3 endpoint on loopback, empty but for the bucket ``S3_BUCKET``, wired into the settings."""
    import boto3
    import httpx

    httpx.post(f"{_moto_server}/moto-api/reset").raise_for_status()
    monkeypatch.setenv("OPENMAKER_S3_ENDPOINT_URL", _moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    config.get_settings.cache_clear()
    client = boto3.client("s3", endpoint_url=_moto_server, region_name="us-east-1")
    client.create_bucket(Bucket=S3_BUCKET)
    yield _moto_server
    config.get_settings.cache_clear()


@pytest.fixture
def s3_root(s3_endpoint) -> str:
    """``s3://`` URI of the empty test bucket."""
    return f"s3://{S3_BUCKET}"
