"""Pascal VOC: ``Annotations/*.xml``, ``JPEGImages/`` and ``ImageSets/Main/{train,val,test}.txt``.

VOC pixel coordinates are 1-based and inclusive, so a box becomes ``[xmin - 1, ymin - 1, xmax, ymax]``
in 0-based continuous pixels (the convention of Detectron2's and py-faster-rcnn's VOC loaders); a box
with ``xmin == xmax`` is therefore one pixel wide, not empty. ``difficult`` objects are kept as ordinary
boxes. Classes are the object names in sorted order (``classes=`` picks and orders them). "val" becomes
"validation"; images in no list get a seeded split.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.parsers import expat

from openmaker.vision.dataset import Dataset, Record, image_header, text_lines
from openmaker.vision.errors import DatasetError
from openmaker.vision.formats import check_size, finish_import, pixel_box

__all__ = ["import_voc", "read_voc"]

LISTS = {"train": "train", "val": "validation", "test": "test"}


def _parse(path: Path) -> ET.Element:
    """The XML tree with each element's line number in its ``_line`` attribute."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()

    def start(tag: str, attrs: dict) -> None:
        builder.start(tag, {**attrs, "_line": str(parser.CurrentLineNumber)})

    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(path.read_bytes(), True)
    except expat.ExpatError as exc:
        raise DatasetError(f"{path} line {exc.lineno}: invalid XML ({expat.ErrorString(exc.code)})") from None
    return builder.close()


def _splits(root: Path, annotations: Path) -> dict[str, str]:
    splits: dict[str, str] = {}
    for name, split in LISTS.items():
        path = root / "ImageSets" / "Main" / f"{name}.txt"
        if not path.is_file():
            continue
        for number, line in text_lines(path):
            stem = line.split()[0]
            if not (annotations / f"{stem}.xml").is_file():
                raise DatasetError(f"{path} line {number}: no annotation {stem}.xml")
            if splits.get(stem, split) != split:
                raise DatasetError(f"{path} line {number}: {stem} is also in the {splits[stem]} list")
            splits[stem] = split
    return splits


def _text(element: ET.Element, tag: str, path: Path) -> str:
    child = element.find(tag)
    if child is None or not (child.text or "").strip():
        raise DatasetError(f"{path} line {element.get('_line')}: <{element.tag}> has no <{tag}>")
    return child.text.strip()


def _image(root: Path, tree: ET.Element, xml: Path) -> Path:
    filename = (tree.findtext("filename") or "").strip()
    candidates = [filename] if filename else []
    candidates += [xml.stem + ext for ext in (".jpg", ".jpeg", ".png", ".JPG")]
    for name in candidates:
        if (root / "JPEGImages" / name).is_file():
            return root / "JPEGImages" / name
    raise DatasetError(f"{xml}: image {candidates[0]} not found in {root / 'JPEGImages'}")


def read_voc(src: str | os.PathLike) -> Dataset:
    """The VOC dataset in memory (root ``src/JPEGImages``)."""
    root = Path(src)
    annotations = root / "Annotations"
    xmls = sorted(annotations.glob("*.xml"))
    if not xmls:
        raise DatasetError(f"{annotations}: no .xml annotations (expected a Pascal VOC folder)")
    splits = _splits(root, annotations)
    parsed = []
    for xml in xmls:
        tree = _parse(xml)
        image = _image(root, tree, xml)
        width, height = image_header(image, str(xml))
        size = tree.find("size")
        if size is not None and (size.findtext("width") or "0").strip() not in ("", "0"):
            declared = (int(float(_text(size, "width", xml))), int(float(_text(size, "height", xml))))
            check_size(declared, (width, height), image, f"{xml} line {size.get('_line')}")
        parsed.append((xml, tree, image, width, height))
    classes = sorted({_text(obj, "name", xml) for xml, tree, *_ in parsed for obj in tree.iter("object")})
    index = {name: i for i, name in enumerate(classes)}
    records = []
    for xml, tree, image, width, height in parsed:
        boxes = []
        for obj in tree.iter("object"):
            box = obj.find("bndbox")
            if box is None:
                raise DatasetError(f"{xml} line {obj.get('_line')}: <object> has no <bndbox>")
            x0, y0, x1, y1 = (_text(box, k, xml) for k in ("xmin", "ymin", "xmax", "ymax"))
            try:
                x0, y0 = float(x0) - 1, float(y0) - 1
            except ValueError:
                raise DatasetError(f"{xml} line {box.get('_line')}: box coordinates must be numbers") from None
            where = f"{xml} line {box.get('_line')}"
            boxes.append(pixel_box(index[_text(obj, "name", xml)], x0, y0, x1, y1, width, height, where))
        records.append(Record(image.name, width, height, splits.get(xml.stem, ""), boxes))
    return Dataset(root / "JPEGImages", classes, records, f"voc:{root.resolve()}")


def import_voc(src: str | os.PathLike, out_dir: str | os.PathLike, **options) -> Dataset:
    """Import a Pascal VOC folder into ``out_dir`` (``options``: those of :func:`finish_import`)."""
    return finish_import(read_voc(src), out_dir, **options)
