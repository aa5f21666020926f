"""``openmaker deid``: de-identify images, watch a folder or bucket, evaluate, make test data.

``openmaker deid IMAGE_OR_DIR_OR_URI ...`` is short for ``openmaker deid run ...``.
Bad input exits with code 2 and one line naming the problem; a run in which
any image failed exits with code 1 once every other image is done.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)

BAD_INPUT = 2
FAILED = 1


class _DefaultRun(TyperGroup):
    """Arguments that are not a subcommand go to ``run``: ``openmaker deid a.dcm`` works."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultRun,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="De-identify medical images (PNG, JPEG, TIFF, DICOM): find burned-in PHI, redact it, clean DICOM headers. "
    "'openmaker deid IMAGE_OR_DIR_OR_URI ...' is short for 'openmaker deid run ...'.",
)


def _bad_input(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(BAD_INPUT)


def _key_path(key_file: Optional[str]) -> Path:
    if key_file:
        return Path(key_file)
    from openmaker.config import get_settings

    return get_settings().home / "deid" / "batch.key"


def _engines(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _run_options(color, dpi, threshold, mode, allow, verify, retain_dates, pseudonyms, key_file, ocr="rapidocr", text_model=None):
    from openmaker.deid.batch import RunOptions, load_or_create_key, read_pseudonyms

    try:
        mapping = read_pseudonyms(pseudonyms) if pseudonyms else None
        options = RunOptions(
            color=color, dpi=dpi, threshold=threshold, mode=mode, allow_list=tuple(allow),
            verify=verify, retain_dates=retain_dates, pseudonyms=mapping, key=load_or_create_key(_key_path(key_file)),
            engines=_engines(ocr), text_model=text_model,
        )  # fmt: skip
        options.deid_options()
    except (ValueError, OSError) as exc:
        _bad_input(str(exc))
    return options


# Options shared by run and watch.
_COLOR = typer.Option("red", "--color", help="Box colour: a name (red, black) or #rrggbb.")
_DPI = typer.Option(72, "--dpi", help="DPI recorded in the output PNGs.")
_THRESHOLD = typer.Option(0.0, "--threshold", help="Keep PHI entities scoring at least this (0.0 keeps all).")
_MODE = typer.Option("default", "--mode", help="default: PHI recognisers; strict: redact all text but technical annotations.")
_ALLOW = typer.Option([], "--allow", help="A word or phrase never redacted (repeatable).")
_VERIFY = typer.Option(False, "--verify", help="OCR each output again; redact what PHI is still readable, or fail the image.")
_RETAIN = typer.Option(False, "--retain-dates", help="DICOM: shift dates by a per-patient offset instead of removing them.")
_PSEUDONYMS = typer.Option(None, "--pseudonyms", help="CSV of original PatientID,pseudonym (local path or s3://).")
_OCR = typer.Option("rapidocr", "--ocr", help="OCR engines: rapidocr, or rapidocr,tesseract (finds fainter text, about twice the time).")
_TEXT_MODEL = typer.Option(
    None, "--text-model", help="A text-region model retrained with python -m openmaker.deid.textnet_train (default: the shipped one)."
)
_KEY = typer.Option(None, "--key-file", help="Secret for new UIDs and date offsets (default: $OPENMAKER_HOME/deid/batch.key).")


@app.command("run")
def run_command(
    inputs: list[str] = typer.Argument(..., help="Image files, folders or s3:// prefixes (walked recursively)."),
    out_uri: Optional[str] = typer.Option(None, "--out", help="Where outputs go (local or s3://); default: next to each input."),
    color: str = _COLOR,
    dpi: int = _DPI,
    threshold: float = _THRESHOLD,
    mode: str = _MODE,
    allow: list[str] = _ALLOW,
    verify: bool = _VERIFY,
    retain_dates: bool = _RETAIN,
    pseudonyms: Optional[str] = _PSEUDONYMS,
    key_file: Optional[str] = _KEY,
    ocr: str = _OCR,
    text_model: Optional[str] = _TEXT_MODEL,
    workers: Optional[int] = typer.Option(None, "--workers", help="Worker processes (default: one per core)."),
    engine: str = typer.Option("local", "--engine", help="local, or ray (the cluster at $RAY_ADDRESS, else a local Ray)."),
    report: Optional[str] = typer.Option(None, "--report", help="Where the JSON report goes (default: deid-report-<time>.json in --out)."),
    force: bool = typer.Option(False, "--force", help="Redo inputs whose outputs already exist."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """De-identify images: de-id-<name>.png for each, a de-identified DICOM for DICOM input, and a report."""
    from openmaker.deid.batch import run

    options = _run_options(color, dpi, threshold, mode, allow, verify, retain_dates, pseudonyms, key_file, ocr, text_model)
    try:
        result = run(inputs, out_uri, options, workers=workers, engine=engine, force=force, report=report, progress=not quiet)
    except (ValueError, OSError) as exc:  # missing or unreadable inputs, an unreachable store
        _bad_input(str(exc))
    except ModuleNotFoundError as exc:
        _bad_input(str(exc))
    summary = result.report["summary"]
    for record in result.records:
        if record["status"] == "failed":
            err.print(
                f"[red]failed[/red] {escape(record['input'])}: {escape(record['error']['message'])}", soft_wrap=True
            )
    out.print(
        f"{summary['ok']} de-identified, {summary['skipped']} skipped, {summary['failed']} failed; "
        f"{summary['redactions']} boxes redacted; report: {escape(str(result.report_uri))}",
        soft_wrap=True,
    )
    if not result.ok:
        raise typer.Exit(FAILED)


@app.command("watch")
def watch_command(
    source: str = typer.Argument(..., help="The folder or s3:// prefix to watch."),
    target: str = typer.Argument(..., help="Where outputs go (local or s3://)."),
    color: str = _COLOR,
    dpi: int = _DPI,
    threshold: float = _THRESHOLD,
    mode: str = _MODE,
    allow: list[str] = _ALLOW,
    verify: bool = _VERIFY,
    retain_dates: bool = _RETAIN,
    pseudonyms: Optional[str] = _PSEUDONYMS,
    key_file: Optional[str] = _KEY,
    ocr: str = _OCR,
    text_model: Optional[str] = _TEXT_MODEL,
    interval: float = typer.Option(2.0, "--interval", help="Seconds between listings."),
) -> None:
    """De-identify each new file that lands in SOURCE, until interrupted (the bucket-trigger variant)."""
    from openmaker.deid.watch import WATCH_REPORT, watch

    options = _run_options(color, dpi, threshold, mode, allow, verify, retain_dates, pseudonyms, key_file, ocr, text_model)

    def show(record: dict) -> None:
        if record["status"] == "ok":
            out.print(f"de-identified {escape(record['input'])}", soft_wrap=True)
        elif record["status"] == "failed":
            err.print(f"[red]failed[/red] {escape(record['input'])}: {escape(record['error']['message'])}", soft_wrap=True)

    err.print(f"watching {escape(source)} every {interval:g}s; reports go to {escape(target)}/{WATCH_REPORT}; Ctrl-C stops")
    # A first Ctrl-C sets ``stop``: the file in hand is finished (output, report line, message) before
    # the watch ends. A second one stops at once (that file then has no output).
    stop = threading.Event()

    def interrupt(*_: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        err.print("stopping after the file in hand (Ctrl-C again to stop now)")
        stop.set()

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        watch(
            source, target, options, interval=interval, on_record=show, stop=stop,
            on_error=lambda message: err.print(f"[yellow]warning:[/yellow] {escape(message)}", soft_wrap=True),
        )  # fmt: skip
    except (ValueError, FileNotFoundError) as exc:
        _bad_input(str(exc))
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGINT, previous)
    err.print("stopped")


@app.command("eval")
def eval_command(
    dataset: Path = typer.Argument(..., help="A folder with images/ and ground_truth.json (see openmaker deid synth)."),
    output: Optional[Path] = typer.Option(None, "--out", help="Where redacted images, the report, eval.json and eval.png go."),
    mode: str = _MODE,
    threshold: float = _THRESHOLD,
    workers: Optional[int] = typer.Option(None, "--workers", help="Worker processes (default: one per core)."),
    verify: bool = _VERIFY,
    ocr: str = _OCR,
    text_model: Optional[str] = _TEXT_MODEL,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Score de-identification against ground-truth PHI word boxes: recall, leaks, text kept, speed."""
    from openmaker.deid.evaluate import evaluate

    try:
        metrics, where = evaluate(
            dataset, output, mode=mode, threshold=threshold, workers=workers, verify=verify,
            progress=not quiet, engines=_engines(ocr), text_model=text_model,
        )  # fmt: skip
    except (ValueError, FileNotFoundError) as exc:
        _bad_input(str(exc))
    from openmaker.deid.scoring import format_markdown

    out.print(format_markdown(metrics), soft_wrap=True)
    out.print(f"details: {escape(str(where))}", soft_wrap=True)


@app.command("synth")
def synth_command(
    output: Path = typer.Argument(..., help="Folder to create (images/, masks/, ground_truth.json)."),
    n: int = typer.Option(200, "-n", "--count", help="How many images."),
    seed: int = typer.Option(0, "--seed", help="Random seed (keep evaluation seeds apart from tuning seeds)."),
    size: int = typer.Option(1024, "--size", help="The longer image side in pixels."),
    only: list[int] = typer.Option(
        None, "--only", help="Write just this image of the set (repeatable): one image of an evaluation, again."
    ),
) -> None:
    """Generate labelled synthetic images with burned-in fake PHI and technical text."""
    from openmaker.deid.synth import generate

    if n < 1 or size < 64:
        _bad_input("need --count >= 1 and --size >= 64")
    try:
        where = generate(output, n, seed=seed, size=size, progress=True, only=only or None)
    except (FileExistsError, ValueError) as exc:
        _bad_input(str(exc))
    out.print(f"{len(set(only)) if only else n} images in {escape(str(where))}")


@app.command("detect-text")
def detect_text_command(image: str = typer.Argument(..., help="An image file or s3:// URI.")) -> None:
    """Print Rekognition DetectText JSON for an image (its first frame)."""
    from openmaker import storage
    from openmaker.deid.errors import DeidError
    from openmaker.deid.process import detect_text

    try:
        data = storage.read_bytes(image)
        response = detect_text(data, os.path.basename(image))
    except (OSError, DeidError) as exc:
        _bad_input(str(exc))
    print(json.dumps(response, indent=2))


@app.command("detect-phi")
def detect_phi_command(
    text: str = typer.Argument(..., help="Text to examine ('-' reads standard input)."),
    mode: str = _MODE,
) -> None:
    """Print Comprehend Medical DetectPHI JSON for a text."""
    import sys

    from openmaker.deid.phi import detect_phi

    if text == "-":
        text = sys.stdin.read()
    try:
        response = detect_phi(text, mode=mode)
    except ValueError as exc:
        _bad_input(str(exc))
    print(json.dumps(response, indent=2))


def commands():
    return [("deid", app)]
