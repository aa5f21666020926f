"""The watcher: new files are de-identified as they land; failures are reported once."""

from __future__ import annotations

import json
import threading
import time

import pytest

from openmaker import storage
from openmaker.deid.batch import RunOptions
from openmaker.deid.watch import WATCH_REPORT, watch
from tests.deid.conftest import PHI_LINES, encode, render

pytest.importorskip("rapidocr")


def _start(source: str, out: str):
    stop = threading.Event()
    records: list[dict] = []
    thread = threading.Thread(
        target=watch, args=(source, out, RunOptions(key=b"k" * 32)),
        kwargs={"interval": 0.2, "stop": stop, "on_record": records.append}, daemon=True,
    )  # fmt: skip
    thread.start()
    return stop, records, thread


def _wait(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_watch_local_folder(tmp_path):
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    (source / "before.png").write_bytes(encode(render(PHI_LINES)))
    stop, records, thread = _start(str(source), str(out))
    try:
        _wait(lambda: (out / "de-id-before.png").is_file())
        (source / "sub").mkdir()
        (source / "sub" / "later.png").write_bytes(encode(render(PHI_LINES)))
        (source / "junk.png").write_bytes(b"not an image")
        _wait(lambda: (out / "sub" / "de-id-later.png").is_file() and len(records) >= 3)
        time.sleep(1.0)  # more polls: the failed file must not be retried while unchanged
    finally:
        stop.set()
        thread.join(30)
    assert not (out / "de-id-junk.png").exists()
    statuses = sorted((r["input"].rsplit("/", 1)[-1], r["status"]) for r in records)
    assert statuses == [("before.png", "ok"), ("junk.png", "failed"), ("later.png", "ok")]
    lines = [json.loads(line) for line in (out / WATCH_REPORT).read_text().splitlines()]
    assert len(lines) == 3 and "JOHN" not in (out / WATCH_REPORT).read_text()


def test_watch_bucket_prefix(s3_root):
    stop, records, thread = _start(f"{s3_root}/landing", f"{s3_root}/clean")
    try:
        time.sleep(0.5)  # the prefix does not exist yet: the watcher waits for it
        storage.write_bytes(f"{s3_root}/landing/a.png", encode(render(PHI_LINES)))
        _wait(lambda: storage.exists(f"{s3_root}/clean/de-id-a.png"))
    finally:
        stop.set()
        thread.join(30)
    assert [r["status"] for r in records] == ["ok"]
    assert storage.exists(f"{s3_root}/clean/{WATCH_REPORT}")


def test_watch_refuses_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder to watch"):
        watch(str(tmp_path / "nope"), str(tmp_path / "out"), max_polls=1)
