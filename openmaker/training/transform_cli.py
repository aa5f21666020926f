"""``openmaker transform``: batch transform from the command line.

Mounted by the training room as ``app.add_typer(transform_app, name="transform")``;
the app's callback is the command itself. Exit codes: 0 done, 1 the job
failed (a bad record, naming its file and line; a model that cannot load),
2 bad input (an option, a missing model, no input objects).
"""

from __future__ import annotations

from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape

console = Console(stderr=True)

transform_app = typer.Typer(
    help="Batch transform: run a model or a serial pipeline over every object under a URI.",
    pretty_exceptions_enable=False,
)


def _fail(message: str, code: int) -> None:
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


@transform_app.callback(invoke_without_command=True)
def transform(
    model: List[str] = typer.Option(
        ..., "--model", "-m", help="Model archive (dir, .tar.gz, .mar; path or s3:// URI). Repeat for a pipeline (2 to 15)."
    ),
    input: str = typer.Option(..., "--input", "-i", help="Input file, folder or s3:// prefix."),
    output: str = typer.Option(..., "--output", "-o", help="Output folder or s3:// prefix; <name>.out per input object."),
    content_type: str = typer.Option("text/csv", "--content-type", help="Content-Type sent to the (first) model."),
    accept: Optional[str] = typer.Option(None, "--accept", help="Accept sent to the (last) model; default: the model's."),
    split_type: str = typer.Option("Line", "--split-type", help="Line (one record per line) or None (whole object)."),
    assemble_with: str = typer.Option("Line", "--assemble-with", help="Line (newline-joined) or None (concatenated)."),
    max_payload: float = typer.Option(6, "--max-payload", help="Max request size in MB (0 < MB <= 100)."),
    strategy: str = typer.Option("MultiRecord", "--strategy", help="MultiRecord (mini-batches) or SingleRecord."),
    workers: int = typer.Option(2, "--workers", help="Worker processes per model."),
    skip_bad_records: bool = typer.Option(
        False, "--skip-bad-records", help="Leave out records the model refuses (counted) instead of failing."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Run a model (or a pipeline of models) over every object under --input; write <name>.out under --output."""
    from openmaker.training.transform import TransformError, TransformInputError, batch_transform

    try:
        result = batch_transform(
            model, input, output, content_type=content_type, accept=accept, split_type=split_type,
            assemble_with=assemble_with, max_payload_mb=max_payload, strategy=strategy, workers=workers,
            skip_bad_records=skip_bad_records, progress=progress,
        )  # fmt: skip
    except TransformInputError as exc:
        _fail(str(exc), 2)
    except NotImplementedError as exc:
        _fail(str(exc), 2)
    except TransformError as exc:
        _fail(f"transform failed: {exc}", 1)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    for bad in result.bad_records:
        console.print(f"[yellow]skipped[/yellow] {escape(str(bad))}", soft_wrap=True)
    typer.echo(result.summary())
    for uri in result.outputs:
        typer.echo(uri)
