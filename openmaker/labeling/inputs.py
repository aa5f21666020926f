"""Reading a job's input: the model's labels as a CSV, or a Ground Truth input manifest.

A CSV is read by header name (``image_local_path``, ``label``, ``confidence``; any order, extra
columns ignored, a UTF-8 BOM and CRLF line ends accepted). A manifest is JSON Lines with one object
per line; lines whose ``source-ref`` points at an image become one item each (``label``/``confidence``
keys of the line when present), other lines are kept as they are, one task each, for a pre-labeling hook.
Every problem names the file and the line.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from openmaker import storage
from openmaker.labeling.errors import LabelingError

REQUIRED_COLUMNS = ("image_local_path", "label", "confidence")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass
class InputItem:
    """One (image, label) the model produced, with its confidence (0–100) and where it came from."""

    image: str  # a local path or an s3:// URI, resolved against the input's folder
    label: str
    confidence: float
    line: int
    extra: dict = field(default_factory=dict)


def resolve_image(base: str, path: str) -> str:
    """``path`` as written in the input, made absolute against the input file's folder."""
    if storage.is_remote(path) or path.startswith("/") or path.startswith("file://"):
        return path
    return storage.join(base, path)


def _folder_of(uri: str) -> str:
    if storage.is_remote(uri):
        return uri.rsplit("/", 1)[0]
    return str(PurePosixPath(uri).parent) if "/" in uri else "."


def _confidence(value: str, where: str) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise LabelingError(f"{where}: confidence {value!r} is not a number") from None
    if math.isnan(number) or not 0 <= number <= 100:
        raise LabelingError(f"{where}: confidence {value!r} is not between 0 and 100")
    return number


def read_csv(uri: str, text: str | None = None) -> list[InputItem]:
    """The items of a CSV of image path, label and confidence."""
    text = _read(uri) if text is None else text
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise LabelingError(
            f"{uri}: the header has no column {', '.join(map(repr, missing))} "
            f"(found {', '.join(map(repr, header)) or 'nothing'}; needed {', '.join(REQUIRED_COLUMNS)})"
        )
    reader.fieldnames = header
    base = _folder_of(uri)
    items = []
    for row in reader:
        where = f"{uri} line {reader.line_num}"
        if None in row or any(row.get(c) is None for c in REQUIRED_COLUMNS):
            raise LabelingError(f"{where}: expected {len(header)} fields")
        path, label = row["image_local_path"].strip(), row["label"].strip()
        if not path:
            raise LabelingError(f"{where}: image_local_path is empty")
        if not label:
            raise LabelingError(f"{where}: label is empty")
        items.append(InputItem(resolve_image(base, path), label, _confidence(row["confidence"], where), reader.line_num))
    if not items:
        raise LabelingError(f"{uri}: no rows under the header")
    return items


def read_manifest(uri: str, text: str | None = None) -> list[dict]:
    """The data objects of a JSON Lines manifest (each must be a JSON object with ``source-ref`` or ``source``)."""
    text = _read(uri) if text is None else text
    objects = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelingError(f"{uri} line {number}: not JSON ({exc.msg})") from None
        if not isinstance(obj, dict) or not ({"source-ref", "source"} & obj.keys()):
            raise LabelingError(f"{uri} line {number}: a manifest line is an object with 'source-ref' or 'source'")
        obj["__line__"] = number
        objects.append(obj)
    if not objects:
        raise LabelingError(f"{uri}: the manifest has no lines")
    return objects


def is_image_ref(ref: str) -> bool:
    return PurePosixPath(ref.split("?", 1)[0]).suffix.lower() in IMAGE_SUFFIXES


def manifest_items(uri: str, objects: list[dict]) -> list[InputItem]:
    """Items of manifest lines whose ``source-ref`` is an image (label/confidence from the line, if any)."""
    base = _folder_of(uri)
    items = []
    for obj in objects:
        where = f"{uri} line {obj['__line__']}"
        ref = obj.get("source-ref")
        label = obj.get("label", "")
        confidence = _confidence(obj.get("confidence", 100), where)
        extra = {k: v for k, v in obj.items() if k not in ("source-ref", "label", "confidence", "__line__")}
        items.append(InputItem(resolve_image(base, ref), str(label), confidence, obj["__line__"], extra))
    return items


def _read(uri: str) -> str:
    try:
        data = storage.read_bytes(uri)
    except FileNotFoundError:
        raise LabelingError(f"input {uri} does not exist") from None
    except IsADirectoryError:
        raise LabelingError(f"input {uri} is a folder, not a CSV or manifest file") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LabelingError(f"{uri}: not UTF-8 text (byte {exc.start})") from None


def check_image(uri: str, where: str) -> None:
    """Raise unless ``uri`` exists and Pillow can read it as an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        data = storage.read_bytes(uri)
    except (FileNotFoundError, IsADirectoryError):
        raise LabelingError(f"{where}: image {uri} does not exist") from None
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise LabelingError(f"{where}: {uri} is not an image Pillow can read") from None
