"""``openmaker deid``: the way a user runs it, in a subprocess; exit codes and messages."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.deid.conftest import PHI_LINES, US_GREY, encode, render

pytest.importorskip("rapidocr")


def _cli(*args, cwd=None, timeout=240):
    return subprocess.run(
        [sys.executable, "-m", "openmaker.cli", "deid", *args],
        capture_output=True, text=True, timeout=timeout, cwd=cwd, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip


def test_one_command_for_a_folder(tmp_path):
    source = tmp_path / "scans"
    source.mkdir()
    shutil.copy(US_GREY, source / "us.dcm")
    (source / "scan.png").write_bytes(encode(render(PHI_LINES)))
    result = _cli(str(source), "--out", str(tmp_path / "out"), "--color", "black", "--dpi", "72", "--threshold", "0.0", "-q")
    assert result.returncode == 0, result.stderr
    assert "2 de-identified, 0 skipped, 0 failed" in result.stdout
    assert (tmp_path / "out" / "de-id-us.png").is_file() and (tmp_path / "out" / "de-id-us.dcm").is_file()
    report = next((tmp_path / "out").glob("deid-report-*.json"))
    assert json.loads(report.read_text())["summary"]["ok"] == 2


def test_a_failed_image_makes_the_exit_code_1(tmp_path):
    (tmp_path / "good.png").write_bytes(encode(render(PHI_LINES)))
    (tmp_path / "bad.png").write_bytes(b"")
    result = _cli(str(tmp_path / "good.png"), str(tmp_path / "bad.png"), "-q")
    assert result.returncode == 1
    assert "bad.png: bad.png: the file is empty" in result.stderr or "the file is empty" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "de-id-good.png").is_file() and not (tmp_path / "de-id-bad.png").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--mode", "lenient"], "unknown mode 'lenient'"),
        (["--color", "blurple"], "unknown colour 'blurple'"),
        (["--threshold", "2"], "threshold must be between 0.0 and 1.0"),
        (["--engine", "spark"], "unknown engine 'spark'"),
        (["--ocr", "easyocr"], "unknown OCR engines"),
        (["--text-model", "/nonexistent/textnet.onnx"], "text-region model /nonexistent/textnet.onnx not found"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path, args, message):
    (tmp_path / "a.png").write_bytes(encode(render(PHI_LINES)))
    result = _cli(str(tmp_path / "a.png"), *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_synth_writes_one_image_of_a_set_again(tmp_path):
    result = _cli("synth", str(tmp_path / "one"), "-n", "6", "--seed", "3", "--size", "128", "--only", "4")
    assert result.returncode == 0, result.stderr
    assert "1 images in" in result.stdout
    assert len(list((tmp_path / "one" / "images").iterdir())) == 1
    bad = _cli("synth", str(tmp_path / "bad"), "-n", "6", "--seed", "3", "--size", "128", "--only", "6")
    assert bad.returncode == 2 and "only: image indices must lie in 0..5" in bad.stderr and "Traceback" not in bad.stderr


def test_missing_input_exits_2(tmp_path):
    result = _cli(str(tmp_path / "nothing-here"))
    assert result.returncode == 2 and "no such file, folder or prefix" in result.stderr


def test_detect_text_and_detect_phi_print_aws_shapes(tmp_path):
    (tmp_path / "a.png").write_bytes(encode(render(PHI_LINES)))
    text = _cli("detect-text", str(tmp_path / "a.png"))
    assert text.returncode == 0, text.stderr
    assert any(d["DetectedText"] == "48213377" for d in json.loads(text.stdout)["TextDetections"])
    phi = _cli("detect-phi", "DOB: 03/14/1962 MRN: 48213377")
    assert phi.returncode == 0, phi.stderr
    assert {"DATE", "ID"} <= {e["Type"] for e in json.loads(phi.stdout)["Entities"]}


def test_watch_command_runs_until_interrupted(tmp_path):
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "openmaker.cli", "deid", "watch", str(source), str(out), "--interval", "0.3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        (source / "new.png").write_bytes(encode(render(PHI_LINES)))
        deadline = time.monotonic() + 120
        while not (out / "de-id-new.png").is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (out / "de-id-new.png").is_file()
    finally:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    assert "de-identified" in stdout and "Traceback" not in stderr
