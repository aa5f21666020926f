"""Run the inference, management and metrics APIs (and any extra app, such as the
console) on their ports in one event loop, with a graceful stop.

Stopping — Ctrl-C, SIGTERM or ``stop()`` — first closes the listening
sockets, lets every request in flight finish (up to ``shutdown_timeout``),
and only then stops the workers, each after its batch in flight. A second
Ctrl-C forces the exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from dataclasses import dataclass, field
from typing import Any, Callable

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openmaker.config import Settings, get_settings
from openmaker.serving.registry import ModelRegistry, RegistrationStore


class ServerError(RuntimeError):
    """The server cannot start (a port in use, a bad setting); the message says which."""


class _Uvicorn(uvicorn.Server):
    # Several servers share one loop: the ModelServer owns the signals, not each of them.
    @contextlib.contextmanager
    def capture_signals(self):
        yield


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it a response written as head + body waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServerError(
            f"cannot listen on {host}:{port}: {exc.strerror}; is another server running there? "
            "Choose other ports with --inference-port/--management-port/--metrics-port"
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def create_metrics_app(registry: ModelRegistry) -> Starlette:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
    from prometheus_client.registry import RestrictedRegistry

    async def metrics(request: Request) -> Response:
        names = request.query_params.getlist("name[]")
        source = registry.metrics.registry
        if names:
            source = RestrictedRegistry(names, source)
        return Response(generate_latest(source), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/metrics", metrics)])


@dataclass
class Listener:
    name: str
    app: Any
    host: str
    port: int
    sock: socket.socket | None = None
    server: _Uvicorn | None = None
    task: asyncio.Task | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


@dataclass
class ModelServer:
    """The model server: a registry of models plus the HTTP listeners in front of it.

    ``token=None`` reads (or creates) the management token under the home
    directory; ``token=""`` turns authentication off.
    """

    settings: Settings = field(default_factory=get_settings)
    store: RegistrationStore | None = None
    token: str | None = None
    extra_apps: list[tuple[str, Any, str, int]] = field(default_factory=list)
    #: Like ``extra_apps``, but each app is built by calling ``factory(server)`` (the console needs the server).
    app_factories: list[tuple[str, Callable[["ModelServer"], Any], str, int]] = field(default_factory=list)
    #: What runs the models (``registry.Engine``): local worker processes when None, or e.g. ``RayEngine``.
    engine: Any = None

    def __post_init__(self) -> None:
        from openmaker.serving.auth import load_or_create_token
        from openmaker.serving.inference_api import create_inference_app
        from openmaker.serving.management_api import create_management_app

        self.token_created = False
        if self.token is None:
            self.token, self.token_created = load_or_create_token(self.settings.home)
        self.registry = ModelRegistry(self.settings, self.store, engine=self.engine)
        s = self.settings
        self.listeners = [
            Listener("inference", create_inference_app(self.registry), s.bind_host, s.inference_port),
            Listener("management", create_management_app(self.registry, self.token), s.management_host, s.management_port),
            Listener("metrics", create_metrics_app(self.registry), s.bind_host, s.metrics_port),
        ] + [Listener(name, app, host, port) for name, app, host, port in self.extra_apps]
        self.listeners += [Listener(name, factory(self), host, port) for name, factory, host, port in self.app_factories]
        self._stopped = asyncio.Event()

    def url(self, name: str) -> str:
        return next(listener.url for listener in self.listeners if listener.name == name)

    async def start(self) -> None:
        """Bind every port (all or nothing), then start serving."""
        try:
            for listener in self.listeners:
                listener.sock = bind(listener.host, listener.port)
                listener.port = listener.sock.getsockname()[1]  # port 0 picks a free one
        except ServerError:
            for listener in self.listeners:
                if listener.sock is not None:
                    listener.sock.close()
            raise
        for listener in self.listeners:
            config = uvicorn.Config(
                listener.app,
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=int(self.settings.shutdown_timeout),
                timeout_keep_alive=30,
            )
            listener.server = _Uvicorn(config)
            listener.task = asyncio.create_task(listener.server.serve(sockets=[listener.sock]))
        while not all(listener.server.started for listener in self.listeners):
            failed = [listener for listener in self.listeners if listener.task.done()]
            if failed:
                await self.stop()
                raise ServerError(f"the {failed[0].name} server failed to start")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop taking requests, finish those in flight, then stop the workers."""
        for listener in self.listeners:
            if listener.server is not None:
                listener.server.should_exit = True
        await asyncio.gather(*(listener.task for listener in self.listeners if listener.task), return_exceptions=True)
        await self.registry.shutdown()
        self._stopped.set()

    async def run(self, on_ready: Callable[["ModelServer"], Any] | None = None) -> None:
        """Start, call ``on_ready``, serve until SIGINT/SIGTERM, then stop gracefully."""
        loop = asyncio.get_running_loop()
        stop_requested = asyncio.Event()
        presses = 0

        def request_stop() -> None:
            nonlocal presses
            presses += 1
            if presses > 1:  # a second Ctrl-C: do not wait for requests in flight
                for listener in self.listeners:
                    if listener.server is not None:
                        listener.server.force_exit = True
            stop_requested.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, request_stop)
        try:
            await self.start()
            if on_ready is not None:
                result = on_ready(self)
                if asyncio.iscoroutine(result):
                    await result
            await stop_requested.wait()
        finally:
            await self.stop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
