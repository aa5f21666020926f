"""CUB-200-2011: ``images.txt``, ``image_class_labels.txt``, ``bounding_boxes.txt`` (x y width height in
pixels), ``train_test_split.txt``, ``classes.txt`` and ``images/``.

Boxes become ``xmin = x / W``, ``xmax = (x + w) / W`` (likewise for y) with each image's size read from
the file. CUB's training images (``1``) become "train" and its test images (``0``) become "validation",
as the SageMaker sample notebook fed them to the validation channel (``resplit=True`` draws a seeded
split instead). ``classes`` takes CUB class ids (``17, 36, 47, 68, 73``), full names
(``017.Cardinal``) or names without the number (``Cardinal``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from openmaker.vision.dataset import Dataset, Record, image_header, text_lines
from openmaker.vision.errors import DatasetError
from openmaker.vision.formats import finish_import, pixel_box

__all__ = ["import_cub", "read_cub"]

FILES = ("images.txt", "image_class_labels.txt", "bounding_boxes.txt", "train_test_split.txt", "classes.txt")


def _table(path: Path, fields: int) -> dict[int, tuple[list[str], int]]:
    """``{id: (other fields, line number)}`` for a whitespace-separated CUB file."""
    if not path.is_file():
        raise DatasetError(f"{path}: not found (expected the CUB-200-2011 layout: {', '.join(FILES)})")
    table: dict[int, tuple[list[str], int]] = {}
    for number, line in text_lines(path):
        parts = line.split()
        if len(parts) != fields:
            raise DatasetError(f"{path} line {number}: expected {fields} fields, got {len(parts)}")
        if not parts[0].isdigit():
            raise DatasetError(f"{path} line {number}: id {parts[0]!r} is not a positive integer")
        key = int(parts[0])
        if key in table:
            raise DatasetError(f"{path} line {number}: id {key} listed twice")
        table[key] = (parts[1:], number)
    return table


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise DatasetError(f"{where}: {text!r} is not a number") from None


def _lookup(table: dict, key: int, path: Path) -> tuple[list[str], int]:
    if key not in table:
        raise DatasetError(f"{path}: no line for image id {key}")
    return table[key]


def read_cub(src: str | os.PathLike) -> tuple[Dataset, dict[int, int]]:
    """The CUB dataset in memory (root ``src/images``) and ``{CUB class id: class index}``."""
    src = Path(src)
    paths = {name: src / name for name in FILES}
    names = _table(paths["classes.txt"], 2)
    cub_ids = sorted(names)
    source_ids = {cub_id: i for i, cub_id in enumerate(cub_ids)}
    labels, boxes = _table(paths["image_class_labels.txt"], 2), _table(paths["bounding_boxes.txt"], 5)
    splits = _table(paths["train_test_split.txt"], 2)
    root = src / "images"
    records = []
    for image_id, ((file,), line) in _table(paths["images.txt"], 2).items():
        (label,), label_line = _lookup(labels, image_id, paths["image_class_labels.txt"])
        where = f"{paths['image_class_labels.txt']} line {label_line}"
        if not label.isdigit() or int(label) not in source_ids:
            raise DatasetError(f"{where}: class id {label} out of range (not in classes.txt)")
        (flag,), split_line = _lookup(splits, image_id, paths["train_test_split.txt"])
        if flag not in ("0", "1"):
            raise DatasetError(f"{paths['train_test_split.txt']} line {split_line}: expected 0 or 1, got {flag!r}")
        coords, box_line = _lookup(boxes, image_id, paths["bounding_boxes.txt"])
        where = f"{paths['bounding_boxes.txt']} line {box_line}"
        x, y, w, h = (_number(v, where) for v in coords)
        width, height = image_header(root / file, f"{paths['images.txt']} line {line}")
        box = pixel_box(source_ids[int(label)], x, y, x + w, y + h, width, height, where)
        records.append(Record(file, width, height, "train" if flag == "1" else "validation", [box]))
    classes = [names[i][0][0] for i in cub_ids]
    return Dataset(root, classes, records, f"cub:{src.resolve()}"), source_ids


def _resolve(classes: Sequence[str | int], names: list[str]) -> list[str | int]:
    """Species names without the ``NNN.`` prefix mapped to the full class name."""
    short = {name.split(".", 1)[-1]: name for name in names}
    return [short.get(c, c) if isinstance(c, str) and c not in names else c for c in classes]


def import_cub(
    src: str | os.PathLike, out_dir: str | os.PathLike, *, classes: Sequence[str | int] | None = None, **options
) -> Dataset:
    """Import a CUB-200-2011 folder into ``out_dir`` (CUB's test images become "validation")."""
    source, source_ids = read_cub(src)
    wanted = _resolve(classes, source.classes) if classes else None
    return finish_import(source, out_dir, classes=wanted, source_ids=source_ids, **options)
