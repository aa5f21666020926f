"""Importers and exporters between detection dataset formats and the internal format.

A reader turns a source into an in-memory :class:`Dataset` whose ``root`` is the source's image folder
(records with split ``""`` where the source has none); :func:`finish_import` then applies the class
subset and the split, checks and copies the images into ``OUT/images`` and writes the dataset.
Progress callbacks are called as ``progress(done, total)``.
"""

from __future__ import annotations

import importlib
import math
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath

from openmaker.vision.dataset import (
    SPLITS, Dataset, Record, assign_splits, decode_image, subset, verify_image, write_dataset,
)  # fmt: skip
from openmaker.vision.errors import DatasetError

__all__ = [
    "EXPORTERS", "IMPORTERS", "Progress", "class_id", "export_dataset", "finish_import",
    "import_dataset", "pixel_box", "split_from_name", "split_records", "ticker", "top_class",
]  # fmt: skip

Progress = Callable[[int, int], None] | None

# format name -> (module, function)
IMPORTERS = {
    "voc": ("voc", "import_voc"),
    "coco": ("coco", "import_coco"),
    "cub": ("cub", "import_cub"),
    "manifest": ("manifest", "import_manifest"),
    "json": ("manifest", "import_json"),
    "lst": ("lst", "import_lst"),
    "recordio": ("rec", "import_rec"),
}
EXPORTERS = {
    "lst": ("lst", "export_lst"),
    "recordio": ("rec", "export_rec"),
    "manifest": ("manifest", "export_manifest"),
    "json": ("manifest", "export_json"),
}
KEEP_FORMATS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png"}
_SPLIT_WORD = re.compile(r"(?<![a-z])(train|val|validation|test)(?![a-z])")


def _function(table: dict, fmt: str) -> Callable:
    if fmt not in table:
        raise DatasetError(f"unknown format {fmt!r}; expected one of {', '.join(table)}")
    module, name = table[fmt]
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def import_dataset(fmt: str, src: str | os.PathLike, out_dir: str | os.PathLike, **options) -> Dataset:
    """Run the importer for ``fmt`` (a key of IMPORTERS)."""
    return _function(IMPORTERS, fmt)(src, out_dir, **options)


def export_dataset(fmt: str, dataset: Dataset, out_dir: str | os.PathLike, **options) -> list[Path]:
    """Run the exporter for ``fmt`` (a key of EXPORTERS); returns the files it wrote (images aside)."""
    return _function(EXPORTERS, fmt)(dataset, out_dir, **options)


def split_from_name(name: str) -> str | None:
    """The split a file or folder name stands for (``instances_val2017`` -> validation), or None."""
    found = _SPLIT_WORD.findall(PurePosixPath(name).stem.lower())
    if len(set(found)) != 1:
        return None
    return {"train": "train", "val": "validation", "validation": "validation", "test": "test"}[found[0]]


def class_id(value, n_classes: int | None, where: str) -> int:
    """An integral class id >= 0 (and < ``n_classes`` when given), or DatasetError naming ``where``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: class id {value!r} is not a number") from None
    if not math.isfinite(number) or number != int(number) or number < 0:
        raise DatasetError(f"{where}: class id {value!r} is not a non-negative integer")
    if n_classes is not None and number >= n_classes:
        raise DatasetError(f"{where}: class id {int(number)} out of range (0..{n_classes - 1})")
    return int(number)


def top_class(items: Sequence) -> int:
    """The largest class id among the boxes of ``items`` (records or samples), -1 when there is none."""
    return max((int(item.boxes[:, 0].max()) for item in items if len(item.boxes)), default=-1)


def pixel_box(cls: int, x0, y0, x1, y1, width: int, height: int, where: str) -> list[float]:
    """``[cls, xmin, ymin, xmax, ymax]`` relative to the image, from pixel corners (1-pixel tolerance)."""
    try:
        x0, y0, x1, y1 = (float(v) for v in (x0, y0, x1, y1))
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: box coordinates must be numbers") from None
    shown = f"[{x0:g}, {y0:g}, {x1:g}, {y1:g}]"
    if not all(map(math.isfinite, (x0, y0, x1, y1))):
        raise DatasetError(f"{where}: box {shown} has a non-finite coordinate")
    if x0 < -1 or y0 < -1 or x1 > width + 1 or y1 > height + 1:
        raise DatasetError(f"{where}: box {shown} lies outside the {width}x{height} image (beyond 1 pixel)")
    x0, y0, x1, y1 = max(x0, 0.0), max(y0, 0.0), min(x1, float(width)), min(y1, float(height))
    if x1 <= x0 or y1 <= y0:
        raise DatasetError(f"{where}: box {shown} has zero area")
    return [float(cls), x0 / width, y0 / height, x1 / width, y1 / height]


def check_size(declared: tuple[int, int], actual: tuple[int, int], image: Path, where: str) -> None:
    if declared != actual:
        raise DatasetError(
            f"{where}: image size {declared[0]}x{declared[1]} but {image.name} is {actual[0]}x{actual[1]}"
        )


def split_records(dataset: Dataset, split: str | None) -> dict[str, list[Record]]:
    """``{split: records}`` for one split or every non-empty split."""
    if split is not None:
        records = dataset.split(split)
        if not records:
            raise DatasetError(f"{dataset.root}: the {split!r} split has no images")
        return {split: records}
    return {name: recs for name in SPLITS if (recs := dataset.split(name))}


def ticker(groups: dict[str, list], progress: Progress) -> Callable[[], None]:
    """A function to call once per item done; it reports ``progress(done, total)`` over all groups."""
    total, done = sum(map(len, groups.values())), [0]

    def tick() -> None:
        done[0] += 1
        if progress:
            progress(done[0], total)

    return tick


def _target_name(file: str, used: set[str], suffix: str | None) -> str:
    """A unique ``images/...`` name keeping the source's relative path (``suffix``: replace the extension)."""
    path = PurePosixPath(file.replace(os.sep, "/"))
    rel = path if not path.is_absolute() and ".." not in path.parts else PurePosixPath(path.name)
    rel = rel.with_suffix(suffix) if suffix else rel
    name, n = f"images/{rel}", 1
    while name.lower() in used:
        name, n = f"images/{rel.parent / f'{rel.stem}_{n}{rel.suffix}'}", n + 1
    used.add(name.lower())
    return name


Loader = Callable[[Record], tuple[bytes, str]]  # a record's encoded image and the name errors give it


def copy_images(dataset: Dataset, out_dir: Path, load: Loader | None = None, progress: Progress = None) -> list[Record]:
    """Decode-check every image and write it to ``out_dir/images`` (JPEG/PNG as is, others as JPEG q95)."""

    def from_file(record: Record) -> tuple[bytes, str]:
        path = dataset.image_path(record)
        try:
            return path.read_bytes(), str(path)
        except FileNotFoundError:
            raise DatasetError(f"{path}: image file not found") from None

    load = load or from_file
    used: set[str] = set()
    out, total = [], len(dataset.records)
    for done, record in enumerate(dataset.records, 1):
        data, where = load(record)
        fmt, size = verify_image(data, where)
        if size != (record.width, record.height):
            raise DatasetError(f"{where}: image is {size[0]}x{size[1]}, not {record.width}x{record.height}")
        keep = fmt in KEEP_FORMATS
        same = keep and PurePosixPath(record.file).suffix.lower() in (".jpg", ".jpeg", ".png")
        name = _target_name(record.file, used, None if same else KEEP_FORMATS.get(fmt or "", ".jpg"))
        target = out_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if keep:
            target.write_bytes(data)
        else:
            decode_image(data, where).convert("RGB").save(target, "JPEG", quality=95)
        out.append(replace(record, file=name))
        if progress:
            progress(done, total)
    return out


def finish_import(
    source: Dataset,
    out_dir: str | os.PathLike,
    *,
    classes: Sequence[str | int] | None = None,
    source_ids: dict[int, int] | None = None,
    validation: float = 0.2,
    test: float = 0.0,
    seed: int = 0,
    resplit: bool = False,
    load: Loader | None = None,
    progress: Progress = None,
) -> Dataset:
    """Subset, split (records without one, or all with ``resplit``), copy the images and write the dataset.

    ``classes`` are names or the source's own ids (``source_ids``: source id -> index into source.classes).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise DatasetError(f"{out_dir}: output folder exists and is not empty")
    created = not out_dir.exists()
    try:
        return _finish(source, out_dir, classes, source_ids, validation, test, seed, resplit, load, progress)
    except BaseException:  # leave no half-written dataset behind
        if out_dir.exists():
            for child in out_dir.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
            if created:
                out_dir.rmdir()
        raise


def _finish(source, out_dir, classes, source_ids, validation, test, seed, resplit, load, progress) -> Dataset:
    if not source.records:
        raise DatasetError(f"{source.source}: no images found")
    if classes:
        source = subset(source, classes, source_ids)
        if not source.records:
            raise DatasetError(f"{source.source}: no image has a box of the classes asked for")
    records = source.records
    unsplit = [i for i, r in enumerate(records) if resplit or r.split not in SPLITS]
    if unsplit:
        assigned = assign_splits([records[i] for i in unsplit], validation, test, seed)
        records = list(records)
        for i, record in zip(unsplit, assigned):
            records[i] = record
    copied = copy_images(replace(source, records=records), out_dir, load, progress)
    return write_dataset(out_dir, source.classes, copied, source=source.source)


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` where the file system allows, else copy."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        if os.path.samefile(src, dst):
            return
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
