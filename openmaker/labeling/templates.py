"""Task templates: Shopify Liquid (python-liquid) with Ground Truth's autoescape and filters.

Ground Truth renders a custom template with ``task.input`` = the pre-labeling hook's ``taskInput``.
Every ``{{ }}`` output is HTML-escaped; the filters it adds:

- ``grant_read_access``: an ``s3://`` URI (or a local path) becomes a short-lived signed URL the portal serves;
- ``to_json``: JSON, not escaped (``categories='{{ task.input.labels | to_json }}'``);
- ``escape`` / ``escape_once``: explicit escaping (built into python-liquid);
- ``skip_autoescape``: raw HTML (the template author's responsibility, as in Ground Truth).

The hosted crowd library's ``<script src>`` is rewritten to the portal's own copy, so a template
written for Ground Truth renders unchanged and offline.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from typing import Any, Callable

from openmaker.labeling.errors import LabelingError

CROWD_SCRIPT = "/static/crowd-html-elements.js"
_HOSTED_SCRIPT = re.compile(
    r"""(<script[^>]*\bsrc\s*=\s*)(["'])https?://assets\.crowd\.aws/crowd-html-elements\.js\2""", re.I
)


def default_template() -> str:
    """The published bulk-QA template (its for-loop version)."""
    return files("openmaker.labeling").joinpath("data/bulkqa-template.html").read_text(encoding="utf-8")


def _markup(value: str):
    from markupsafe import Markup

    return Markup(value)


def _to_json(value: Any):
    # Like Ground Truth's documented output: not escaped. A "</script>" inside still cannot close a script tag.
    return _markup(json.dumps(value, ensure_ascii=False, default=_undefined_as_null).replace("</", "<\\/"))


def _undefined_as_null(value: Any) -> None:
    from liquid import Undefined

    if isinstance(value, Undefined):
        return None
    raise TypeError(f"{type(value).__name__} cannot be written as JSON")


def _skip_autoescape(value: Any):
    return _markup("" if value is None else str(value))


def _environment(grant: Callable[[str], str]):
    from liquid import Environment

    env = Environment(autoescape=True)
    env.add_filter("grant_read_access", lambda uri: grant(str(uri)))
    env.add_filter("to_json", _to_json)
    env.add_filter("skip_autoescape", _skip_autoescape)
    return env


class TemplateRenderer:
    """Renders task templates; ``grant`` turns a URI into a URL the worker's browser may fetch."""

    def __init__(self, grant: Callable[[str], str]):
        self._env = _environment(grant)
        self._parsed: dict[str, Any] = {}  # a job's template is parsed once, not per page

    def check(self, source: str, name: str = "template") -> None:
        """Raise :class:`LabelingError` (with line and column) if ``source`` is not valid Liquid."""
        self._parse(source, name)

    def _parse(self, source: str, name: str):
        from liquid.exceptions import LiquidError

        template = self._parsed.get(source)
        if template is None:
            try:
                template = self._env.from_string(source)
            except LiquidError as exc:
                raise LabelingError(f"{name}: {_describe(exc)}") from None
            if len(self._parsed) > 64:
                self._parsed.clear()
            self._parsed[source] = template
        return template

    def render(self, source: str, task_input: Any, name: str = "template") -> str:
        """The task page's HTML for ``task_input`` (what the template sees as ``task.input``)."""
        from liquid.exceptions import LiquidError

        template = self._parse(source, name)
        try:
            html = template.render(task={"input": task_input})
        except LiquidError as exc:
            raise LabelingError(f"{name}: {_describe(exc)}") from None
        return rewrite_crowd_script(html)


def _describe(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc).splitlines()[0]
    token = getattr(exc, "token", None)
    if token is not None and getattr(token, "source", None) is not None:
        before = token.source[: token.start_index]
        line = before.count("\n") + 1
        column = token.start_index - (before.rfind("\n") + 1) + 1
        return f"Liquid error at line {line}, column {column}: {message}"
    return f"Liquid error: {message}"


def rewrite_crowd_script(html: str) -> str:
    """Point the hosted crowd library's script tag at the portal's copy."""
    return _HOSTED_SCRIPT.sub(lambda m: f"{m.group(1)}{m.group(2)}{CROWD_SCRIPT}{m.group(2)}", html)


def has_crowd_script(html: str) -> bool:
    return CROWD_SCRIPT in html
