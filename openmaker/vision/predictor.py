"""Predictions from a trained detector directory or its ``model.tar.gz``, as SageMaker's endpoint answers.

Rows are ``[class_id, score, xmin, ymin, xmax, ymax]`` with boxes relative to the image: the
``{"prediction": [...]}`` answer of the built-in algorithm.
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from openmaker.vision.dataset import decode_image
from openmaker.vision.errors import ModelError

__all__ = ["Predictor", "model_directory"]


def model_directory(path: str | Path, scratch: Path | None = None) -> Path:
    """``path`` if it is a model directory; a ``model.tar.gz`` is unpacked (into ``scratch`` or a temp dir)."""
    path = Path(path)
    if path.is_dir():
        return path
    if not path.exists():
        raise ModelError(f"{path}: no such model (a directory with model.json, or a model.tar.gz)")
    if not tarfile.is_tarfile(path):
        raise ModelError(f"{path}: not a model directory or a model.tar.gz")
    target = scratch or Path(tempfile.mkdtemp(prefix="openmaker-vision-"))
    try:
        with tarfile.open(path) as archive:
            archive.extractall(target, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise ModelError(f"{path}: cannot unpack: {exc}") from None
    return target


class Predictor:
    """A loaded detector: ``predict(image)`` → rows, best first."""

    def __init__(self, model: str | Path, *, threads: int | None = None) -> None:
        import torch

        from openmaker.vision.model import load_model

        if threads:
            torch.set_num_threads(threads)
        self.model = load_model(model_directory(model))
        self.config = self.model.config
        self.classes = list(self.config.classes)

    def predict(self, image: Image.Image | bytes | str | Path, score_threshold: float = 0.01) -> np.ndarray:
        return self.predict_many([image], score_threshold)[0]

    def predict_many(self, images, score_threshold: float = 0.01) -> list[np.ndarray]:
        from openmaker.vision.train import predict

        return predict(self.model, [_image(image).convert("RGB") for image in images], score_threshold=score_threshold)


def _image(image: Image.Image | bytes | str | Path) -> Image.Image:
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, bytes):
        return decode_image(image, "the image")
    return decode_image(Path(image))
