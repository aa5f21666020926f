"""The internal detection dataset: ``DIR/dataset.json``, ``DIR/annotations.jsonl`` and ``DIR/images/``.

Boxes are float32 rows ``[class_id, xmin, ymin, xmax, ymax]``, coordinates relative to the image size.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from openmaker.vision.errors import DatasetError

__all__ = [
    "FORMAT", "SPLITS", "VERSION", "Dataset", "Record", "assign_splits", "check_boxes", "decode_image",
    "image_header", "json_lines", "load_dataset", "load_json", "resolve_classes", "subset", "text_lines",
    "verify_image", "write_dataset",
]  # fmt: skip

FORMAT = "openmaker-detection"
VERSION = 1
SPLITS = ("train", "validation", "test")
META = "dataset.json"
ANNOTATIONS = "annotations.jsonl"


def _as_boxes(boxes) -> np.ndarray:
    arr = np.asarray(boxes if boxes is not None else [], dtype=np.float32)
    return arr.reshape(0, 5) if arr.size == 0 else arr.reshape(-1, 5)


@dataclass
class Record:
    """One image: its file (relative to the dataset root), size, split and boxes (n, 5) float32."""

    file: str
    width: int
    height: int
    split: str
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 5), np.float32))

    def __post_init__(self) -> None:
        self.boxes = _as_boxes(self.boxes)

    def to_json(self) -> dict:
        rows = [[int(r[0])] + [round(float(v), 6) for v in r[1:]] for r in self.boxes]
        return {"file": self.file, "width": self.width, "height": self.height, "split": self.split, "boxes": rows}


@dataclass
class Dataset:
    """Classes and records; image files live under ``root``."""

    root: Path
    classes: list[str]
    records: list[Record]
    source: str = ""

    def split(self, name: str) -> list[Record]:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {', '.join(SPLITS)}")
        return [r for r in self.records if r.split == name]

    def image_path(self, record: Record) -> Path:
        return Path(self.root) / record.file

    def read_image(self, record: Record) -> Image.Image:
        return decode_image(self.image_path(record)).convert("RGB")


def _reason(exc: BaseException) -> str:
    return "not a recognised image format" if isinstance(exc, UnidentifiedImageError) else " ".join(str(exc).split())


def _decoded(
    source: str | os.PathLike | bytes, where: str | None, load: bool, fast: bool = False
) -> tuple[Image.Image, tuple[int, int]]:
    """The opened (with ``load``, decoded) image and its full size.

    DatasetError names the file, or ``where`` for bytes; a missing file is named with ``where`` as context.
    """
    is_bytes = isinstance(source, bytes)
    try:
        image = Image.open(io.BytesIO(source) if is_bytes else source)
        size = image.size
        if fast:
            image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
        if load:
            image.load()
    except FileNotFoundError:
        message = f"{where}: image {source} not found" if where else f"{source}: image file not found"
        raise DatasetError(message) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        name = (where or "image bytes") if is_bytes else str(source)
        raise DatasetError(f"{name}: corrupt or unreadable image ({_reason(exc)})") from None
    return image, size


def image_header(source: str | os.PathLike | bytes, where: str | None = None) -> tuple[int, int]:
    """An image's (width, height) from its header only."""
    image, size = _decoded(source, where, False)
    image.close()
    return size


def decode_image(source: str | os.PathLike | bytes, where: str | None = None) -> Image.Image:
    """The fully decoded image; a missing, unreadable or truncated one raises DatasetError naming ``where``."""
    return _decoded(source, where, True)[0]


def verify_image(source: str | os.PathLike | bytes, where: str | None = None) -> tuple[str | None, tuple[int, int]]:
    """``(format, (width, height))`` after decoding (JPEG at 1/8 scale, enough to find a corrupt file)."""
    image, size = _decoded(source, where, True, fast=True)
    return image.format, size


def check_boxes(boxes: np.ndarray, n_classes: int, where: str) -> None:
    """Class ids in range and relative coordinates with 0 <= min < max <= 1, or DatasetError naming ``where``."""
    for i, (cls, x0, y0, x1, y1) in enumerate(_as_boxes(boxes).tolist()):
        if not (np.isfinite(cls) and cls == int(cls) and 0 <= cls < n_classes):
            raise DatasetError(f"{where}: box {i}: class id {cls:g} out of range (0..{n_classes - 1})")
        if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
            raise DatasetError(
                f"{where}: box {i}: [{x0:g}, {y0:g}, {x1:g}, {y1:g}] is not inside the image with positive area"
            )


def load_json(path: Path):
    """A JSON file's value; DatasetError names the file (and the line) when it is missing or invalid."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: not found") from None
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path} line {exc.lineno}: invalid JSON ({exc.msg})") from None


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` for each non-blank line of a text file (DatasetError when it is missing)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DatasetError(f"{path}: not found") from None
    return ((number, line) for number, line in enumerate(lines, 1) if line.strip())


def json_lines(path: Path) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line of a JSON Lines file."""
    for number, line in text_lines(path):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path} line {number}: invalid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise DatasetError(f"{path} line {number}: expected a JSON object")
        yield number, obj


def _read_meta(root: Path) -> dict:
    path = root / META
    if not path.is_file():
        raise DatasetError(f"{path}: not found (not an openmaker detection dataset)")
    meta = load_json(path)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DatasetError(f"{path}: 'format' must be {FORMAT!r}")
    if meta.get("version") != VERSION:
        raise DatasetError(f"{path}: unsupported version {meta.get('version')!r} (expected {VERSION})")
    classes = meta.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) and c for c in classes):
        raise DatasetError(f"{path}: 'classes' must be a non-empty list of names")
    if len(set(classes)) != len(classes):
        raise DatasetError(f"{path}: duplicate class names in 'classes'")
    return meta


def _parse_record(obj: dict, where: str, n_classes: int, root: Path) -> Record:
    file, width, height, split = (obj.get(k) for k in ("file", "width", "height", "split"))
    if not isinstance(file, str) or not file or Path(file).is_absolute() or ".." in Path(file).parts:
        raise DatasetError(f"{where}: 'file' must be a path relative to the dataset directory")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (width, height)):
        raise DatasetError(f"{where}: 'width' and 'height' must be positive integers")
    if split not in SPLITS:
        raise DatasetError(f"{where}: 'split' must be one of {', '.join(SPLITS)}, not {split!r}")
    rows = obj.get("boxes", [])
    if not isinstance(rows, list) or not all(
        isinstance(r, list) and len(r) == 5 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in r)
        for r in rows
    ):
        raise DatasetError(f"{where}: 'boxes' must be a list of [class_id, xmin, ymin, xmax, ymax] numbers")
    boxes = _as_boxes(rows)
    check_boxes(boxes, n_classes, where)
    if not (root / file).is_file():
        raise DatasetError(f"{where}: image {file!r} not found in {root}")
    return Record(file, width, height, split, boxes)


def load_dataset(root: str | os.PathLike) -> Dataset:
    """Read and validate a dataset directory; errors name ``annotations.jsonl`` and the line."""
    root = Path(root)
    meta = _read_meta(root)
    classes = meta["classes"]
    path = root / ANNOTATIONS
    records, seen = [], set()
    for number, obj in json_lines(path):
        record = _parse_record(obj, f"{path} line {number}", len(classes), root)
        if record.file in seen:
            raise DatasetError(f"{path} line {number}: image {record.file!r} is listed twice")
        seen.add(record.file)
        records.append(record)
    return Dataset(root, list(classes), records, str(meta.get("source", "")))


def write_dataset(
    root: str | os.PathLike, classes: Sequence[str], records: Iterable[Record], *, source: str = ""
) -> Dataset:
    """Write ``dataset.json`` and ``annotations.jsonl`` (images must already be under ``root``)."""
    root = Path(root)
    classes, records = list(classes), list(records)
    for i, record in enumerate(records):
        if record.split not in SPLITS:
            raise DatasetError(f"record {i} ({record.file}): split {record.split!r} is not one of {SPLITS}")
        check_boxes(record.boxes, len(classes), f"record {i} ({record.file})")
    root.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "version": VERSION, "classes": classes, "source": source}
    (root / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    with open(root / ANNOTATIONS, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record.to_json(), separators=(",", ":")) + "\n")
    return Dataset(root, classes, records, source)


def resolve_classes(
    wanted: Iterable[str | int], classes: Sequence[str], source_ids: dict[int, int] | None = None
) -> list[int]:
    """Indices into ``classes`` for names or ids; ids are ``source_ids`` keys when given, else 0-based indices."""
    index = {name: i for i, name in enumerate(classes)}
    ids = source_ids if source_ids is not None else {i: i for i in range(len(classes))}
    out: list[int] = []
    for item in wanted:
        key = item.strip() if isinstance(item, str) else item
        if isinstance(key, str) and key in index:
            found = index[key]
        elif isinstance(key, int) or (isinstance(key, str) and key.lstrip("-").isdigit()):
            if int(key) not in ids:
                raise DatasetError(f"unknown class id {key} (known ids: {_preview(sorted(ids))})")
            found = ids[int(key)]
        else:
            raise DatasetError(f"unknown class {key!r} (known: {_preview(classes)})")
        if found in out:
            raise DatasetError(f"class {key!r} is asked for twice")
        out.append(found)
    if not out:
        raise DatasetError("the class subset is empty")
    return out


def _preview(items: Sequence) -> str:
    shown = ", ".join(str(x) for x in items[:12])
    return shown + (f", ... ({len(items)} in all)" if len(items) > 12 else "")


def subset(dataset: Dataset, classes: Iterable[str | int], source_ids: dict[int, int] | None = None) -> Dataset:
    """Keep only ``classes`` (names or 0-based ids), renumbered 0..k-1 in the given order; drop images left empty."""
    keep = resolve_classes(classes, dataset.classes, source_ids)
    remap = np.full(len(dataset.classes), -1, dtype=np.float32)
    remap[keep] = np.arange(len(keep), dtype=np.float32)
    records = []
    for record in dataset.records:
        boxes = record.boxes.copy()
        boxes[:, 0] = remap[boxes[:, 0].astype(int)]
        boxes = boxes[boxes[:, 0] >= 0]
        if len(boxes):
            records.append(replace(record, boxes=boxes))
    return Dataset(dataset.root, [dataset.classes[i] for i in keep], records, dataset.source)


def assign_splits(
    records: Sequence[Record], validation: float = 0.2, test: float = 0.0, seed: int = 0
) -> list[Record]:
    """Copies of ``records`` with a seeded split, stratified by each image's first box class.

    Within each stratum ``round(n * validation)`` images go to validation and ``round(n * test)`` to test.
    """
    if not (0 <= validation < 1 and 0 <= test < 1 and validation + test < 1):
        raise ValueError(f"validation ({validation}) and test ({test}) must be fractions in [0, 1) summing below 1")
    rng = np.random.default_rng(seed)
    strata: dict[int, list[int]] = {}
    for i, record in enumerate(records):
        strata.setdefault(int(record.boxes[0, 0]) if len(record.boxes) else -1, []).append(i)
    splits = ["train"] * len(records)
    for key in sorted(strata):
        members = [strata[key][j] for j in rng.permutation(len(strata[key]))]
        n_val, n_test = round(len(members) * validation), round(len(members) * test)
        for j in members[:n_val]:
            splits[j] = "validation"
        for j in members[n_val : n_val + n_test]:
            splits[j] = "test"
    return [replace(r, split=s) for r, s in zip(records, splits)]
