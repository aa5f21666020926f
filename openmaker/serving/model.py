"""One registered model version: its archive, settings, queue and workers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from openmaker.serving.archive import ModelArchive
from openmaker.serving.errors import InferenceError, ServiceUnavailable
from openmaker.serving.metrics import ModelMetrics
from openmaker.serving.protocol import InferenceRequest, InferenceResponse
from openmaker.serving.queue import PendingRequest, RequestQueue
from openmaker.serving.workers import WorkerProcess, WorkerState

#: How often the autoscaler looks, and how long a model must be quiet before it gives a worker back.
AUTOSCALE_PERIOD_S = 0.5
SCALE_DOWN_IDLE_S = 30.0


class ModelVersion:
    """A model version being served: requests go into its queue, its workers drain it."""

    def __init__(
        self,
        archive: ModelArchive,
        url: str,
        metrics: ModelMetrics,
        *,
        handler: str | None = None,
        batch_size: int = 1,
        max_batch_delay_ms: float = 100.0,
        response_timeout: float = 120.0,
        startup_timeout: float = 120.0,
        threads_per_worker: int = 1,
        queue_size: int = 100,
        pipeline_depth: int = 2,
    ) -> None:
        self.archive = archive
        self.name = archive.name
        self.version = archive.version
        self.url = url
        self.handler = handler or archive.handler
        self.batch_size = batch_size
        self.max_batch_delay_ms = max_batch_delay_ms
        self.response_timeout = response_timeout
        self.startup_timeout = startup_timeout
        self.threads_per_worker = threads_per_worker
        self.pipeline_depth = pipeline_depth
        self.min_workers = 0
        self.max_workers = 0
        self.queue = RequestQueue(capacity=queue_size)
        self.metrics = metrics
        self.workers: list[WorkerProcess] = []
        self.metadata: dict[str, Any] = {}
        self.last_load_error: str | None = None
        self.registered_at = time.time()
        self._scale_lock = asyncio.Lock()
        self._autoscaler: asyncio.Task | None = None
        self._last_backlog = 0.0

    # -- serving -------------------------------------------------------------
    async def submit(self, request: InferenceRequest) -> InferenceResponse:
        """Queue a request and wait for its response."""
        loop = asyncio.get_running_loop()
        if self.min_workers == 0:
            raise ServiceUnavailable(
                f"model {self.name} version {self.version} has no workers; scale it with "
                f"PUT /models/{self.name}?min_worker=1",
                retry_after=5,
            )
        if self.last_load_error and not self.ready_workers:
            raise ServiceUnavailable(
                f"model {self.name} version {self.version} has no running worker: {self.last_load_error}",
                retry_after=5,
            )
        started = loop.time()
        item = PendingRequest(request=request, future=loop.create_future(), enqueued_at=started)
        try:
            self.queue.put(item)
            response = await item.future
        except InferenceError as exc:
            self.metrics.answered(exc.status, loop.time() - started)
            raise
        self.metrics.answered(response.status, loop.time() - started)
        return response

    def note_load_error(self, error: str) -> None:
        """A worker failed to start; if none runs, waiting requests would wait forever: answer them."""
        self.last_load_error = error
        if not self.ready_workers:
            for item in self.queue.drain():
                item.fail(ServiceUnavailable(f"model {self.name} version {self.version} has no running worker: {error}"))

    def note_ready(self) -> None:
        self.last_load_error = None

    @property
    def backlog(self) -> int:
        """Requests accepted and not yet being worked on: queued, or sent ahead to a busy worker."""
        return len(self.queue) + sum(w.waiting for w in self.workers)

    @property
    def ready_workers(self) -> int:
        return sum(w.state in (WorkerState.READY, WorkerState.BUSY) for w in self.workers)

    @property
    def healthy(self) -> bool:
        return self.ready_workers >= self.min_workers

    # -- scaling -------------------------------------------------------------
    async def scale(self, min_workers: int, max_workers: int | None = None, synchronous: bool = False) -> None:
        """Run between ``min_workers`` and ``max_workers`` processes (more while requests queue up);
        with ``synchronous`` wait until the new ones are up (or failed)."""
        if min_workers < 0:
            raise InferenceError("min_worker must be >= 0", 400)
        max_workers = max(min_workers, max_workers if max_workers is not None else min_workers)
        async with self._scale_lock:
            self.min_workers, self.max_workers = min_workers, max_workers
            while len(self.workers) > max_workers:
                await self.workers.pop().stop()
            started = [WorkerProcess(self) for _ in range(min_workers - len(self.workers))]
            self.workers.extend(started)
            if max_workers > min_workers and self._autoscaler is None:
                self._autoscaler = asyncio.get_running_loop().create_task(self._autoscale())
        if synchronous and started:
            await asyncio.gather(*(w.ready.wait() for w in started))
            failed = [w for w in started if w.state not in (WorkerState.READY, WorkerState.BUSY)]
            if failed:
                raise InferenceError(
                    f"{len(failed)} of {len(started)} workers of model {self.name} failed to start: "
                    f"{failed[0].last_error}",
                    500,
                )

    async def _autoscale(self) -> None:
        """Add a worker while requests wait and every worker is busy; give one back after a quiet spell."""
        loop = asyncio.get_running_loop()
        while self.max_workers > self.min_workers:
            await asyncio.sleep(AUTOSCALE_PERIOD_S)
            now = loop.time()
            backlog = self.backlog
            if backlog:
                self._last_backlog = now
            async with self._scale_lock:
                all_busy = all(w.state is WorkerState.BUSY for w in self.workers)
                if backlog and all_busy and len(self.workers) < self.max_workers:
                    self.workers.append(WorkerProcess(self))
                elif len(self.workers) > self.min_workers and now - self._last_backlog > SCALE_DOWN_IDLE_S:
                    await self.workers.pop().stop()
                    self._last_backlog = now  # one at a time
        self._autoscaler = None

    async def stop(self) -> None:
        """Stop every worker after its batch in flight; answer what is still queued with 503."""
        if self._autoscaler is not None:
            self._autoscaler.cancel()
            self._autoscaler = None
        async with self._scale_lock:
            self.min_workers = 0
            workers, self.workers = self.workers, []
            await asyncio.gather(*(w.stop() for w in workers))
        for item in self.queue.drain():
            item.fail(ServiceUnavailable(f"model {self.name} version {self.version} was stopped"))

    def describe(self, is_default: bool) -> dict[str, Any]:
        return {
            "modelName": self.name,
            "modelVersion": self.version,
            "modelUrl": self.url,
            "handler": self.handler,
            "runtime": self.archive.runtime,
            "minWorkers": self.min_workers,
            "maxWorkers": self.max_workers,
            "threadsPerWorker": self.threads_per_worker,
            "batchSize": self.batch_size,
            "maxBatchDelay": self.max_batch_delay_ms,
            "responseTimeout": self.response_timeout,
            "isDefault": is_default,
            "loadedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.registered_at)),
            "lastLoadError": self.last_load_error,
            "workers": [w.describe() for w in self.workers],
            "jobQueueStatus": {"remainingCapacity": self.queue.remaining_capacity, "pendingRequests": self.backlog},
        }
