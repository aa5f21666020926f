"""im2rec ``.lst`` files for detection, read and write.

Each line is tab-separated: ``index``, ``header_len`` (2), ``label_width`` (5), any extra header values,
then ``cls xmin ymin xmax ymax`` (relative, written ``%.4f``) per object, then the image path relative to
the image root (default: the ``.lst``'s folder). Columns past the fifth of a wider label are ignored.
Class names come from a ``classes.txt`` beside the list (one name per line, as the exporters write it),
else they are the ids as text. A list named for a split (``validation.lst``) gives that split.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from openmaker.vision.dataset import Dataset, Record, image_header, text_lines
from openmaker.vision.errors import DatasetError
from openmaker.vision.formats import (
    Progress, class_id, finish_import, link_or_copy, pixel_box, split_from_name, split_records, ticker, top_class,
)  # fmt: skip

__all__ = ["CLASSES_FILE", "class_names", "export_lst", "format_line", "import_lst", "parse_line", "read_lst"]

CLASSES_FILE = "classes.txt"


def parse_line(line: str, where: str) -> tuple[int, np.ndarray, str]:
    """``(index, relative boxes (n, 5), path)`` from one detection ``.lst`` line."""
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) < 4:
        raise DatasetError(
            f"{where}: {len(fields)} tab-separated fields; expected index, header_len, label_width, labels, path"
        )
    try:
        index = int(fields[0])
        values = np.array([float(v) for v in fields[1:-1]], dtype=np.float64)
    except ValueError:
        raise DatasetError(f"{where}: the index and the label columns must be numbers") from None
    header_len, width = values[0], values[1]
    if header_len != int(header_len) or header_len < 2 or width != int(width) or width < 5:
        raise DatasetError(f"{where}: header_len {header_len:g} and label_width {width:g} must be >= 2 and >= 5")
    header_len, width = int(header_len), int(width)
    if len(values) < header_len or (len(values) - header_len) % width:
        raise DatasetError(
            f"{where}: {len(fields)} fields; expected 1 + {header_len} + {width} * objects + 1 "
            "(index, header, labels, path)"
        )
    return index, values[header_len:].reshape(-1, width)[:, :5], fields[-1]


def format_line(index: int, boxes: np.ndarray, path: str) -> str:
    """One ``.lst`` line as im2rec's detection notebooks write it (``%.4f`` floats)."""
    labels = "".join(f"\t{v:.4f}" for v in np.asarray(boxes, dtype=np.float64).ravel())
    return f"{index}\t2\t5{labels}\t{path}\n"


def class_names(folder: Path, records: Sequence) -> list[str]:
    """Names from ``folder/classes.txt`` when present, else ``"0"``, ``"1"``, ... up to the records' largest id."""
    path, top = folder / CLASSES_FILE, top_class(records)
    if path.is_file():
        names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if top >= len(names):
            raise DatasetError(f"{path}: {len(names)} class names, but class id {top} is used")
        return names
    if top < 0:
        raise DatasetError(f"{folder}: no boxes, so no classes")
    return [str(i) for i in range(top + 1)]


def relative_boxes(rows: np.ndarray, width: int, height: int, where: str) -> list[list[float]]:
    """Validated boxes from relative rows (the 1-pixel tolerance of :func:`pixel_box` applies)."""
    return [
        pixel_box(class_id(c, None, where), x0 * width, y0 * height, x1 * width, y1 * height, width, height, where)
        for c, x0, y0, x1, y1 in rows.tolist()
    ]


def read_lst(src: str | os.PathLike, images: str | os.PathLike | None = None) -> Dataset:
    """``.lst`` file(s) in memory; paths are relative to ``images`` (default: the list's folder)."""
    src = Path(src)
    files = sorted(src.glob("*.lst")) if src.is_dir() else [src]
    if not files:
        raise DatasetError(f"{src}: no .lst files")
    root = Path(images) if images is not None else files[0].parent
    records = []
    for path in files:
        split = split_from_name(path.name) or ""
        for number, line in text_lines(path):
            where = f"{path} line {number}"
            _, rows, file = parse_line(line, where)
            width, height = image_header(root / file, where)
            records.append(Record(file, width, height, split, relative_boxes(rows, width, height, where)))
    return Dataset(root, class_names(files[0].parent, records), records, f"lst:{src.resolve()}")


def import_lst(
    src: str | os.PathLike, out_dir: str | os.PathLike, *, images: str | os.PathLike | None = None, **options
) -> Dataset:
    """Import im2rec ``.lst`` file(s) and their images into ``out_dir``."""
    return finish_import(read_lst(src, images), out_dir, **options)


def write_classes(dataset: Dataset, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / CLASSES_FILE
    path.write_text("".join(f"{name}\n" for name in dataset.classes), encoding="utf-8")
    return path


def export_lst(
    dataset: Dataset, out_dir: str | os.PathLike, *, split: str | None = None, progress: Progress = None
) -> list[Path]:
    """``OUT/<split>.lst`` per split with the images linked into ``OUT/images``, plus ``OUT/classes.txt``."""
    out_dir = Path(out_dir)
    written, groups = [write_classes(dataset, out_dir)], split_records(dataset, split)
    tick = ticker(groups, progress)
    for name, records in groups.items():
        path = out_dir / f"{name}.lst"
        with open(path, "w", encoding="utf-8") as out:
            for index, record in enumerate(records):
                link_or_copy(dataset.image_path(record), out_dir / record.file)
                out.write(format_line(index, record.boxes, record.file))
                tick()
        written.append(path)
    return written
