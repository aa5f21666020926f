"""A lean HTTP/1.1 load generator on raw asyncio streams.

Each concurrent client owns one keep-alive connection and sends its next
request as soon as the previous answer is read (closed loop, like ``ab -k``
or ``wrk``). The request bytes are built once; a response is parsed with a
handful of C-level bytes operations (``readuntil``, ``lower``, ``find``), so
a single process on one core drives several thousand requests per second,
which httpx cannot on a 2-core machine.

``run_load`` is the blocking entry point; ``arun_load`` is the same as a
coroutine, for callers that already run an event loop.
"""

from __future__ import annotations

import asyncio
import math
import ssl
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping
from urllib.parse import urlsplit

import numpy as np

__all__ = ["LoadGenError", "LoadResult", "arun_load", "run_load"]

# Statuses whose responses never carry a body, whatever their headers say.
_NO_BODY_STATUSES = frozenset({204, 304})
_HEAD_END = b"\r\n\r\n"


class LoadGenError(Exception):
    """The load cannot start: bad URL or arguments, or the server is unreachable."""


@dataclass
class LoadResult:
    """What one load run measured.

    ``requests`` counts every request that completed or failed in the
    measured phase (warm-up excluded); ``errors`` the failed ones: a non-2xx
    answer, a connection error or a timeout, broken down in
    ``errors_by_status`` (keys: the status as a string, ``"connection"``,
    ``"timeout"``). ``throughput`` is successful requests per second of
    wall time. Latencies are in milliseconds over successful requests only;
    they are ``None`` when nothing succeeded.
    """

    url: str
    concurrency: int
    requests: int
    errors: int
    errors_by_status: dict[str, int]
    elapsed_s: float
    throughput: float
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    max_ms: float | None

    @property
    def successes(self) -> int:
        """Requests answered with a 2xx status."""
        return self.requests - self.errors

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)


@dataclass
class _Target:
    host: str
    port: int
    ssl: ssl.SSLContext | None
    request: bytes
    head_only: bool


def _build_target(
    url: str, method: str, body: bytes, content_type: str, headers: Mapping[str, str] | None
) -> _Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LoadGenError(f"URL must be http://HOST[:PORT]/PATH or https://..., got {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # a non-numeric port
        raise LoadGenError(f"bad port in URL {url!r}: {exc}") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host_header = parts.netloc.rpartition("@")[2]
    method = method.upper()

    # Our own headers first; the caller's replace same-named ones, except the
    # framing headers, which must match what we actually send.
    fields: dict[str, tuple[str, str]] = {
        "host": ("Host", host_header),
        "user-agent": ("User-Agent", "openmaker-bench"),
        "accept": ("Accept", "*/*"),
    }
    if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
        fields["content-type"] = ("Content-Type", content_type)
    for name, value in (headers or {}).items():
        if "\r" in name or "\n" in name or "\r" in value or "\n" in value:
            raise LoadGenError(f"header {name!r} contains a line break")
        fields[name.lower()] = (name, value)
    for framing in ("content-length", "transfer-encoding", "connection"):
        fields.pop(framing, None)
    if body or "content-type" in fields:
        fields["content-length"] = ("Content-Length", str(len(body)))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in fields.values())
    request = head.encode("latin-1") + b"\r\n" + body
    context = ssl.create_default_context() if parts.scheme == "https" else None
    return _Target(parts.hostname, port, context, request, method == "HEAD")


def _header_value(head_lower: bytes, name: bytes) -> bytes | None:
    """The value of header ``name`` (lower-case, with the leading CRLF and colon) or None."""
    start = head_lower.find(name)
    if start < 0:
        return None
    start += len(name)
    return head_lower[start : head_lower.find(b"\r\n", start)].strip()


async def _read_response(reader: asyncio.StreamReader, head_only: bool) -> tuple[int, bool]:
    """Read one whole response; return its status and whether the connection stays open."""
    while True:
        head = await reader.readuntil(_HEAD_END)
        if not head.startswith(b"HTTP/1."):
            raise ValueError(f"not an HTTP/1.x response: {head[:40]!r}")
        status = int(head[9:12])
        if status >= 200 or status == 101:
            break
        # 1xx interim answers (100 Continue) precede the real one.
    low = head.lower()
    connection = _header_value(low, b"\r\nconnection:")
    if head[7:8] == b"0":  # HTTP/1.0 closes unless told otherwise
        keep_alive = connection is not None and b"keep-alive" in connection
    else:
        keep_alive = connection is None or b"close" not in connection

    if head_only or status in _NO_BODY_STATUSES:
        return status, keep_alive
    encoding = _header_value(low, b"\r\ntransfer-encoding:")
    if encoding is not None and b"chunked" in encoding:
        while True:
            size_line = await reader.readline()
            size = int(size_line.split(b";", 1)[0], 16)  # ValueError at EOF: b""
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n"):
                    if reader.at_eof():
                        raise asyncio.IncompleteReadError(b"", None)
                return status, keep_alive
            await reader.readexactly(size + 2)  # data + CRLF
    length = _header_value(low, b"\r\ncontent-length:")
    if length is not None:
        await reader.readexactly(int(length))
        return status, keep_alive
    # No framing at all: the body runs to the end of the connection.
    await reader.read()
    return status, False


class _Connection:
    """One keep-alive connection, reopened when the server closes it or it fails."""

    __slots__ = ("target", "reader", "writer", "started", "timed_out")

    def __init__(self, target: _Target) -> None:
        self.target = target
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.started = 0.0  # perf_counter() when the pending request was sent; 0 = idle
        self.timed_out = False

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            self.target.host, self.target.port, ssl=self.target.ssl
        )

    def close(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()  # no graceful shutdown needed: we are done with it
        self.reader = self.writer = None


@dataclass
class _Phase:
    """One bounded stretch of load: a request budget or a deadline."""

    budget: int | None
    deadline: float | None
    record: bool
    issued: int = 0
    done: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def claim(self) -> bool:
        # Single-threaded event loop: no lock needed between clients.
        if self.budget is not None:
            if self.issued >= self.budget:
                return False
        elif time.perf_counter() >= self.deadline:  # type: ignore[operator]
            return False
        self.issued += 1
        return True

    def fail(self, key: str) -> None:
        self.done += 1
        self.errors[key] = self.errors.get(key, 0) + 1


async def _client(conn: _Connection, phase: _Phase) -> None:
    target = conn.target
    request, head_only = target.request, target.head_only
    perf_counter = time.perf_counter
    latencies = phase.latencies
    while phase.claim():
        try:
            if conn.writer is None:
                await conn.open()
            conn.started = t0 = perf_counter()
            conn.writer.write(request)  # type: ignore[union-attr]
            status, keep_alive = await _read_response(conn.reader, head_only)  # type: ignore[arg-type]
            elapsed = perf_counter() - t0
        except (OSError, EOFError, ValueError, asyncio.LimitOverrunError, ssl.SSLError):
            # IncompleteReadError is an EOFError. Any failure leaves the
            # stream in an unknown state, so the connection is dropped.
            phase.fail("timeout" if conn.timed_out else "connection")
            conn.started, conn.timed_out = 0.0, False
            conn.close()
            continue
        conn.started = 0.0
        if not keep_alive:
            conn.close()
        if 200 <= status < 300:
            phase.done += 1
            latencies.append(elapsed)
        else:
            phase.fail(str(status))


async def _monitor(
    conns: list[_Connection], phase: _Phase, timeout: float, progress: Any, task: Any, total: float, t_start: float
) -> None:
    """Abort requests older than ``timeout`` and refresh the progress bar, ten times a second.

    One task polling beats ``asyncio.wait_for`` per request, which would
    create a task for every request on the hot path.
    """
    while True:
        await asyncio.sleep(0.1)
        now = time.perf_counter()
        for conn in conns:
            if conn.started and now - conn.started > timeout and conn.writer is not None:
                conn.timed_out = True
                conn.writer.transport.abort()  # wakes the pending read with EOF
        if progress is not None:
            completed = phase.done if phase.budget is not None else min(now - t_start, total)
            rate = phase.done / (now - t_start) if now > t_start else 0.0
            errs = sum(phase.errors.values())
            progress.update(task, completed=completed, rate=f"{rate:,.0f} req/s", errs=f"{errs} errors")


async def _run_phase(
    conns: list[_Connection], phase: _Phase, timeout: float, progress: Any, label: str
) -> float:
    t_start = time.perf_counter()
    total = phase.budget if phase.budget is not None else phase.deadline - t_start  # type: ignore[operator]
    task = progress.add_task(label, total=total, rate="", errs="") if progress is not None else None
    monitor = asyncio.ensure_future(_monitor(conns, phase, timeout, progress, task, total, t_start))
    try:
        await asyncio.gather(*(_client(c, phase) for c in conns))
    finally:
        monitor.cancel()
    elapsed = time.perf_counter() - t_start
    if progress is not None:
        progress.update(task, completed=total, rate=f"{phase.done / elapsed:,.0f} req/s")
    return elapsed


def _make_progress(duration_mode: bool) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    # stderr, so that `--json` output on stdout stays parseable.
    columns = [TextColumn("{task.description}"), BarColumn()]
    columns.append(TimeElapsedColumn() if duration_mode else MofNCompleteColumn())
    columns += [TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[errs]}")]
    return Progress(*columns, console=Console(stderr=True), refresh_per_second=4, transient=True)


def _summarise(url: str, concurrency: int, phase: _Phase, elapsed: float) -> LoadResult:
    errors = sum(phase.errors.values())
    if phase.latencies:
        ms = np.asarray(phase.latencies, dtype=np.float64) * 1000.0
        p50, p90, p99 = (float(v) for v in np.percentile(ms, [50, 90, 99]))
        mean, peak = float(ms.mean()), float(ms.max())
    else:
        p50 = p90 = p99 = mean = peak = None
    return LoadResult(
        url=url,
        concurrency=concurrency,
        requests=phase.done,
        errors=errors,
        errors_by_status=dict(sorted(phase.errors.items())),
        elapsed_s=elapsed,
        throughput=len(phase.latencies) / elapsed if elapsed > 0 else 0.0,
        p50_ms=p50,
        p90_ms=p90,
        p99_ms=p99,
        mean_ms=mean,
        max_ms=peak,
    )


def _check_args(concurrency: int, requests: int | None, duration: float | None, warmup: int, timeout: float) -> None:
    if (requests is None) == (duration is None):
        raise LoadGenError("give exactly one of requests and duration")
    if requests is not None and requests < 1:
        raise LoadGenError(f"requests must be at least 1, got {requests}")
    if duration is not None and not (duration > 0 and math.isfinite(duration)):
        raise LoadGenError(f"duration must be a positive number of seconds, got {duration}")
    if concurrency < 1:
        raise LoadGenError(f"concurrency must be at least 1, got {concurrency}")
    if warmup < 0:
        raise LoadGenError(f"warmup must not be negative, got {warmup}")
    if not timeout > 0:
        raise LoadGenError(f"timeout must be positive, got {timeout}")


async def arun_load(
    url: str,
    *,
    body: bytes,
    content_type: str,
    method: str = "POST",
    headers: Mapping[str, str] | None = None,
    concurrency: int = 16,
    requests: int | None = None,
    duration: float | None = None,
    warmup: int = 0,
    progress: bool = True,
    timeout: float = 60.0,
) -> LoadResult:
    """Coroutine form of :func:`run_load`, for callers inside an event loop."""
    _check_args(concurrency, requests, duration, warmup, timeout)
    target = _build_target(url, method, body, content_type, headers)
    if requests is not None:
        # More clients than requests would only open idle connections.
        concurrency = min(concurrency, requests)

    # Connect everyone before the clock starts: connection setup is not
    # request latency, and an unreachable server should fail loudly here
    # rather than as a run made only of errors.
    conns = [_Connection(target) for _ in range(concurrency)]
    opened = await asyncio.gather(*(c.open() for c in conns), return_exceptions=True)
    failures = [e for e in opened if isinstance(e, BaseException)]
    if failures:
        for c in conns:
            c.close()
        raise LoadGenError(f"cannot connect to {target.host}:{target.port}: {failures[0]}")

    bar = _make_progress(duration is not None) if progress else None
    try:
        if bar is not None:
            bar.start()
        if warmup:
            await _run_phase(conns, _Phase(warmup, None, False), timeout, bar, "warm-up")
        deadline = time.perf_counter() + duration if duration is not None else None
        phase = _Phase(requests, deadline, True)
        elapsed = await _run_phase(conns, phase, timeout, bar, "bench")
    finally:
        if bar is not None:
            bar.stop()
        for c in conns:
            c.close()
    return _summarise(url, concurrency, phase, elapsed)


def _loop_factory() -> Any:
    try:  # uvloop ships with uvicorn[standard] and roughly doubles what one core can send
        import uvloop

        return uvloop.new_event_loop
    except ImportError:
        return None


def run_load(
    url: str,
    *,
    body: bytes,
    content_type: str,
    method: str = "POST",
    headers: Mapping[str, str] | None = None,
    concurrency: int = 16,
    requests: int | None = None,
    duration: float | None = None,
    warmup: int = 0,
    progress: bool = True,
    timeout: float = 60.0,
) -> LoadResult:
    """Send ``body`` to ``url`` from ``concurrency`` keep-alive clients and measure.

    Give exactly one of ``requests`` (total count, measured phase) and
    ``duration`` (seconds; in-flight requests finish after it). ``warmup``
    requests go first on the same connections and are not measured. A
    request with no answer after ``timeout`` seconds is aborted and counted
    as an error, so a run always ends by itself. Raises ``LoadGenError``
    for bad arguments or when the server cannot be reached at all.
    """
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(
            arun_load(
                url,
                body=body,
                content_type=content_type,
                method=method,
                headers=headers,
                concurrency=concurrency,
                requests=requests,
                duration=duration,
                warmup=warmup,
                progress=progress,
                timeout=timeout,
            )
        )
