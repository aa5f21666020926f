"""Pieces of server-rendered HTML the rooms' web pages share: escaping, the CSRF field, a message line."""

from __future__ import annotations

from html import escape


def e(value) -> str:
    """``value`` as text safe in HTML content and attribute values (None is empty)."""
    return escape("" if value is None else str(value), quote=True)


def csrf_field(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{e(csrf)}">'


def message(kind: str, text: str) -> str:
    """A status line (``role="alert"`` for errors, so screen readers announce it)."""
    role = "alert" if kind == "error" else "status"
    return f'<p class="msg {e(kind)}" role="{role}">{e(text)}</p>'
