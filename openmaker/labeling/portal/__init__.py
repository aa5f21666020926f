"""The worker portal (``openmaker up`` serves it on port 8091; ``openmaker label portal`` alone)."""

from __future__ import annotations

from typing import Any


def create_portal_app(labeling: Any = None, *, base_url: str | None = None, signer: Any = None):
    from openmaker.labeling.portal.app import create_portal_app as create

    return create(labeling, base_url=base_url, signer=signer)


def run_portal(host: str = "127.0.0.1", port: int = 8091, base_url: str | None = None) -> None:
    """Serve the portal until Ctrl-C; a port in use is an ``OSError`` naming it."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}; is another portal running there? Use --port") from None
    server = uvicorn.Server(uvicorn.Config(create_portal_app(base_url=base_url), log_level="warning", lifespan="off"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
