"""The console's HTTP app: the page, its status JSON and its two static files.

It is read-only and has no login, so it never shows the management token
(and ``status.py`` strips secrets from model URLs). A strict Content-Security-Policy keeps the page
from loading anything but its own files: the console must work offline, and
a name that slipped past escaping still could not run a script.
"""

from __future__ import annotations

from typing import Any, Iterable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from openmaker.console.render import asset, render_index
from openmaker.console.status import console_status
from openmaker.rooms import Room

_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HEADERS = {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
_STATIC = {"console.css": "text/css", "console.js": "text/javascript"}


def create_console_app(server: Any, rooms: Iterable[Room]) -> Starlette:
    """The console for a ``ModelServer``; ``rooms`` supply the links of the Rooms section."""
    rooms = list(rooms)

    async def index(request: Request) -> Response:
        status = console_status(server, rooms, request.url.hostname)
        return HTMLResponse(render_index(status), headers=_HEADERS)

    async def api_status(request: Request) -> Response:
        return JSONResponse(console_status(server, rooms, request.url.hostname), headers=_HEADERS)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _STATIC:
            return Response(f"no static file {name!r}", status_code=404, media_type="text/plain")
        return Response(asset(name), media_type=_STATIC[name], headers=_HEADERS)

    return Starlette(
        routes=[
            Route("/", index),
            Route("/api/status", api_status),
            Route("/static/{name}", static),
        ]
    )
