"""``openmaker vision``: datasets, training, evaluation, prediction, ONNX export, int8 quantisation, the edge loop.

Thin over the room's Python API. Bad input (a missing file, a corrupt image or record, a bad
hyperparameter, a model that is not a detector) exits with code 2 and one ``error: ...`` line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from openmaker.clitools import bad_input, err, input_errors

vision_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                         help="Object detection: datasets, training, evaluation, serving, ONNX export and the edge loop.")


def _errors():
    """DatasetError, HyperparameterError, ModelError, OSError, a missing extra → ``error: ...``, exit 2."""
    return input_errors("vision")


def _pairs(values: list[str]) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            bad_input(f"--hyperparameter takes NAME=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _progress(description: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True)


@vision_app.command("train")
def train(
    dataset: Path = typer.Argument(..., help="An openmaker dataset folder (openmaker vision dataset import)."),
    out: Path = typer.Option(..., "--out", help="The model directory to write."),
    minutes: float = typer.Option(10.0, "--minutes", min=0.1, help="Time budget; the schedule fits in it."),
    hyperparameter: List[str] = typer.Option([], "--hyperparameter", "-H", help="NAME=VALUE, SageMaker's names (repeatable)."),
) -> None:
    """Train the object-detection algorithm on DATASET's train split, validating on its validation split."""
    from openmaker.vision.api import train_model

    overrides = _pairs(hyperparameter)
    with _errors():
        with _progress("training") as bar:
            task = bar.add_task("train", total=None)

            def on_epoch(row: dict) -> None:
                bar.update(task, completed=row["epoch"] + 1)

            summary = train_model(dataset, out, minutes=minutes, hyperparameters=overrides,
                                  log=lambda line: bar.console.print(line, highlight=False, markup=False), on_epoch=on_epoch)
    typer.echo(json.dumps(summary, indent=2))


@vision_app.command("evaluate")
def evaluate(
    model: Path = typer.Argument(..., help="A model directory or model.tar.gz."),
    dataset: Path = typer.Argument(..., help="An openmaker dataset folder."),
    split: str = typer.Option("test", "--split", help="train, validation or test."),
    as_json: bool = typer.Option(False, "--json", help='Print {"map50", "map", "per_class"} as JSON.'),
    overlap: float = typer.Option(0.5, "--overlap-threshold", help="IoU for map50 (SageMaker's overlap_threshold)."),
    png: Optional[Path] = typer.Option(None, "--png", help="A bar chart of AP per class."),
    examples: Optional[Path] = typer.Option(None, "--examples", help="A folder for prediction-versus-ground-truth PNGs."),
) -> None:
    """mAP@0.5 (VOC, all-point) and COCO mAP@[.5:.95], per class, of MODEL on a split of DATASET."""
    from openmaker.vision.api import evaluate_model, summary_json

    with _errors():
        with _progress("evaluating") as bar:
            task = bar.add_task("evaluate", total=None)
            result = evaluate_model(model, dataset, split=split, overlap_threshold=overlap, png=png, examples=examples,
                                    progress=lambda done, total: bar.update(task, completed=done, total=total))
    if as_json:
        typer.echo(summary_json(result))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{model} on {dataset} ({split}, {result['images']} images)")
    for column in ("class", "AP@0.5", "AP@[.5:.95]", "ground truth", "detections"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for name, row in result["per_class"].items():
        cells = ["n/a" if row[k] is None else f"{row[k]:.3f}" for k in ("ap50", "ap")]
        table.add_row(name, *cells, str(row["ground_truth"]), str(row["detections"]))
    table.add_row("[b]mean[/b]", f"{result['map50']:.3f}", f"{result['map']:.3f}", "", "")
    Console().print(table)


@vision_app.command("predict")
def predict(
    image: Path = typer.Argument(..., help="A JPEG or PNG image."),
    model: Path = typer.Option(..., "--model", help="A model directory or model.tar.gz."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the image with its boxes and labels (PNG)."),
    threshold: float = typer.Option(0.4, "--threshold", min=0.0, max=1.0, help="Minimum score."),
) -> None:
    """Print SageMaker's {"prediction": ...} answer for IMAGE: rows of class_id, score, xmin, ymin, xmax, ymax."""
    from openmaker.vision.dataset import decode_image
    from openmaker.vision.draw import draw_boxes
    from openmaker.vision.predictor import Predictor

    with _errors():
        predictor = Predictor(model)
        picture = decode_image(image).convert("RGB")
        rows = predictor.predict(picture, score_threshold=threshold)
        if out:
            out.parent.mkdir(parents=True, exist_ok=True)
            draw_boxes(picture, rows, predictor.classes).save(out)
    typer.echo(json.dumps({"prediction": [[round(float(v), 6) for v in row] for row in rows.tolist()]}))


@vision_app.command("export")
def export(
    model: Path = typer.Argument(..., help="A model directory or model.tar.gz."),
    out: Path = typer.Option(..., "--out", help="The .onnx file to write."),
    fmt: str = typer.Option("onnx", "--format", help="onnx (the only format)."),
    int8: Optional[Path] = typer.Option(None, "--int8", help="Also write an int8 model here, calibrated on --calibration."),
    calibration: Optional[Path] = typer.Option(None, "--calibration", help="A folder of images (or a dataset folder) for int8 calibration."),
    threshold: float = typer.Option(0.3, "--threshold", min=0.0, max=1.0, help="The default score threshold stored in the model."),
) -> None:
    """Export MODEL to ONNX (raw SSD outputs; decoding and NMS run outside the graph, as on the device)."""
    from openmaker.vision.export import export_onnx

    if fmt != "onnx":
        bad_input(f"--format {fmt!r}: only onnx is supported")
    if int8 is not None and calibration is None:
        bad_input("--int8 needs --calibration DIR (images that look like what the device will see)")
    with _errors():
        written = export_onnx(model, out, score_threshold=threshold)
        typer.echo(f"wrote {written}")
        if int8 is not None:
            from openmaker.vision.edge_cli import calibration_images
            from openmaker.vision.quantize import quantize_int8

            typer.echo(f"wrote {quantize_int8(written, int8, calibration_images(calibration))}")


def _register_edge_commands() -> None:
    from openmaker.vision import edge_cli

    vision_app.command("edge")(edge_cli.edge)
    vision_app.command("quantize")(edge_cli.quantize)


def commands():
    from openmaker.vision.dataset_cli import dataset_app

    vision_app.add_typer(dataset_app, name="dataset", help="Import, summarise, preview and export detection datasets.")
    _register_edge_commands()
    return [("vision", vision_app)]


if __name__ == "__main__":
    commands()
    sys.exit(vision_app())
