"""De-identifying many images: plan, run in worker processes (or Ray), report.

Inputs are files, folders and ``s3://`` prefixes, walked recursively. Each
input ``<dir>/<name>.<ext>`` gives ``de-id-<name>.png`` (the published
workflow's output; ``de-id-<name>-frame-NNNN.png`` for further frames of a
multi-frame DICOM) and, for DICOM, ``de-id-<name>.dcm`` -- next to the input,
or under ``out`` with the same relative layout. The main PNG is written last,
so its presence means the input is done: a rerun skips it (resumable).

Fail closed: an image whose reading, OCR, detection or verification fails
gets no output at all; it is listed in the report and the run counts it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import posixpath
import secrets
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from openmaker import storage
from openmaker.deid.errors import DeidError

ENGINES = ("local", "ray")
#: Extensions dropped from an input's name to make its output name.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm", ".dicom")
OUTPUT_PREFIX = "de-id-"
REPORT_PREFIX = "deid-report"
REPORT_VERSION = 1


@dataclass(frozen=True)
class Task:
    """One input and where its outputs go."""

    input: str
    out_dir: str
    stem: str

    def png(self, frame: int = 0) -> str:
        suffix = "" if frame == 0 else f"-frame-{frame + 1:04d}"
        return storage.join(self.out_dir, f"{OUTPUT_PREFIX}{self.stem}{suffix}.png")

    def dicom(self) -> str:
        return storage.join(self.out_dir, f"{OUTPUT_PREFIX}{self.stem}.dcm")


def _basename(uri: str) -> str:
    return posixpath.basename(uri.rstrip("/")) if storage.is_remote(uri) else os.path.basename(uri.rstrip(os.sep))


def _dirname(uri: str) -> str:
    return posixpath.dirname(uri.rstrip("/")) if storage.is_remote(uri) else os.path.dirname(os.path.abspath(uri))


def is_own_output(name: str) -> bool:
    """Files a run writes (outputs, reports, partial writes): never inputs."""
    return name.startswith((OUTPUT_PREFIX, REPORT_PREFIX, ".")) or name.endswith(".part")


def _stem(name: str) -> str:
    root, ext = os.path.splitext(name)
    return root if ext.lower() in IMAGE_EXTENSIONS and root else name


def plan(inputs: Iterable[str], out: str | None = None) -> list[Task]:
    """Every image under ``inputs`` and its output folder; ``FileNotFoundError`` for a missing input."""
    tasks: list[Task] = []
    seen_outputs: set[str] = set()
    for given in inputs:
        given = os.fspath(given)
        if given.startswith("file://"):
            given = given[len("file://") :]  # file:///data/scans -> /data/scans
        if not storage.is_remote(given):
            given = os.path.abspath(os.path.expanduser(given))
        if not storage.exists(given):
            raise FileNotFoundError(f"no such file, folder or prefix: {given}")
        files = storage.list_uris(given)
        single = files == [given]
        root = _dirname(given) if single else given.rstrip("/")
        for uri in files:
            name = _basename(uri)
            if is_own_output(name):
                continue
            rel_dir = _dirname(uri)[len(root) :].strip("/").strip(os.sep) if not single else ""
            if out is None:
                out_dir = _dirname(uri)
            else:
                out_dir = storage.join(out, *rel_dir.replace(os.sep, "/").split("/")) if rel_dir else out
            stem = _stem(name)
            # a.png and a.jpg side by side would both become de-id-a.png: keep the extension then.
            if storage.join(out_dir, stem) in seen_outputs:
                stem = name
            seen_outputs.add(storage.join(out_dir, stem))
            tasks.append(Task(uri, out_dir, stem))
    return tasks


@dataclass
class RunOptions:
    """The per-image options (``DeidOptions`` fields) as plain data, so they travel to workers."""

    color: Any = "red"
    dpi: int = 72
    threshold: float = 0.0
    mode: str = "default"
    allow_list: tuple[str, ...] = ()
    verify: bool = False
    retain_dates: bool = False
    pseudonyms: dict[str, str] | None = None
    key: bytes = b""
    ocr_threads: int | None = None
    enhance: bool = True
    faint_text: bool = True
    engines: tuple[str, ...] = ("rapidocr",)
    text_model: str | None = None

    def deid_options(self):
        from openmaker.deid.process import DeidOptions

        return DeidOptions(**asdict(self))

    def summary(self) -> dict[str, Any]:
        """What the report records of the options (never the key or the pseudonyms)."""
        options = self.deid_options()
        return {
            "color": list(options.color),
            "dpi": self.dpi,
            "threshold": self.threshold,
            "mode": self.mode,
            "allow_list": list(self.allow_list),
            "verify": self.verify,
            "enhance": self.enhance,
            "faint_text": self.faint_text,
            "engines": list(self.engines),
            "text_model": self.text_model or "shipped",
            "retain_dates": self.retain_dates,
            "pseudonym_map": bool(self.pseudonyms),
        }


def process_task(task: Task, options: RunOptions, force: bool = False) -> dict[str, Any]:
    """De-identify one input and write its outputs; the report entry, whatever happens."""
    from openmaker.deid.process import deidentify_image

    record: dict[str, Any] = {"input": task.input}
    started = time.perf_counter()
    try:
        if not force and storage.exists(task.png()):
            record.update(status="skipped", reason=f"already de-identified: {task.png()} exists")
            return record
        try:
            data = storage.read_bytes(task.input)
        except OSError as exc:
            raise _ReadFailed(f"cannot read {task.input}: {exc}") from exc
        result = deidentify_image(data, _basename(task.input), options.deid_options())
        outputs: list[str] = []
        if result.dicom is not None:
            storage.write_bytes(task.dicom(), result.dicom)
            outputs.append(task.dicom())
        for frame in range(len(result.pngs) - 1, -1, -1):  # the main PNG last: it marks the input done
            storage.write_bytes(task.png(frame), result.pngs[frame])
            outputs.append(task.png(frame))
        record.update(status="ok", outputs=sorted(outputs), **result.report())
    except (DeidError, _ReadFailed) as exc:
        record.update(status="failed", error={"stage": getattr(exc, "stage", "read"), "message": str(exc)})
    except Exception as exc:  # a bug must still not stop the batch, nor leave an output
        record.update(status="failed", error={"stage": "internal", "message": f"{type(exc).__name__}: {exc}"})
    if record["status"] == "failed":
        _remove_partial_outputs(task)
    record.setdefault("seconds", round(time.perf_counter() - started, 4))
    return record


class _ReadFailed(Exception):
    stage = "read"


def _remove_partial_outputs(task: Task) -> None:
    # Only the DICOM can be there without the main PNG (it is written first).
    try:
        fs, path = storage.filesystem(task.dicom())
        if fs.exists(path) and not storage.exists(task.png()):
            fs.rm(path)
    except Exception:
        pass


# --- worker processes ------------------------------------------------------------


def _lost(task: Task, exc: BaseException) -> dict[str, Any]:
    """The report entry of an image whose worker died before answering."""
    _remove_partial_outputs(task)
    return {"input": task.input, "status": "failed", "error": {"stage": "worker", "message": f"the worker died: {type(exc).__name__}: {exc}"}}


def _init_worker(threads: int) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    from openmaker.deid.ocr import shared_detector

    shared_detector(threads)


def _run_local(tasks: list[Task], options: RunOptions, workers: int, force: bool, on_done: Callable[[dict], None]):
    if workers <= 1:
        for task in tasks:
            on_done(process_task(task, options, force))
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    threads = max(1, (os.cpu_count() or 1) // workers)
    options = RunOptions(**{**asdict(options), "ocr_threads": options.ocr_threads or threads})
    # spawn: a forked child would inherit onnxruntime's thread pools in whatever state they are.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(threads,)) as pool:
        futures = {pool.submit(process_task, task, options, force): task for task in tasks}
        for future in as_completed(futures):
            try:
                on_done(future.result())
            except Exception as exc:  # the worker process died (killed, out of memory): that image failed
                on_done(_lost(futures[future], exc))


def _run_ray(tasks: list[Task], options: RunOptions, force: bool, on_done: Callable[[dict], None]):
    try:
        import ray
    except ImportError as exc:
        raise ModuleNotFoundError("the ray engine needs ray: pip install 'openmaker[ray]'") from exc
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        ray.init(address=address) if address else ray.init(include_dashboard=False)
    options = RunOptions(**{**asdict(options), "ocr_threads": options.ocr_threads or 1})
    remote = ray.remote(num_cpus=1, max_retries=1)(process_task)
    refs = {remote.remote(task, options, force): task for task in tasks}
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        for ref in done:
            try:
                on_done(ray.get(ref))
            except Exception as exc:  # the task's worker died: that image failed
                on_done(_lost(refs[ref], exc))


# --- the run ---------------------------------------------------------------------


@dataclass
class RunResult:
    report: dict[str, Any]
    report_uri: str | None
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return self.report["summary"]["failed"]

    @property
    def ok(self) -> bool:
        return self.failed == 0


def default_workers(n_tasks: int) -> int:
    return max(1, min(os.cpu_count() or 1, n_tasks))


def run(
    inputs: Iterable[str],
    out: str | None = None,
    options: RunOptions | None = None,
    *,
    workers: int | None = None,
    engine: str = "local",
    force: bool = False,
    report: str | None = None,
    progress: bool = False,
) -> RunResult:
    """De-identify every image under ``inputs``; writes outputs and a JSON report, returns both."""
    options = options or RunOptions()
    options.deid_options()  # validate before any work
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; use one of: {', '.join(ENGINES)}")
    inputs = list(inputs)
    if not inputs:
        raise ValueError("no input given: name image files, folders or s3:// prefixes")
    tasks = plan(inputs, out)
    workers = workers or default_workers(len(tasks))
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    started_at = datetime.now(timezone.utc)
    started = time.perf_counter()
    records: list[dict[str, Any]] = []
    bar, bar_task = _progress(progress, len(tasks))
    failed = 0

    def on_done(record: dict[str, Any]) -> None:
        nonlocal failed
        records.append(record)
        failed += record["status"] == "failed"
        if bar is not None:
            bar.update(bar_task, advance=1, failed=failed)

    try:
        if engine == "ray":
            _run_ray(tasks, options, force, on_done)
        else:
            _run_local(tasks, options, workers, force, on_done)
    finally:
        if bar is not None:
            bar.stop()
    elapsed = time.perf_counter() - started
    order = {task.input: i for i, task in enumerate(tasks)}
    records.sort(key=lambda r: order.get(r["input"], 0))
    document = build_report(records, options, started_at, elapsed, engine=engine, workers=workers)
    report_uri = report or _default_report_uri(inputs, out, started_at)
    storage.write_text(report_uri, json.dumps(document, indent=2) + "\n")
    return RunResult(document, report_uri, records)


def build_report(records, options: RunOptions, started_at: datetime, elapsed: float, **extra) -> dict[str, Any]:
    """The run's report: options, a summary and one entry per image (types, scores, boxes; no PHI text)."""
    statuses = Counter(r["status"] for r in records)
    by_type: Counter[str] = Counter()
    for record in records:
        for frame in record.get("frames", []):
            by_type.update(r["type"] for r in frame["redactions"])
    processed = statuses["ok"] + statuses["failed"]
    return {
        "version": REPORT_VERSION,
        "started": started_at.isoformat(timespec="seconds"),
        "seconds": round(elapsed, 3),
        **extra,
        "options": options.summary(),
        "summary": {
            "images": len(records),
            "ok": statuses["ok"],
            "failed": statuses["failed"],
            "skipped": statuses["skipped"],
            "redactions": sum(by_type.values()),
            "by_type": dict(sorted(by_type.items())),
            "images_per_second": round(processed / elapsed, 3) if elapsed > 0 and processed else 0.0,
        },
        "images": records,
    }


def _default_report_uri(inputs: list[str], out: str | None, started_at: datetime) -> str:
    name = f"{REPORT_PREFIX}-{started_at.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(2)}.json"
    if out is not None:
        return storage.join(out, name)
    first = inputs[0]
    if not storage.is_remote(first):
        first = os.path.abspath(os.path.expanduser(first))
        base = first if os.path.isdir(first) else os.path.dirname(first)
    else:
        files = storage.list_uris(first)
        base = _dirname(first) if files == [first] else first
    return storage.join(base, name)


def _progress(enabled: bool, total: int):
    if not enabled:
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("de-identifying"), BarColumn(), MofNCompleteColumn(), TextColumn("images"),
        TextColumn("[red]{task.fields[failed]} failed"), TimeElapsedColumn(),
        console=Console(stderr=True), transient=False,
    )  # fmt: skip
    bar.start()
    return bar, bar.add_task("deid", total=total, failed=0)


# --- keys and pseudonyms -----------------------------------------------------------


def load_or_create_key(path: str | os.PathLike[str]) -> bytes:
    """The batch secret at ``path`` (created, mode 0600, on first use).

    New UIDs, pseudonyms and date offsets derive from it, so reruns and other
    batches with the same key map the same study to the same new UIDs. Anyone
    with the key can check a guessed original UID: keep it private.
    """
    path = Path(path).expanduser()
    if path.is_file():
        key = bytes.fromhex(path.read_text().strip())
        if len(key) < 16:
            raise ValueError(f"key file {path} holds fewer than 16 bytes of key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex() + "\n")
    return key


def read_pseudonyms(uri: str) -> dict[str, str]:
    """A site's pseudonym map: CSV rows ``original_patient_id,pseudonym`` (a header row is allowed)."""
    text = storage.read_text(uri)
    mapping: dict[str, str] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise ValueError(f"{uri} line {number}: expected two columns: original patient ID, pseudonym")
        original, pseudonym = row[0].strip(), row[1].strip()
        if number == 1 and original.lower() in ("patientid", "patient_id", "original", "original_patient_id"):
            continue
        if original in mapping and mapping[original] != pseudonym:
            raise ValueError(f"{uri} line {number}: patient ID on line {number} is mapped twice")
        mapping[original] = pseudonym
    if not mapping:
        raise ValueError(f"{uri} holds no pseudonyms")
    return mapping
