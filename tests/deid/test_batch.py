"""Batches: folders and prefixes, outputs, report, resume, fail closed, workers, s3:// against moto."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from openmaker import storage
from openmaker.deid.batch import RunOptions, plan, read_pseudonyms, run
from tests.deid.conftest import PHI_LINES, US_GREY, encode, render

pytest.importorskip("rapidocr")

PHI_STRINGS = ("DOE", "JOHN", "48213377", "03/14/1962", "ZZZ", "00079241539", "08/29/1951")


def _options(**kwargs) -> RunOptions:
    return RunOptions(key=b"k" * 32, **kwargs)


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "in"
    (root / "nested").mkdir(parents=True)
    (root / "scan.png").write_bytes(encode(render(PHI_LINES)))
    shutil.copy(US_GREY, root / "nested" / "us.dcm")
    (root / "empty.png").write_bytes(b"")
    (root / "notes.txt").write_text("DOE, JOHN was here\n")
    (root / "cut.png").write_bytes(encode(render(PHI_LINES))[:200])
    (root / "broken.dcm").write_bytes(US_GREY.read_bytes()[:4000])
    return root


def test_plan_names_outputs_and_keeps_layout(folder, tmp_path):
    (folder / "scan.jpg").write_bytes(encode(render(PHI_LINES), "JPEG"))
    tasks = {Path(t.input).name: t for t in plan([str(folder)], str(tmp_path / "out"))}
    assert tasks["us.dcm"].png() == str(tmp_path / "out" / "nested" / "de-id-us.png")
    assert tasks["us.dcm"].dicom() == str(tmp_path / "out" / "nested" / "de-id-us.dcm")
    # scan.jpg and scan.png would collide: the second (in sorted order) keeps its extension.
    assert tasks["scan.jpg"].png() == str(tmp_path / "out" / "de-id-scan.png")
    assert tasks["scan.png"].png() == str(tmp_path / "out" / "de-id-scan.png.png")
    with pytest.raises(FileNotFoundError, match="no such file"):
        plan([str(tmp_path / "missing")])
    # file:// URIs are local paths.
    assert [t.input for t in plan([f"file://{folder}/scan.png"])] == [str(folder / "scan.png")]


def test_folder_run_fails_closed_and_reports_without_phi(folder, tmp_path):
    out = tmp_path / "out"
    result = run([str(folder)], str(out), _options())
    summary = result.report["summary"]
    assert (summary["ok"], summary["failed"], summary["skipped"]) == (2, 4, 0)
    assert not result.ok
    # Good inputs: a PNG each, and a DICOM for the DICOM.
    assert (out / "de-id-scan.png").is_file()
    assert (out / "nested" / "de-id-us.png").is_file() and (out / "nested" / "de-id-us.dcm").is_file()
    # Bad inputs: no output under any name, a clear error each.
    produced = sorted(p.name for p in out.rglob("de-id-*"))
    assert produced == ["de-id-scan.png", "de-id-us.dcm", "de-id-us.png"]
    errors = {Path(r["input"]).name: r["error"] for r in result.records if r["status"] == "failed"}
    assert set(errors) == {"empty.png", "notes.txt", "cut.png", "broken.dcm"}
    assert "empty" in errors["empty.png"]["message"]
    assert "not a supported image" in errors["notes.txt"]["message"]
    assert all(e["stage"] == "read" for e in errors.values())
    # The report: where it says, entity types and boxes, never the PHI text.
    text = Path(result.report_uri).read_text()
    assert Path(result.report_uri).parent == out
    for phi in PHI_STRINGS:
        assert phi not in text
    report = json.loads(text)
    scan = next(r for r in report["images"] if r["input"].endswith("scan.png"))
    types = {r["type"] for r in scan["frames"][0]["redactions"]}
    assert {"NAME", "ID", "DATE"} <= types
    assert report["options"]["mode"] == "default" and "key" not in report["options"]


def test_rerun_skips_done_inputs_and_force_redoes_them(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    (source / "scan.png").write_bytes(encode(render(PHI_LINES)))
    first = run([str(source)], None, _options())
    assert first.report["summary"]["ok"] == 1
    assert (source / "de-id-scan.png").is_file()  # next to the input, as published
    again = run([str(source)], None, _options())
    assert again.report["summary"]["skipped"] == 1 and again.report["summary"]["ok"] == 0
    # Outputs and reports next to the inputs are never taken for inputs.
    assert len(again.records) == 1
    forced = run([str(source)], None, _options(), force=True)
    assert forced.report["summary"]["ok"] == 1


def test_redacted_png_hides_the_phi_pixels(tmp_path, detector):
    source = tmp_path / "scan.png"
    source.write_bytes(encode(render(PHI_LINES)))
    result = run([str(source)], str(tmp_path / "out"), _options(color="#00ff00", dpi=96))
    from PIL import Image

    image = Image.open(tmp_path / "out" / "de-id-scan.png")
    assert round(image.info["dpi"][0]) == 96
    pixels = np.asarray(image.convert("RGB"))
    words = [w.text for line in detector.detect(pixels) for w in line.words]
    for phi in ("DOE,", "JOHN", "48213377", "03/14/1962", "61Y"):
        assert phi not in words, words
    assert "kVp" in words and "120" in words  # technical text kept
    assert (pixels == (0, 255, 0)).all(axis=-1).sum() > 1000
    assert result.ok


def test_workers_in_processes_give_the_same_result(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    for i in range(3):
        (source / f"s{i}.png").write_bytes(encode(render(PHI_LINES)))
    one = run([str(source)], str(tmp_path / "a"), _options(), workers=1)
    two = run([str(source)], str(tmp_path / "b"), _options(), workers=2)
    assert two.report["workers"] == 2 and two.ok and one.ok
    boxes = lambda r: [[x["box"] for x in rec["frames"][0]["redactions"]] for rec in r.records]  # noqa: E731
    assert boxes(one) == boxes(two)


def test_s3_in_and_out(s3_root, tmp_path):
    storage.write_bytes(f"{s3_root}/incoming/day1/scan.png", encode(render(PHI_LINES)))
    storage.write_bytes(f"{s3_root}/incoming/us.dcm", US_GREY.read_bytes())
    result = run([f"{s3_root}/incoming"], f"{s3_root}/deid", _options())
    assert result.ok and result.report["summary"]["ok"] == 2
    assert storage.exists(f"{s3_root}/deid/day1/de-id-scan.png")
    assert storage.exists(f"{s3_root}/deid/de-id-us.dcm")
    assert result.report_uri.startswith(f"{s3_root}/deid/deid-report-")
    assert json.loads(storage.read_text(result.report_uri))["summary"]["ok"] == 2


def test_bad_options_fail_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="unknown mode"):
        run([str(tmp_path)], None, _options(mode="lenient"))
    with pytest.raises(ValueError, match="unknown colour"):
        run([str(tmp_path)], None, _options(color="blurple"))
    with pytest.raises(ValueError, match="unknown engine"):
        run([str(tmp_path)], None, _options(), engine="spark")


def test_pseudonym_csv(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("patient_id,pseudonym\n00079241539,SUBJ-001\n")
    assert read_pseudonyms(str(path)) == {"00079241539": "SUBJ-001"}
    path.write_text("00079241539\n")
    with pytest.raises(ValueError, match="line 1: expected two columns"):
        read_pseudonyms(str(path))


@pytest.mark.ray
def test_ray_engine_runs_one_task_per_image(tmp_path):
    ray = pytest.importorskip("ray")
    source = tmp_path / "in"
    source.mkdir()
    (source / "a.png").write_bytes(encode(render(PHI_LINES)))
    (source / "bad.png").write_bytes(b"")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        result = run([str(source)], str(tmp_path / "out"), _options(), engine="ray")
    finally:
        ray.shutdown()
    assert result.report["engine"] == "ray"
    assert (result.report["summary"]["ok"], result.report["summary"]["failed"]) == (1, 1)
    assert (tmp_path / "out" / "de-id-a.png").is_file() and not (tmp_path / "out" / "de-id-bad.png").exists()


def test_an_image_whose_worker_died_is_failed_and_leaves_nothing(tmp_path):
    from openmaker.deid.batch import Task, _lost

    task = Task(str(tmp_path / "us.dcm"), str(tmp_path / "out"), "us")
    (tmp_path / "out").mkdir()
    Path(task.dicom()).write_bytes(b"half written")  # the DICOM goes first, the main PNG never came
    record = _lost(task, RuntimeError("A process in the process pool was terminated abruptly"))
    assert record["status"] == "failed" and record["error"]["stage"] == "worker"
    assert "terminated abruptly" in record["error"]["message"]
    assert not Path(task.dicom()).exists()
