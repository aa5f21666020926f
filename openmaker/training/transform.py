"""Batch transform: run a model (or a serial pipeline) over every object under a URI.

SageMaker's ``CreateTransformJob`` semantics, offline. Each object under
``input_uri`` (a local file or folder, ``file://`` or ``s3://``) is split into
records (``split_type="Line"``: one per line; ``"None"``: the whole object),
the records are grouped into requests (``strategy="MultiRecord"``: as many
consecutive records as fit in ``max_payload_mb``, joined by newlines;
``"SingleRecord"``: one per request), the requests run concurrently on the
model's worker processes, and the answers are written in input order to
``<output_uri>/<relative path>.out`` — joined by newlines
(``assemble_with="Line"``) or concatenated (``"None"``).

No HTTP server is involved: a private :class:`ModelRegistry` loads the
model(s) and its requests go straight to the workers' queues.

A request the model answers with an error (4xx/5xx) is split in halves and
retried until the failing record is found; the job then fails naming the
object and the line (``train.csv line 3``), or, with ``skip_bad_records``, the
record is left out of the output and counted. Blank lines are never sent to
the model and have no output line; they still count for line numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from openmaker import storage
from openmaker.serving.errors import InferenceError
from openmaker.serving.protocol import InferenceRequest

__all__ = [
    "BadRecord",
    "TransformError",
    "TransformInputError",
    "TransformResult",
    "batch_transform",
    "run_batch_transform",
    "validate_options",
]

SPLIT_TYPES = ("Line", "None")
ASSEMBLE_TYPES = ("Line", "None")
STRATEGIES = ("MultiRecord", "SingleRecord")
#: SageMaker's limits: 1 to 15 containers in a serial pipeline, payload 0 to 100 MB.
MAX_STAGES = 15
MAX_PAYLOAD_MB = 100
#: Objects held in memory at once (read, split, being transformed).
OPEN_OBJECTS = 4


class TransformInputError(ValueError):
    """The job cannot start: a bad parameter, a missing model, no input objects."""


class TransformError(RuntimeError):
    """The job started and failed: a bad record, a model that cannot load or answer."""


@dataclass(frozen=True)
class BadRecord:
    """A record the model refused: the object (path relative to the input URI), its line, why."""

    object: str
    line: int | None  # None with split_type="None": the whole object is the record
    status: int
    reason: str

    @property
    def where(self) -> str:
        return f"{self.object} line {self.line}" if self.line is not None else f"{self.object} (whole object)"

    def __str__(self) -> str:
        return f"{self.where}: {self.status} {self.reason}"


@dataclass
class TransformResult:
    """What a finished job did."""

    objects: int
    records: int
    failed_records: int
    outputs: list[str]
    elapsed: float
    requests: int = 0
    bad_records: list[BadRecord] = field(default_factory=list)

    @property
    def records_per_s(self) -> float:
        return self.records / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> str:
        text = (
            f"{self.objects} object(s), {self.records} record(s) in {self.elapsed:.2f} s "
            f"({self.records_per_s:.1f} records/s, {self.requests} request(s))"
        )
        if self.failed_records:
            text += f"; {self.failed_records} bad record(s) skipped"
        return text


# -- records and mini-batches ---------------------------------------------------
@dataclass(slots=True)
class _Record:
    line: int | None
    data: bytes


@dataclass
class _Object:
    uri: str
    name: str  # relative to the input URI, "/"-separated
    output: str


def split_records(data: bytes, split_type: str) -> list[_Record]:
    """The records of one object; with ``Line``, blank lines are dropped but keep their numbers."""
    if split_type == "None":
        return [_Record(None, data)] if data else []
    records = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.endswith(b"\r"):
            line = line[:-1]
        if line.strip():
            records.append(_Record(number, line))
    return records


def _join(records: Sequence[_Record]) -> bytes:
    return b"\n".join(r.data for r in records)


def mini_batches(records: list[_Record], strategy: str, max_payload: int) -> Iterator[list[_Record]]:
    """Consecutive records grouped into request bodies of at most ``max_payload`` bytes."""
    if strategy == "SingleRecord":
        for record in records:
            yield [record]
        return
    batch: list[_Record] = []
    size = 0
    for record in records:
        extra = len(record.data) + (1 if batch else 0)
        if batch and size + extra > max_payload:
            yield batch
            batch, size = [], 0
            extra = len(record.data)
        batch.append(record)
        size += extra
    if batch:
        yield batch


def assemble(bodies: list[bytes], assemble_with: str) -> bytes:
    """The output object: answers in order, one per line (``Line``) or back to back (``None``)."""
    if assemble_with == "None":
        return b"".join(bodies)
    out = bytearray()
    for body in bodies:
        out += body[:-1] if body.endswith(b"\n") else body
        out += b"\n"
    return bytes(out)


# -- the models -------------------------------------------------------------------
@contextlib.contextmanager
def _batch_environment(max_payload_mb: float, strategy: str, concurrency: int) -> Iterator[None]:
    """The variables SageMaker sets in a batch transform container, for the workers started inside."""
    values = {
        "SAGEMAKER_BATCH": "true",
        "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(max(1, int(round(max_payload_mb)))),
        "SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD" if strategy == "SingleRecord" else "MULTI_RECORD",
        "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": str(concurrency),
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _local_model(model: str | Path, scratch: Path, index: int) -> Path:
    text = os.fspath(model)
    try:
        remote = storage.is_remote(text)
    except ValueError as exc:
        raise TransformInputError(str(exc)) from exc
    if remote:
        dest = scratch / f"model-{index}"
        dest.mkdir(parents=True, exist_ok=True)
        name = text.rstrip("/").rsplit("/", 1)[-1] or "model"
        from openmaker.serving.archive import ARCHIVE_SUFFIXES

        # An archive file keeps its name (the suffix says how to unpack it); a prefix becomes a folder.
        target = dest / name if text.endswith(ARCHIVE_SUFFIXES) else dest / "model"
        try:
            return storage.download(text, target)
        except FileNotFoundError as exc:
            raise TransformInputError(f"model {text} does not exist") from exc
    if text.startswith("file://"):
        text = storage.filesystem(text)[1]
    path = Path(text).expanduser().resolve()
    if not path.exists():
        raise TransformInputError(f"model {os.fspath(model)} does not exist")
    return path


def _stage_names(labels: list[str]) -> list[str]:
    """Registry names for the models: from their file names, made valid and unique."""
    from openmaker.serving.archive import ARCHIVE_SUFFIXES

    names: list[str] = []
    for label in labels:
        name = label.rstrip("/").replace(os.sep, "/").rsplit("/", 1)[-1]
        for suffix in ARCHIVE_SUFFIXES:
            name = name.removesuffix(suffix)
        name = re.sub(r"[^A-Za-z0-9_.\-]", "-", name)
        if not name or not name[0].isalpha():
            name = f"model-{name}"
        base, n = name, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.append(name)
    return names


# -- the job ----------------------------------------------------------------------
class _Job:
    def __init__(self, stages, labels, *, content_type, accept, split_type, assemble_with, max_payload,
                 strategy, skip_bad_records, concurrency, progress) -> None:  # fmt: skip
        self.stages, self.labels = stages, labels
        self.content_type, self.accept = content_type, accept
        self.split_type, self.assemble_with = split_type, assemble_with
        self.max_payload, self.strategy = max_payload, strategy
        self.skip_bad_records = skip_bad_records
        self.requests = asyncio.Semaphore(concurrency)
        self.open_objects = asyncio.Semaphore(OPEN_OBJECTS)
        self.progress = progress
        self.task_id = None
        self.records = 0
        self.request_count = 0
        self.bad: list[BadRecord] = []

    def _advance(self, n: int) -> None:
        if self.progress is not None:
            self.progress.advance(self.task_id, n)

    def _add_total(self, n: int) -> None:
        if self.progress is not None:
            task = self.progress.tasks[self.task_id]
            self.progress.update(self.task_id, total=(task.total or 0) + n)

    async def _submit(self, body: bytes) -> tuple[int, str, bytes]:
        """``(status, error message, body)`` of one request through every stage.

        The stages run as a SageMaker serial pipeline (``openmaker.serving.pipeline``):
        Content-Type to the first, Accept to the last, JSON in between.
        """
        from openmaker.serving.pipeline import PipelineStageError, run_stages

        request = InferenceRequest(body=body, content_type=self.content_type, accept=self.accept)
        delay = 0.05
        while True:
            async with self.requests:
                self.request_count += 1
                try:
                    response = await run_stages(self.stages, request)
                    return response.status, "", response.body
                except PipelineStageError as exc:
                    message = exc.message
                    if len(self.stages) == 1:  # "stage 1 of 1 (name): " says nothing for one model
                        message = message.split("): ", 1)[-1]
                    if exc.status != 503:
                        # The model refused the request, timed out, or its worker died on it.
                        return exc.status, message, b""
                    if "queue is full" not in message:
                        raise TransformError(f"the model cannot answer: {message}") from exc
            await asyncio.sleep(delay)  # a full queue: wait for room
            delay = min(delay * 2, 1.0)

    async def _transform(self, obj: _Object, batch: list[_Record]) -> list[bytes]:
        """The answers for ``batch``; a failed request is halved until the bad record is found."""
        status, reason, body = await self._submit(_join(batch) if self.split_type == "Line" else batch[0].data)
        if status < 400:
            self._advance(len(batch))
            return [body]
        if len(batch) > 1:
            middle = len(batch) // 2
            first = await self._transform(obj, batch[:middle])
            return first + await self._transform(obj, batch[middle:])
        bad = BadRecord(obj.name, batch[0].line, status, reason)
        if not self.skip_bad_records:
            raise TransformError(f"bad record at {bad}")
        self.bad.append(bad)
        self._advance(1)
        return []

    async def run_object(self, obj: _Object) -> None:
        async with self.open_objects:
            try:
                data = await asyncio.to_thread(storage.read_bytes, obj.uri)
            except OSError as exc:
                raise TransformError(f"cannot read {obj.uri}: {exc}") from exc
            records = split_records(data, self.split_type)
            del data
            for record in records:
                if len(record.data) > self.max_payload:
                    where = f"{obj.name} line {record.line}" if record.line is not None else obj.name
                    raise TransformError(
                        f"record at {where} is {len(record.data)} bytes, over the max payload of "
                        f"{self.max_payload} bytes; raise max_payload_mb or split the input"
                    )
            self.records += len(records)
            self._add_total(len(records))
            batches = list(mini_batches(records, self.strategy, self.max_payload))
            results = await _gather_or_cancel([self._transform(obj, b) for b in batches])
            bodies = [body for result in results for body in result]
            output = assemble(bodies, self.assemble_with)
            try:
                await asyncio.to_thread(storage.write_bytes, obj.output, output)
            except OSError as exc:
                raise TransformError(f"cannot write {obj.output}: {exc}") from exc


async def _gather_or_cancel(coros: list) -> list:
    """Like ``asyncio.gather``, but the first failure cancels the rest and is raised as is."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def _list_objects(input_uri: str, output_uri: str) -> list[_Object]:
    try:
        uris = storage.list_uris(input_uri)
    except ValueError as exc:
        raise TransformInputError(str(exc)) from exc
    except FileNotFoundError:
        uris = []
    except Exception as exc:  # credentials, an unreachable endpoint, s3fs missing
        raise TransformInputError(f"cannot list {input_uri}: {exc}") from exc
    base = input_uri.rstrip("/")
    objects = []
    for uri in uris:
        if uri == input_uri or uri == base:
            rel = base.rsplit("/", 1)[-1]
            if not storage.is_remote(base):
                rel = os.path.basename(storage.filesystem(base)[1])
        else:
            rel = uri[len(base) :].lstrip("/").replace(os.sep, "/")
        if any(part.startswith(".") for part in rel.split("/")):
            continue  # hidden files, partial writes
        objects.append(_Object(uri=uri, name=rel, output=storage.join(output_uri, rel + ".out")))
    return objects


def validate_options(
    models: Sequence[object], split_type: str, assemble_with: str, strategy: str, max_payload_mb: float, workers: int
) -> None:
    """Check a job's options before anything runs: :class:`TransformInputError` naming the bad one
    (``NotImplementedError`` for the split types not supported yet)."""
    if split_type in ("RecordIO", "TFRecord"):
        raise NotImplementedError(f"split_type={split_type!r} is not supported yet; use 'Line' or 'None'")
    if split_type not in SPLIT_TYPES:
        raise TransformInputError(f"split_type must be one of {', '.join(SPLIT_TYPES)}, got {split_type!r}")
    if assemble_with not in ASSEMBLE_TYPES:
        raise TransformInputError(f"assemble_with must be one of {', '.join(ASSEMBLE_TYPES)}, got {assemble_with!r}")
    if strategy not in STRATEGIES:
        raise TransformInputError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if not (0 < max_payload_mb <= MAX_PAYLOAD_MB):
        raise TransformInputError(f"max_payload_mb must be > 0 and <= {MAX_PAYLOAD_MB}, got {max_payload_mb}")
    if workers < 1:
        raise TransformInputError(f"workers must be >= 1, got {workers}")
    if not models:
        raise TransformInputError("name at least one model")
    if len(models) > MAX_STAGES:
        raise TransformInputError(f"a pipeline holds at most {MAX_STAGES} models, got {len(models)}")


async def run_batch_transform(
    models: Sequence[str | Path],
    input_uri: str,
    output_uri: str,
    *,
    content_type: str = "text/csv",
    accept: str | None = None,
    split_type: str = "Line",
    assemble_with: str = "Line",
    max_payload_mb: float = 6,
    strategy: str = "MultiRecord",
    workers: int = 2,
    skip_bad_records: bool = False,
    progress: bool = True,
) -> TransformResult:
    """The async form of :func:`batch_transform`, for callers that already run an event loop."""
    from openmaker.config import get_settings
    from openmaker.serving.registry import ModelRegistry

    models = list(models)
    validate_options(models, split_type, assemble_with, strategy, max_payload_mb, workers)
    input_uri, output_uri = os.fspath(input_uri), os.fspath(output_uri)
    objects = await asyncio.to_thread(_list_objects, input_uri, output_uri)
    if not objects:
        raise TransformInputError(f"no input objects under {input_uri}")
    started = time.perf_counter()
    max_payload = int(max_payload_mb * 1024 * 1024)
    concurrency = max(2, workers * 4)
    base = get_settings()
    scratch_root = base.home / "transform"
    scratch_root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="job-", dir=scratch_root))
    settings = base.model_copy(
        update={"job_queue_size": max(base.job_queue_size, concurrency * 2), "default_batch_size": 1}
    )
    registry = ModelRegistry(settings)
    registry.unpack_root = scratch / "unpacked"
    bar = None
    try:
        paths = [await asyncio.to_thread(_local_model, m, scratch, i) for i, m in enumerate(models)]
        labels = [os.fspath(m) for m in models]
        names = _stage_names(labels)
        stages = []
        with _batch_environment(max_payload_mb, strategy, concurrency):
            for i, path in enumerate(paths):
                try:
                    stage = await registry.register(
                        str(path),
                        model_name=names[i],
                        initial_workers=workers,
                        synchronous=True,
                        trusted=True,
                        persist=False,
                    )
                except InferenceError as exc:
                    what = f"model {labels[i]}" + (f" (stage {i + 1})" if len(paths) > 1 else "")
                    error = TransformError if exc.status >= 500 else TransformInputError
                    raise error(f"cannot load {what}: {exc.message}") from exc
                stages.append(stage)
        if progress:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            from rich.console import Console

            bar = Progress(
                TextColumn("transform"), BarColumn(), MofNCompleteColumn(), TextColumn("records"),
                TimeElapsedColumn(), console=Console(stderr=True), transient=False,
            )  # fmt: skip
            bar.start()
        job = _Job(
            stages, labels, content_type=content_type, accept=accept or "", split_type=split_type,
            assemble_with=assemble_with, max_payload=max_payload, strategy=strategy,
            skip_bad_records=skip_bad_records, concurrency=concurrency, progress=bar,
        )  # fmt: skip
        if bar is not None:
            job.task_id = bar.add_task("transform", total=0)
        await _gather_or_cancel([job.run_object(obj) for obj in objects])
    finally:
        if bar is not None:
            bar.stop()
        await registry.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)
    return TransformResult(
        objects=len(objects),
        records=job.records,
        failed_records=len(job.bad),
        outputs=[obj.output for obj in objects],
        elapsed=time.perf_counter() - started,
        requests=job.request_count,
        bad_records=sorted(job.bad, key=lambda b: (b.object, b.line or 0)),
    )


def batch_transform(
    models: Sequence[str | Path] | str | Path,
    input_uri: str,
    output_uri: str,
    *,
    content_type: str = "text/csv",
    accept: str | None = None,
    split_type: str = "Line",
    assemble_with: str = "Line",
    max_payload_mb: float = 6,
    strategy: str = "MultiRecord",
    workers: int = 2,
    skip_bad_records: bool = False,
    progress: bool = True,
) -> TransformResult:
    """Run ``models`` (one model, or 2 to 15 as a serial pipeline) over every object under ``input_uri``.

    Writes ``<relative path>.out`` per input object under ``output_uri``.
    Raises :class:`TransformInputError` when the job cannot start (bad
    parameters, no model, no input objects) and :class:`TransformError` when
    it fails (a bad record, naming its object and line, unless
    ``skip_bad_records``; a model that cannot load).
    """
    if isinstance(models, (str, Path)):
        models = [models]
    return asyncio.run(
        run_batch_transform(
            models, input_uri, output_uri, content_type=content_type, accept=accept, split_type=split_type,
            assemble_with=assemble_with, max_payload_mb=max_payload_mb, strategy=strategy, workers=workers,
            skip_bad_records=skip_bad_records, progress=progress,
        )
    )  # fmt: skip
