"""``openmaker vision dataset``: import, summarise, draw and export detection datasets."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from openmaker.clitools import bad_input, one_line
from openmaker.vision.dataset import SPLITS, load_dataset
from openmaker.vision.errors import DatasetError
from openmaker.vision.formats import export_dataset, import_dataset
from openmaker.vision.summary import grid_png, summarize

__all__ = ["dataset_app"]

dataset_app = typer.Typer(help="Detection datasets: import, summary, grid, export.", no_args_is_help=True)
out = Console(highlight=False)
PROGRESS_FROM = 50  # images; fewer go without a bar


class ImportFormat(str, Enum):
    voc = "voc"
    coco = "coco"
    cub = "cub"
    manifest = "manifest"
    json = "json"
    lst = "lst"
    recordio = "recordio"


class ExportFormat(str, Enum):
    lst = "lst"
    recordio = "recordio"
    manifest = "manifest"
    json = "json"


@contextmanager
def _guard() -> Iterator[None]:
    """Bad input becomes one ``error:`` line and exit code 2."""
    try:
        yield
    except (DatasetError, ValueError, OSError) as exc:
        bad_input(one_line(exc))


@contextmanager
def _progress(what: str) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback drawing a Rich bar (on stderr) once there are many images."""
    bar = Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=Console(stderr=True), transient=True)  # fmt: skip
    task = None

    def update(done: int, total: int) -> None:
        nonlocal task
        if total < PROGRESS_FROM:
            return
        if task is None:
            bar.start()
            task = bar.add_task(what, total=total)
        bar.update(task, completed=done)

    try:
        yield update
    finally:
        if task is not None:
            bar.stop()


def _counts(dataset) -> str:
    return ", ".join(f"{name} {len(dataset.split(name))}" for name in SPLITS if dataset.split(name))


@dataset_app.command("import")
def import_command(
    src: Path = typer.Argument(..., help="The source: a folder or file in the given format."),
    format: ImportFormat = typer.Option(..., "--format", "-f", help="The source format."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="The new dataset folder (must be empty or absent)."),
    classes: Optional[str] = typer.Option(None, help="Keep only these classes (names or ids, comma-separated), in order."),
    validation: float = typer.Option(0.2, help="Validation fraction where the source has no split."),
    test: float = typer.Option(0.0, help="Test fraction where the source has no split."),
    seed: int = typer.Option(0, help="Seed of the split."),
    resplit: bool = typer.Option(False, help="Ignore the source's split and draw a seeded one."),
    images: Optional[Path] = typer.Option(None, help="Image folder (coco, lst)."),
) -> None:
    """Import a detection dataset into openmaker's format."""
    options: dict = {"validation": validation, "test": test, "seed": seed, "resplit": resplit}
    if classes:
        options["classes"] = [c.strip() for c in classes.split(",") if c.strip()]
    if images is not None:
        if format not in (ImportFormat.coco, ImportFormat.lst):
            bad_input(f"--images applies to coco and lst sources, not {format.value}")
        options["images"] = images
    with _guard(), _progress("importing") as progress:
        dataset = import_dataset(format.value, src, out_dir, progress=progress, **options)
    boxes = sum(len(r.boxes) for r in dataset.records)
    out.print(f"imported {len(dataset.records)} images ({_counts(dataset)}), {boxes} boxes, "
              f"{len(dataset.classes)} classes into {out_dir}")  # fmt: skip


def _spread(row: dict, digits: int) -> str:
    if row["min"] is None:
        return "-"
    return f"{row['min']:.{digits}f} / {row['median']:.{digits}f} / {row['max']:.{digits}f}"


@dataset_app.command("summary")
def summary_command(
    root: Path = typer.Argument(..., help="A dataset folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Classes, images and boxes per split and class, image and box sizes."""
    with _guard():
        info = summarize(load_dataset(root))
    if as_json:
        print(json.dumps(info, indent=2))
        return
    table = Table(title=f"{root} ({info['source'] or 'no source recorded'})")
    table.add_column("class")
    for split in (*SPLITS, "total"):
        table.add_column(f"{split} boxes (images)", justify="right")
    rows = [(name, c["boxes"], c["images"]) for name, c in info["per_class"].items()]
    for name, boxes, images in [*rows, ("all", info["boxes"], info["images"])]:
        table.add_row(name, *(f"{boxes[s]} ({images[s]})" for s in (*SPLITS, "total")))
    out.print(table)
    out.print(f"image width  min/median/max: {_spread(info['image_width'], 0)} px")
    out.print(f"image height min/median/max: {_spread(info['image_height'], 0)} px")
    out.print(f"box width    min/median/max: {_spread(info['box_width'], 3)} (relative)")
    out.print(f"box height   min/median/max: {_spread(info['box_height'], 3)} (relative)")
    if info["images_without_boxes"]:
        out.print(f"images without boxes: {info['images_without_boxes']}")


@dataset_app.command("grid")
def grid_command(
    root: Path = typer.Argument(..., help="A dataset folder."),
    png: Path = typer.Option(..., "--out", "-o", help="The PNG to write."),
    n: int = typer.Option(16, "--n", help="How many images."),
    split: Optional[str] = typer.Option(None, help="Only this split: train, validation or test."),
    seed: int = typer.Option(0, help="Seed of the sample."),
) -> None:
    """A PNG grid of sample images with their boxes."""
    with _guard():
        path = grid_png(load_dataset(root), png, n=n, split=split, seed=seed)
    out.print(f"wrote {path}")


@dataset_app.command("export")
def export_command(
    root: Path = typer.Argument(..., help="A dataset folder."),
    format: ExportFormat = typer.Option(..., "--format", "-f", help="The format to write."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="The folder to write into."),
    split: Optional[str] = typer.Option(None, help="Only this split (default: one output per split)."),
    resize: Optional[int] = typer.Option(None, help="recordio: resize the shorter edge to this many pixels."),
    prefix: str = typer.Option("", help="manifest: prefix of each source-ref (e.g. s3://bucket/data/)."),
) -> None:
    """Export a dataset to .lst, RecordIO, an augmented manifest or SageMaker's image + JSON channels."""
    options: dict = {"split": split}
    if resize is not None:
        if format is not ExportFormat.recordio:
            bad_input("--resize applies to the recordio format only")
        options["resize"] = resize
    if prefix:
        if format is not ExportFormat.manifest:
            bad_input("--prefix applies to the manifest format only")
        options["prefix"] = prefix
    with _guard(), _progress("exporting") as progress:
        written = export_dataset(format.value, load_dataset(root), out_dir, progress=progress, **options)
    for path in written:
        out.print(f"wrote {path}")
