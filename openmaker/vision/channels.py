"""What the object-detection algorithm reads from a training channel: encoded images with relative boxes.

:func:`read_channel` recognises, by content: an internal dataset folder (``dataset.json``), RecordIO
``.rec`` files (im2rec detection labels), SageMaker image + per-image JSON annotations (with
``annotation_dir``), an augmented manifest (``.manifest`` / ``.jsonl``) and an im2rec ``.lst`` whose
paths are relative to its folder. ``content_type`` (SageMaker's channel content type) narrows the choice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openmaker.vision.dataset import META, Dataset, load_dataset, verify_image
from openmaker.vision.errors import DatasetError
from openmaker.vision.formats.lst import class_names, read_lst
from openmaker.vision.formats.manifest import MANIFEST_SUFFIXES, class_list, read_json_channel, read_manifest
from openmaker.vision.formats.rec import rec_files, scan_rec

__all__ = ["CONTENT_TYPES", "Sample", "Samples", "read_channel"]

# content type -> the kinds of source it may hold
IMAGE_KINDS = ("dataset", "json", "manifest", "lst")
CONTENT_TYPES = {
    "application/x-recordio": ("rec", "manifest"),
    "application/x-image": IMAGE_KINDS,
    "image/jpeg": IMAGE_KINDS,
    "image/png": IMAGE_KINDS,
    "application/jsonlines": ("manifest",),
    "application/json": ("json", "manifest", "dataset"),
}


@dataclass
class Sample:
    name: str
    image: bytes
    width: int
    height: int
    boxes: np.ndarray


@dataclass
class Samples:
    classes: list[str] | None
    samples: list[Sample]


def _kinds(data_dir: Path, annotation_dir: Path | None) -> list[str]:
    if annotation_dir is not None:
        return ["json"]
    suffixes = {data_dir.suffix} if data_dir.is_file() else {p.suffix for p in data_dir.iterdir()}
    found = [("dataset", data_dir.is_dir() and (data_dir / META).is_file()), ("rec", ".rec" in suffixes),
             ("manifest", bool(suffixes & set(MANIFEST_SUFFIXES))), ("lst", ".lst" in suffixes)]  # fmt: skip
    return [kind for kind, present in found if present]


def _from_dataset(dataset: Dataset, named: bool, verify: bool) -> Samples:
    samples = []
    for record in dataset.records:
        path = dataset.image_path(record)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise DatasetError(f"{path}: image file not found") from None
        if verify:
            verify_image(data, str(path))
        samples.append(Sample(record.file, data, record.width, record.height, record.boxes))
    return Samples(list(dataset.classes) if named else None, samples)


def _named(classes: list[str]) -> bool:
    """False where the names are only the ids as text (the source had no class names)."""
    return classes != [str(i) for i in range(len(classes))]


def _rec_samples(data_dir: Path, verify: bool) -> Samples:
    samples = []
    for path in rec_files(data_dir):
        for item in scan_rec(path):
            if verify:
                verify_image(item.image, item.where)
            samples.append(Sample(f"{path.stem}/{item.id}", item.image, item.width, item.height, item.boxes))
    classes = class_names(data_dir if data_dir.is_dir() else data_dir.parent, samples)
    return Samples(classes if _named(classes) else None, samples)


def read_channel(
    data_dir: str | os.PathLike,
    annotation_dir: str | os.PathLike | None = None,
    content_type: str | None = None,
    split: str | None = None,
    *,
    verify: bool = True,
) -> Samples:
    """All samples of a channel; ``split`` picks one split of an internal dataset; ``verify`` decodes each image."""
    data_dir = Path(data_dir)
    if not data_dir.exists():
        raise DatasetError(f"{data_dir}: not found")
    annotation_dir = Path(annotation_dir) if annotation_dir is not None else None
    kinds = _kinds(data_dir, annotation_dir)
    if content_type is not None:
        allowed = CONTENT_TYPES.get(content_type.split(";")[0].strip().lower())
        if allowed is None:
            raise ValueError(f"unsupported content type {content_type!r}; expected one of {', '.join(CONTENT_TYPES)}")
        kinds = [k for k in kinds if k in allowed]
    if not kinds:
        hint = f" for content type {content_type}" if content_type else ""
        raise DatasetError(
            f"{data_dir}: no detection data{hint} (expected dataset.json, .rec, .manifest/.jsonl or .lst files, "
            "or an annotation folder)"
        )
    kind = kinds[0]
    if split is not None and kind != "dataset":
        raise ValueError(f"split= applies to an openmaker dataset folder, not to {kind} data in {data_dir}")
    if kind == "dataset":
        dataset = load_dataset(data_dir)
        if split is not None:
            dataset.records = dataset.split(split)
        return _from_dataset(dataset, True, verify)
    if kind == "rec":
        return _rec_samples(data_dir, verify)
    if kind == "json":
        records, names = read_json_channel(data_dir, annotation_dir)
        return _from_dataset(Dataset(data_dir, class_list(names, records), records), bool(names), verify)
    dataset = read_manifest(data_dir) if kind == "manifest" else read_lst(data_dir)
    return _from_dataset(dataset, _named(dataset.classes), verify)
