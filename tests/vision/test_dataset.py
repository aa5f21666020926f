"""The internal dataset format: write/load round trip, validation errors with line numbers, class subset,
seeded stratified splits, corrupt images."""

from __future__ import annotations

import json

import numpy as np
import pytest

from openmaker.vision.dataset import (
    SPLITS, Dataset, Record, assign_splits, load_dataset, resolve_classes, subset, verify_image, write_dataset,
)  # fmt: skip
from openmaker.vision.errors import DatasetError


def _records(n: int = 6) -> list[Record]:
    return [
        Record(f"images/{i}.jpg", 100 + i, 80, SPLITS[i % 3], [[i % 3, 0.1, 0.2, 0.5, 0.6], [(i + 1) % 3, 0.0, 0.0, 1.0, 1.0]])
        for i in range(n)
    ]


def _dataset_dir(root, records, classes=("a", "b", "c")):
    for record in records:
        (root / record.file).parent.mkdir(parents=True, exist_ok=True)
        (root / record.file).write_bytes(b"x")
    return write_dataset(root, classes, records, source="test:here")


def test_round_trip_keeps_everything(tmp_path):
    records = _records() + [Record("images/empty.jpg", 10, 10, "test", [])]
    _dataset_dir(tmp_path, records)
    loaded = load_dataset(tmp_path)
    assert loaded.classes == ["a", "b", "c"] and loaded.source == "test:here"
    assert [r.file for r in loaded.records] == [r.file for r in records]
    for a, b in zip(records, loaded.records):
        assert (a.width, a.height, a.split) == (b.width, b.height, b.split)
        np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-6)
        assert b.boxes.dtype == np.float32 and b.boxes.shape[1] == 5
    assert loaded.records[-1].boxes.shape == (0, 5)
    assert [r.file for r in loaded.split("validation")] == ["images/1.jpg", "images/4.jpg"]
    assert loaded.image_path(loaded.records[0]) == tmp_path / "images/0.jpg"
    meta = json.loads((tmp_path / "dataset.json").read_text())
    assert meta == {"format": "openmaker-detection", "version": 1, "classes": ["a", "b", "c"], "source": "test:here"}


def test_split_rejects_unknown_name(tmp_path):
    with pytest.raises(ValueError, match="unknown split 'val'"):
        Dataset(tmp_path, ["a"], []).split("val")


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "invalid JSON"),
        ('{"file": "images/0.jpg", "width": 0, "height": 5, "split": "train", "boxes": []}', "positive integers"),
        ('{"file": "images/0.jpg", "width": 5, "height": 5, "split": "val", "boxes": []}', "'split' must be one of"),
        ('{"file": "/etc/passwd", "width": 5, "height": 5, "split": "train", "boxes": []}', "relative"),
        ('{"file": "images/0.jpg", "width": 5, "height": 5, "split": "train", "boxes": [[3, 0, 0, 1, 1]]}', "class id 3 out of range"),
        ('{"file": "images/0.jpg", "width": 5, "height": 5, "split": "train", "boxes": [[0.5, 0, 0, 1, 1]]}', "class id 0.5 out of range"),
        ('{"file": "images/0.jpg", "width": 5, "height": 5, "split": "train", "boxes": [[0, 0.5, 0, 0.5, 1]]}', "positive area"),
        ('{"file": "images/0.jpg", "width": 5, "height": 5, "split": "train", "boxes": [[0, 0, 0, 1.2, 1]]}', "not inside the image"),
        ('{"file": "images/0.jpg", "width": 5, "height": 5, "split": "train", "boxes": [[0, 0, 0, 1]]}', "'boxes' must be"),
        ('{"file": "images/missing.jpg", "width": 5, "height": 5, "split": "train", "boxes": []}', "not found"),
        ('{"file": "images/0.jpg", "width": 100, "height": 80, "split": "train", "boxes": []}', "listed twice"),
    ],
)  # fmt: skip
def test_load_names_file_and_line(tmp_path, line, message):
    _dataset_dir(tmp_path, _records(1))
    with open(tmp_path / "annotations.jsonl", "a") as out:
        out.write("\n" + line + "\n")
    with pytest.raises(DatasetError, match=message) as err:
        load_dataset(tmp_path)
    assert "annotations.jsonl line 3" in str(err.value)


@pytest.mark.parametrize(
    "meta, message",
    [(None, "not found"), ("{", "dataset.json line 1: invalid JSON"), ('{"format": "x"}', "'format' must be"),
     ('{"format": "openmaker-detection", "version": 2, "classes": ["a"]}', "unsupported version"),
     ('{"format": "openmaker-detection", "version": 1, "classes": []}', "non-empty list"),
     ('{"format": "openmaker-detection", "version": 1, "classes": ["a", "a"]}', "duplicate class")],
)  # fmt: skip
def test_load_rejects_bad_metadata(tmp_path, meta, message):
    if meta is not None:
        (tmp_path / "dataset.json").write_text(meta)
    with pytest.raises(DatasetError, match=message):
        load_dataset(tmp_path)


def test_write_rejects_bad_records(tmp_path):
    with pytest.raises(DatasetError, match=r"record 0 \(a.jpg\): box 0: class id 2 out of range"):
        write_dataset(tmp_path, ["x", "y"], [Record("a.jpg", 5, 5, "train", [[2, 0, 0, 1, 1]])])
    with pytest.raises(DatasetError, match="split ''"):
        write_dataset(tmp_path, ["x"], [Record("a.jpg", 5, 5, "", [])])


def test_subset_renumbers_in_given_order_and_drops_empty_images(tmp_path):
    records = [
        Record("a.jpg", 10, 10, "train", [[0, 0, 0, 0.5, 0.5], [2, 0.5, 0.5, 1, 1]]),
        Record("b.jpg", 10, 10, "train", [[1, 0, 0, 1, 1]]),
        Record("c.jpg", 10, 10, "test", [[2, 0, 0, 1, 1], [2, 0.1, 0.1, 0.2, 0.2]]),
    ]
    ds = Dataset(tmp_path, ["cat", "dog", "bird"], records)
    small = subset(ds, ["bird", "cat"])
    assert small.classes == ["bird", "cat"]
    assert [r.file for r in small.records] == ["a.jpg", "c.jpg"]
    np.testing.assert_array_equal(small.records[0].boxes[:, 0], [1, 0])
    np.testing.assert_array_equal(small.records[1].boxes[:, 0], [0, 0])
    assert ds.records[0].boxes[1, 0] == 2  # the source is untouched
    assert subset(ds, [1]).classes == ["dog"]  # ids are 0-based indices
    assert subset(ds, ["17"], source_ids={17: 2}).classes == ["bird"]


@pytest.mark.parametrize("wanted, message", [(["fish"], "unknown class 'fish'"), ([5], "unknown class id 5"),
                                             (["cat", 0], "asked for twice"), ([], "empty")])  # fmt: skip
def test_resolve_classes_errors(wanted, message):
    with pytest.raises(DatasetError, match=message):
        resolve_classes(wanted, ["cat", "dog"])


def test_assign_splits_is_seeded_and_stratified():
    records = [Record(f"{i}.jpg", 10, 10, "train", [[i % 2, 0, 0, 1, 1]]) for i in range(50)]
    first = assign_splits(records, validation=0.2, test=0.1, seed=3)
    again = assign_splits(records, validation=0.2, test=0.1, seed=3)
    other = assign_splits(records, validation=0.2, test=0.1, seed=4)
    assert [r.split for r in first] == [r.split for r in again]
    assert [r.split for r in first] != [r.split for r in other]
    for cls in (0, 1):  # 25 images per class: 5 validation, 2 test (rounded), 18 train
        splits = [r.split for r in first if r.boxes[0, 0] == cls]
        assert (splits.count("validation"), splits.count("test"), splits.count("train")) == (5, 2, 18)
    assert all(r.split == "train" for r in records)  # copies, not in place
    assert [r.split for r in assign_splits(records, validation=0.0)] == ["train"] * 50
    with pytest.raises(ValueError, match="fractions"):
        assign_splits(records, validation=0.7, test=0.3)


def test_corrupt_image_names_the_file(tmp_path, voc_dataset, synth):
    record = voc_dataset.records[0]
    bad = tmp_path / "images" / "bad.jpg"
    bad.parent.mkdir()
    bad.write_bytes(voc_dataset.image_path(record).read_bytes())
    synth.truncate(bad, 0.6)
    ds = Dataset(tmp_path, voc_dataset.classes, [Record("images/bad.jpg", record.width, record.height, "train", [])])
    with pytest.raises(DatasetError, match=r"bad\.jpg: corrupt or unreadable image .*truncated"):
        ds.read_image(ds.records[0])
    with pytest.raises(DatasetError, match="bad.jpg: corrupt"):
        verify_image(bad)
    assert voc_dataset.read_image(record).mode == "RGB"
    assert verify_image(voc_dataset.image_path(record)) == ("JPEG", (record.width, record.height))
