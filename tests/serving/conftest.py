"""A real model server on loopback ports, run in a background thread for the tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import threading
from pathlib import Path

import httpx
import pytest

from openmaker.config import Settings

HERE = Path(__file__).parent
REPO = HERE.parent.parent
TOKEN = "test-token"


def model_source(name: str) -> Path:
    """A test model directory (tests/serving/models) or an example (examples/)."""
    for base in (HERE / "models", REPO / "examples"):
        if (base / name).is_dir():
            return base / name
    raise FileNotFoundError(name)


class RunningServer:
    """A ModelServer in its own event loop thread, with httpx clients for each API."""

    def __init__(self, settings: Settings, token: str = TOKEN, store=None) -> None:
        from openmaker.serving.server import ModelServer

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = self.call(self._make(ModelServer, settings, token, store))
        self.call(self.server.start())
        self.inference = httpx.Client(base_url=self.server.url("inference"), timeout=60)
        self.management = httpx.Client(
            base_url=self.server.url("management"), timeout=120, headers={"Authorization": f"Bearer {token}"}
        )
        self.metrics = httpx.Client(base_url=self.server.url("metrics"), timeout=30)

    @staticmethod
    async def _make(cls, settings, token, store):
        return cls(settings=settings, token=token, store=store)

    def call(self, coro, timeout: float = 180):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def register(self, name: str, **params) -> httpx.Response:
        params = {"url": name, "synchronous": "true", "initial_workers": 1, **params}
        return self.management.post("/models", params=params)

    def stop(self) -> None:
        for client in (self.inference, self.management, self.metrics):
            client.close()
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@contextlib.contextmanager
def home_for_module(home: Path):
    """``OPENMAKER_HOME`` pointed at ``home`` for a module-scoped server (the autouse home is per test)."""
    from openmaker import config

    old = os.environ.get("OPENMAKER_HOME")
    os.environ["OPENMAKER_HOME"] = str(home)
    config.get_settings.cache_clear()
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("OPENMAKER_HOME", None)
        else:
            os.environ["OPENMAKER_HOME"] = old
        config.get_settings.cache_clear()


def server_settings(**overrides) -> Settings:
    values = dict(inference_port=0, management_port=0, metrics_port=0, default_workers_per_model=1)
    values.update(overrides)
    settings = Settings(**values)
    for name in ("noop", "testkit", "broken"):
        shutil.copytree(model_source(name), settings.resolved_model_store / name, dirs_exist_ok=True)
    return settings


@pytest.fixture
def make_server():
    servers: list[RunningServer] = []

    def make(**overrides) -> RunningServer:
        store = overrides.pop("store", None)
        server = RunningServer(server_settings(**overrides), store=store)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server) -> RunningServer:
    return make_server()


def post_many(server, bodies: list[bytes], path: str = "/predictions/testkit") -> list[httpx.Response]:
    """POST every body at once, each from its own client thread."""
    from concurrent.futures import ThreadPoolExecutor

    base = server.server.url("inference")

    def one(body: bytes) -> httpx.Response:
        with httpx.Client(base_url=base, timeout=60) as client:
            return client.post(path, content=body)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(one, bodies))


def describe(server, name: str = "testkit") -> dict:
    return server.management.get(f"/models/{name}").json()[0]


def wait_for(condition, timeout: float = 30.0, what: str = "condition") -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
