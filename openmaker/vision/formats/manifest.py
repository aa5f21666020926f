"""SageMaker's two JSON layouts for detection, read and write.

- Augmented manifest (JSON Lines): ``{"source-ref": IMAGE, "<attr>": {"image_size": [{width, height,
  depth}], "annotations": [{class_id, left, top, width, height}]}, "<attr>-metadata": {"class-map":
  {"0": name}}}``. ``source-ref`` must be a local path (relative to the manifest, absolute or ``file://``).
- Image + per-image JSON (channels ``train``/``train_annotation``, ``validation``/...): ``{"file",
  "image_size", "annotations", "categories": [{class_id, name}]}``.

Coordinates are pixels. A file or channel named for a split (``validation.manifest``) gives that split.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from openmaker.vision.dataset import Dataset, Record, image_header, json_lines, load_json
from openmaker.vision.errors import DatasetError
from openmaker.vision.formats import (
    Progress, check_size, class_id, finish_import, link_or_copy, pixel_box, split_from_name,
    split_records, ticker, top_class,
)  # fmt: skip

__all__ = [
    "class_list", "export_json", "export_manifest", "import_json", "import_manifest", "read_json", "read_json_channel",
    "read_manifest",
]  # fmt: skip

CHANNELS = ("train", "validation", "test")
MANIFEST_SUFFIXES = (".manifest", ".jsonl")


def _boxes(block: dict, image: Path, names: dict[int, str] | None, where: str) -> tuple[int, int, list]:
    """Size and relative boxes of one image from SageMaker's ``image_size`` + ``annotations`` block."""
    width, height = image_header(image, where)
    sizes = block.get("image_size")
    if sizes:
        size = sizes[0] if isinstance(sizes, list) else sizes
        if not isinstance(size, dict):
            raise DatasetError(f"{where}: 'image_size' must be [{{'width': W, 'height': H}}]")
        check_size((size.get("width"), size.get("height")), (width, height), image, where)
    annotations = block.get("annotations", [])
    if not isinstance(annotations, list):
        raise DatasetError(f"{where}: 'annotations' must be a list")
    boxes = []
    for i, ann in enumerate(annotations):
        at = f"{where} annotations[{i}]"
        if not isinstance(ann, dict) or any(k not in ann for k in ("class_id", "left", "top", "width", "height")):
            raise DatasetError(f"{at}: needs class_id, left, top, width and height")
        cls = class_id(ann["class_id"], None, at)
        if names is not None and cls not in names:
            raise DatasetError(f"{at}: class id {cls} out of range (not in the class map)")
        try:
            x0, y0 = float(ann["left"]), float(ann["top"])
            x1, y1 = x0 + float(ann["width"]), y0 + float(ann["height"])
        except (TypeError, ValueError):
            raise DatasetError(f"{at}: box coordinates must be numbers") from None
        boxes.append(pixel_box(cls, x0, y0, x1, y1, width, height, at))
    return width, height, boxes


def _merge_names(names: dict[int, str], new: dict[int, str], where: str) -> None:
    for key, name in new.items():
        if names.setdefault(key, name) != name:
            raise DatasetError(f"{where}: class {key} is named {name!r} here but {names[key]!r} before")


def class_list(names: dict[int, str], records: list[Record]) -> list[str]:
    """Class names for ids 0..max (named by ``names`` where it can, else the id as text)."""
    top = max([*names, top_class(records)])
    if top < 0:
        raise DatasetError("no classes: neither a class map nor any box")
    return [names.get(i, str(i)) for i in range(top + 1)]


def _relative(path: Path, root: Path) -> str:
    return os.path.relpath(path, root) if path.is_relative_to(root) else str(path)


def _source_ref(ref, manifest: Path, where: str) -> Path:
    if not isinstance(ref, str) or not ref:
        raise DatasetError(f"{where}: no 'source-ref'")
    if ref.startswith("file://"):
        ref = ref[len("file://") :]
    elif "://" in ref:
        raise DatasetError(f"{where}: source-ref {ref!r} is not a local file; copy the images here and point to them")
    return manifest.parent / ref


def _attribute(obj: dict, attribute: str | None, where: str) -> str:
    if attribute is not None:
        if not isinstance(obj.get(attribute), dict):
            raise DatasetError(f"{where}: no bounding-box attribute {attribute!r}")
        return attribute
    found = [k for k, v in obj.items() if isinstance(v, dict) and "annotations" in v and not k.endswith("-metadata")]
    if len(found) != 1:
        raise DatasetError(
            f"{where}: expected one bounding-box attribute (an object with 'annotations'), found {found}"
        )
    return found[0]


def _sources(src: Path, suffixes: tuple[str, ...], what: str) -> list[Path]:
    files = sorted(p for p in src.iterdir() if p.suffix in suffixes) if src.is_dir() else [src]
    if not files:
        raise DatasetError(f"{src}: no {what} files ({', '.join(suffixes)})")
    return files


def read_manifest(src: str | os.PathLike, attribute: str | None = None) -> Dataset:
    """Augmented manifest file(s) in memory; ``attribute`` names the box attribute (found when None)."""
    src = Path(src)
    files = _sources(src, MANIFEST_SUFFIXES, "manifest")
    root = files[0].parent
    names: dict[int, str] = {}
    records = []
    for path in files:
        split = split_from_name(path.name) or ""
        for number, obj in json_lines(path):
            where = f"{path} line {number}"
            image = _source_ref(obj.get("source-ref"), path, where)
            attr = _attribute(obj, attribute, where)
            class_map = (obj.get(f"{attr}-metadata") or {}).get("class-map")
            line_names = {class_id(k, None, where): str(v) for k, v in class_map.items()} if class_map else None
            width, height, boxes = _boxes(obj[attr], image, line_names, where)
            _merge_names(names, line_names or {}, where)
            records.append(Record(_relative(image, root), width, height, split, boxes))
    return Dataset(root, class_list(names, records), records, f"manifest:{src.resolve()}")


def read_json_channel(image_dir: Path, annotation_dir: Path, split: str = "") -> tuple[list[Record], dict[int, str]]:
    """Records (files relative to ``image_dir``) and class names from one image + JSON channel pair."""
    files = sorted(annotation_dir.rglob("*.json"))
    if not files:
        raise DatasetError(f"{annotation_dir}: no .json annotation files")
    names: dict[int, str] = {}
    records = []
    for path in files:
        obj = load_json(path)
        if not isinstance(obj, dict) or not isinstance(obj.get("file"), str):
            raise DatasetError(f"{path}: expected an object with 'file', 'image_size' and 'annotations'")
        rel, name = path.relative_to(annotation_dir).parent, Path(obj["file"]).name
        candidates = [image_dir / obj["file"], image_dir / rel / name, image_dir / name]
        image = next((c for c in candidates if c.is_file()), candidates[0])
        cats = obj.get("categories") or []
        try:
            line_names = {class_id(c["class_id"], None, str(path)): str(c["name"]) for c in cats} or None
        except (TypeError, KeyError):
            raise DatasetError(f"{path}: 'categories' must be [{{'class_id': N, 'name': NAME}}]") from None
        width, height, boxes = _boxes(obj, image, line_names, str(path))
        _merge_names(names, line_names or {}, str(path))
        records.append(Record(_relative(image, image_dir), width, height, split, boxes))
    return records, names


def read_json(src: str | os.PathLike) -> Dataset:
    """SageMaker channels ``src/<split>`` + ``src/<split>_annotation``, or one folder of images and JSONs."""
    src = Path(src)
    channels = [c for c in CHANNELS if (src / f"{c}_annotation").is_dir()]
    names: dict[int, str] = {}
    records: list[Record] = []
    for channel in channels or [""]:
        image_dir = src / channel if channel else src
        annotation_dir = src / f"{channel}_annotation" if channel else src
        found, channel_names = read_json_channel(image_dir, annotation_dir, channel)
        _merge_names(names, channel_names, str(annotation_dir))
        records += [Record(_relative(image_dir / r.file, src), r.width, r.height, r.split, r.boxes) for r in found]
    return Dataset(src, class_list(names, records), records, f"json:{src.resolve()}")


def import_manifest(src: str | os.PathLike, out_dir: str | os.PathLike, **options) -> Dataset:
    """Import an augmented manifest (or a folder of them) into ``out_dir``."""
    return finish_import(read_manifest(src), out_dir, **options)


def import_json(src: str | os.PathLike, out_dir: str | os.PathLike, **options) -> Dataset:
    """Import SageMaker image + JSON annotation channels into ``out_dir``."""
    return finish_import(read_json(src), out_dir, **options)


def _annotations(record: Record) -> dict:
    anns = []
    for cls, x0, y0, x1, y1 in record.boxes.tolist():
        left, top = round(x0 * record.width), round(y0 * record.height)
        right, bottom = round(x1 * record.width), round(y1 * record.height)
        anns.append({"class_id": int(cls), "left": left, "top": top, "width": max(1, right - left),
                     "height": max(1, bottom - top)})  # fmt: skip
    return {"image_size": [{"width": record.width, "height": record.height, "depth": 3}], "annotations": anns}


def export_manifest(
    dataset: Dataset, out_dir: str | os.PathLike, *, split: str | None = None, prefix: str = "",
    attribute: str = "bounding-box", progress: Progress = None,
) -> list[Path]:  # fmt: skip
    """``OUT/<split>.manifest`` per split with images linked into ``OUT/images``; ``source-ref`` = prefix + path."""
    out_dir = Path(out_dir)
    class_map = {str(i): name for i, name in enumerate(dataset.classes)}
    written, groups = [], split_records(dataset, split)
    tick = ticker(groups, progress)
    for name, records in groups.items():
        path = out_dir / f"{name}.manifest"
        out_dir.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as out:
            for record in records:
                link_or_copy(dataset.image_path(record), out_dir / record.file)
                meta = {"class-map": class_map, "type": "groundtruth/object_detection"}
                line = {"source-ref": prefix + record.file, attribute: _annotations(record), f"{attribute}-metadata": meta}
                out.write(json.dumps(line) + "\n")
                tick()
        written.append(path)
    return written


def export_json(
    dataset: Dataset, out_dir: str | os.PathLike, *, split: str | None = None, progress: Progress = None
) -> list[Path]:
    """SageMaker's four channels: ``OUT/<split>/IMAGE`` and ``OUT/<split>_annotation/IMAGE.json``."""
    out_dir = Path(out_dir)
    categories = [{"class_id": i, "name": name} for i, name in enumerate(dataset.classes)]
    written, groups = [], split_records(dataset, split)
    tick = ticker(groups, progress)
    for name, records in groups.items():
        for record in records:
            rel = Path(record.file).relative_to("images") if record.file.startswith("images/") else Path(record.file)
            link_or_copy(dataset.image_path(record), out_dir / name / rel)
            path = (out_dir / f"{name}_annotation" / rel).with_suffix(".json")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"file": rel.as_posix(), **_annotations(record), "categories": categories}))
            tick()
        written += [out_dir / name, out_dir / f"{name}_annotation"]
    return written
