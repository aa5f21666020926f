"""Every importer and exporter on the synthetic set (exact boxes), the class subset and split options, the
bad inputs of each format, and the real BCCD set (Pascal VOC)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from openmaker.vision.dataset import load_dataset
from openmaker.vision.errors import DatasetError
from openmaker.vision.formats import export_dataset, import_dataset, split_from_name
from openmaker.vision.formats.cub import import_cub
from openmaker.vision.formats.lst import parse_line
from openmaker.vision.recordio import RecordReader, parse_detection_label, unpack


def assert_matches(dataset, items, synth, atol=1e-6, splits=True, names=None, rename=None):
    """Each imported record has its item's size, split and boxes (classes matched by name), and it loads."""
    records = {(rename or {}).get(r.file, r.file.rsplit("/", 1)[-1]): r for r in dataset.records}
    assert sorted(records) == sorted(i.name for i in items)
    to_index = np.array([dataset.classes.index(name) for name in names or synth.CLASSES], dtype=np.float32)
    for item in items:
        record = records[item.name]
        assert (record.width, record.height) == (item.width, item.height)
        if splits:
            assert record.split == item.split, item.name
        expected = item.relative()
        expected[:, 0] = to_index[expected[:, 0].astype(int)]
        np.testing.assert_allclose(record.boxes, expected, atol=atol)
        assert dataset.image_path(record).is_file() and record.file.startswith("images/")
    assert [r.file for r in load_dataset(dataset.root).records] == [r.file for r in dataset.records]


def test_voc_import(voc_dataset, items, synth):
    assert voc_dataset.classes == sorted(synth.CLASSES)
    assert_matches(voc_dataset, items, synth)
    assert voc_dataset.source.startswith("voc:")


def test_coco_import(tmp_path, items, synth):
    src = synth.write_coco(tmp_path / "coco", items)
    ds = import_dataset("coco", src / "annotations", tmp_path / "out")
    assert ds.classes == synth.CLASSES  # category-id order
    assert_matches(ds, items, synth, splits=False)
    by = synth.by_name(ds.records)
    assert {by[i.name].split for i in items if i.split == "train"} == {"train"}
    assert {by[i.name].split for i in items if i.split != "train"} == {"validation"}
    # the iscrowd box on each file's first image is skipped
    assert len(by[items[0].name].boxes) == len(items[0].boxes)
    single = import_dataset("coco", src / "annotations" / "instances_train.json", tmp_path / "one", images=src / "train",
                            classes=["7", "ellipse"])  # COCO category id 7 is "triangle"  # fmt: skip
    assert single.classes == ["triangle", "ellipse"]
    assert all(r.split == "train" for r in single.records)


def test_cub_import_converts_pixels_and_maps_the_split(tmp_path, synth):
    src = synth.write_cub(tmp_path / "CUB_200_2011", per_class=2)
    ds = import_cub(src, tmp_path / "out")
    assert ds.classes == [synth.CUB_CLASSES[k] for k in sorted(synth.CUB_CLASSES)]
    lines = (src / "bounding_boxes.txt").read_text().splitlines()
    images = dict(line.split() for line in (src / "images.txt").read_text().splitlines())
    split = dict(line.split() for line in (src / "train_test_split.txt").read_text().splitlines())
    by = {r.file.removeprefix("images/"): r for r in ds.records}
    for line in lines:
        image_id, x, y, w, h = line.split()
        record = by[images[image_id]]
        W, H = Image.open(src / "images" / images[image_id]).size
        x, y, w, h = map(float, (x, y, w, h))
        np.testing.assert_allclose(record.boxes[0, 1:], [x / W, y / H, (x + w) / W, (y + h) / H], atol=1e-6)
        assert record.split == ("train" if split[image_id] == "1" else "validation")
    assert (tmp_path / "out" / "images" / "017.Cardinal").is_dir()


def test_cub_class_subset_by_id_and_name(tmp_path, synth):
    src = synth.write_cub(tmp_path / "cub", per_class=2)
    ds = import_cub(src, tmp_path / "out", classes=[73, "17", "Northern_Flicker", "047.American_Goldfinch"])
    assert ds.classes == ["073.Blue_Jay", "017.Cardinal", "036.Northern_Flicker", "047.American_Goldfinch"]
    assert len(ds.records) == 8
    for record in ds.records:
        assert ds.classes[int(record.boxes[0, 0])] == record.file.split("/")[1]
    resplit = import_cub(src, tmp_path / "r", classes=[17, 36], validation=0.5, resplit=True, seed=1)
    assert sorted(r.split for r in resplit.records) == ["train", "train", "validation", "validation"]
    with pytest.raises(DatasetError, match="unknown class id 200"):
        import_cub(src, tmp_path / "x", classes=[200])


def test_manifest_import(tmp_path, items, synth):
    src = synth.write_manifest(tmp_path / "m", items)
    ds = import_dataset("manifest", src, tmp_path / "out")
    assert ds.classes == synth.CLASSES
    assert_matches(ds, items, synth)


def test_sagemaker_json_import(tmp_path, items, synth):
    src = synth.write_sagemaker_json(tmp_path / "j", items)
    ds = import_dataset("json", src, tmp_path / "out")
    assert ds.classes == synth.CLASSES
    assert_matches(ds, items, synth)
    assert all(r.file.startswith(f"images/{r.split}/") for r in ds.records)  # channel folders are kept


def test_lst_import(tmp_path, items, synth):
    src = synth.write_lst(tmp_path / "l", items)
    ds = import_dataset("lst", src, tmp_path / "out")
    assert ds.classes == ["0", "1", "2"]  # no classes.txt: ids as names
    assert_matches(ds, items, synth, atol=6e-5, names=["0", "1", "2"])  # written with %.4f


def test_rec_import(tmp_path, items, synth):
    rec = synth.write_rec(tmp_path / "r", items, name="birds")
    ds = import_dataset("recordio", rec, tmp_path / "out", validation=0.25, seed=2)
    assert len(ds.records) == len(items) and ds.classes == ["0", "1", "2"]
    assert {r.file for r in ds.records} == {f"images/birds/{k}.jpg" for k in range(len(items))}
    for k, item in enumerate(items):
        record = next(r for r in ds.records if r.file == f"images/birds/{k}.jpg")
        np.testing.assert_allclose(record.boxes, item.relative(), atol=1e-6)
        assert ds.image_path(record).read_bytes() == (tmp_path / "r" / "_src" / item.name).read_bytes()
    assert sum(r.split == "validation" for r in ds.records) == 3  # 4 images per class, 1 of each to validation


@pytest.mark.parametrize("fmt", ["lst", "recordio", "manifest", "json"])
def test_export_then_import_round_trip(tmp_path, voc_dataset, items, synth, fmt):
    written = export_dataset(fmt, voc_dataset, tmp_path / fmt)
    assert all(p.exists() for p in written)
    back = import_dataset(fmt, tmp_path / fmt, tmp_path / "back")
    assert back.classes == voc_dataset.classes
    atol = {"lst": 6e-5, "recordio": 1e-6}.get(fmt, 0.51 / 64)  # SageMaker JSON holds whole pixels
    rename = {  # RecordIO keeps no file names: images/<split>/<key>.jpg, keys in list order
        f"images/{split}/{key}.jpg": record.file.rsplit("/", 1)[-1]
        for split in ("train", "validation", "test") for key, record in enumerate(voc_dataset.split(split))
    } if fmt == "recordio" else None  # fmt: skip
    assert_matches(back, items, synth, atol=atol, rename=rename)


def test_rec_export_resizes_the_shorter_edge_like_im2rec(tmp_path, voc_dataset):
    written = export_dataset("recordio", voc_dataset, tmp_path / "rec", split="train", resize=48)
    assert [p.name for p in written] == ["classes.txt", "train.lst", "train.rec", "train.idx"]
    train = voc_dataset.split("train")
    with RecordReader(tmp_path / "rec" / "train.rec", tmp_path / "rec" / "train.idx") as reader:
        assert reader.keys() == list(range(len(train)))
        for key, record in enumerate(train):
            header, image = unpack(reader[key])
            assert header.id == key and header.label[:2].tolist() == [2, 5]
            np.testing.assert_allclose(parse_detection_label(header.label, "r"), record.boxes, atol=1e-6)
            decoded = Image.open(__import__("io").BytesIO(image))
            assert decoded.format == "JPEG" and min(decoded.size) == 48
            w, h = record.width, record.height
            assert decoded.size == ((48, h * 48 // w) if h > w else (w * 48 // h, 48))
    lines = (tmp_path / "rec" / "train.lst").read_text().splitlines()
    index, boxes, path = parse_line(lines[0], "train.lst line 1")
    assert index == 0 and path == train[0].file and (tmp_path / "rec" / path).is_file()
    assert lines[0].split("\t")[1:4] == ["2", "5", f"{train[0].boxes[0, 0]:.4f}"]


def test_import_progress_and_output_folder_must_be_empty(tmp_path, voc_dir, items):
    calls = []
    import_dataset("voc", voc_dir, tmp_path / "out", progress=lambda done, total: calls.append((done, total)))
    assert calls == [(k, len(items)) for k in range(1, len(items) + 1)]
    with pytest.raises(DatasetError, match="not empty"):
        import_dataset("voc", voc_dir, tmp_path / "out")


def test_other_image_formats_are_reencoded_as_jpeg(tmp_path, items, synth):
    src = synth.write_voc(tmp_path / "voc", items[:2])
    Image.open(src / "JPEGImages" / items[0].name).save(src / "JPEGImages" / "img_000.bmp")
    (src / "JPEGImages" / items[0].name).unlink()
    _edit(src / "Annotations" / "img_000.xml", items[0].name, "img_000.bmp")
    ds = import_dataset("voc", src, tmp_path / "out")
    assert sorted(r.file for r in ds.records) == ["images/img_000.jpg", "images/img_001.jpg"]
    assert Image.open(tmp_path / "out" / "images" / "img_000.jpg").format == "JPEG"


def test_class_subset_and_split_options(tmp_path, voc_dir, items):
    ds = import_dataset("voc", voc_dir, tmp_path / "a", classes=["triangle", "rectangle"])
    assert ds.classes == ["triangle", "rectangle"]
    assert all(len(r.boxes) for r in ds.records)
    kept = sum(any(b[0] in (0, 2) for b in i.boxes) for i in items)
    assert len(ds.records) == kept
    split = import_dataset("voc", voc_dir, tmp_path / "b", resplit=True, validation=0.5, seed=0)
    assert sum(r.split == "validation" for r in split.records) == 6 and not split.split("test")
    with pytest.raises(DatasetError, match="unknown format 'yolo'"):
        import_dataset("yolo", voc_dir, tmp_path / "c")


def test_split_from_name():
    assert [split_from_name(n) for n in ("instances_val2017.json", "train.lst", "birds_ssd_sample_test.rec",
                                         "validation.manifest", "trainval.txt", "data.rec")] == [
        "validation", "train", "test", "validation", None, None]  # fmt: skip


# ---- bad inputs ------------------------------------------------------------------------------------------


def _edit(path, old, new):
    path.write_text(path.read_text().replace(old, new, 1))


@pytest.mark.parametrize(
    "box, message",
    [("1 -5.0 3.0 20.0 20.0", "lies outside the"), ("1 3.0 3.0 0.0 20.0", "zero area"),
     ("1 3.0 3.0 500.0 20.0", "lies outside the"), ("1 3.0 x 10.0 20.0", "'x' is not a number"),
     ("1 3.0 3.0 10.0", "expected 5 fields, got 4")],
)  # fmt: skip
def test_cub_bad_box_names_file_and_line(tmp_path, synth, box, message):
    src = synth.write_cub(tmp_path / "cub", per_class=1)
    lines = (src / "bounding_boxes.txt").read_text().splitlines()
    (src / "bounding_boxes.txt").write_text("\n".join([box, *lines[1:]]) + "\n")
    with pytest.raises(DatasetError, match=message) as err:
        import_cub(src, tmp_path / "out")
    assert "bounding_boxes.txt line 1" in str(err.value)


def test_cub_box_within_one_pixel_is_clipped(tmp_path, synth):
    src = synth.write_cub(tmp_path / "cub", per_class=1)
    W, H = Image.open(src / "images" / (src / "images.txt").read_text().split()[1]).size
    _edit(src / "bounding_boxes.txt", (src / "bounding_boxes.txt").read_text().splitlines()[0], f"1 -0.8 0.0 {W + 0.8} {H}")
    ds = import_cub(src, tmp_path / "out")
    np.testing.assert_allclose(ds.records[0].boxes[0, 1:], [0, 0, 1, 1])


@pytest.mark.parametrize(
    "file, old, new, message",
    [("image_class_labels.txt", "1 17", "1 18", "image_class_labels.txt line 1: class id 18 out of range"),
     ("train_test_split.txt", "1 1", "1 7", "train_test_split.txt line 1: expected 0 or 1"),
     ("images.txt", "1 017", "x 017", "images.txt line 1: id 'x' is not a positive integer"),
     ("train_test_split.txt", "1 1\n", "", "train_test_split.txt: no line for image id 1")],
)  # fmt: skip
def test_cub_bad_tables(tmp_path, synth, file, old, new, message):
    src = synth.write_cub(tmp_path / "cub", per_class=1)
    _edit(src / file, old, new)
    with pytest.raises(DatasetError, match=message):
        import_cub(src, tmp_path / "out")


def test_cub_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="classes.txt: not found .*CUB-200-2011 layout"):
        import_cub(tmp_path, tmp_path / "out")


def test_corrupt_image_names_the_file(tmp_path, items, synth):
    src = synth.write_voc(tmp_path / "voc", items)
    synth.truncate(src / "JPEGImages" / items[3].name, 0.7)
    with pytest.raises(DatasetError, match=rf"{items[3].name}: corrupt or unreadable image .*truncated"):
        import_dataset("voc", src, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # no half-written dataset is left behind
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="corrupt"):
        import_dataset("voc", src, tmp_path / "empty")
    assert list((tmp_path / "empty").iterdir()) == []
    (src / "JPEGImages" / items[4].name).write_bytes(b"not an image")
    with pytest.raises(DatasetError, match=rf"{items[4].name}: corrupt or unreadable image"):
        import_dataset("voc", src, tmp_path / "out2")


@pytest.mark.parametrize(
    "old, new, message",
    [("<xmax>", "<xmax>99", "line 4: box .* lies outside the"), ("</annotation>", "", "line 8: invalid XML"),
     ("<width>", "<width>1", "line 3: image size 1"), ("<xmin>", "<xmin>x", "line 4: box coordinates must be numbers")],
)  # fmt: skip
def test_voc_bad_annotation_names_file_and_line(tmp_path, items, synth, old, new, message):
    src = synth.write_voc(tmp_path / "voc", items[:2])
    _edit(src / "Annotations" / "img_001.xml", old, new)
    with pytest.raises(DatasetError, match=message) as err:
        import_dataset("voc", src, tmp_path / "out")
    assert "img_001.xml" in str(err.value)


def test_voc_image_in_two_lists(tmp_path, items, synth):
    src = synth.write_voc(tmp_path / "voc", items[:3])
    (src / "ImageSets" / "Main" / "test.txt").write_text("img_000\n")
    with pytest.raises(DatasetError, match=r"test.txt line 1: img_000 is also in the train list"):
        import_dataset("voc", src, tmp_path / "out")


def test_coco_bad_inputs(tmp_path, items, synth):
    src = synth.write_coco(tmp_path / "coco", items)
    path = src / "annotations" / "instances_train.json"
    data = json.loads(path.read_text())
    data["annotations"][1]["category_id"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=r"instances_train.json annotations\[1\] \(id 2\): category_id 99 out of range"):
        import_dataset("coco", src / "annotations", tmp_path / "out")
    data["annotations"][1].update(category_id=1, bbox=[10, 10, 0, 5])
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=r"annotations\[1\] \(id 2\): box .* zero area"):
        import_dataset("coco", src / "annotations", tmp_path / "out")
    path.write_text("{\n  oops")
    with pytest.raises(DatasetError, match="instances_train.json line 2: invalid JSON"):
        import_dataset("coco", src / "annotations", tmp_path / "out")


def test_manifest_bad_inputs(tmp_path, items, synth):
    src = synth.write_manifest(tmp_path / "m", items)
    path = src / "train.manifest"
    lines = path.read_text().splitlines()
    line = json.loads(lines[1])
    line["bounding-box"]["annotations"][0]["class_id"] = 5
    path.write_text("\n".join([lines[0], json.dumps(line), *lines[2:]]) + "\n")
    with pytest.raises(DatasetError, match=r"train.manifest line 2 annotations\[0\]: class id 5 out of range"):
        import_dataset("manifest", src, tmp_path / "out")
    line["source-ref"] = "s3://bucket/x.jpg"
    path.write_text("\n".join([lines[0], json.dumps(line)]) + "\n")
    with pytest.raises(DatasetError, match="train.manifest line 2: source-ref 's3://bucket/x.jpg' is not a local file"):
        import_dataset("manifest", src, tmp_path / "out")
    line = json.loads(lines[0])
    line["bounding-box"]["annotations"][0]["left"] = -30
    path.write_text(json.dumps(line) + "\n")
    with pytest.raises(DatasetError, match="train.manifest line 1 annotations.0.: box .* lies outside"):
        import_dataset("manifest", src, tmp_path / "out")


def test_sagemaker_json_bad_class(tmp_path, items, synth):
    src = synth.write_sagemaker_json(tmp_path / "j", items)
    path = next((src / "validation_annotation").glob("*.json"))
    obj = json.loads(path.read_text())
    obj["annotations"][0]["class_id"] = 3
    path.write_text(json.dumps(obj))
    with pytest.raises(DatasetError, match=rf"{path.name} annotations\[0\]: class id 3 out of range"):
        import_dataset("json", src, tmp_path / "out")


@pytest.mark.parametrize(
    "line, message",
    [("0\t2\t5\t0.0000\t0.1\t0.1\t0.5\timages/img_000.jpg", "8 fields; expected 1 \\+ 2 \\+ 5 \\* objects \\+ 1"),
     ("0\t2\t5\t1\timages/img_000.jpg", "5 fields"), ("0\timages/img_000.jpg", "2 tab-separated fields"),
     ("0\t2\t4\t0\t0.1\t0.1\t0.5\timages/img_000.jpg", "label_width 4"),
     ("0\t2\t5\t4.5\t0.1\t0.1\t0.5\t0.5\timages/img_000.jpg", "class id '4.5'|class id 4.5"),
     ("0\t2\t5\t0\t0.1\t0.1\t1.5\t0.5\timages/img_000.jpg", "lies outside"),
     ("0\t2\t5\t0\t0.1\t0.1\tx\t0.5\timages/img_000.jpg", "must be numbers")],
)  # fmt: skip
def test_lst_bad_line_names_file_and_line(tmp_path, items, synth, line, message):
    src = synth.write_lst(tmp_path / "l", items)
    path = src / "train.lst"
    path.write_text(path.read_text() + line + "\n")
    n = len(path.read_text().splitlines())
    with pytest.raises(DatasetError, match=message) as err:
        import_dataset("lst", path, tmp_path / "out")
    assert f"train.lst line {n}" in str(err.value)


def test_lst_wider_label_and_extra_header(tmp_path, items, synth):
    src = synth.write_lst(tmp_path / "l", items[:1])
    item = items[0]
    rows = "\t".join(f"{v:.4f}" for row in item.relative() for v in (*row, 0.5))
    (src / "wide.lst").write_text(f"0\t3\t6\t99\t{rows}\timages/{item.name}\n")
    ds = import_dataset("lst", src / "wide.lst", tmp_path / "out")
    np.testing.assert_allclose(ds.records[0].boxes, item.relative(), atol=6e-5)


def test_rec_bad_magic_and_truncation_name_the_file(tmp_path, items, synth):
    rec = synth.write_rec(tmp_path / "r", items[:4])
    data = bytearray(rec.read_bytes())
    data[:4] = b"\0\0\0\0"
    rec.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=rf"{rec}: bad magic number 0x00000000 at byte 0"):
        import_dataset("recordio", rec, tmp_path / "out")
    synth.write_rec(tmp_path / "r", items[:4])
    synth.truncate(rec, 0.9)
    with pytest.raises(DatasetError, match=rf"{rec}: truncated record at byte \d+"):
        import_dataset("recordio", rec, tmp_path / "out")


def test_rec_corrupt_payload_names_the_record(tmp_path, items, synth):
    from openmaker.vision.recordio import IRHeader, RecordWriter, detection_label, pack

    image = tmp_path / "a.jpg"
    synth.draw_item(image, items[0], np.random.default_rng(0))
    with RecordWriter(tmp_path / "x.rec") as writer:
        writer.write(pack(IRHeader(0, detection_label(items[0].relative()), 0, 0), image.read_bytes()))
        writer.write(pack(IRHeader(0, detection_label(items[0].relative()), 1, 0), image.read_bytes()[:2000]))
    with pytest.raises(DatasetError, match=r"x.rec record 1: corrupt or unreadable image .*truncated"):
        import_dataset("recordio", tmp_path / "x.rec", tmp_path / "out")
    with RecordWriter(tmp_path / "z.rec") as writer:
        writer.write(pack(IRHeader(0, detection_label(items[0].relative()), 0, 0), b"GIF8"))
    with pytest.raises(DatasetError, match=r"z.rec record 0 \(byte 0\): corrupt .*not a recognised image format"):
        import_dataset("recordio", tmp_path / "z.rec", tmp_path / "out2")
    with RecordWriter(tmp_path / "y.rec") as writer:
        writer.write(pack(IRHeader(0, 1.0, 0, 0), image.read_bytes()))
    with pytest.raises(DatasetError, match=r"y.rec record 0 \(byte 0\): no packed detection label"):
        import_dataset("recordio", tmp_path / "y.rec", tmp_path / "out")


# ---- real data -------------------------------------------------------------------------------------------


def test_bccd_voc_import(tmp_path, synth):
    """BCCD (MIT): 364 images, 3 classes, ImageSets/Main train 205 / val 87 / test 72; box counts as in its
    README (RBC 4,155, WBC 372, Platelets 361). Two RBC boxes with xmin == xmax (BloodImage_00338 and _00343)
    are one pixel wide under VOC's inclusive convention and are kept."""
    ds = import_dataset("voc", synth.BCCD, tmp_path / "bccd", classes=["RBC", "WBC", "Platelets"])
    assert ds.classes == ["RBC", "WBC", "Platelets"]
    assert len(ds.records) == 364
    assert {s: len(ds.split(s)) for s in ("train", "validation", "test")} == {"train": 205, "validation": 87, "test": 72}
    boxes = np.concatenate([r.boxes for r in ds.records])
    assert np.bincount(boxes[:, 0].astype(int)).tolist() == [4155, 372, 361]
    assert {(r.width, r.height) for r in ds.records} == {(640, 480)}
    tiny = synth.by_name(ds.records)["BloodImage_00338.jpg"].boxes
    assert np.isclose(tiny[:, 3] - tiny[:, 1], 1 / 640, atol=1e-6).sum() == 1
    first = synth.by_name(ds.records)["BloodImage_00000.jpg"]
    np.testing.assert_allclose(first.boxes[0], [1, 259 / 640, 176 / 480, 491 / 640, 376 / 480], atol=1e-6)  # WBC
