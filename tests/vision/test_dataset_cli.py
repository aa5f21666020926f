"""``openmaker vision dataset``: import, summary, grid and export, and bad input as one ``error:`` line
with exit code 2."""

from __future__ import annotations

import json

import pytest
from PIL import Image
from typer.testing import CliRunner

from openmaker.vision.dataset import load_dataset
from openmaker.vision.recordio import RecordReader, unpack

runner = CliRunner()


def run(*args):
    from openmaker.vision.dataset_cli import dataset_app

    return runner.invoke(dataset_app, [str(a) for a in args])


def test_import_summary_grid_export(tmp_path, voc_dir, items):
    out = tmp_path / "ds"
    result = run("import", voc_dir, "--format", "voc", "--out", out, "--classes", "ellipse,triangle")
    assert result.exit_code == 0, result.output
    ds = load_dataset(out)
    assert ds.classes == ["ellipse", "triangle"]
    assert f"imported {len(ds.records)} images" in result.stdout and "2 classes" in result.stdout

    summary = run("summary", out, "--json")
    info = json.loads(summary.stdout)
    assert info["classes"] == ["ellipse", "triangle"]
    assert info["images"]["total"] == len(ds.records)
    assert info["boxes"]["total"] == sum(len(r.boxes) for r in ds.records)
    table = run("summary", out)
    assert table.exit_code == 0 and "ellipse" in table.stdout and "image width" in table.stdout

    grid = run("grid", out, "--out", tmp_path / "grid.png", "--n", 4, "--split", "train")
    assert grid.exit_code == 0, grid.output
    assert Image.open(tmp_path / "grid.png").size == (512, 512)  # 2 x 2 cells of 256 px

    export = run("export", out, "--format", "recordio", "--out", tmp_path / "rec", "--split", "train", "--resize", 40)
    assert export.exit_code == 0, export.output
    with RecordReader(tmp_path / "rec" / "train.rec", tmp_path / "rec" / "train.idx") as reader:
        assert len(reader) == len(ds.split("train"))
        header, image = unpack(reader[0])
    assert min(Image.open(__import__("io").BytesIO(image)).size) == 40


def test_import_cub_subset_with_seeded_resplit(tmp_path, synth):
    src = synth.write_cub(tmp_path / "CUB_200_2011", per_class=4)
    result = run("import", src, "--format", "cub", "--out", tmp_path / "birds", "--classes", "17,36,47,68,73",
                 "--resplit", "--validation", "0.25", "--test", "0.25", "--seed", "3")  # fmt: skip
    assert result.exit_code == 0, result.output
    ds = load_dataset(tmp_path / "birds")
    assert len(ds.classes) == 5
    assert [len(ds.split(s)) for s in ("train", "validation", "test")] == [10, 5, 5]  # 4 per class: 2 / 1 / 1


@pytest.mark.parametrize(
    "args, message",
    [(["import", "{missing}", "--format", "voc", "--out", "{tmp}/o"], "no .xml annotations"),
     (["import", "{voc}", "--format", "voc", "--out", "{tmp}/o", "--classes", "hexagon"], "unknown class 'hexagon'"),
     (["import", "{voc}", "--format", "voc", "--out", "{tmp}/o", "--images", "{tmp}"], "--images applies to coco and lst"),
     (["import", "{voc}", "--format", "voc", "--out", "{tmp}/o", "--validation", "1.5", "--resplit"], "fractions"),
     (["import", "{voc}", "--format", "cub", "--out", "{tmp}/o"], "classes.txt: not found"),
     (["import", "{voc}/Annotations/img_000.xml", "--format", "lst", "--out", "{tmp}/o"], "tab-separated fields"),
     (["summary", "{voc}"], "dataset.json: not found"),
     (["grid", "{ds}", "--out", "{tmp}/g.png", "--split", "val"], "unknown split 'val'"),
     (["grid", "{ds}", "--out", "{tmp}/g.png", "--n", "0"], "n must be at least 1"),
     (["export", "{ds}", "--format", "lst", "--out", "{tmp}/e", "--resize", "64"], "--resize applies to the recordio"),
     (["export", "{ds}", "--format", "recordio", "--out", "{tmp}/e", "--resize", "0"], "resize must be a positive"),
     (["export", "{ds}", "--format", "json", "--out", "{tmp}/e", "--prefix", "s3://b/"], "--prefix applies to the manifest")],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(tmp_path, voc_dir, voc_dataset, args, message):
    values = {"missing": tmp_path / "missing", "tmp": tmp_path, "voc": voc_dir, "ds": voc_dataset.root}
    result = run(*(a.format(**values) for a in args))
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.output


def test_corrupt_image_on_import_names_the_file(tmp_path, items, synth):
    src = synth.write_voc(tmp_path / "voc", items[:3])
    synth.truncate(src / "JPEGImages" / items[1].name, 0.5)
    result = run("import", src, "--format", "voc", "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert f"{items[1].name}: corrupt or unreadable image" in result.stderr
