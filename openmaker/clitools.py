"""What every room's CLI shares: bad input is one red ``error:`` line on stderr and exit code 2."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True, highlight=False)
BAD_INPUT = 2


def bad_input(message: str) -> NoReturn:
    """Print ``error: <message>`` (markup-escaped) and exit with code 2."""
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(BAD_INPUT)


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (its type's name when it has none)."""
    text = str(exc.args[0]) if len(exc.args) == 1 and isinstance(exc.args[0], str) else str(exc)
    return " ".join(text.split()) or type(exc).__name__
