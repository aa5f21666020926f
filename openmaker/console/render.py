"""Server-side rendering of the console page from a status snapshot.

The page is complete without JavaScript; ``console.js`` only rebuilds the
models table from ``/api/status`` with the same markup. Every value that
comes from a model, a room or a setting goes through ``_text`` or ``_href``.
"""

from __future__ import annotations

import html
import time
from functools import lru_cache
from importlib import resources
from string import Template
from typing import Any
from urllib.parse import urlsplit

from openmaker import __version__

_SAFE_SCHEMES = ("", "http", "https")


@lru_cache(maxsize=None)
def asset(name: str) -> str:
    """The text of a file shipped next to this module (template, stylesheet, script)."""
    return resources.files("openmaker.console").joinpath(name).read_text(encoding="utf-8")


def render_index(status: dict[str, Any]) -> str:
    """The whole console page for ``status`` (as built by ``console_status``)."""
    urls = {service["name"]: service["url"] for service in status["services"]}
    models = status["models"]
    return Template(asset("index.html")).substitute(
        version=_text(__version__),
        generated=time.strftime("%H:%M:%S"),
        services="\n".join(_service_row(service) for service in status["services"]),
        models="\n".join(_model_row(model) for model in models),
        no_models_hidden=" hidden" if models else "",
        management_url=_text(urls.get("management", "")),
        rooms="\n".join(_room_card(room) for room in status["rooms"]) or '<p class="empty">No rooms are installed.</p>',
    )


def _service_row(service: dict[str, Any]) -> str:
    links = " ".join(f'<a href="{_href(link["href"])}">{_text(link["title"])}</a>' for link in service["links"])
    return (
        f'<tr data-service="{_text(service["name"])}">'
        f'<th scope="row">{_text(service["name"])}</th>'
        f'<td><a href="{_href(service["url"])}">{_text(service["url"])}</a></td>'
        f"<td>{links}</td></tr>"
    )


def _model_row(model: dict[str, Any]) -> str:
    # Keep in step with buildRow() in console.js, which redraws these rows.
    ready, wanted = model["readyWorkers"], model["minWorkers"]
    health = "idle" if wanted == 0 else "ok" if ready >= wanted else "warn"
    default = ' <span class="badge">default</span>' if model["isDefault"] else ""
    error = model.get("lastLoadError")
    title = f' title="{_text(error)}"' if error else ""
    return (
        f'<tr data-model="{_text(model["modelName"])}" data-version="{_text(model["modelVersion"])}">'
        f'<td class="name">{_text(model["modelName"])}</td>'
        f"<td>{_text(model['modelVersion'])}{default}</td>"
        f"<td>{_text(model['handler'])}</td>"
        f'<td class="num workers {health}"{title}>{ready}/{wanted}</td>'
        f'<td class="num queue">{model["jobQueueStatus"]["pendingRequests"]}</td>'
        f'<td><code class="curl">{_text(model["exampleCurl"])}</code></td></tr>'
    )


def _room_card(room: dict[str, Any]) -> str:
    pages = "".join(
        f'<li><a href="{_href(page["href"])}">{_text(page["title"])}</a>'
        + (f' <span class="muted">{_text(page["description"])}</span>' if page["description"] else "")
        + "</li>"
        for page in room["pages"]
    )
    error = f'<p class="error">{_text(room["error"])}</p>' if room.get("error") else ""
    return (
        f'<article class="room" data-room="{_text(room["name"])}">'
        f'<h3>{_text(room["title"])}</h3>'
        f'<p class="muted">{_text(room["description"])}</p>'
        f"{error}" + (f"<ul>{pages}</ul>" if pages else "") + "</article>"
    )


def _text(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _href(url: str) -> str:
    # Rooms are installed code, but a javascript: link on a console is never what anyone meant.
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return "#"
    if scheme not in _SAFE_SCHEMES:
        return "#"
    return _text(url)
