"""Worker processes as the frontend sees them: start, dispatch, supervise, stop.

Each ``WorkerProcess`` owns one OS process and one dispatcher task. The
dispatcher draws a batch from the model's queue, sends it over the worker's
socket and hands each response to its own request. When the process dies
mid-batch, each request of that batch is retried once on another worker, or
answered 503 if it already had its retry; the process is then restarted
with exponential backoff. A batch that outlives the response timeout kills
the process (it is stuck) and is answered 504.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from openmaker.serving.errors import RequestTimeout, ServiceUnavailable
from openmaker.serving.protocol import Batch, LoadFailed, Ready, Stop, encode, read_message

if TYPE_CHECKING:
    from openmaker.serving.model import ModelVersion

_worker_ids = itertools.count(9000)  # TorchServe numbers workers from 9000
_socket_dir: Path | None = None
BACKOFF_START_S = 0.25
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 30.0  # a worker alive this long resets the backoff


class WorkerState(str, enum.Enum):
    STARTING = "STARTING"
    READY = "READY"
    BUSY = "BUSY"
    RESTARTING = "RESTARTING"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    FAILED = "FAILED"


def socket_dir() -> Path:
    global _socket_dir
    if _socket_dir is None:
        # Unix socket paths are limited to ~107 bytes: keep them short under /tmp.
        _socket_dir = Path(tempfile.mkdtemp(prefix="omk-"))
    return _socket_dir


def cleanup_socket_dir() -> None:
    global _socket_dir
    if _socket_dir is not None:
        shutil.rmtree(_socket_dir, ignore_errors=True)
        _socket_dir = None


class WorkerProcess:
    """One worker process of a model version, with its supervisor and dispatcher."""

    def __init__(self, model: "ModelVersion") -> None:
        self.model = model
        self.id = next(_worker_ids)
        self.name = f"W-{self.id}-{model.name}_{model.version}"
        self.state = WorkerState.STARTING
        self.pid: int | None = None
        self.start_time = time.time()
        self.restarts = 0
        self.last_error: str | None = None
        self.ready = asyncio.Event()  # set at first Ready or first load failure
        self._stopping = False
        self._proc: asyncio.subprocess.Process | None = None
        self._wake = asyncio.Event()
        self._idle = False
        self._interrupt = None  # cancels the dispatch loop while it waits for work
        self._batch_ids = itertools.count(1)
        self.task = asyncio.get_running_loop().create_task(self._supervise(), name=self.name)

    # -- lifecycle -----------------------------------------------------------
    async def _supervise(self) -> None:
        failures = 0
        while not self._stopping:
            started = time.monotonic()
            served = await self._run_once()
            if self._stopping:
                break
            failures = 0 if served and time.monotonic() - started > STABLE_AFTER_S else failures + 1
            self.restarts += 1
            self.state = WorkerState.RESTARTING
            delay = min(BACKOFF_START_S * 2 ** (failures - 1), BACKOFF_MAX_S)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass
        self.state = WorkerState.STOPPED
        self.ready.set()

    async def _run_once(self) -> bool:
        """Start the process, serve until it exits; True if it became ready."""
        self.state = WorkerState.STARTING
        path = socket_dir() / f"{self.id}-{self.restarts}.sock"
        connected: asyncio.Future = asyncio.get_running_loop().create_future()

        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if not connected.done():
                connected.set_result((reader, writer))

        server = await asyncio.start_unix_server(on_connect, path=str(path))
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self._command(path), env=self._env(), stdin=asyncio.subprocess.DEVNULL
            )
            self.pid = self._proc.pid
            self.start_time = time.time()
            exited = asyncio.ensure_future(self._proc.wait())
            try:
                reader, writer = await self._await_first(connected, exited, self.model.startup_timeout)
                hello = await self._await_first(
                    asyncio.ensure_future(read_message(reader)), exited, self.model.startup_timeout
                )
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, _Exited) as exc:
                self.last_error = self.last_error_from(exc)
                self.model.note_load_error(self.last_error)
                await self._kill()
                self.ready.set()
                return False
            if isinstance(hello, LoadFailed):
                self.last_error = hello.error
                self.model.note_load_error(hello.error)
                await self._kill()
                self.ready.set()
                return False
            assert isinstance(hello, Ready)
            self.model.metadata = hello.metadata
            self.model.note_ready()
            self.last_error = None
            self.state = WorkerState.READY
            self.ready.set()
            await self._dispatch(reader, writer, exited)
            return True
        finally:
            server.close()
            path.unlink(missing_ok=True)

    def last_error_from(self, exc: BaseException) -> str:
        if isinstance(exc, TimeoutError):
            return f"worker did not start within {self.model.startup_timeout:g}s"
        code = self._proc.returncode if self._proc else None
        return f"worker process exited during start (exit code {code}); see the server log"

    async def _await_first(self, wanted: asyncio.Future, exited: asyncio.Future, timeout: float):
        done, _ = await asyncio.wait({wanted, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if wanted in done:
            return wanted.result()
        wanted.cancel()
        if exited in done:
            raise _Exited()
        raise TimeoutError()

    def _command(self, path: Path) -> list[str]:
        m = self.model
        return [
            sys.executable, "-m", "openmaker.serving.worker",
            "--socket", str(path),
            "--model-dir", str(m.archive.path),
            "--model-name", m.name,
            "--model-version", m.version,
            "--handler", m.handler,
            "--manifest", json.dumps(m.archive.manifest),
            "--batch-size", str(m.batch_size),
            "--threads", str(m.threads_per_worker),
            "--worker-id", str(self.id),
        ]  # fmt: skip

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        threads = str(self.model.threads_per_worker)
        env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
        env["PYTHONUNBUFFERED"] = "1"  # a dying worker's last words must reach the log
        return env

    # -- dispatching ---------------------------------------------------------
    # The hot path. With batch_size 1, up to ``pipeline_depth`` batches are in flight to one
    # worker: it still runs them one at a time, but never waits for the frontend between
    # two, and the frontend writes while the worker computes. With dynamic batching one
    # batch at a time is in flight, so the next batch fills while the worker is busy.
    # A reader task takes the answers in order; the response timeout runs for the batch the
    # worker is on. No task or extra future is made per batch.
    async def _dispatch(self, reader, writer, exited: asyncio.Future) -> None:
        self._in_flight: deque[_InFlight] = deque()
        self._slot_free = asyncio.Event()
        reader_task = asyncio.ensure_future(self._read_results(reader))
        loop_task = asyncio.ensure_future(self._dispatch_loop(writer, exited, reader_task))

        def interrupt(_=None) -> None:
            self._slot_free.set()
            if self._idle and not loop_task.done():
                loop_task.cancel()

        self._interrupt = interrupt
        exited.add_done_callback(interrupt)
        reader_task.add_done_callback(interrupt)
        try:
            await loop_task
        except asyncio.CancelledError:
            if not loop_task.cancelled():
                raise  # we ourselves were cancelled, not just the loop
        finally:
            exited.remove_done_callback(interrupt)
            self._interrupt = None
        # Stopping: let the batches already sent finish, then ask the worker to exit.
        while self._in_flight and not reader_task.done():
            self._slot_free.clear()
            await self._slot_free.wait()
        if self._stopping and not exited.done():
            try:
                writer.write(encode(Stop()))
                await writer.drain()
                await asyncio.wait_for(asyncio.shield(exited), 5)
            except (TimeoutError, ConnectionError):
                pass
        await self._kill()
        await asyncio.gather(reader_task, return_exceptions=True)
        writer.close()

    async def _dispatch_loop(self, writer, exited: asyncio.Future, reader_task: asyncio.Future) -> None:
        model = self.model
        queue = model.queue
        depth = 1 if model.batch_size > 1 else max(1, model.pipeline_depth)
        while not self._stopping and not exited.done() and not reader_task.done():
            if len(self._in_flight) >= depth:
                self._slot_free.clear()
                await self._slot_free.wait()
                continue
            self._idle = not self._in_flight
            if self._in_flight:  # keep the pipe full only with work that is already waiting
                if any(w is not self and w.state is WorkerState.READY for w in model.workers):
                    # An idle worker takes what arrives; sent here it would wait behind ours.
                    self._slot_free.clear()
                    await self._slot_free.wait()
                    continue
                batch = queue.take_now(model.batch_size)
                if not batch:
                    self._slot_free.clear()
                    self._idle = True
                    waiter = asyncio.ensure_future(queue.arrived())
                    slot = asyncio.ensure_future(self._slot_free.wait())
                    try:
                        await asyncio.wait({waiter, slot}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        waiter.cancel()
                        slot.cancel()
                    continue
            else:
                batch = await queue.next_batch(model.batch_size, model.max_batch_delay_ms / 1000)
            self._idle = False
            if exited.done() or self._stopping or reader_task.done():
                queue.requeue(batch)
                return
            self._send(batch, writer)
            if writer.transport.get_write_buffer_size() > 1 << 20:
                await writer.drain()

    def _send(self, batch: list, writer) -> None:
        model = self.model
        now = asyncio.get_running_loop().time()
        for item in batch:
            item.attempts += 1
            model.metrics.queue_time(now - item.enqueued_at)
        model.metrics.batch(len(batch))
        flight = _InFlight(next(self._batch_ids), batch)
        self._in_flight.append(flight)
        self.state = WorkerState.BUSY
        if len(self._in_flight) == 1:
            self._start_clock()
        writer.write(encode(Batch(batch_id=flight.batch_id, requests=[item.request for item in batch])))

    def _start_clock(self) -> None:
        """The response timeout of the batch the worker is running now (the oldest in flight)."""
        flight = self._in_flight[0]

        def on_timeout() -> None:
            flight.timed_out = True
            self.kill_now()  # a stuck model: its socket closes and the reader sees EOF

        flight.timer = asyncio.get_running_loop().call_later(self.model.response_timeout, on_timeout)

    async def _read_results(self, reader) -> None:
        try:
            while True:
                result = await read_message(reader)
                flight = self._in_flight.popleft()
                flight.timer.cancel()
                if self._in_flight:
                    self._start_clock()
                else:
                    self.state = WorkerState.READY
                for item, response in zip(flight.items, result.responses):
                    item.answer(response)
                self._slot_free.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            self._worker_lost()

    def _worker_lost(self) -> None:
        """The process is gone: the running batch is retried once (or answered), the rest requeued."""
        model = self.model
        if not self._in_flight:
            return
        running, *waiting = self._in_flight
        self._in_flight.clear()
        running.timer.cancel()
        if running.timed_out:
            error = RequestTimeout(f"model {model.name} did not answer within {model.response_timeout:g}s")
            self.last_error = str(error)
            for item in running.items:
                item.fail(error)
            retry = []
        else:
            self.last_error = f"worker process {self.pid} died while handling a batch of {len(running.items)}"
            retry = [item for item in running.items if item.attempts < 2 and not item.future.done()]
            for item in running.items:
                if item not in retry:
                    item.fail(ServiceUnavailable(f"{self.last_error}; the request was not retried again"))
        for flight in waiting:  # never started: this was not their try
            for item in flight.items:
                item.attempts -= 1
            retry.extend(flight.items)
        model.queue.requeue(retry)

    async def _kill(self) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    # -- control -------------------------------------------------------------
    async def stop(self) -> None:
        """Finish the batch in flight, then stop the process."""
        self._stopping = True
        self.state = WorkerState.STOPPING
        self._wake.set()
        if self._interrupt is not None:
            self._interrupt()
        await self.task

    @property
    def waiting(self) -> int:
        """Requests sent ahead to this worker that it has not started yet."""
        flights = getattr(self, "_in_flight", ())
        return sum(len(f.items) for f in list(flights)[1:])

    def kill_now(self) -> None:
        """Kill the process without draining (tests use it to simulate a crash)."""
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()

    def describe(self) -> dict:
        return {
            "id": str(self.id),
            "name": self.name,
            "startTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.start_time)),
            "status": self.state.value,
            "pid": self.pid,
            "restarts": self.restarts,
            "memoryUsage": rss_bytes(self.pid),
            "gpu": False,
            "lastError": self.last_error,
        }


class _Exited(Exception):
    pass


@dataclass(slots=True)
class _InFlight:
    batch_id: int
    items: list
    timer: asyncio.TimerHandle | None = None
    timed_out: bool = False


def rss_bytes(pid: int | None) -> int:
    """Resident memory of a process on this host, 0 if unknown."""
    if not pid:
        return 0
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
