"""Evaluation pictures: ground truth next to predictions for one image, and per-class AP as a bar chart."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from openmaker.vision.draw import label_font, draw_boxes

__all__ = ["comparison_png", "evaluation_png"]

_GAP = 8


def comparison_png(
    image: Image.Image,
    ground_truth: np.ndarray,
    prediction: np.ndarray,
    classes: Sequence[str],
    path: str | Path,
    score_threshold: float = 0.3,
) -> Path:
    """Save ``image`` twice side by side, ground-truth boxes left, predictions scoring >= ``score_threshold`` right."""
    prediction = np.asarray(prediction, dtype=np.float32).reshape(-1, 6)
    shown = prediction[prediction[:, 1] >= score_threshold]
    n_truth = len(np.asarray(ground_truth).reshape(-1, 5))
    panels = [
        (draw_boxes(image, ground_truth, classes), f"ground truth ({n_truth} boxes)"),
        (draw_boxes(image, shown, classes), f"predictions scoring {score_threshold:g} or more ({len(shown)} boxes)"),
    ]
    width, height = panels[0][0].size
    font_size = max(12, round(min(width, height) / 25))
    font, title_h = label_font(font_size), round(font_size * 1.6)
    canvas = Image.new("RGB", (2 * width + _GAP, height + title_h), "white")
    draw = ImageDraw.Draw(canvas)
    for k, (panel, title) in enumerate(panels):
        left = k * (width + _GAP)
        canvas.paste(panel, (left, title_h))
        draw.text((left + 4, title_h // 2), title, fill="black", font=font, anchor="lm")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path, format="PNG")
    return path


def evaluation_png(results: dict, path: str | Path) -> Path:
    """Per-class AP at the overlap threshold and COCO AP@[.5:.95] (from :func:`metrics.evaluate`) as bars."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(results["per_class"])
    ap50 = [results["per_class"][n]["ap50"] for n in names]
    ap = [results["per_class"][n]["ap"] for n in names]
    rows = np.arange(len(names))
    figure = Figure(figsize=(7, 1.5 + 0.45 * len(names)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    threshold = results.get("overlap_threshold", 0.5)
    axes.barh(rows - 0.2, [v or 0 for v in ap50], height=0.4, label=f"AP@{threshold:g}", color="#0082c8")
    axes.barh(rows + 0.2, [v or 0 for v in ap], height=0.4, label="AP@[.5:.95]", color="#f58231")
    for row, (a, b) in enumerate(zip(ap50, ap)):
        if a is None:
            axes.text(0.01, row, "no ground truth", va="center", color="grey")
        else:
            axes.text(a + 0.01, row - 0.2, f"{a:.3f}", va="center", fontsize=8)
            axes.text(b + 0.01, row + 0.2, f"{b:.3f}", va="center", fontsize=8)
    axes.set_yticks(rows, [f"{n} ({results['per_class'][n]['ground_truth']})" for n in names])
    axes.invert_yaxis()
    axes.set_xlim(0, 1.12)
    axes.set_xlabel("average precision")
    axes.set_title(f"mAP@{threshold:g} = {results['map50']:.3f}   mAP@[.5:.95] = {results['map']:.3f}   "
                   f"({results['images']} images)")  # fmt: skip
    figure.legend(loc="outside lower center", ncols=2, fontsize=8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=100)
    return path
