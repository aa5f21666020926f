"""``openmaker vision edge`` and ``openmaker vision quantize``: command functions, registered by the room's CLI.

Stdout carries only the JSON lines; progress and the frames-per-second summary go to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from openmaker.clitools import bad_input, err, one_line

__all__ = ["calibration_images", "edge", "quantize"]

REPORT_EVERY = 100  # frames between running frames-per-second lines on stderr


def calibration_images(folder: Path, max_images: int = 100) -> list[Path]:
    """Up to ``max_images`` images found under ``folder`` (a folder of frames or a dataset folder), evenly spread."""
    from openmaker.vision.sources import IMAGE_SUFFIXES, image_files

    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder of calibration images")
    files = image_files(folder, recursive=True)
    if not files:
        raise ValueError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    if len(files) > max_images:
        files = [files[i] for i in np.linspace(0, len(files) - 1, max_images).round().astype(int)]
    return files


def edge(
    model: Path = typer.Option(..., "--model", "-m", help="Exported detector (.onnx from `openmaker vision export`)."),
    source: str = typer.Option(..., "--source", "-s", help="Folder of images, an image, a video file, or a camera index."),
    threshold: Optional[float] = typer.Option(None, min=0.0, max=1.0, help="Score threshold (default: the model's)."),
    mqtt_host: Optional[str] = typer.Option(None, help="Also publish each frame's JSON to this MQTT broker."),
    mqtt_port: int = typer.Option(1883, min=1, max=65535, help="MQTT broker port."),
    topic: str = typer.Option("openmaker/vision/infer", help="MQTT topic."),
    save_frames: Optional[Path] = typer.Option(None, help="Save each frame with its boxes drawn into this folder."),
    save_crops: Optional[Path] = typer.Option(None, help="Save a crop of each detection scoring >= --crop-threshold here."),
    crop_threshold: float = typer.Option(0.5, min=0.0, max=1.0, help="Score a detection needs to be cropped."),
    max_frames: Optional[int] = typer.Option(None, min=1, help="Stop after this many frames."),
    threads: Optional[int] = typer.Option(None, min=1, help="onnxruntime threads (default: one per core)."),
) -> None:
    """Run an exported detector on frames: one JSON line per frame on stdout, frames per second on stderr."""
    from openmaker.vision.edge import EdgeDetector, run_edge
    from openmaker.vision.sources import open_source

    def report(stats) -> None:
        if stats.frames % REPORT_EVERY == 0:
            err.print(f"{stats.frames} frames, {stats.fps:.1f} frames/s")

    try:
        detector = EdgeDetector(model, threads=threads)
        frames = open_source(source)
        stats = run_edge(
            detector, frames, score_threshold=threshold, out_json=sys.stdout,
            mqtt=(mqtt_host, mqtt_port, topic) if mqtt_host else None,
            save_frames=save_frames, save_crops=save_crops, crop_threshold=crop_threshold, max_frames=max_frames,
            progress=report,
        )  # fmt: skip
    except (ValueError, ImportError, OSError) as exc:
        bad_input(one_line(exc))
    err.print(f"edge: {stats.frames} frames in {stats.seconds:.2f} s, {stats.fps:.1f} frames/s, {stats.detections} detections")
    if stats.unpublished:
        err.print(f"[yellow]warning:[/yellow] {stats.unpublished} messages could not be published to MQTT")


def quantize(
    model: Path = typer.Argument(..., help="Exported float detector (.onnx)."),
    calibration: Path = typer.Option(..., help="Folder of representative images (searched recursively)."),
    out: Optional[Path] = typer.Option(None, help="Output model (default: MODEL with .int8.onnx)."),
    max_images: int = typer.Option(100, min=1, help="Calibrate on at most this many images, spread over the folder."),
    per_channel: bool = typer.Option(True, "--per-channel/--per-tensor", help="Weight scales per output channel."),
    exclude_head: bool = typer.Option(False, help="Keep the final box and class convolutions in float."),
) -> None:
    """Quantise an exported detector to int8 (onnxruntime static QDQ), calibrated on real images."""
    from rich.progress import Progress

    from openmaker.vision.quantize import quantize_int8

    if not model.is_file():
        bad_input(f"{model}: no such model file")
    try:
        files = calibration_images(calibration, max_images)
    except ValueError as exc:
        bad_input(one_line(exc))
    target = out or model.with_suffix(".int8.onnx")
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("calibrating", total=len(files))
        try:
            quantize_int8(model, target, files, per_channel=per_channel, exclude_head=exclude_head,
                          progress=lambda done, total: bar.update(task, completed=done))  # fmt: skip
        except (ValueError, ImportError, OSError) as exc:
            bad_input(one_line(exc))
    err.print(f"int8 model: {target} ({target.stat().st_size / 1e6:.1f} MB, from {model.stat().st_size / 1e6:.1f} MB)")
