"""What every room's CLI shares: bad input is one red ``error:`` line on stderr and exit code 2."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, NoReturn

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


@contextmanager
def input_errors(extra: str) -> Iterator[None]:
    """Bad input of any layer becomes ``error: <message>`` and exit code 2; a missing optional package
    names the ``openmaker[extra]`` that installs it."""
    try:
        yield
    except NotImplementedError as exc:
        bad_input(f"not implemented: {one_line(exc)}")
    except ModuleNotFoundError as exc:
        bad_input(f"{one_line(exc)}; install it with: pip install 'openmaker[{extra}]'")
    except ValueError as exc:
        bad_input(one_line(exc))
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        bad_input(f"{where}{exc.strerror or exc}")
