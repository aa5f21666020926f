"""A tiny synthetic detection set (shapes on noise, exact boxes) written in every source format."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from openmaker.vision.formats.lst import format_line
from openmaker.vision.recordio import IRHeader, RecordWriter, detection_label, pack

CLASSES = ["rectangle", "ellipse", "triangle"]
SPLIT_CYCLE = ("train", "train", "validation", "train", "test", "validation")
CUB_CLASSES = {17: "017.Cardinal", 36: "036.Northern_Flicker", 47: "047.American_Goldfinch", 68: "068.Ruby_throated_Hummingbird", 73: "073.Blue_Jay"}  # fmt: skip
BCCD = Path(__file__).resolve().parents[2] / "data" / "bccd" / "BCCD"


@dataclass
class Item:
    """One synthetic image: boxes are pixel corners ``(cls, x0, y0, x1, y1)``, x1/y1 exclusive."""

    name: str
    width: int
    height: int
    split: str
    boxes: list[tuple[int, int, int, int, int]] = field(default_factory=list)

    def relative(self) -> np.ndarray:
        rows = [[c, x0 / self.width, y0 / self.height, x1 / self.width, y1 / self.height] for c, x0, y0, x1, y1 in self.boxes]
        return np.array(rows, dtype=np.float32).reshape(-1, 5)


def draw_item(path: Path, item: Item, rng: np.random.Generator) -> None:
    """Noise with each box's shape filled in a random colour, saved as JPEG (or PNG by suffix)."""
    noise = rng.integers(0, 256, (item.height, item.width, 3), dtype=np.uint8)
    image = Image.fromarray(noise)
    draw = ImageDraw.Draw(image)
    for cls, x0, y0, x1, y1 in item.boxes:
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        corners = (x0, y0, x1 - 1, y1 - 1)
        if cls == 0:
            draw.rectangle(corners, fill=color)
        elif cls == 1:
            draw.ellipse(corners, fill=color)
        else:
            draw.polygon([(x0, y1 - 1), ((x0 + x1 - 1) / 2, y0), (x1 - 1, y1 - 1)], fill=color)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=90) if path.suffix == ".jpg" else image.save(path)


def make_items(n: int = 12, seed: int = 0, one_box: bool = False, n_classes: int = 3) -> list[Item]:
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        width, height = int(rng.integers(72, 129)), int(rng.integers(64, 113))
        item = Item(f"img_{i:03d}.jpg", width, height, SPLIT_CYCLE[i % len(SPLIT_CYCLE)])
        for k in range(1 if one_box else int(rng.integers(1, 4))):
            w, h = int(rng.integers(12, width // 2)), int(rng.integers(12, height // 2))
            x0, y0 = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
            cls = i % n_classes if k == 0 else int(rng.integers(0, n_classes))
            item.boxes.append((cls, x0, y0, x0 + w, y0 + h))
        items.append(item)
    return items


def write_images(folder: Path, items: list[Item], seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for item in items:
        draw_item(folder / item.name, item, rng)


def write_voc(root: Path, items: list[Item]) -> Path:
    write_images(root / "JPEGImages", items)
    (root / "Annotations").mkdir(parents=True)
    for item in items:
        objects = "".join(
            f"<object><name>{CLASSES[c]}</name><difficult>{k % 2}</difficult><bndbox><xmin>{x0 + 1}</xmin>"
            f"<ymin>{y0 + 1}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>\n"
            for k, (c, x0, y0, x1, y1) in enumerate(item.boxes)
        )
        (root / "Annotations" / item.name.replace(".jpg", ".xml")).write_text(
            f"<annotation>\n<filename>{item.name}</filename>\n<size><width>{item.width}</width>"
            f"<height>{item.height}</height><depth>3</depth></size>\n{objects}</annotation>\n"
        )
    lists = root / "ImageSets" / "Main"
    lists.mkdir(parents=True)
    for split, name in (("train", "train"), ("validation", "val"), ("test", "test")):
        (lists / f"{name}.txt").write_text("".join(f"{i.name[:-4]}\n" for i in items if i.split == split))
    return root


COCO_IDS = [1, 3, 7]  # categories with gaps, as in COCO


def write_coco(root: Path, items: list[Item]) -> Path:
    """``annotations/instances_train.json`` and ``instances_val.json`` with images in ``train/`` and ``val/``."""
    (root / "annotations").mkdir(parents=True)
    ann_id = 1
    for split, tag in (("train", "train"), ("validation", "val")):
        chosen = [i for i in items if i.split == split or (split == "validation" and i.split == "test")]
        write_images(root / tag, chosen)
        images, anns = [], []
        for image_id, item in enumerate(chosen, 1):
            images.append({"id": image_id, "file_name": item.name, "width": item.width, "height": item.height})
            for c, x0, y0, x1, y1 in item.boxes:
                anns.append({"id": ann_id, "image_id": image_id, "category_id": COCO_IDS[c], "bbox": [x0, y0, x1 - x0, y1 - y0], "iscrowd": 0})  # fmt: skip
                ann_id += 1
        anns.append({"id": ann_id, "image_id": 1, "category_id": COCO_IDS[0], "bbox": [0, 0, 5, 5], "iscrowd": 1})
        ann_id += 1
        cats = [{"id": cid, "name": name, "supercategory": "shape"} for cid, name in zip(COCO_IDS, CLASSES)]
        (root / "annotations" / f"instances_{tag}.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return root


def sagemaker_block(item: Item) -> dict:
    anns = [{"class_id": c, "left": x0, "top": y0, "width": x1 - x0, "height": y1 - y0} for c, x0, y0, x1, y1 in item.boxes]
    return {"image_size": [{"width": item.width, "height": item.height, "depth": 3}], "annotations": anns}


def write_manifest(root: Path, items: list[Item]) -> Path:
    """``images/`` plus ``train.manifest`` / ``validation.manifest`` / ``test.manifest``."""
    write_images(root / "images", items)
    for split in ("train", "validation", "test"):
        with open(root / f"{split}.manifest", "w") as out:
            for item in (i for i in items if i.split == split):
                line = {"source-ref": f"images/{item.name}", "bounding-box": sagemaker_block(item),
                        "bounding-box-metadata": {"class-map": {str(k): v for k, v in enumerate(CLASSES)}, "type": "groundtruth/object_detection"}}  # fmt: skip
                out.write(json.dumps(line) + "\n")
    return root


def write_sagemaker_json(root: Path, items: list[Item]) -> Path:
    """SageMaker's channels ``train``/``train_annotation``, ``validation``/``validation_annotation``, ``test``/..."""
    for split in ("train", "validation", "test"):
        chosen = [i for i in items if i.split == split]
        write_images(root / split, chosen)
        (root / f"{split}_annotation").mkdir(parents=True)
        for item in chosen:
            cats = [{"class_id": k, "name": v} for k, v in enumerate(CLASSES)]
            obj = {"file": item.name, **sagemaker_block(item), "categories": cats}
            (root / f"{split}_annotation" / item.name.replace(".jpg", ".json")).write_text(json.dumps(obj))
    return root


def write_lst(root: Path, items: list[Item]) -> Path:
    """``images/`` plus one ``<split>.lst`` per split, as im2rec's detection notebooks write them."""
    write_images(root / "images", items)
    for split in ("train", "validation", "test"):
        chosen = [i for i in items if i.split == split]
        (root / f"{split}.lst").write_text("".join(format_line(k, i.relative(), f"images/{i.name}") for k, i in enumerate(chosen)))
    return root


def write_rec(root: Path, items: list[Item], name: str = "train") -> Path:
    """``<name>.rec`` + ``.idx`` holding every item, labels packed like im2rec --pack-label."""
    folder = root / "_src"
    write_images(folder, items)
    root.mkdir(parents=True, exist_ok=True)
    with RecordWriter(root / f"{name}.rec", root / f"{name}.idx") as writer:
        for k, item in enumerate(items):
            writer.write(pack(IRHeader(0, detection_label(item.relative()), k, 0), (folder / item.name).read_bytes()), key=k)
    return root / f"{name}.rec"


def write_cub(root: Path, per_class: int = 3, classes: dict[int, str] = CUB_CLASSES, seed: int = 0) -> Path:
    """A CUB-200-2011 layout: one box per image, x y width height in float pixels, alternate train/test."""
    ids = sorted(classes)
    items = make_items(per_class * len(ids), seed=seed, one_box=True, n_classes=len(ids))
    rng = np.random.default_rng(seed)
    lines: dict[str, list[str]] = {k: [] for k in ("images", "labels", "boxes", "split")}
    for image_id, item in enumerate(items, 1):
        cls, x0, y0, x1, y1 = item.boxes[0]
        cub_id = ids[cls]
        item.name = f"{classes[cub_id]}/{classes[cub_id].split('.')[1]}_{image_id:04d}.jpg"
        draw_item(root / "images" / item.name, item, rng)
        lines["images"].append(f"{image_id} {item.name}")
        lines["labels"].append(f"{image_id} {cub_id}")
        lines["boxes"].append(f"{image_id} {x0:.1f} {y0:.1f} {x1 - x0:.1f} {y1 - y0:.1f}")
        lines["split"].append(f"{image_id} {image_id % 2}")
    for key, file in (("images", "images.txt"), ("labels", "image_class_labels.txt"),
                      ("boxes", "bounding_boxes.txt"), ("split", "train_test_split.txt")):  # fmt: skip
        (root / file).write_text("\n".join(lines[key]) + "\n")
    (root / "classes.txt").write_text("".join(f"{i} {name}\n" for i, name in sorted(classes.items())))
    return root


def truncate(path: Path, keep: float = 0.5) -> None:
    """Cut a file (an image, a .rec) to a fraction of its bytes."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def by_name(records) -> dict[str, object]:
    return {Path(r.file).name: r for r in records}


@pytest.fixture(scope="session")
def synth():
    """This module: its generators, writers and constants (tests/vision is not a package to import from)."""
    return sys.modules[__name__]


@pytest.fixture(scope="session")
def items() -> list[Item]:
    return make_items()


@pytest.fixture(scope="session")
def voc_dir(tmp_path_factory, items) -> Path:
    return write_voc(tmp_path_factory.mktemp("voc"), items)


@pytest.fixture(scope="session")
def voc_dataset(tmp_path_factory, voc_dir):
    """The synthetic VOC set imported once (read-only for tests)."""
    from openmaker.vision.formats.voc import import_voc

    return import_voc(voc_dir, tmp_path_factory.mktemp("voc_ds") / "ds")
