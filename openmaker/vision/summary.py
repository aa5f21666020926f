"""A dataset at a glance: counts per split and class, image and box sizes, and a PNG grid of samples."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from PIL import Image

from openmaker.vision.dataset import SPLITS, Dataset
from openmaker.vision.draw import draw_boxes

__all__ = ["grid_png", "summarize"]


def _spread(values) -> dict:
    values = np.asarray(values, dtype=np.float64)
    if not values.size:
        return {"min": None, "median": None, "max": None}
    return {"min": float(values.min()), "median": float(np.median(values)), "max": float(values.max())}


def summarize(dataset: Dataset) -> dict:
    """Classes, images and boxes per split and per class, image sizes (pixels) and box sizes (relative)."""
    per_class = {name: {k: dict.fromkeys(SPLITS, 0) for k in ("images", "boxes")} for name in dataset.classes}
    images, boxes = dict.fromkeys(SPLITS, 0), dict.fromkeys(SPLITS, 0)
    empty = 0
    for record in dataset.records:
        images[record.split] += 1
        boxes[record.split] += len(record.boxes)
        empty += not len(record.boxes)
        ids, counts = np.unique(record.boxes[:, 0].astype(int), return_counts=True)
        for class_id, count in zip(ids.tolist(), counts.tolist()):
            per_class[dataset.classes[class_id]]["images"][record.split] += 1
            per_class[dataset.classes[class_id]]["boxes"][record.split] += count
    for counts in (images, boxes, *(c[k] for c in per_class.values() for k in ("images", "boxes"))):
        counts["total"] = sum(counts[s] for s in SPLITS)
    rows = np.concatenate([r.boxes for r in dataset.records]) if dataset.records else np.zeros((0, 5))
    width, height = rows[:, 3] - rows[:, 1], rows[:, 4] - rows[:, 2]
    return {
        "root": str(dataset.root),
        "source": dataset.source,
        "classes": list(dataset.classes),
        "images": images,
        "boxes": boxes,
        "images_without_boxes": empty,
        "per_class": per_class,
        "image_width": _spread([r.width for r in dataset.records]),
        "image_height": _spread([r.height for r in dataset.records]),
        "box_width": _spread(width),
        "box_height": _spread(height),
        "box_area": _spread(width * height),
    }


def grid_png(
    dataset: Dataset, path: str | os.PathLike, n: int = 16, split: str | None = None, seed: int = 0, cell: int = 256
) -> Path:
    """Save a PNG grid of ``n`` seeded random images (of ``split``) with their boxes drawn; returns the path."""
    records = dataset.split(split) if split is not None else dataset.records
    if not records:
        raise ValueError(f"{dataset.root}: no images{f' in the {split} split' if split else ''} to draw")
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n}")
    chosen = np.random.default_rng(seed).choice(len(records), size=min(n, len(records)), replace=False)
    columns = math.ceil(math.sqrt(len(chosen)))
    rows = math.ceil(len(chosen) / columns)
    grid = Image.new("RGB", (columns * cell, rows * cell), (32, 32, 32))
    for k, index in enumerate(sorted(chosen.tolist())):
        record = records[index]
        image = dataset.read_image(record)
        image.thumbnail((cell, cell))
        tile = draw_boxes(image, record.boxes, dataset.classes)
        x, y = (k % columns) * cell, (k // columns) * cell
        grid.paste(tile, (x + (cell - tile.width) // 2, y + (cell - tile.height) // 2))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid.save(path, "PNG")
    return path
