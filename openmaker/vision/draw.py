"""Boxes and labels drawn on images: ground truth rows ``[cls, xmin, ymin, xmax, ymax]`` or predictions
``[cls, score, xmin, ymin, xmax, ymax]``, coordinates relative to the image size."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["PALETTE", "class_color", "draw_boxes", "label_font"]

# Distinct colours that read on photographs and on microscope slides alike.
PALETTE = [
    (230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
    (240, 50, 230), (210, 245, 60), (250, 190, 190), (0, 128, 128), (170, 110, 40), (128, 0, 0),
]  # fmt: skip


def class_color(class_id: int) -> tuple[int, int, int]:
    return PALETTE[int(class_id) % len(PALETTE)]


def label_font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def _label(row: np.ndarray, classes: Sequence[str] | None, scores: bool) -> str:
    class_id = int(row[0])
    name = classes[class_id] if classes is not None and 0 <= class_id < len(classes) else str(class_id)
    if scores and len(row) == 6:
        return f"{name} {float(row[1]):.2f}"
    return name


def draw_boxes(
    image: Image.Image,
    rows: np.ndarray,
    classes: Sequence[str] | None = None,
    *,
    scores: bool = True,
    width: int | None = None,
) -> Image.Image:
    """A copy of ``image`` (as RGB) with each row's box outlined in its class colour and labelled."""
    out = image.convert("RGB")
    rows = np.asarray(rows, dtype=np.float32)
    rows = rows.reshape(0, 5) if rows.size == 0 else rows.reshape(-1, rows.shape[-1])
    if rows.shape[1] not in (5, 6):
        raise ValueError(f"box rows must have 5 (ground truth) or 6 (prediction) columns, not {rows.shape[1]}")
    draw = ImageDraw.Draw(out)
    w, h = out.size
    line = width or max(1, round(min(w, h) / 200))
    font = label_font(max(10, round(min(w, h) / 40)))
    for row in rows:
        xmin, ymin, xmax, ymax = (float(v) for v in row[-4:])
        box = (xmin * w, ymin * h, xmax * w, ymax * h)
        color = class_color(int(row[0]))
        draw.rectangle(box, outline=color, width=line)
        text = _label(row, classes, scores)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tx, ty = box[0], max(0.0, box[1] - (bottom - top) - 2 * line)
        draw.rectangle((tx, ty, tx + (right - left) + 2 * line, ty + (bottom - top) + 2 * line), fill=color)
        draw.text((tx + line, ty + line - top), text, fill=(255, 255, 255), font=font)
    return out
