"""RecordIO ``.rec`` detection sets as ``im2rec --pack-label`` writes them, read and write.

Each record's label is ``[header_len, label_width, (extra header), cls, xmin, ymin, xmax, ymax, ...]``
(relative coordinates); the payload is the encoded image. Export follows ``im2rec --resize N
--pack-label``: the shorter edge resized to N (bilinear), JPEG quality 95; without ``resize`` the image
bytes are stored as they are (im2rec's ``--pass-through``). It writes ``<split>.rec``, ``<split>.idx``
and the matching ``<split>.lst`` plus ``classes.txt``. A ``.rec`` named for a split gives that split.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from openmaker.vision.dataset import Dataset, Record, decode_image, image_header
from openmaker.vision.errors import DatasetError
from openmaker.vision.formats import Progress, finish_import, split_from_name, split_records, ticker
from openmaker.vision.formats.lst import class_names, export_lst, relative_boxes
from openmaker.vision.recordio import (
    IRHeader, RecordReader, RecordWriter, detection_label, pack, parse_detection_label, unpack,
)  # fmt: skip

__all__ = ["RecItem", "export_rec", "import_rec", "read_rec", "rec_files", "scan_rec"]


@dataclass
class RecItem:
    """One image record: where it is, its header id, the encoded image, its size and validated boxes."""

    where: str
    offset: int
    id: int
    image: bytes
    width: int
    height: int
    boxes: np.ndarray


def _item(path: Path, offset: int, raw: bytes, number: int) -> RecItem:
    where = f"{path} record {number} (byte {offset})"
    header, image = unpack(raw, where)
    rows = parse_detection_label(header.label, where)
    width, height = image_header(image, where)
    boxes = np.asarray(relative_boxes(rows, width, height, where), dtype=np.float32).reshape(-1, 5)
    return RecItem(where, offset, int(header.id), image, width, height, boxes)


def scan_rec(path: str | os.PathLike) -> Iterator[RecItem]:
    """Every record of a detection ``.rec`` in file order (the image bytes included)."""
    path = Path(path)
    with RecordReader(path) as reader:
        for number, (offset, raw) in enumerate(reader.scan()):
            yield _item(path, offset, raw, number)


def rec_files(src: Path) -> list[Path]:
    files = sorted(src.glob("*.rec")) if src.is_dir() else [src]
    if not files:
        raise DatasetError(f"{src}: no .rec files")
    return files


def read_rec(src: str | os.PathLike) -> tuple[Dataset, dict[str, tuple[Path, int, int]]]:
    """The records in memory (files named ``<rec stem>/<id>``) and ``{file: (rec path, offset, number)}``."""
    src = Path(src)
    records, where = [], {}
    for path in rec_files(src):
        split = split_from_name(path.name) or ""
        for number, item in enumerate(scan_rec(path)):
            file = f"{path.stem}/{item.id}"
            if file in where:
                file = f"{path.stem}/{item.id}_{number}"
            where[file] = (path, item.offset, number)
            records.append(Record(file, item.width, item.height, split, item.boxes))
    return Dataset(src, class_names(rec_files(src)[0].parent, records), records, f"recordio:{src.resolve()}"), where


def import_rec(src: str | os.PathLike, out_dir: str | os.PathLike, **options) -> Dataset:
    """Import detection ``.rec`` file(s) into ``out_dir`` (images written as ``images/<stem>/<id>.jpg``)."""
    source, places = read_rec(src)
    with ExitStack() as stack:
        readers: dict[Path, RecordReader] = {}

        def load(record: Record) -> tuple[bytes, str]:
            path, offset, number = places[record.file]
            if path not in readers:
                readers[path] = stack.enter_context(RecordReader(path))
            return _item(path, offset, readers[path].read_at(offset)[0], number).image, f"{path} record {number}"

        return finish_import(source, out_dir, load=load, **options)


def encode(path: Path, resize: int | None, quality: int = 95) -> bytes:
    """The image file's bytes, or with ``resize`` its shorter edge scaled to ``resize`` as JPEG."""
    if not resize:
        return path.read_bytes()
    image = decode_image(path).convert("RGB")
    width, height = image.size
    size = (resize, height * resize // width) if height > width else (width * resize // height, resize)
    out = io.BytesIO()
    image.resize(size, Image.Resampling.BILINEAR).save(out, "JPEG", quality=quality)
    return out.getvalue()


def export_rec(
    dataset: Dataset, out_dir: str | os.PathLike, *, split: str | None = None, resize: int | None = None,
    quality: int = 95, progress: Progress = None,
) -> list[Path]:  # fmt: skip
    """``OUT/<split>.rec`` + ``.idx`` (and the ``.lst`` it packs) per split, keys 0..n-1 in list order."""
    if resize is not None and resize <= 0:
        raise ValueError(f"resize must be a positive number of pixels, not {resize}")
    out_dir = Path(out_dir)
    written = export_lst(dataset, out_dir, split=split)
    groups = split_records(dataset, split)
    tick = ticker(groups, progress)
    for name, records in groups.items():
        rec, idx = out_dir / f"{name}.rec", out_dir / f"{name}.idx"
        with RecordWriter(rec, idx) as writer:
            for index, record in enumerate(records):
                header = IRHeader(0, detection_label(record.boxes), index, 0)
                writer.write(pack(header, encode(dataset.image_path(record), resize, quality)), key=index)
                tick()
        written += [rec, idx]
    return written
