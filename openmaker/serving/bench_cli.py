"""``openmaker bench``: load one URL, or sweep a model over worker/thread configurations.

The whole command is the app's callback rather than a sub-command, so that
``app.add_typer(bench_app, name="bench")`` gives ``openmaker bench URL ...``
and not ``openmaker bench run URL ...``.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Annotated, Optional
from urllib.parse import unquote, urlsplit

import httpx
import typer
from rich.console import Console

from openmaker.serving.bench import (
    DEFAULT_MANAGEMENT_URL,
    Sweep,
    SweepError,
    format_markdown_table,
    format_result_table,
    write_report,
)
from openmaker.serving.loadgen import LoadGenError, run_load

__all__ = ["bench_app", "parse_sweep"]

DEFAULT_REQUESTS = 1000
_SWEEP_KEYS = {"workers": "workers", "threads": "threads", "threads_per_worker": "threads"}

bench_app = typer.Typer(
    add_completion=False,
    subcommand_metavar="",  # the app has no sub-commands; keep COMMAND out of the usage line
    help="Benchmark an HTTP endpoint or sweep a model's configurations.",
)


class BadInput(Exception):
    """A command-line mistake, reported as one line and exit code 2."""


def parse_sweep(specs: list[str]) -> dict[str, tuple[int, ...]]:
    """Parse ``--sweep workers=1,2 --sweep threads=1,2`` into ``{"workers": (1, 2), ...}``."""
    axes: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        axis = _SWEEP_KEYS.get(key.strip().lower())
        try:
            counts = tuple(int(v) for v in values.split(","))
        except ValueError:
            counts = ()
        if not sep or axis is None or not counts or min(counts) < 1:
            raise BadInput(f"--sweep expects workers=N[,N...] or threads=N[,N...] with N >= 1, got {spec!r}")
        axes[axis] = counts
    return axes


def _read_body(body: Optional[Path], data: Optional[str], content_type: Optional[str]) -> tuple[bytes, str]:
    if body is not None and data is not None:
        raise BadInput("give --body FILE or --data STRING, not both")
    if body is not None:
        try:
            payload = body.read_bytes()
        except OSError as exc:
            raise BadInput(f"cannot read body file {str(body)!r}: {exc.strerror or exc}") from None
        guessed = mimetypes.guess_type(body.name)[0] or "application/octet-stream"
        return payload, content_type or guessed
    return (data or "").encode(), content_type or "application/json"


def _parse_headers(lines: list[str]) -> dict[str, str]:
    headers = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise BadInput(f"--header expects 'Name: value', got {line!r}")
        headers[name.strip()] = value.strip()
    return headers


def _model_from_url(url: str) -> str:
    """``NAME`` from an inference URL ending in ``/predictions/NAME``."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if len(parts) >= 2 and parts[-2] == "predictions":
        return unquote(parts[-1])
    raise BadInput("--sweep needs --model NAME (or a URL ending in /predictions/NAME)")


@bench_app.callback(invoke_without_command=True, context_settings={"allow_interspersed_args": True})
def bench(
    url: Annotated[str, typer.Argument(metavar="URL", help="Endpoint to load, e.g. http://127.0.0.1:8080/predictions/NAME.")],
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="Concurrent keep-alive clients.")] = 16,
    requests: Annotated[
        Optional[int], typer.Option("--requests", "-n", min=1, help=f"Requests to send (default {DEFAULT_REQUESTS}).")
    ] = None,
    duration: Annotated[Optional[float], typer.Option("--duration", "-d", help="Seconds to run instead.")] = None,
    body: Annotated[Optional[Path], typer.Option("--body", help="File whose bytes are the request body.")] = None,
    data: Annotated[Optional[str], typer.Option("--data", help="Request body given inline.")] = None,
    content_type: Annotated[
        Optional[str],
        typer.Option("--content-type", help="Default: guessed from --body's name, application/json for --data."),
    ] = None,
    method: Annotated[str, typer.Option("--method", "-X")] = "POST",
    header: Annotated[list[str], typer.Option("--header", "-H", help="Extra 'Name: value' header.")] = [],
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Unmeasured requests sent first.")] = 0,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds before a request counts as failed.")] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
    sweep: Annotated[
        list[str],
        typer.Option("--sweep", help="workers=1,2 or threads=1,2; an axis not given sweeps 1,2."),
    ] = [],
    hourly_cost: Annotated[float, typer.Option("--hourly-cost", min=0, help="Machine cost in $/hour.")] = 0.0,
    model: Annotated[Optional[str], typer.Option("--model", help="Model to sweep (default: NAME from the URL).")] = None,
    management_url: Annotated[str, typer.Option("--management-url")] = DEFAULT_MANAGEMENT_URL,
    token: Annotated[
        Optional[str], typer.Option("--token", help="Management token (default: $OPENMAKER_HOME/management.token).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Directory for the sweep report.")] = Path("bench-sweep"),
    title: Annotated[Optional[str], typer.Option("--title", help="Report title.")] = None,
) -> None:
    """Load URL with keep-alive clients and print latency percentiles and throughput.

    With --sweep, re-register --model under each workers x threads
    configuration through the management API, load each, restore the
    original registration, and write sweep.md, sweep.csv and sweep.png.
    """
    console = Console()
    try:
        if requests is not None and duration is not None:
            raise BadInput("give --requests or --duration, not both")
        if duration is not None and not duration > 0:
            raise BadInput(f"--duration must be positive, got {duration:g}")
        if requests is None and duration is None:
            requests = DEFAULT_REQUESTS
        payload, ctype = _read_body(body, data, content_type)
        headers = _parse_headers(header)
        if sweep:
            axes = parse_sweep(sweep)
            name = model or _model_from_url(url)
            runner = Sweep(
                name,
                body=payload,
                content_type=ctype,
                headers=headers,
                hourly_cost=hourly_cost,
                management_url=management_url,
                inference_url=url,
                token=token,
                concurrency=concurrency,
                requests=requests,
                duration=duration,
                warmup=warmup,
                progress=progress and not as_json,
                **axes,
            )
            rows = runner.run()
            paths = write_report(rows, out, title or f"{name}: workers x threads sweep")
            if as_json:
                report = {"rows": [r.as_dict() for r in rows], "paths": {k: str(v) for k, v in paths._asdict().items()}}
                typer.echo(json.dumps(report, indent=2))
            else:
                typer.echo(format_markdown_table(rows))
                for path in paths:
                    typer.echo(f"wrote {path}")
            return
        result = run_load(
            url,
            body=payload,
            content_type=ctype,
            method=method,
            headers=headers,
            concurrency=concurrency,
            requests=requests,
            duration=duration,
            warmup=warmup,
            progress=progress and not as_json,
            timeout=timeout,
        )
    except (BadInput, LoadGenError, SweepError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except httpx.TransportError as exc:
        typer.echo(f"error: cannot reach the management API at {management_url}: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
    else:
        console.print(format_result_table(result))
