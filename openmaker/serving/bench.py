"""Benchmark studies on top of the load generator: the MMS worker/thread sweep and its report.

The MMS performance study registered one model under several worker and
thread counts, loaded each configuration, and published a table of
latency percentiles, throughput and cost per 100k requests. ``Sweep``
repeats that through the management API (re-registering the model for each
configuration and restoring the original registration at the end), and
``write_report`` writes the table as Markdown and CSV with a chart.
"""

from __future__ import annotations

import csv
import itertools
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, NamedTuple, Sequence
from urllib.parse import quote

import httpx
from rich.table import Table

from openmaker.config import home_dir
from openmaker.serving.loadgen import LoadResult, run_load

__all__ = [
    "ReportPaths",
    "Sweep",
    "SweepError",
    "SweepRow",
    "cost_per_100k_requests",
    "format_markdown_table",
    "format_result_table",
    "read_management_token",
    "write_report",
]

DEFAULT_MANAGEMENT_URL = "http://127.0.0.1:8081"
DEFAULT_INFERENCE_URL = "http://127.0.0.1:8080"
# Statuses that mean "not serving yet", worth waiting on after a registration.
_NOT_READY = frozenset({502, 503, 504})


class SweepError(Exception):
    """The sweep cannot go on: the management API refused a call or the model never answered."""


def read_management_token() -> str | None:
    """The bearer token in ``$OPENMAKER_HOME/management.token``, or None when there is none."""
    path = home_dir() / "management.token"
    if not path.is_file():
        return None
    return path.read_text().strip() or None


def cost_per_100k_requests(hourly_cost: float, throughput: float) -> float | None:
    """Dollars per 100,000 requests at ``throughput`` req/s on a machine costing ``hourly_cost`` $/h.

    None when nothing got through: the cost is then unbounded, not zero.
    """
    if throughput <= 0:
        return None
    return hourly_cost / (throughput * 3600.0) * 100_000


def _configuration_label(workers: int, threads: int) -> str:
    return f"{workers} worker{'s' if workers != 1 else ''} x {threads} thread{'s' if threads != 1 else ''}"


@dataclass
class SweepRow:
    """One configuration of the sweep, as a row of the published table."""

    configuration: str
    workers: int
    threads_per_worker: int
    hourly_cost: float
    cost_per_100k_requests: float | None
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    throughput: float
    errors: int

    @classmethod
    def from_result(cls, workers: int, threads: int, hourly_cost: float, result: LoadResult) -> SweepRow:
        """The row for one configuration measured as ``result``."""
        return cls(
            configuration=_configuration_label(workers, threads),
            workers=workers,
            threads_per_worker=threads,
            hourly_cost=hourly_cost,
            cost_per_100k_requests=cost_per_100k_requests(hourly_cost, result.throughput),
            p50_ms=result.p50_ms,
            p90_ms=result.p90_ms,
            p99_ms=result.p99_ms,
            throughput=result.throughput,
            errors=result.errors,
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)


class Sweep:
    """Load one model under every ``workers`` x ``threads`` configuration.

    The constructor only stores parameters; ``run()`` does the work and
    returns one ``SweepRow`` per configuration. Give exactly one of
    ``requests`` and ``duration`` (per configuration), as for ``run_load``.
    ``token`` defaults to :func:`read_management_token`; ``inference_url``
    to ``http://127.0.0.1:8080/predictions/<model>``.
    """

    def __init__(
        self,
        model: str,
        *,
        body: bytes,
        content_type: str = "application/json",
        workers: Sequence[int] = (1, 2),
        threads: Sequence[int] = (1, 2),
        hourly_cost: float = 0.0,
        management_url: str = DEFAULT_MANAGEMENT_URL,
        inference_url: str | None = None,
        token: str | None = None,
        concurrency: int = 16,
        requests: int | None = None,
        duration: float | None = None,
        warmup: int = 0,
        progress: bool = True,
        ready_timeout: float = 120.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.model = model
        self.body = body
        self.content_type = content_type
        self.workers = tuple(workers)
        self.threads = tuple(threads)
        self.hourly_cost = hourly_cost
        self.management_url = management_url.rstrip("/")
        self.inference_url = inference_url
        self.token = token
        self.concurrency = concurrency
        self.requests = requests
        self.duration = duration
        self.warmup = warmup
        self.progress = progress
        self.ready_timeout = ready_timeout
        self.headers = dict(headers or {})

    # -- public -------------------------------------------------------------

    def configurations(self) -> list[tuple[int, int]]:
        """The (workers, threads per worker) pairs, in the order they run."""
        return list(itertools.product(self.workers, self.threads))

    def run(self, on_row: Any = None) -> list[SweepRow]:
        """Measure every configuration, then restore the original registration.

        ``on_row(row)``, when given, is called after each configuration. The
        original registration is restored even when a configuration fails.
        """
        if (self.requests is None) == (self.duration is None):
            raise SweepError("give exactly one of requests and duration")
        if not self.workers or not self.threads or min(self.workers + self.threads) < 1:
            raise SweepError("workers and threads need at least one value each, all >= 1")
        token = self.token if self.token is not None else read_management_token()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = self.inference_url or f"{DEFAULT_INFERENCE_URL}/predictions/{quote(self.model, safe='')}"
        rows: list[SweepRow] = []
        with httpx.Client(base_url=self.management_url, headers=headers, timeout=self.ready_timeout) as api:
            original = self._describe(api)
            if original is None:
                raise SweepError(f"model {self.model!r} is not registered at {self.management_url}")
            try:
                for workers, threads in self.configurations():
                    self._register(api, original, workers, threads)
                    self._wait_until_answering(url)
                    result = run_load(
                        url,
                        body=self.body,
                        content_type=self.content_type,
                        headers=self.headers,
                        concurrency=self.concurrency,
                        requests=self.requests,
                        duration=self.duration,
                        warmup=self.warmup,
                        progress=self.progress,
                    )
                    row = SweepRow.from_result(workers, threads, self.hourly_cost, result)
                    rows.append(row)
                    if on_row is not None:
                        on_row(row)
            finally:
                self._register(
                    api, original, _worker_count(original), int(original.get("threadsPerWorker") or 1)
                )
        return rows

    # -- management API -----------------------------------------------------

    def _describe(self, api: httpx.Client) -> dict[str, Any] | None:
        """The model's current registration (first version listed), or None if it has none."""
        response = api.get(f"/models/{quote(self.model, safe='')}")
        if response.status_code == 404:
            return None
        _raise_for(response, f"describe model {self.model!r}")
        described = response.json()
        entries = described if isinstance(described, list) else [described]
        return entries[0] if entries else None

    def _register(self, api: httpx.Client, original: Mapping[str, Any], workers: int, threads: int) -> None:
        """Replace the current registration by ``original``'s model under ``workers`` x ``threads``."""
        current = self._describe(api)
        if current is not None:
            version = quote(str(current.get("modelVersion") or "1.0"), safe="")
            response = api.delete(f"/models/{quote(self.model, safe='')}/{version}")
            _raise_for(response, f"unregister model {self.model!r}")
        params: dict[str, Any] = {
            "url": original["modelUrl"],
            "model_name": self.model,
            "initial_workers": workers,
            "threads_per_worker": threads,
            "synchronous": "true",
        }
        # Keep the batching of the original registration, so the sweep varies
        # only workers and threads.
        if original.get("batchSize") is not None:
            params["batch_size"] = original["batchSize"]
        if original.get("maxBatchDelay") is not None:
            params["max_batch_delay"] = original["maxBatchDelay"]
        response = api.post("/models", params=params)
        _raise_for(response, f"register model {self.model!r} with {_configuration_label(workers, threads)}")

    def _wait_until_answering(self, url: str) -> None:
        """Send the benchmark body until the model answers 2xx; fail fast on any other answer."""
        deadline = time.monotonic() + self.ready_timeout
        headers = {**self.headers, "Content-Type": self.content_type}
        last = "no answer"
        with httpx.Client(timeout=self.ready_timeout) as client:
            while time.monotonic() < deadline:
                try:
                    response = client.post(url, content=self.body, headers=headers)
                except httpx.TransportError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                else:
                    if response.is_success:
                        return
                    last = f"HTTP {response.status_code}: {response.text[:200]}"
                    if response.status_code not in _NOT_READY:
                        # A 4xx for the benchmark body will not improve by waiting.
                        raise SweepError(f"model {self.model!r} at {url} answered {last}")
                time.sleep(0.2)
        raise SweepError(f"model {self.model!r} at {url} did not answer within {self.ready_timeout:g}s ({last})")


def _worker_count(registration: Mapping[str, Any]) -> int:
    """How many workers the original registration asked for.

    ``minWorkers`` is what ``initial_workers`` set; MMS lists ``workers`` as
    worker objects, other servers as a count, used when ``minWorkers`` is absent.
    """
    if registration.get("minWorkers"):
        return int(registration["minWorkers"])
    workers = registration.get("workers")
    if isinstance(workers, list):
        return max(len(workers), 1)
    return int(workers or 1)


def _raise_for(response: httpx.Response, action: str) -> None:
    if response.is_success:
        return
    try:
        detail = response.json()
        detail = detail.get("message", detail) if isinstance(detail, dict) else detail
    except ValueError:
        detail = response.text[:200]
    raise SweepError(f"cannot {action}: HTTP {response.status_code}: {detail}")


# -- reports ----------------------------------------------------------------

_COLUMNS = [
    ("configuration", "Configuration"),
    ("workers", "Workers"),
    ("threads_per_worker", "Threads per worker"),
    ("hourly_cost", "Hourly cost ($)"),
    ("cost_per_100k_requests", "Cost per 100k requests ($)"),
    ("p50_ms", "p50 latency (ms)"),
    ("p90_ms", "p90 latency (ms)"),
    ("p99_ms", "p99 latency (ms)"),
    ("throughput", "Throughput (req/s)"),
    ("errors", "Errors"),
]


class ReportPaths(NamedTuple):
    """The files ``write_report`` wrote."""

    markdown: Path
    csv: Path
    png: Path


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "n/a"
    if key == "cost_per_100k_requests":
        return f"{value:.4f}"
    if key == "hourly_cost":
        return f"{value:.3f}"
    if key == "throughput":
        return f"{value:,.1f}"
    if key.endswith("_ms"):
        return f"{value:.2f}"
    return str(value)


def format_markdown_table(rows: Iterable[SweepRow]) -> str:
    """The sweep as a Markdown table, one row per configuration."""
    lines = [
        "| " + " | ".join(title for _, title in _COLUMNS) + " |",
        "|" + "|".join("---" if key == "configuration" else "---:" for key, _ in _COLUMNS) + "|",
    ]
    for row in rows:
        values = row.as_dict()
        lines.append("| " + " | ".join(_cell(key, values[key]) for key, _ in _COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def _plot(rows: Sequence[SweepRow], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on a server; must precede pyplot
    import matplotlib.pyplot as plt

    labels = [row.configuration for row in rows]
    positions = range(len(rows))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.8 * len(rows) + 2), 4.5), dpi=120)
    try:
        bars = ax.bar(positions, [row.throughput for row in rows], color="#4C72B0", label="throughput")
        ax.bar_label(bars, fmt="%.0f", label_type="center", color="white", fontsize=9)
        ax.set_ylabel("throughput (req/s)")
        ax.set_xticks(list(positions), labels, rotation=15, ha="right")
        ax.set_title(title)
        p99 = ax.twinx()
        p99.plot(
            positions,
            [row.p99_ms if row.p99_ms is not None else float("nan") for row in rows],
            color="#C44E52",
            marker="o",
            label="p99 latency",
        )
        p99.set_ylabel("p99 latency (ms)")
        # Headroom above the tallest bar and marker keeps labels and legend apart.
        ax.set_ylim(0, max([row.throughput for row in rows] + [1.0]) * 1.2)
        p99.set_ylim(0, max([row.p99_ms or 0.0 for row in rows] + [1.0]) * 1.2)
        handles = [bars, *p99.get_lines()]
        ax.legend(handles, [h.get_label() for h in handles], loc="upper left", fontsize=8)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)


def write_report(rows: Sequence[SweepRow], out_dir: str | Path, title: str = "Model server sweep") -> ReportPaths:
    """Write ``sweep.md``, ``sweep.csv`` and ``sweep.png`` for ``rows`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(out / "sweep.md", out / "sweep.csv", out / "sweep.png")
    paths.markdown.write_text(f"# {title}\n\n" + format_markdown_table(rows))
    with paths.csv.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[key for key, _ in _COLUMNS])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.as_dict().items()})
    _plot(rows, title, paths.png)
    return paths


def format_result_table(result: LoadResult) -> Table:
    """A Rich table of one load run."""
    table = Table(title="Load test", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("url", result.url)
    table.add_row("clients", str(result.concurrency))

    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f} ms"

    table.add_row("requests", f"{result.requests:,}")
    table.add_row("errors", f"{result.errors:,}")
    for key, count in result.errors_by_status.items():
        table.add_row(f"  {key}", f"{count:,}")
    table.add_row("elapsed", f"{result.elapsed_s:.2f} s")
    table.add_row("throughput", f"{result.throughput:,.1f} req/s")
    table.add_row("latency p50", ms(result.p50_ms))
    table.add_row("latency p90", ms(result.p90_ms))
    table.add_row("latency p99", ms(result.p99_ms))
    table.add_row("latency mean", ms(result.mean_ms))
    table.add_row("latency max", ms(result.max_ms))
    return table
