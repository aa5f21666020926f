"""The synthetic evaluation set: files, ground-truth geometry, masks, determinism, DICOM headers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("faker")
pydicom = pytest.importorskip("pydicom")

from PIL import Image  # noqa: E402

from openmaker.deid.synth import GENERATOR_VERSION, LABEL, PHI_LABELS, TECHNICAL, generate  # noqa: E402

SEED = 20240601
N = 6
SIZE = 640


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("synth") / "set", N, seed=SEED, size=SIZE)


def _load(d: Path) -> tuple[dict, dict]:
    return json.loads((d / "ground_truth.json").read_text()), json.loads((d / "dataset.json").read_text())


def _mask(d: Path, meta: dict, name: str) -> np.ndarray:
    return np.asarray(Image.open(d / meta["images"][name]["mask"]))


def test_files_and_metadata(dataset: Path) -> None:
    gt, meta = _load(dataset)
    names = sorted(p.name for p in (dataset / "images").iterdir())
    assert names == sorted(gt) and len(names) == N
    assert sorted(Path(n).suffix for n in names) == [".dcm", ".dcm", ".jpg", ".jpg", ".png", ".png"]
    assert sorted(p.name for p in (dataset / "masks").iterdir()) == sorted(f"{Path(n).stem}.png" for n in names)
    assert meta["seed"] == SEED and meta["n"] == N and meta["size"] == SIZE
    assert meta["version"] == GENERATOR_VERSION
    assert meta["fonts"] and all(f.endswith(".ttf") for f in meta["fonts"])
    for name in names:
        info = meta["images"][name]
        assert len(info["words"]) == len(gt[name])
        assert _size(dataset / "images" / name) == (info["width"], info["height"])
        assert max(info["width"], info["height"]) == SIZE


def _size(path: Path) -> tuple[int, int]:
    if path.suffix == ".dcm":
        ds = pydicom.dcmread(path)
        return int(ds.Columns), int(ds.Rows)
    with Image.open(path) as im:
        return im.size


def test_ground_truth_boxes(dataset: Path) -> None:
    gt, meta = _load(dataset)
    labels = set(PHI_LABELS) | {TECHNICAL, LABEL}
    for name, entries in gt.items():
        w, h = meta["images"][name]["width"], meta["images"][name]["height"]
        assert any(e["label"] in PHI_LABELS for e in entries), name
        assert any(e["label"] == TECHNICAL for e in entries), name
        for e in entries:
            assert set(e) == {"label", "text", "left", "top", "width", "height"}
            assert e["label"] in labels
            assert e["text"] and e["text"].split() == [e["text"]], "one entry per whitespace-separated word"
            assert e["width"] > 0 and e["height"] > 0
            assert 0 <= e["left"] and e["left"] + e["width"] <= w, (name, e)
            assert 0 <= e["top"] and e["top"] + e["height"] <= h, (name, e)


def test_masks_cover_phi_ink_only(dataset: Path) -> None:
    gt, meta = _load(dataset)
    pad = 3
    for name, entries in gt.items():
        mask = _mask(dataset, meta, name)
        assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
        assert mask.shape == (meta["images"][name]["height"], meta["images"][name]["width"])
        allowed = np.zeros(mask.shape, bool)
        for e in entries:
            if e["label"] in PHI_LABELS:
                box = mask[e["top"] : e["top"] + e["height"], e["left"] : e["left"] + e["width"]]
                assert (box > 0).any(), f"no ink in the mask for PHI word {e['text']!r} of {name}"
                allowed[max(0, e["top"] - pad) : e["top"] + e["height"] + pad, max(0, e["left"] - pad) : e["left"] + e["width"] + pad] = True
        assert not (mask[~allowed] > 0).any(), f"{name}: mask pixels outside every (dilated) PHI box"
        for e in entries:  # technical text and captions are not PHI ink
            if e["label"] not in PHI_LABELS:
                region = allowed[e["top"] : e["top"] + e["height"], e["left"] : e["left"] + e["width"]]
                if not region.any():
                    assert not mask[e["top"] : e["top"] + e["height"], e["left"] : e["left"] + e["width"]].any()


def test_text_is_drawn_where_the_mask_says(dataset: Path) -> None:
    gt, meta = _load(dataset)
    for name, entries in gt.items():
        if not name.endswith(".png"):
            continue
        img = np.asarray(Image.open(dataset / "images" / name).convert("L")).astype(np.float32)
        mask = _mask(dataset, meta, name) > 0
        diffs = []
        for e in entries:
            if e["label"] not in PHI_LABELS:
                continue
            sl = (slice(e["top"], e["top"] + e["height"]), slice(e["left"], e["left"] + e["width"]))
            ink, box = mask[sl], img[sl]
            if (~ink).any():
                diffs.append(abs(float(np.median(box[ink])) - float(np.median(box[~ink]))))
        assert diffs and float(np.mean(diffs)) > 20, f"{name}: the PHI ink does not stand out where the mask is"


def test_same_seed_same_files_other_seed_differs(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", 3, seed=5, size=256)
    b = generate(tmp_path / "b", 3, seed=5, size=256)
    c = generate(tmp_path / "c", 3, seed=6, size=256)
    for rel in ("ground_truth.json", "dataset.json"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes()
    for p in sorted((a / "images").iterdir()) + sorted((a / "masks").iterdir()):
        assert p.read_bytes() == (b / p.parent.name / p.name).read_bytes(), p.name
    assert (a / "ground_truth.json").read_bytes() != (c / "ground_truth.json").read_bytes()


def test_dicom_files_carry_the_header_phi(dataset: Path) -> None:
    gt, meta = _load(dataset)
    dicoms = [n for n in gt if n.endswith(".dcm")]
    assert dicoms
    for name in dicoms:
        info = meta["images"][name]
        ds = pydicom.dcmread(dataset / "images" / name)
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        arr = ds.pixel_array
        assert arr.shape[:2] == (info["height"], info["width"])
        assert ds.PhotometricInterpretation == info["dicom"]["photometric"]
        header = info["header_phi"]
        assert {"PatientName", "PatientID"} <= set(header)
        for keyword, value in header.items():
            assert str(ds.data_element(keyword).value) == value, keyword
        # the burned-in PatientID is the header's PatientID (header-seeded matching can find it)
        for e, attrs in zip(gt[name], info["words"]):
            if attrs["field"] in header:
                assert attrs["in_header"]
            if attrs["field"] == "PatientID":
                assert e["text"] == header["PatientID"]
    for name in gt:
        if not name.endswith(".dcm"):
            assert meta["images"][name]["header_phi"] is None
            assert not any(w["in_header"] for w in meta["images"][name]["words"])


def test_dicom_values_fit_their_value_representations(tmp_path: Path) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pydicom warns when a value is too long for its VR
        d = generate(tmp_path / "d", 24, seed=3, size=128, formats=("dcm",))
        for p in sorted((d / "images").iterdir()):
            ds = pydicom.dcmread(p)
            for elem in ds.iterall():
                _ = elem.value


def test_one_image_of_a_set_again(tmp_path: Path) -> None:
    whole = generate(tmp_path / "whole", 4, seed=5, size=256)
    one = generate(tmp_path / "one", 4, seed=5, size=256, only=[2])
    names = sorted(p.name for p in (one / "images").iterdir())
    assert len(names) == 1
    assert (one / "images" / names[0]).read_bytes() == (whole / "images" / names[0]).read_bytes()
    gt_whole, gt_one = json.loads((whole / "ground_truth.json").read_text()), json.loads((one / "ground_truth.json").read_text())
    assert gt_one == {names[0]: gt_whole[names[0]]}
    assert _load(one)[1]["only"] == [2]
    with pytest.raises(ValueError, match="0..3"):
        generate(tmp_path / "bad", 4, seed=5, size=256, only=[4])


def test_refuses_a_non_empty_folder_and_bad_formats(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        generate(tmp_path / "x", 1, seed=0, size=128)
    with pytest.raises(ValueError):
        generate(tmp_path / "y", 1, seed=0, size=128, formats=("gif",))


def test_small_images_still_work(tmp_path: Path) -> None:
    d = generate(tmp_path / "s", 5, seed=1, size=96)
    gt = json.loads((d / "ground_truth.json").read_text())
    assert len(gt) == 5 and all(any(e["label"] in PHI_LABELS for e in v) for v in gt.values())
