"""Training curves: the per-epoch history as ``metrics.csv`` and a PNG (loss and validation mAP)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

__all__ = ["training_csv", "training_png"]

COLUMNS = ("epoch", "learning_rate", "train_loss", "validation_map", "seconds")


def training_csv(history: Sequence[dict], path: Path) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in history:
            writer.writerow({k: row.get(k, "") for k in COLUMNS})
    return path


def training_png(history: Sequence[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    fig, loss_axis = plt.subplots(figsize=(7, 4), dpi=110)
    loss_axis.plot(epochs, [row["train_loss"] for row in history], color="tab:red", marker=".", label="train loss")
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("train loss (SSD: box + class)", color="tab:red")
    maps = [(row["epoch"], row["validation_map"]) for row in history if row.get("validation_map") is not None]
    if maps:
        map_axis = loss_axis.twinx()
        map_axis.plot(*zip(*maps), color="tab:blue", marker=".", label="validation mAP")
        map_axis.set_ylabel("validation mAP", color="tab:blue")
        map_axis.set_ylim(0, 1)
    loss_axis.set_title("object-detection training")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
