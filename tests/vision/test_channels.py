"""read_channel: every source kind gives the same images and boxes; content types narrow the choice; bad
channels raise DatasetError naming the file."""

from __future__ import annotations

import numpy as np
import pytest

from openmaker.vision.channels import read_channel
from openmaker.vision.errors import DatasetError
from openmaker.vision.formats import export_dataset


@pytest.fixture(scope="module")
def exported(tmp_path_factory, voc_dataset):
    root = tmp_path_factory.mktemp("channels")
    for fmt in ("lst", "recordio", "manifest", "json"):
        export_dataset(fmt, voc_dataset, root / fmt, split="train")
    return root


def _expected(voc_dataset):
    return [(voc_dataset.image_path(r).read_bytes(), r.width, r.height, r.boxes) for r in voc_dataset.split("train")]


def _check(samples, expected, atol=1e-6):
    assert len(samples.samples) == len(expected)
    for sample, (image, width, height, boxes) in zip(samples.samples, expected):
        assert (sample.image, sample.width, sample.height) == (image, width, height)
        assert sample.boxes.dtype == np.float32
        np.testing.assert_allclose(sample.boxes, boxes, atol=atol)


def test_dataset_folder_and_split(voc_dataset):
    everything = read_channel(voc_dataset.root)
    assert everything.classes == voc_dataset.classes and len(everything.samples) == len(voc_dataset.records)
    train = read_channel(voc_dataset.root, split="train", content_type="image/jpeg")
    _check(train, _expected(voc_dataset))
    assert train.samples[0].name == voc_dataset.split("train")[0].file


@pytest.mark.parametrize(
    "path, annotations, content_type, atol",
    [("recordio/train.rec", None, "application/x-recordio", 1e-6), ("recordio", None, None, 1e-6),
     ("manifest/train.manifest", None, None, 0.51 / 64), ("manifest", None, "application/x-image", 0.51 / 64),
     ("json/train", "json/train_annotation", "image/png", 0.51 / 64), ("lst/train.lst", None, None, 6e-5),
     ("lst", None, "application/x-image", 6e-5)],
)  # fmt: skip
def test_every_source_kind(exported, voc_dataset, path, annotations, content_type, atol):
    samples = read_channel(exported / path, exported / annotations if annotations else None, content_type)
    assert samples.classes == voc_dataset.classes  # classes.txt, the class map or the categories
    _check(samples, _expected(voc_dataset), atol)


def test_rec_without_class_names(tmp_path, items, synth):
    rec = synth.write_rec(tmp_path, items[:3])
    samples = read_channel(rec)
    assert samples.classes is None
    assert [s.name for s in samples.samples] == ["train/0", "train/1", "train/2"]
    np.testing.assert_allclose(samples.samples[2].boxes, items[2].relative(), atol=1e-6)


def test_content_type_mismatch_and_unknown(exported, voc_dataset):
    with pytest.raises(DatasetError, match="no detection data for content type application/x-recordio"):
        read_channel(exported / "lst", content_type="application/x-recordio")
    with pytest.raises(ValueError, match="unsupported content type 'text/csv'"):
        read_channel(exported / "lst", content_type="text/csv")
    with pytest.raises(ValueError, match="split= applies to an openmaker dataset folder"):
        read_channel(exported / "lst", split="train")


def test_bad_channels_name_the_file(tmp_path, exported, synth):
    with pytest.raises(DatasetError, match="not found"):
        read_channel(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="empty: no detection data"):
        read_channel(tmp_path / "empty")
    rec = tmp_path / "cut" / "train.rec"
    rec.parent.mkdir()
    rec.write_bytes((exported / "recordio" / "train.rec").read_bytes())
    synth.truncate(rec, 0.5)
    with pytest.raises(DatasetError, match=rf"{rec}: truncated record at byte \d+"):
        read_channel(rec)


def test_corrupt_image_is_found_unless_verify_is_off(tmp_path, voc_dataset, synth):
    import shutil

    copy = tmp_path / "ds"
    shutil.copytree(voc_dataset.root, copy)
    broken = copy / voc_dataset.records[2].file
    synth.truncate(broken, 0.5)
    with pytest.raises(DatasetError, match=rf"{broken}: corrupt or unreadable image"):
        read_channel(copy)
    assert len(read_channel(copy, verify=False).samples) == len(voc_dataset.records)
