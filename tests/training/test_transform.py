"""Batch transform: split, batch, assemble, bad records, pipelines, S3 and the CLI."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openmaker import storage
from openmaker.training.transform import (
    TransformError,
    TransformInputError,
    assemble,
    batch_transform,
    mini_batches,
    split_records,
)
from openmaker.training.transform_cli import transform_app

# A script-mode model: each CSV row (or JSON list of rows) is multiplied by
# ``mul`` and shifted by ``add``; a row containing "bad" raises ValueError; a
# row "env" answers with the batch strategy the worker was started with.
INFERENCE_PY = textwrap.dedent(
    '''
    import json, os

    def model_fn(model_dir):
        with open(os.path.join(model_dir, "params.json")) as f:
            return json.load(f)

    def _row(model, row):
        if "bad" in row:
            raise ValueError(f"cannot read row {row!r}")
        if row == "env":
            return os.environ.get("SAGEMAKER_BATCH_STRATEGY", "unset")
        values = [float(v) * model["mul"] + model["add"] for v in row.split(",")]
        return ",".join(f"{v:g}" for v in values)

    def transform_fn(model, data, content_type, accept):
        if content_type == "application/json":
            rows = [",".join(str(v) for v in r) for r in json.loads(data)]
        else:
            rows = [r for r in data.split("\\n") if r.strip()]
        out = [_row(model, r) for r in rows]
        if accept == "application/json":
            return json.dumps([[float(v) for v in r.split(",")] for r in out]), "application/json"
        return "\\n".join(out) + "\\n", "text/csv"
    '''
)


def _make_model(root: Path, name: str, mul: float, add: float) -> Path:
    model = root / name
    (model / "code").mkdir(parents=True)
    (model / "code" / "inference.py").write_text(INFERENCE_PY)
    (model / "params.json").write_text(json.dumps({"mul": mul, "add": add}))
    return model


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {"double": _make_model(root, "double", 2, 0), "plus_one": _make_model(root, "plus_one", 1, 1)}


@pytest.fixture
def data(tmp_path) -> Path:
    folder = tmp_path / "input"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_text("1,2\n3,4\n5,6\n")
    (folder / "sub" / "b.csv").write_text("10\n\n20\n30")  # a blank line, no final newline
    return folder


def _read(path: Path) -> str:
    return path.read_text()


def _run(models, input_uri, output_uri, **options):
    """``batch_transform`` with the tests' defaults: CSV answers, one worker, no progress bar."""
    options.setdefault("accept", "text/csv")
    options.setdefault("workers", 1)
    options.setdefault("progress", False)
    return batch_transform(models, str(input_uri), str(output_uri), **options)


# -- pure helpers ---------------------------------------------------------------
def test_split_records_keeps_line_numbers_and_drops_blank_lines():
    records = split_records(b"a\r\n\n  \nb\n", "Line")
    assert [(r.line, r.data) for r in records] == [(1, b"a"), (4, b"b")]
    assert [(r.line, r.data) for r in split_records(b"a\nb", "None")] == [(None, b"a\nb")]
    assert split_records(b"", "None") == []


def test_mini_batches_respect_the_payload():
    records = split_records(b"aaaa\nbbbb\ncccc\ndddd\n", "Line")
    sizes = [len(b) for b in mini_batches(records, "MultiRecord", 9)]  # "aaaa\nbbbb" is 9 bytes
    assert sizes == [2, 2]
    assert [len(b) for b in mini_batches(records, "SingleRecord", 100)] == [1, 1, 1, 1]


def test_assemble():
    assert assemble([b"1\n", b"2"], "Line") == b"1\n2\n"
    assert assemble([b"1\n", b"2"], "None") == b"1\n2"


# -- jobs -----------------------------------------------------------------------
def test_local_folder_two_objects_in_order(models, data, tmp_path):
    out = tmp_path / "out"
    result = _run([models["double"]], str(data), str(out), workers=2, progress=False)
    assert _read(out / "a.csv.out") == "2,4\n6,8\n10,12\n"
    assert _read(out / "sub" / "b.csv.out") == "20\n40\n60\n"
    assert result.objects == 2 and result.records == 6 and result.failed_records == 0
    assert sorted(result.outputs) == sorted([str(out / "a.csv.out"), str(out / "sub" / "b.csv.out")])
    assert result.elapsed > 0 and result.records_per_s > 0


def test_strategies_payload_split_and_assemble(models, tmp_path):
    """One model load per option would be slow: each option runs against the same input here."""
    src = tmp_path / "in.csv"
    rows = [f"{i},{i + 1}" for i in range(200)]
    src.write_text("\n".join(rows) + "\n")
    expected = "".join(f"{2 * i:g},{2 * (i + 1):g}\n" for i in range(200))
    model = models["double"]

    multi = _run(model, str(src), str(tmp_path / "multi"), workers=1, progress=False)
    single = _run(
        model, str(src), str(tmp_path / "single"), strategy="SingleRecord", workers=2, progress=False
    )
    small = _run(
        model, str(src), str(tmp_path / "small"), max_payload_mb=64 / 2**20, workers=2, progress=False
    )
    for name in ("multi", "single", "small"):
        assert _read(tmp_path / name / "in.csv.out") == expected, name
    assert multi.requests == 1
    assert single.requests == 200
    assert 200 / 10 <= small.requests < 200  # ~7-8 rows of up to 9 bytes fit in 64 bytes

    # split None: the whole object is one request; the model answers one body for it.
    whole = _run(
        model, str(src), str(tmp_path / "whole"), split_type="None", assemble_with="None", workers=1, progress=False
    )
    assert whole.records == 1 and whole.requests == 1
    assert _read(tmp_path / "whole" / "in.csv.out") == expected


def test_assemble_none_concatenates_answers(models, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("1\n2\n3\n")
    _run(
        models["double"], str(src), str(tmp_path / "none"), strategy="SingleRecord", assemble_with="None",
        workers=1, progress=False,
    )  # fmt: skip
    # Each answer ends in "\n" (the model's own), kept as is.
    assert _read(tmp_path / "none" / "in.csv.out") == "2\n4\n6\n"
    _run(
        models["double"], str(src), str(tmp_path / "line"), strategy="SingleRecord", split_type="None",
        assemble_with="Line", workers=1, progress=False,
    )  # fmt: skip
    assert _read(tmp_path / "line" / "in.csv.out") == "2\n4\n6\n"


def test_bad_record_fails_the_job_naming_file_and_line(models, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "file.csv").write_text("1\n2\nbad\n4\n5\n6\n7\n8\n")
    with pytest.raises(TransformError, match=r"file\.csv line 3.*cannot read row 'bad'"):
        _run(models["double"], str(folder), str(tmp_path / "out"), workers=1, progress=False)
    assert not (tmp_path / "out" / "file.csv.out").exists()


def test_skip_bad_records(models, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "file.csv").write_text("1\n2\nbad\n4\nalso bad\n6\n")
    result = _run(
        models["double"], str(folder), str(tmp_path / "out"), skip_bad_records=True, workers=1, progress=False
    )
    assert result.failed_records == 2 and result.records == 6
    assert [(b.object, b.line) for b in result.bad_records] == [("file.csv", 3), ("file.csv", 5)]
    assert _read(tmp_path / "out" / "file.csv.out") == "2\n4\n8\n12\n"


def test_batch_environment_reaches_the_workers(models, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("env\n")
    _run(models["double"], str(src), str(tmp_path / "out"), strategy="SingleRecord", workers=1, progress=False)
    assert _read(tmp_path / "out" / "in.csv.out") == "SINGLE_RECORD\n"


def test_two_model_pipeline(models, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("1,2\n3\n")
    result = _run([models["double"], models["plus_one"]], src, tmp_path / "out", progress=True)
    assert _read(tmp_path / "out" / "in.csv.out") == "3,5\n7\n"
    assert result.records == 2


def test_pipeline_bad_record_names_the_stage(models, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("1\nbad\n")
    with pytest.raises(TransformError, match=r"in\.csv line 2.*stage 1"):
        _run([models["double"], models["plus_one"]], str(src), str(tmp_path / "o"), workers=1, progress=False)


def test_s3_input_output_and_model(models, s3_root, data):
    storage.upload(data, f"{s3_root}/input")
    storage.upload(models["double"], f"{s3_root}/models/double")
    result = _run(f"{s3_root}/models/double", f"{s3_root}/input/", f"{s3_root}/output", workers=1, progress=False)
    assert result.objects == 2
    assert storage.read_text(f"{s3_root}/output/a.csv.out") == "2,4\n6,8\n10,12\n"
    assert storage.read_text(f"{s3_root}/output/sub/b.csv.out") == "20\n40\n60\n"


def test_bad_input(models, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TransformInputError, match="no input objects"):
        _run(models["double"], str(empty), str(tmp_path / "out"), progress=False)
    with pytest.raises(TransformInputError, match="split_type"):
        _run(models["double"], str(empty), str(tmp_path / "out"), split_type="Lines")
    with pytest.raises(TransformInputError, match="does not exist"):
        (tmp_path / "x.csv").write_text("1\n")
        _run(tmp_path / "nope", str(tmp_path / "x.csv"), str(tmp_path / "out"), progress=False)
    with pytest.raises(NotImplementedError, match="RecordIO"):
        _run(models["double"], empty, tmp_path / "out", split_type="RecordIO")
    with pytest.raises(TransformInputError, match="at most 15"):
        _run([models["double"]] * 16, str(tmp_path / "x.csv"), str(tmp_path / "out"))


def test_oversized_record_fails_clearly(models, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("1\n" + "9" * 100 + "\n")
    with pytest.raises(TransformError, match=r"in\.csv line 2 is 100 bytes, over the max payload"):
        _run(models["double"], str(src), str(tmp_path / "o"), max_payload_mb=50 / 2**20, progress=False)


# -- CLI --------------------------------------------------------------------------
def test_cli_exit_codes(models, tmp_path):
    runner = CliRunner()
    src = tmp_path / "in.csv"
    src.write_text("1\n2\nbad\n")
    base = ["--model", str(models["double"]), "--input", str(src), "--workers", "1", "--no-progress",
            "--accept", "text/csv"]  # fmt: skip

    ok = runner.invoke(transform_app, [*base, "--output", str(tmp_path / "ok"), "--skip-bad-records"])
    assert ok.exit_code == 0, ok.output
    assert "1 bad record(s) skipped" in ok.output and "in.csv line 3" in ok.output
    assert _read(tmp_path / "ok" / "in.csv.out") == "2\n4\n"

    failed = runner.invoke(transform_app, [*base, "--output", str(tmp_path / "failed")])
    assert failed.exit_code == 1
    assert "in.csv line 3" in failed.output

    bad = runner.invoke(transform_app, [*base, "--output", str(tmp_path / "x"), "--split-type", "Words"])
    assert bad.exit_code == 2
    assert len(bad.output.strip().splitlines()) == 1 and "split_type" in bad.output

    empty = tmp_path / "empty"
    empty.mkdir()
    none = runner.invoke(transform_app, ["--model", str(models["double"]), "--input", str(empty), "--output", str(tmp_path / "y")])
    assert none.exit_code == 2 and "no input objects" in none.output
