"""Prometheus metrics of the model server (port 8082, text format).

Latencies are histograms, not gauges, so that percentiles can be computed
over any window. Worker counts by state and queue depth are read from the
live registry at scrape time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

if TYPE_CHECKING:
    from openmaker.serving.model import ModelVersion

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class ServerMetrics:
    """All metrics of one server, in their own registry (several servers may share a process in tests)."""

    def __init__(self, models: Callable[[], Iterable["ModelVersion"]]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "openmaker_requests", "Inference requests answered, by model, version and HTTP status",
            ["model", "version", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "openmaker_request_latency_seconds", "Time from accepting a request to answering it",
            ["model", "version"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.queue_latency = Histogram(
            "openmaker_queue_latency_seconds", "Time a request waited in the queue before a worker took it",
            ["model", "version"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.batch_size = Histogram(
            "openmaker_batch_size", "Requests per batch sent to a worker",
            ["model", "version"], buckets=BATCH_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.registry.register(_LiveCollector(models))

    def for_model(self, name: str, version: str) -> "ModelMetrics":
        return ModelMetrics(self, name, version)


class ModelMetrics:
    """The label children of one model version, resolved once (label lookups are not free)."""

    def __init__(self, server: ServerMetrics, name: str, version: str) -> None:
        self._server, self._name, self._version = server, name, version
        self._latency = server.latency.labels(name, version)
        self._queue = server.queue_latency.labels(name, version)
        self._batch = server.batch_size.labels(name, version)
        self._by_status: dict[int, Counter] = {}

    def answered(self, status: int, seconds: float) -> None:
        child = self._by_status.get(status)
        if child is None:
            child = self._by_status[status] = self._server.requests.labels(self._name, self._version, str(status))
        child.inc()
        self._latency.observe(seconds)

    def queue_time(self, seconds: float) -> None:
        self._queue.observe(seconds)

    def batch(self, size: int) -> None:
        self._batch.observe(size)


class _LiveCollector:
    def __init__(self, models: Callable[[], Iterable["ModelVersion"]]) -> None:
        self._models = models

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "openmaker_queue_depth", "Requests waiting for a worker (queued or sent ahead)", labels=["model", "version"]
        )
        workers = GaugeMetricFamily(
            "openmaker_workers", "Worker processes by state", labels=["model", "version", "state"]
        )
        return depth, workers

    def describe(self):
        # Named here so that ?name[]= filtering (RestrictedRegistry) can find them.
        return list(self._families())

    def collect(self):
        depth, workers = self._families()
        for model in self._models():
            depth.add_metric([model.name, model.version], model.backlog)
            counts: dict[str, int] = {}
            for worker in model.workers:
                counts[worker.state.value] = counts.get(worker.state.value, 0) + 1
            for state, count in counts.items():
                workers.add_metric([model.name, model.version, state], count)
        yield depth
        yield workers
