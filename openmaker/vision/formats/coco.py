"""COCO instances JSON: ``images``, ``annotations`` (``bbox`` = x, y, width, height in pixels) and
``categories`` (classes in category-id order). ``iscrowd`` annotations are skipped; images without
annotations are kept with no boxes. ``src`` is one JSON file or a folder of them; a file named for a split
(``instances_val2017.json``) gives its images that split. Images are looked for under ``images`` (default:
the JSON's folder and its parent), directly or in a folder named like the JSON (``val2017/``).
"""

from __future__ import annotations

import os
from pathlib import Path

from openmaker.vision.dataset import Dataset, Record, image_header, load_json
from openmaker.vision.errors import DatasetError
from openmaker.vision.formats import check_size, finish_import, pixel_box, split_from_name

__all__ = ["import_coco", "read_coco"]


def _categories(data: dict, path: Path) -> dict[int, str]:
    cats = data.get("categories")
    if not isinstance(cats, list) or not cats:
        raise DatasetError(f"{path}: no 'categories' list")
    out: dict[int, str] = {}
    for i, cat in enumerate(cats):
        if not isinstance(cat, dict) or not isinstance(cat.get("id"), int) or not isinstance(cat.get("name"), str):
            raise DatasetError(f"{path}: categories[{i}] needs an integer 'id' and a 'name'")
        out[cat["id"]] = cat["name"]
    return out


def _find_image(name: str, bases: list[Path], tag: str) -> Path | None:
    for base in bases:
        for candidate in (base / name, base / tag / name):
            if candidate.is_file():
                return candidate
    return None


def _images(data: dict, path: Path, bases: list[Path]) -> dict[int, tuple[Path, int, int]]:
    images = {}
    tag = path.stem.removeprefix("instances_")
    for i, image in enumerate(data.get("images") or []):
        where = f"{path} images[{i}]"
        if not isinstance(image, dict) or not isinstance(image.get("id"), int) or not image.get("file_name"):
            raise DatasetError(f"{where}: needs an integer 'id' and a 'file_name'")
        found = _find_image(str(image["file_name"]), bases, tag)
        if found is None:
            raise DatasetError(f"{where}: image {image['file_name']} not found under {', '.join(map(str, bases))}")
        size = image_header(found, where)
        if "width" in image and "height" in image:
            check_size((image["width"], image["height"]), size, found, where)
        images[image["id"]] = (found, *size)
    return images


def read_coco(src: str | os.PathLike, images: str | os.PathLike | None = None) -> tuple[Dataset, dict[int, int]]:
    """The COCO dataset in memory and ``{category id: class index}``."""
    src = Path(src)
    files = sorted(src.glob("*.json")) if src.is_dir() else [src]
    if not files:
        raise DatasetError(f"{src}: no .json files")
    loaded = [(path, load_json(path)) for path in files]
    categories = None
    for path, data in loaded:
        if not isinstance(data, dict):
            raise DatasetError(f"{path}: expected a COCO instances object")
        cats = _categories(data, path)
        if categories is not None and cats != categories:
            raise DatasetError(f"{path}: categories differ from those of {files[0]}")
        categories = cats
    source_ids = {cat_id: i for i, cat_id in enumerate(sorted(categories))}
    root = Path(images) if images is not None else files[0].parent
    records = []
    for path, data in loaded:
        bases = [root] if images is not None else [path.parent, path.parent.parent]
        found = _images(data, path, bases)
        boxes: dict[int, list] = {image_id: [] for image_id in found}
        for i, ann in enumerate(data.get("annotations") or []):
            if not isinstance(ann, dict):
                raise DatasetError(f"{path} annotations[{i}]: expected an object")
            if ann.get("iscrowd"):
                continue
            where = f"{path} annotations[{i}] (id {ann.get('id')})"
            if ann.get("image_id") not in found:
                raise DatasetError(f"{where}: image_id {ann.get('image_id')!r} is not in 'images'")
            if ann.get("category_id") not in source_ids:
                raise DatasetError(f"{where}: category_id {ann.get('category_id')!r} out of range (not in categories)")
            bbox = ann.get("bbox")
            if not isinstance(bbox, list) or len(bbox) != 4:
                raise DatasetError(f"{where}: 'bbox' must be [x, y, width, height]")
            file, width, height = found[ann["image_id"]]
            x, y, w, h = bbox
            try:
                corners = (x, y, x + w, y + h)
            except TypeError:
                raise DatasetError(f"{where}: box coordinates must be numbers") from None
            boxes[ann["image_id"]].append(pixel_box(source_ids[ann["category_id"]], *corners, width, height, where))
        split = split_from_name(path.name) or ""
        for image_id, (file, width, height) in found.items():
            rel = os.path.relpath(file, root) if file.is_relative_to(root) else str(file)
            records.append(Record(rel, width, height, split, boxes[image_id]))
    classes = [categories[i] for i in sorted(categories)]
    return Dataset(root, classes, records, f"coco:{src.resolve()}"), source_ids


def import_coco(
    src: str | os.PathLike, out_dir: str | os.PathLike, *, images: str | os.PathLike | None = None, **options
) -> Dataset:
    """Import COCO instances JSON (``classes``: names or COCO category ids) into ``out_dir``."""
    source, source_ids = read_coco(src, images)
    return finish_import(source, out_dir, source_ids=source_ids, **options)
