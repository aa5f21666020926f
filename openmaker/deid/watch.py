"""``openmaker deid watch IN OUT``: de-identify each new file as it lands (the bucket trigger).

``IN`` is a local folder or an ``s3://`` prefix; it is listed every
``interval`` seconds. A file is taken once its size and modification time
have held still for one interval (a file still being copied is left alone),
and only if ``OUT`` holds no output for it yet -- so a restarted watcher picks
up where it stopped. Every image processed adds one JSON line to
``OUT/deid-report-watch.jsonl``; a failed file is not retried until it
changes.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable

from openmaker import storage
from openmaker.deid.batch import RunOptions, Task, plan, process_task

WATCH_REPORT = "deid-report-watch.jsonl"


def _fingerprint(uri: str) -> tuple[Any, Any]:
    fs, path = storage.filesystem(uri)
    info = fs.info(path)
    return info.get("size"), info.get("mtime") or info.get("LastModified") or info.get("ETag")


def watch(
    source: str,
    out: str,
    options: RunOptions | None = None,
    *,
    interval: float = 2.0,
    stop: threading.Event | None = None,
    on_record: Callable[[dict], None] | None = None,
    max_polls: int | None = None,
    on_error: Callable[[str], None] | None = None,
) -> int:
    """Watch ``source`` until ``stop`` is set (or ``max_polls`` listings); returns images processed."""
    options = options or RunOptions()
    options.deid_options()  # bad options fail now, not on the first file
    if interval <= 0:
        raise ValueError(f"interval must be positive, got {interval}")
    if not storage.is_remote(source) and not storage.exists(source):
        raise FileNotFoundError(f"no such folder to watch: {source}")
    stop = stop or threading.Event()
    report_uri = storage.join(out, WATCH_REPORT)
    previous: dict[str, tuple] = {}
    failed: dict[str, tuple] = {}
    processed = polls = 0
    while not stop.is_set():
        polls += 1
        current: dict[str, tuple] = {}
        try:
            tasks: list[Task] = plan([source], out) if storage.exists(source) else []
            for task in tasks:
                try:
                    current[task.input] = _fingerprint(task.input)
                except FileNotFoundError:
                    continue
        except OSError as exc:  # a store that is briefly unreachable must not end a long-running watch
            if on_error is not None:
                on_error(f"cannot list {source}: {exc}; trying again in {interval:g}s")
            tasks = []
        for task in tasks:
            mark = current.get(task.input)
            if mark is None or previous.get(task.input) != mark or failed.get(task.input) == mark:
                continue  # new or still changing (wait one interval), or failed as it is now
            if storage.exists(task.png()):
                continue
            record = process_task(task, options)
            record["time"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            _append(report_uri, record)
            processed += record["status"] == "ok"
            if record["status"] == "failed":
                failed[task.input] = mark
            if on_record is not None:
                on_record(record)
            if stop.is_set():
                break
        previous = current
        if max_polls is not None and polls >= max_polls:
            break
        stop.wait(interval)
    return processed


def _append(uri: str, record: dict) -> None:
    line = json.dumps(record) + "\n"
    if storage.is_remote(uri):
        existing = storage.read_text(uri) if storage.exists(uri) else ""
        storage.write_text(uri, existing + line)
        return
    import os

    os.makedirs(os.path.dirname(uri), exist_ok=True)
    with open(uri, "a", encoding="utf-8") as handle:
        handle.write(line)
