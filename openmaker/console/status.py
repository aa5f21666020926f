"""What the console shows, as plain data: services, model versions and rooms.

One snapshot feeds both the server-rendered page and ``GET /api/status``, so
the first paint and every refresh agree. The console never imports a room:
it only calls the ``pages`` callable each ``Room`` brings.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from openmaker.rooms import Room

# Listeners bound to every interface: a browser cannot open these addresses,
# so links use the host name the browser reached the console by instead.
_WILDCARD_HOSTS = ("0.0.0.0", "::", "")
# Where each known service keeps the page worth opening.
_SERVICE_LINKS = {
    "inference": ("API docs", "/docs"),
    "management": ("API docs", "/docs"),
    "metrics": ("metrics", "/metrics"),
}


def public_urls(server: Any, hostname: str | None) -> dict[str, str]:
    """Each listener's URL as a browser on ``hostname`` can reach it, by listener name."""
    urls = {}
    for listener in server.listeners:
        if listener.host in _WILDCARD_HOSTS and hostname:
            host = f"[{hostname}]" if ":" in hostname else hostname
            urls[listener.name] = f"http://{host}:{listener.port}"
        else:
            urls[listener.name] = listener.url
    return urls


def console_status(server: Any, rooms: list[Room], hostname: str | None = None) -> dict[str, Any]:
    """The snapshot ``GET /api/status`` returns; ``hostname`` is the one the browser used."""
    urls = public_urls(server, hostname)
    # Room pages and curl lines are built from the listeners' own URLs; rewrite wildcard ones.
    rewrites = {listener.url: urls[listener.name] for listener in server.listeners if listener.url != urls[listener.name]}
    return {
        "services": [_service(name, url) for name, url in urls.items()],
        "models": _models(server.registry, urls.get("inference", "")),
        "rooms": [_room(room, server, rewrites) for room in rooms],
    }


def _service(name: str, url: str) -> dict[str, Any]:
    links = []
    if name in _SERVICE_LINKS:
        title, path = _SERVICE_LINKS[name]
        links.append({"title": title, "href": url + path})
    return {"name": name, "url": url, "links": links}


def _models(registry: Any, inference_url: str) -> list[dict[str, Any]]:
    models = []
    for model in sorted(registry.all_versions(), key=lambda m: (m.name, m.version)):
        is_default = registry.is_default(model)
        entry = model.describe(is_default)
        entry["isDefault"] = is_default
        entry["readyWorkers"] = model.ready_workers
        # The console has no login: never echo credentials or signed query strings of a model URL.
        entry["modelUrl"] = _without_secrets(entry.get("modelUrl") or "")
        path = f"/predictions/{model.name}" if is_default else f"/predictions/{model.name}/{model.version}"
        entry["exampleCurl"] = f"curl -X POST {inference_url}{path} -T input"
        models.append(entry)
    return models


def _room(room: Room, server: Any, rewrites: dict[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": room.name, "title": room.title, "description": room.description, "pages": []}
    if room.pages is None:
        return entry
    try:
        pages = room.pages(server)
    except Exception as exc:  # one broken room must not take the whole console down
        entry["error"] = f"Its pages could not be listed: {exc}"
        return entry
    for page in pages:
        href = page.href
        for old, new in rewrites.items():
            # Match whole origins only: ":80" must not rewrite a link to ":8080".
            if href == old or href.startswith((old + "/", old + "?", old + "#")):
                href = new + href[len(old) :]
        entry["pages"].append({"title": page.title, "href": href, "description": page.description})
    return entry


def _without_secrets(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme or parts.scheme == "file":
        return url
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
