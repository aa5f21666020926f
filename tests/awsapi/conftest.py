"""A real openmaker server with the AWS front end on loopback, and real boto3 clients signed with real keys.

One server per module (starting model workers takes seconds); each test gets clients made
from a key issued by the server's key store, exactly as ``openmaker keys create`` issues them.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from tests.serving.conftest import home_for_module, model_source

pytest.importorskip("boto3")
pytest.importorskip("cbor2")

REGION = "us-east-1"


class AwsServer:
    """A ModelServer (inference, management, metrics, AWS) in its own event-loop thread."""

    def __init__(self, settings, rooms) -> None:
        from openmaker.awsapi.app import create_aws_app
        from openmaker.serving.server import ModelServer
        from openmaker.serving.snapshot import DatabaseRegistrationStore

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def make():
            store = DatabaseRegistrationStore(settings.resolved_database_url)
            factory = ("aws", lambda server: create_aws_app(server, rooms), settings.bind_host, 0)
            return ModelServer(settings=settings, token="test-token", store=store, app_factories=[factory])

        self.server = self.call(make())
        self.call(self.server.start())
        self.frontend = next(listener.app for listener in self.server.listeners if listener.name == "aws")
        self.url = self.server.url("aws")

    def call(self, coro, timeout: float = 300):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def register(self, url: str, name: str, **options):
        return self.call(self.server.registry.register(str(url), model_name=name, synchronous=True, trusted=True, **options))

    def key(self, name: str = "tests", services=None) -> tuple[str, str]:
        key, secret = self.frontend.keys.create(name, services)
        return key.access_key_id, secret

    def client(self, service: str, key: tuple[str, str] | None = None, **config):
        import boto3
        from botocore.config import Config

        access, secret = key or self.key()
        return boto3.client(
            service, endpoint_url=self.url, region_name=REGION, aws_access_key_id=access, aws_secret_access_key=secret,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=300, **config),
        )  # fmt: skip

    def stop(self) -> None:
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def start_server(tmp_path_factory, rooms=()) -> tuple[AwsServer, object]:
    from openmaker.config import Settings

    home = tmp_path_factory.mktemp("aws-home")
    context = home_for_module(home)
    context.__enter__()
    settings = Settings(
        home=home, inference_port=0, management_port=0, metrics_port=0, allowed_urls=["s3://openmaker-test/models/"]
    )
    return AwsServer(settings, list(rooms)), context


@pytest.fixture(scope="module")
def aws_server(tmp_path_factory):
    """A server with the echo test model; no room models."""
    server, context = start_server(tmp_path_factory)
    server.register(model_source("echo"), "echo")
    yield server
    server.stop()
    context.__exit__(None, None, None)


def signed_request(url: str, service: str, key: tuple[str, str], *, target: str | None = None, body: bytes = b"{}",
                   path: str = "/", headers: dict | None = None, when=None):
    """A raw request signed with botocore's SigV4 signer (for the protocol and signature edge cases)."""
    import httpx
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    all_headers = {"Content-Type": "application/x-amz-json-1.1", **(headers or {})}
    if target:
        all_headers["X-Amz-Target"] = target
    request = AWSRequest(method="POST", url=url + path, data=body, headers=all_headers)
    signer = SigV4Auth(Credentials(*key), service, REGION)
    if when is None:
        signer.add_auth(request)
    else:
        # botocore stamps the current time; sign as of ``when`` (clock-skew tests)
        from unittest import mock

        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            signer.add_auth(request)
    prepared = request.prepare()
    return httpx.post(prepared.url, content=body, headers=dict(prepared.headers), timeout=60)
