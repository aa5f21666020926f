"""The `openmaker` command: help, archive, zoo, db; bad input gets one clear line and no traceback."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from typer.testing import CliRunner

from openmaker.cli import app

runner = CliRunner()
NOOP = Path(__file__).parent.parent / "examples" / "noop"


def test_help_lists_the_rooms_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("up", "serve", "archive", "bench", "zoo", "db", "version"):
        assert command in result.output


def test_archive_writes_a_tarball_with_a_manifest(tmp_path):
    out = tmp_path / "noop.tar.gz"
    result = runner.invoke(app, ["archive", str(NOOP), "--name", "noop", "--version", "2.0", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with tarfile.open(out) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("MAR-INF/MANIFEST.json"))
    assert "code/inference.py" in names
    assert manifest["model"] == {"modelName": "noop", "modelVersion": "2.0", "handler": "sagemaker"}


def test_archive_bad_input(tmp_path):
    result = runner.invoke(app, ["archive", str(tmp_path / "missing"), "--name", "x", "--out", str(tmp_path / "x.tar.gz")])
    assert result.exit_code == 2
    assert "is not a directory" in result.output
    result = runner.invoke(app, ["archive", str(NOOP), "--name", "9lives", "--out", str(tmp_path / "x.tar.gz")])
    assert result.exit_code == 2
    assert "invalid model name '9lives'" in result.output
    assert "Traceback" not in result.output


def test_zoo_unknown_model(tmp_path):
    result = runner.invoke(app, ["zoo", "build", "resnet-9000", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown zoo model 'resnet-9000'" in result.output


def test_db_upgrade_default_and_bad_url(openmaker_home):
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "openmaker.db is at revision" in result.output
    result = runner.invoke(app, ["db", "upgrade", "--url", "nosuchdriver://x/y"])
    assert result.exit_code == 1
    assert "cannot migrate nosuchdriver://x/y" in result.output
