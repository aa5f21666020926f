"""The web console against a real ``ModelServer`` on loopback, read over HTTP and in a real browser.

The server (inference, management, metrics and the console, all on port 0)
runs in a background thread with its own event loop, so the synchronous
Playwright API can drive Debian's chromium against it while the test
registers models on that loop. Browser tests skip when chromium or
playwright is missing, and fail instead when ``CI`` is set.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from openmaker.config import Settings
from openmaker.console import create_console_app
from openmaker.console.status import _without_secrets, console_status, public_urls
from openmaker.rooms import Page, Room
from openmaker.serving.registry import ModelRegistry
from openmaker.serving.server import Listener, ModelServer
from tests.browser import browser, page  # noqa: F401  (pytest fixtures)

NOOP_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "noop"
XSS_TITLE = "<script>alert(1)</script>"

DEMO_ROOM = Room(
    name="demo",
    title="Demo room",
    description="A room made up for the console tests.",
    pages=lambda server: [Page("Demo page", "/demo", "where the demo lives")],
)
XSS_ROOM = Room(name="xss", title=XSS_TITLE, description='say "<b>hi</b>" & leave', pages=None)


def _no_pages(server):
    raise RuntimeError("room database is down")


BROKEN_ROOM = Room(name="broken", title="Broken room", description="Its pages raise.", pages=_no_pages)


class ServerThread:
    """A ``ModelServer`` serving from its own event loop in a daemon thread."""

    def __init__(self, server: ModelServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="model-server", daemon=True)

    def call(self, coro, timeout: float = 60):
        """Run ``coro`` on the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        self.call(self.server.start())
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.call(self.server.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    def register(self, name: str) -> None:
        """Put the no-op example into the model store as ``name`` and serve it with one worker."""
        shutil.copytree(NOOP_EXAMPLE, self.server.settings.resolved_model_store / name)
        self.call(self.server.registry.register(name, initial_workers=1, synchronous=True))

    def unregister(self, name: str) -> None:
        self.call(self.server.registry.unregister(name, None))

    def url(self, name: str) -> str:
        return self.server.url(name)


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Iterator[ServerThread]:
    """One server for the module: ``noop`` registered, the console on its own port."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENMAKER_HOME", str(home))
        settings = Settings(
            home=home,
            model_store=home / "model-store",
            bind_host="127.0.0.1",
            management_host="127.0.0.1",
            inference_port=0,
            management_port=0,
            metrics_port=0,
            console_port=0,
        )
        rooms = [DEMO_ROOM, XSS_ROOM, BROKEN_ROOM]
        server = ModelServer(
            settings=settings,
            token="",
            app_factories=[("console", lambda s: create_console_app(s, rooms), "127.0.0.1", settings.console_port)],
        )
        with ServerThread(server) as running:
            running.register("noop")
            yield running


@pytest.fixture
def console(running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.url("console"), timeout=10) as client:
        yield client


# -- over HTTP ------------------------------------------------------------------------------


def test_status_api_lists_services_models_and_rooms(running, console):
    response = console.get("/api/status")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    status = response.json()

    services = {s["name"]: s for s in status["services"]}
    assert list(services) == ["inference", "management", "metrics", "console"]
    for name in services:
        assert services[name]["url"] == running.url(name)
    assert services["inference"]["links"] == [{"title": "API docs", "href": running.url("inference") + "/docs"}]
    assert services["metrics"]["links"] == [{"title": "metrics", "href": running.url("metrics") + "/metrics"}]

    (noop,) = [m for m in status["models"] if m["modelName"] == "noop"]
    assert (noop["modelVersion"], noop["isDefault"], noop["handler"]) == ("1.0", True, "sagemaker")
    assert (noop["readyWorkers"], noop["minWorkers"]) == (1, 1)
    assert [w["status"] for w in noop["workers"]] == ["READY"]
    assert noop["jobQueueStatus"]["pendingRequests"] == 0
    assert noop["exampleCurl"] == f"curl -X POST {running.url('inference')}/predictions/noop -T input"

    rooms = {r["name"]: r for r in status["rooms"]}
    assert rooms["demo"] == {
        "name": "demo",
        "title": "Demo room",
        "description": "A room made up for the console tests.",
        "pages": [{"title": "Demo page", "href": "/demo", "description": "where the demo lives"}],
    }
    # JSON carries the data as it is; escaping is the renderer's job.
    assert rooms["xss"]["title"] == XSS_TITLE and rooms["xss"]["pages"] == []
    assert rooms["broken"]["pages"] == [] and "room database is down" in rooms["broken"]["error"]


def test_page_is_complete_without_javascript(running, console):
    response = console.get("/")
    assert response.status_code == 200
    page = response.text
    assert "<title>openmaker</title>" in page
    for section in ("Services", "Models", "Rooms"):
        assert f">{section}</h2>" in page
    inference = running.url("inference")
    assert f'<a href="{inference}/docs">API docs</a>' in page
    assert f'<a href="{running.url("management")}/docs">API docs</a>' in page
    assert f'<a href="{running.url("metrics")}/metrics">metrics</a>' in page
    row = re.search(r'<tr data-model="noop".*?</tr>', page).group(0)
    assert '<td class="num workers ok">1/1</td>' in row and '<span class="badge">default</span>' in row
    assert f"curl -X POST {inference}/predictions/noop -T input" in row
    assert '<a href="/demo">Demo page</a>' in page
    assert "room database is down" in page  # a broken room says so instead of vanishing


def test_markup_from_rooms_is_escaped(console):
    page = console.get("/").text
    assert XSS_TITLE not in page
    assert "<h3>&lt;script&gt;alert(1)&lt;/script&gt;</h3>" in page
    assert "say &quot;&lt;b&gt;hi&lt;/b&gt;&quot; &amp; leave" in page
    # The only script is the console's own file, and the policy forbids any other source.
    assert re.findall(r"<script[^>]*>", page) == ['<script src="static/console.js" defer>']
    policy = console.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy


def test_assets_are_served_locally_and_reference_nothing_outside(console):
    page = console.get("/").text
    assert re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', page) == [
        "data:,",
        "static/console.css",
        "static/console.js",
    ]
    for name, media_type in (("console.css", "text/css"), ("console.js", "text/javascript")):
        response = console.get(f"/static/{name}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(media_type)
        assert not re.search(r"https?://", response.text), f"{name} points outside the console"
    assert console.get("/static/app.py").status_code == 404  # only the two files, not the package


def test_service_links_reach_the_apis(running, console):
    services = {s["name"]: s for s in console.get("/api/status").json()["services"]}
    for name in ("inference", "management"):
        docs = services[name]["links"][0]["href"]
        assert httpx.get(docs, timeout=10).status_code == 200
        # The docs page pulls Swagger UI from a CDN; its spec is what the console can vouch for.
        spec = httpx.get(docs.removesuffix("/docs") + "/openapi.json", timeout=10).json()
        assert spec["info"]["title"] == f"openmaker {name} API"
    metrics = httpx.get(services["metrics"]["links"][0]["href"], timeout=10)
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")


def test_wildcard_listeners_are_linked_by_the_host_the_browser_used(tmp_path):
    # A server bound to every interface: http://0.0.0.0:8080 opens nowhere, so use the browser's host.
    settings = Settings(home=tmp_path, model_store=tmp_path / "store")
    server = SimpleNamespace(
        listeners=[Listener("inference", None, "0.0.0.0", 8080), Listener("management", None, "127.0.0.1", 8081)],
        registry=ModelRegistry(settings),
    )
    assert public_urls(server, "gpu-box.lan") == {
        "inference": "http://gpu-box.lan:8080",
        "management": "http://127.0.0.1:8081",
    }
    assert public_urls(server, "::1")["inference"] == "http://[::1]:8080"
    room = Room(
        name="r",
        title="R",
        description="",
        pages=lambda s: [Page("docs", "http://0.0.0.0:8080/docs"), Page("other port", "http://0.0.0.0:80801/x")],
    )
    pages = console_status(server, [room], "gpu-box.lan")["rooms"][0]["pages"]
    assert [p["href"] for p in pages] == ["http://gpu-box.lan:8080/docs", "http://0.0.0.0:80801/x"]


def test_model_urls_lose_credentials_and_signatures():
    # The console has no login: a presigned archive URL must not become readable there.
    assert _without_secrets("https://ci:s3cret@models.lan:8443/m.mar?X-Amz-Signature=abc#x") == "https://models.lan:8443/m.mar"
    assert _without_secrets("s3://bucket/m.tar.gz") == "s3://bucket/m.tar.gz"
    assert _without_secrets("noop") == "noop"


# -- in a browser ---------------------------------------------------------------------------


def test_browser_shows_services_models_and_rooms(running, page):
    from playwright.sync_api import expect

    page.goto(running.url("console") + "/")
    expect(page).to_have_title("openmaker")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")  # the script ran and fetched

    inference = running.url("inference")
    services = page.locator("#services")
    expect(services.get_by_role("link", name=inference, exact=True)).to_have_attribute("href", inference)
    docs = services.locator("tr[data-service=inference]").get_by_role("link", name="API docs")
    expect(docs).to_have_attribute("href", f"{inference}/docs")
    metrics = services.locator("tr[data-service=metrics]").get_by_role("link", name="metrics")
    expect(metrics).to_have_attribute("href", f"{running.url('metrics')}/metrics")

    noop = page.locator("#model-rows tr[data-model=noop]")
    expect(noop.locator("td.workers")).to_have_text("1/1")
    expect(noop).to_contain_text("default")
    expect(noop.locator("code.curl")).to_have_text(f"curl -X POST {inference}/predictions/noop -T input")

    demo = page.locator("article[data-room=demo]")
    expect(demo.get_by_role("heading")).to_have_text("Demo room")
    expect(demo.get_by_role("link", name="Demo page")).to_have_attribute("href", "/demo")
    # The hostile title is shown as text; nothing ran.
    expect(page.locator("article[data-room=xss] h3")).to_have_text(XSS_TITLE)
    assert page.locator("script").count() == 1
    assert page.dialogs == []

    page.screenshot(path="/tmp/console.png", full_page=True)
    assert page.outside_requests == []


def test_browser_without_javascript_shows_the_same_table(running, browser):
    from playwright.sync_api import expect

    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(running.url("console") + "/")
        expect(page.locator("#model-rows tr[data-model=noop] td.workers")).to_have_text("1/1")
        expect(page.locator("#live")).to_have_attribute("data-state", "static")
        expect(page.locator("article[data-room=demo]").get_by_role("link", name="Demo page")).to_be_visible()
    finally:
        context.close()


def test_browser_table_follows_new_models_without_reload(running, page):
    from playwright.sync_api import expect

    page.goto(running.url("console") + "/")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    expect(page.locator("#model-rows tr[data-model=second]")).to_have_count(0)

    registered = time.monotonic()
    running.register("second")
    try:
        row = page.locator("#model-rows tr[data-model=second]")
        expect(row.locator("td.workers")).to_have_text("1/1", timeout=6000)
        assert time.monotonic() - registered < 6
        expect(row.locator("code.curl")).to_have_text(
            f"curl -X POST {running.url('inference')}/predictions/second -T input"
        )
        assert page.evaluate("window.sameDocument") is True
        names = page.locator("#model-rows tr").evaluate_all("rows => rows.map(r => r.dataset.model)")
        assert names == ["noop", "second"]
    finally:
        running.unregister("second")
    expect(page.locator("#model-rows tr[data-model=second]")).to_have_count(0, timeout=6000)
    assert page.outside_requests == []
