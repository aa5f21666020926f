"""Ray Serve as the engine of the model server: one deployment per model version.

``openmaker serve --engine ray`` keeps the server as it is — the same inference,
management and metrics apps on the same ports, the same registry, error shapes
and registration store — and changes only what runs a model version. Instead of
local worker processes fed from a local queue, a ``RayModelVersion`` forwards
each request to the handle of a Ray Serve application holding one deployment,
whose replicas load the archive's handler exactly as a worker process does.

What maps to what (local engine -> Ray engine):

- worker process -> replica (a Ray actor process);
- ``batch_size``, ``max_batch_delay`` -> ``@serve.batch(max_batch_size=batch_size,
  batch_wait_timeout_s=max_batch_delay / 1000)`` in each replica;
- ``min_worker == max_worker`` -> ``num_replicas``; ``min_worker < max_worker`` ->
  ``autoscaling_config`` (``min_replicas``, ``max_replicas``, ``target_ongoing_requests``);
  ``min_worker=0`` -> the application is deleted;
- ``job_queue_size`` -> ``max_queued_requests`` (503 when full);
- ``threads_per_worker`` -> the replica's ``OMP/MKL/OPENBLAS_NUM_THREADS``, torch threads
  and ``num_cpus``;
- ``response_timeout`` -> 504, and the request is cancelled in Ray.

Ray is imported only here, and only when the engine is used: ``openmaker``
imports without it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from openmaker.serving.errors import InferenceError, RequestTimeout, ServiceUnavailable
from openmaker.serving.model import ModelVersion
from openmaker.serving.protocol import InferenceRequest, InferenceResponse
from openmaker.serving.workers import WorkerState, rss_bytes

if TYPE_CHECKING:
    from openmaker.config import Settings
    from openmaker.serving.archive import ModelArchive
    from openmaker.serving.metrics import ModelMetrics

log = logging.getLogger(__name__)

RAY_MISSING = "the ray engine needs ray: pip install 'openmaker[ray]'"
DEPLOYMENT_NAME = "model"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
# Ray Serve replica states as the worker states the management API shows.
_REPLICA_STATES = {
    "STARTING": WorkerState.STARTING,
    "UPDATING": WorkerState.STARTING,
    "RECOVERING": WorkerState.RESTARTING,
    "RUNNING": WorkerState.READY,
    "PENDING_MIGRATION": WorkerState.READY,
    "STOPPING": WorkerState.STOPPING,
}


class RayNotInstalled(ImportError):
    """The Ray engine was asked for but ray is not installed."""


def require_ray():
    """``(ray, ray.serve)``, or ``RayNotInstalled`` with the install line."""
    try:
        import ray
        from ray import serve
    except ImportError as exc:
        raise RayNotInstalled(RAY_MISSING) from exc
    return ray, serve


def init_ray(num_cpus: int | None = None, **options: Any) -> bool:
    """Join the cluster at ``$RAY_ADDRESS``, or start a lean local Ray; True if this started one.

    A local Ray runs without its dashboard. Nothing happens when this process is
    already connected.
    """
    ray, _ = require_ray()
    if ray.is_initialized():
        return False
    address = os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, **options)
        return False
    ray.init(num_cpus=num_cpus or os.cpu_count(), include_dashboard=False, **options)
    return True


# -- the replica: what runs inside each Ray actor ------------------------------
@dataclass(frozen=True)
class ReplicaSpec:
    """What a replica needs to load a model version's handler."""

    model_dir: str
    model_name: str
    model_version: str
    handler: str
    manifest: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 1
    max_batch_delay_ms: float = 100.0
    threads: int = 1

    def code_version(self) -> str:
        """Stable for the same spec: a scaling change then updates replicas in place, without restarts."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True, default=str).encode()).hexdigest()[:16]


class ReplicaAnswer(NamedTuple):
    """A replica's answer to one request, with what the frontend's metrics need."""

    response: InferenceResponse
    batch_size: int
    first_in_batch: bool
    handler_seconds: float


class ModelReplica:
    """One replica of a model version: loads the handler once, answers batches of requests.

    ``serve.batch`` gathers concurrent requests into one ``handler.handle`` call.
    The handler runs on one thread of its own, so batches run one at a time as in
    a worker process, while the replica's event loop keeps gathering the next one.
    """

    def __init__(self, spec: ReplicaSpec) -> None:
        from ray import serve

        from openmaker.serving.handlers.base import Context, load_handler_class

        _set_threads(spec.threads)
        context = Context(
            model_dir=Path(spec.model_dir),
            model_name=spec.model_name,
            model_version=spec.model_version,
            manifest=spec.manifest,
            batch_size=spec.batch_size,
            threads=spec.threads,
            worker_id=os.getpid(),
        )
        os.chdir(spec.model_dir)  # as in a worker: relative paths in handlers mean the model directory
        self.handler = load_handler_class(spec.handler, context.code_dir)()
        self.handler.initialize(context)
        _set_threads(spec.threads)  # the handler may have imported torch
        self._metadata = self.handler.metadata()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="handler")
        self._batched = serve.batch(
            max_batch_size=spec.batch_size, batch_wait_timeout_s=spec.max_batch_delay_ms / 1000
        )(self._handle_batch)

    async def info(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "metadata": self._metadata}

    async def __call__(self, request: InferenceRequest) -> ReplicaAnswer:
        return await self._batched(request)

    async def _handle_batch(self, requests: list[InferenceRequest]) -> list[ReplicaAnswer]:
        started = time.perf_counter()
        responses = await asyncio.get_running_loop().run_in_executor(self._executor, self._handle, requests)
        took = time.perf_counter() - started
        return [ReplicaAnswer(r, len(requests), i == 0, took) for i, r in enumerate(responses)]

    def _handle(self, requests: list[InferenceRequest]) -> list[InferenceResponse]:
        from openmaker.serving.handlers.base import error_response

        try:
            responses = self.handler.handle(requests)
            if len(responses) != len(requests):
                raise InferenceError(f"handler returned {len(responses)} responses for {len(requests)} requests")
        except Exception as exc:  # a handler bug answers the batch, the replica lives on
            responses = [error_response(exc)] * len(requests)
        return responses


def _set_threads(threads: int) -> None:
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


# -- the frontend side ---------------------------------------------------------
class InFlight:
    """Stands in for the local request queue: Ray queues the requests, this counts those unanswered."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.count = 0

    def __len__(self) -> int:
        return self.count

    @property
    def remaining_capacity(self) -> int:
        return max(0, self.capacity - self.count)

    def drain(self) -> list:
        return []  # nothing waits here: requests in flight are answered by Ray


@dataclass
class RayReplica:
    """A replica as the management API shows a worker."""

    replica_id: str
    state: WorkerState
    pid: int | None
    start_time: float
    node_ip: str = ""
    local: bool = True
    actor_name: str = ""
    #: Requests sent ahead to this replica (Ray Serve queues them itself; counted in the model's queue).
    waiting: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.replica_id,
            "name": self.actor_name or self.replica_id,
            "startTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.start_time)),
            "status": self.state.value,
            "pid": self.pid,
            "restarts": 0,
            "memoryUsage": rss_bytes(self.pid) if self.local else 0,
            "gpu": False,
            "lastError": None,
            "nodeIp": self.node_ip,
        }


@dataclass
class AppState:
    """What Ray Serve reports about one application (= one model version)."""

    status: str
    message: str
    replicas: list[RayReplica]


class RayModelVersion(ModelVersion):
    """A model version served by a Ray Serve deployment instead of local worker processes."""

    def __init__(
        self, engine: "RayEngine", archive: "ModelArchive", url: str, metrics: "ModelMetrics", **options: Any
    ) -> None:
        super().__init__(archive, url, metrics, **options)
        self.engine = engine
        self.app_name = engine.app_name(self.name, self.version)
        self.queue = InFlight(self.queue.capacity)
        self.app_status = "NOT_STARTED"
        self.app_message = ""
        self._handle = None
        self._generation = 0  # bumped by each scaling change; a status read from before it is stale
        self._applying: set[asyncio.Task] = set()

    def replica_spec(self) -> ReplicaSpec:
        return ReplicaSpec(
            model_dir=str(self.archive.path),
            model_name=self.name,
            model_version=self.version,
            handler=self.handler,
            manifest=self.archive.manifest,
            batch_size=self.batch_size,
            max_batch_delay_ms=self.max_batch_delay_ms,
            threads=self.threads_per_worker,
        )

    # -- serving -------------------------------------------------------------
    async def submit(self, request: InferenceRequest) -> InferenceResponse:
        if self.min_workers == 0:
            raise ServiceUnavailable(
                f"model {self.name} version {self.version} has no workers; scale it with "
                f"PUT /models/{self.name}?min_worker=1",
                retry_after=5,
            )
        if self._handle is None and self._applying:  # registered or scaled without synchronous=true
            await asyncio.wait(set(self._applying), timeout=self.startup_timeout)
        handle = self._handle
        if handle is None:
            reason = self.last_load_error or "its Ray Serve deployment is not running"
            raise ServiceUnavailable(
                f"model {self.name} version {self.version} has no running worker: {reason}", retry_after=5
            )
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.queue.count += 1
        try:
            answer = await self._call(handle, request)
        except InferenceError as exc:
            self.metrics.answered(exc.status, loop.time() - started)
            raise
        finally:
            self.queue.count -= 1
        elapsed = loop.time() - started
        self.metrics.queue_time(max(0.0, elapsed - answer.handler_seconds))
        if answer.first_in_batch:
            self.metrics.batch(answer.batch_size)
        self.metrics.answered(answer.response.status, elapsed)
        return answer.response

    async def _call(self, handle, request: InferenceRequest) -> ReplicaAnswer:
        from ray import exceptions as ray_errors
        from ray.serve import exceptions as serve_errors

        response = handle.remote(request)
        try:
            return await asyncio.wait_for(_awaited(response), self.response_timeout)
        except TimeoutError:
            response.cancel()
            raise RequestTimeout(f"model {self.name} did not answer within {self.response_timeout:g}s") from None
        except asyncio.CancelledError:
            response.cancel()
            raise
        except serve_errors.BackPressureError:
            raise ServiceUnavailable(
                f"the request queue is full ({self.queue.capacity} waiting); retry later", retry_after=1
            ) from None
        except ray_errors.RayTaskError as exc:  # a bug outside the handler (which answers its own errors)
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            raise InferenceError(f"{type(cause).__name__}: {_first_line(cause)}", 500) from None
        except (ray_errors.RayError, serve_errors.RayServeException) as exc:  # a replica died, the app went away
            raise ServiceUnavailable(
                f"model {self.name} version {self.version}: the request failed in Ray Serve: {_first_line(exc)}",
                retry_after=1,
            ) from None

    # -- scaling -------------------------------------------------------------
    async def scale(self, min_workers: int, max_workers: int | None = None, synchronous: bool = False) -> None:
        """Deploy ``min_workers`` replicas (autoscaling up to ``max_workers``); 0 deletes the deployment."""
        if min_workers < 0:
            raise InferenceError("min_worker must be >= 0", 400)
        max_workers = max(min_workers, max_workers if max_workers is not None else min_workers)
        self.min_workers, self.max_workers = min_workers, max_workers
        task = asyncio.ensure_future(self._apply())
        self._applying.add(task)
        task.add_done_callback(self._applying.discard)
        if synchronous:
            await task
        else:
            task.add_done_callback(_log_failure)

    async def _apply(self) -> None:
        """Bring the deployment to the latest target (several quick changes coalesce)."""
        async with self._scale_lock:
            self._generation += 1
            low, high = self.min_workers, self.max_workers
            if low == 0:
                await self._delete()
                return
            try:
                self._handle = await self.engine.deploy(self, low, high)
                info = await asyncio.wait_for(_awaited(self._handle.info.remote()), self.startup_timeout)
            except Exception as exc:
                error = exc.message if isinstance(exc, InferenceError) else f"{type(exc).__name__}: {exc}"
                self.note_load_error(error)
                await self.engine.refresh([self])
                raise InferenceError(f"the Ray Serve deployment of model {self.name} failed: {error}", 500) from None
            self.metadata = info["metadata"]
            self.last_load_error = None
            await self.engine.refresh([self])

    async def _delete(self) -> None:
        self._handle = None
        await self.engine.delete(self)
        self.workers = []
        self.app_status, self.app_message = "NOT_STARTED", ""

    async def stop(self) -> None:
        """Delete the deployment; Ray lets each replica finish its requests in flight first."""
        self.min_workers = 0
        self.engine.forget(self)
        async with self._scale_lock:
            self._generation += 1
            await self._delete()

    def update(self, app: AppState | None, generation: int) -> None:
        """Take in what Ray Serve reported, unless a scaling change came after the report was asked for."""
        if generation != self._generation:
            return
        if app is None:
            self.workers, self.app_status, self.app_message = [], "NOT_STARTED", ""
            return
        self.workers = app.replicas
        self.app_status, self.app_message = app.status, app.message
        if app.status in ("DEPLOY_FAILED", "UNHEALTHY") and app.message:
            self.note_load_error(app.message)
        elif app.status == "RUNNING":
            self.last_load_error = None

    def describe(self, is_default: bool) -> dict[str, Any]:
        described = super().describe(is_default)
        autoscaling = self.min_workers != self.max_workers
        described["engine"] = "ray"
        described["rayServe"] = {
            "application": self.app_name,
            "deployment": DEPLOYMENT_NAME,
            "status": self.app_status,
            "message": self.app_message,
            "numReplicas": None if autoscaling else self.min_workers,
            "autoscaling": self.engine.autoscaling_config(self, self.min_workers, self.max_workers)
            if autoscaling
            else None,
        }
        return described


class RayEngine:
    """Runs each model version as a Ray Serve application of one deployment.

    ``num_cpus_per_replica`` is what each replica reserves (default: its thread
    count); ``target_ongoing_requests`` drives autoscaling (default: the batch
    size, i.e. scale out once a replica has more than a batch waiting);
    ``autoscaling`` adds or overrides Ray's ``autoscaling_config`` keys (delays,
    smoothing). Application names start with ``app_prefix``, so that several
    openmaker servers can share a cluster.
    """

    name = "ray"

    def __init__(
        self,
        *,
        app_prefix: str = "openmaker",
        num_cpus_per_replica: float | None = None,
        target_ongoing_requests: float | None = None,
        autoscaling: dict[str, Any] | None = None,
        constructor_retries: int = 3,
        poll_interval_s: float = 2.0,
    ) -> None:
        self.app_prefix = app_prefix
        self.num_cpus_per_replica = num_cpus_per_replica
        self.target_ongoing_requests = target_ongoing_requests
        self.autoscaling = dict(autoscaling or {})
        self.constructor_retries = constructor_retries
        self.poll_interval_s = poll_interval_s
        self._models: dict[str, RayModelVersion] = {}
        self._poller: asyncio.Task | None = None
        self._started = False

    def start(self) -> None:
        """Connect to Ray (a local one when none is running) and start Serve without HTTP proxies.

        The model server's own apps are the only HTTP entry; Ray's proxy (port 8000)
        is not started here. On a cluster whose Serve already runs, it is joined as is.
        """
        ray, serve = require_ray()
        if not ray.is_initialized():
            init_ray()
        serve.start(proxy_location="Disabled")
        self._started = True

    def app_name(self, name: str, version: str) -> str:
        return re.sub(r"[^A-Za-z0-9_.:\-]", "_", f"{self.app_prefix}:{name}:{version}")

    # -- the registry's side ---------------------------------------------------
    def create_model(
        self, archive: "ModelArchive", url: str, metrics: "ModelMetrics", **options: Any
    ) -> RayModelVersion:
        require_ray()
        model = RayModelVersion(self, archive, url, metrics, **options)
        self._models[model.app_name] = model
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll(), name="ray-serve-status")
        return model

    def forget(self, model: RayModelVersion) -> None:
        if self._models.get(model.app_name) is model:
            del self._models[model.app_name]

    async def shutdown(self) -> None:
        """Stop watching Ray Serve; the registry has deleted every deployment already."""
        await asyncio.gather(*(model.stop() for model in list(self._models.values())))
        if self._poller is not None:
            self._poller.cancel()
            try:
                await self._poller
            except asyncio.CancelledError:
                pass
            self._poller = None

    # -- deployments -----------------------------------------------------------
    def autoscaling_config(self, model: RayModelVersion, low: int, high: int) -> dict[str, Any]:
        return {
            "min_replicas": low,
            "initial_replicas": low,
            "max_replicas": high,
            "target_ongoing_requests": self.target_ongoing_requests or max(1, model.batch_size),
            **self.autoscaling,
        }

    def deployment_options(self, model: RayModelVersion, low: int, high: int) -> dict[str, Any]:
        threads = str(model.threads_per_worker)
        cpus = self.num_cpus_per_replica if self.num_cpus_per_replica is not None else model.threads_per_worker
        options: dict[str, Any] = dict(
            name=DEPLOYMENT_NAME,
            ray_actor_options={
                "num_cpus": cpus,
                # Set before the replica's process imports numpy/torch, whose thread pools read them once.
                "runtime_env": {"env_vars": {name: threads for name in THREAD_VARIABLES}},
            },
            # Room for one batch in the handler and the next one gathering (ray-project/ray#43288).
            max_ongoing_requests=max(2, 2 * model.batch_size),
            max_queued_requests=model.queue.capacity,
            graceful_shutdown_wait_loop_s=0.5,
            graceful_shutdown_timeout_s=model.response_timeout,
            max_constructor_retry_count=self.constructor_retries,
            logging_config={"enable_access_log": False},  # as the local engine: no line per request
        )
        if low == high:
            options["num_replicas"] = low
        else:
            options["autoscaling_config"] = self.autoscaling_config(model, low, high)
        return options

    async def deploy(self, model: RayModelVersion, low: int, high: int):
        """Create or update the model's application; wait until it runs. Returns its handle."""
        handle = await asyncio.to_thread(self._run, model, low, high)
        deadline = time.monotonic() + model.startup_timeout
        while True:
            app = (await asyncio.to_thread(self._applications)).get(model.app_name)
            if app is not None and app.status == "RUNNING":
                return handle
            if app is not None and app.status == "DEPLOY_FAILED":
                raise InferenceError(app.message or f"application {model.app_name} failed to deploy", 500)
            if time.monotonic() > deadline:
                detail = f": {app.message}" if app is not None and app.message else ""
                capacity = await asyncio.to_thread(self._capacity, model)
                raise InferenceError(f"not running within {model.startup_timeout:g}s{detail} {capacity}", 500)
            await asyncio.sleep(0.2)

    def _capacity(self, model: RayModelVersion) -> str:
        ray, _ = require_ray()
        cpus = self.deployment_options(model, 1, 1)["ray_actor_options"]["num_cpus"]
        total = ray.cluster_resources().get("CPU", 0)
        return f"(each replica reserves {cpus:g} CPU; the Ray cluster has {total:g})"

    def _run(self, model: RayModelVersion, low: int, high: int):
        _, serve = require_ray()
        if not self._started:
            self.start()
        spec = model.replica_spec()
        deployment = serve.deployment(ModelReplica).options(**self.deployment_options(model, low, high))
        # serve.run gives each deploy a random code version, which restarts every replica.
        # A version fixed by the spec makes a change of replicas or autoscaling an in-place update.
        deployment._version = spec.code_version()
        # Not serve.run: it waits without a time limit, and a replica that cannot be placed never runs.
        return serve._run(deployment.bind(spec), _blocking=False, name=model.app_name, route_prefix=None)

    async def delete(self, model: RayModelVersion) -> None:
        if self._started:
            await asyncio.to_thread(self._delete, model.app_name)

    def _delete(self, app_name: str) -> None:
        _, serve = require_ray()
        if app_name in serve.status().applications:
            serve.delete(app_name)

    # -- status ----------------------------------------------------------------
    async def refresh(self, models: list[RayModelVersion] | None = None) -> None:
        """Read replicas and status of ``models`` (default: all) from Ray Serve."""
        models = list(self._models.values()) if models is None else models
        if not models or not self._started:
            return
        generations = [model._generation for model in models]
        apps = await asyncio.to_thread(self._applications)
        for model, generation in zip(models, generations):
            model.update(apps.get(model.app_name), generation)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            try:
                await self.refresh()
            except Exception as exc:  # Ray unreachable for a moment: keep the last known state
                log.warning("cannot read the Ray Serve status: %s", exc)

    def _applications(self) -> dict[str, AppState]:
        """Status and replicas (with pids) of every application of this engine."""
        ray, _ = require_ray()
        # serve.status() only counts replicas by state; the controller's details name each one and its pid.
        try:
            from ray.serve.context import _get_global_client

            details = _get_global_client().get_serve_details()
        except (ImportError, AttributeError):  # that internal API moved: fall back to the counts
            return self._statuses()
        here = ray.get_runtime_context().get_node_id()
        apps = {}
        for name, app in (details.get("applications") or {}).items():
            if not name.startswith(f"{self.app_prefix}:"):
                continue
            deployment = (app.get("deployments") or {}).get(DEPLOYMENT_NAME) or {}
            replicas = [
                RayReplica(
                    replica_id=r.get("replica_id", ""),
                    state=_REPLICA_STATES.get(_value(r.get("state")), WorkerState.STARTING),
                    pid=r.get("pid"),
                    start_time=r.get("start_time_s") or time.time(),
                    node_ip=r.get("node_ip") or "",
                    local=r.get("node_id") == here,
                    actor_name=r.get("actor_name") or "",
                )
                for r in deployment.get("replicas") or []
            ]
            message = _failure(deployment.get("message") or "") or app.get("message") or ""
            apps[name] = AppState(_value(app.get("status")), message, replicas)
        return apps

    def _statuses(self) -> dict[str, AppState]:
        """Like ``_applications`` from the public ``serve.status()``: replicas without pids."""
        _, serve = require_ray()
        apps = {}
        for name, app in serve.status().applications.items():
            if not name.startswith(f"{self.app_prefix}:"):
                continue
            deployment = app.deployments.get(DEPLOYMENT_NAME)
            counts = deployment.replica_states if deployment is not None else {}
            replicas = [
                RayReplica(f"{_value(state).lower()}-{i}", _REPLICA_STATES.get(_value(state), WorkerState.STARTING),
                           pid=None, start_time=time.time())
                for state, count in counts.items()
                for i in range(count)
            ]  # fmt: skip
            message = _failure(deployment.message) if deployment is not None and deployment.message else app.message
            apps[name] = AppState(_value(app.status), message, replicas)
        return apps


async def _awaited(response):
    return await response


def _value(state: Any) -> str:
    return str(getattr(state, "value", state) or "")


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _failure(message: str) -> str:
    """The useful part of a Ray Serve deployment message: the exception line ending a traceback."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if len(lines) > 1 and "Traceback" in message:
        return lines[-1]
    return message.strip()


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("%s", task.exception())


# -- the command line ----------------------------------------------------------
def serve_with_ray(
    settings: "Settings",
    models: list[tuple[str | None, str]],
    *,
    token: str | None = None,
    restore: bool = True,
    num_cpus: int | None = None,
    **options: Any,
) -> None:
    """``openmaker serve --engine ray``: the model server with Ray Serve running the models.

    Starts a local Ray (``num_cpus``, default all cores, no dashboard) unless
    ``$RAY_ADDRESS`` names a cluster to join, serves until Ctrl-C, then deletes
    the deployments and, when it started them, shuts down Serve and Ray.
    ``options`` are the CLI's registration options (``initial_workers``,
    ``threads_per_worker``, ``batch_size``, ``max_batch_delay_ms``).
    """

    from openmaker.serving.cli import _loop_factory, console, fail, print_endpoints, register_models
    from openmaker.serving.server import ModelServer, ServerError
    from openmaker.serving.snapshot import DatabaseRegistrationStore

    try:
        ray, serve = require_ray()
    except RayNotInstalled as exc:
        fail(str(exc))
    per_replica = os.environ.get("OPENMAKER_RAY_NUM_CPUS_PER_REPLICA")
    engine = RayEngine(num_cpus_per_replica=float(per_replica) if per_replica else None)
    if num_cpus is None and os.environ.get("OPENMAKER_RAY_NUM_CPUS"):
        num_cpus = int(os.environ["OPENMAKER_RAY_NUM_CPUS"])

    async def main() -> None:
        store = DatabaseRegistrationStore(settings.resolved_database_url)
        server = ModelServer(settings=settings, store=store, token=token, engine=engine)

        async def ready(server: ModelServer) -> None:
            problems = await server.registry.restore() if restore else []
            names = {m.name for m in server.registry.all_versions()}
            problems += await register_models(server, [m for m in models if m[0] not in names], **options)
            for problem in problems:
                console.print(f"[yellow]warning:[/yellow] {problem}")
            print_endpoints(server)
            where = os.environ.get("RAY_ADDRESS") or "a local Ray"
            console.print(f"Models run as Ray Serve deployments on {where}.")

        await server.run(on_ready=ready)

    connected_here = not ray.is_initialized()
    started_ray = False
    try:
        console.print("starting Ray ..." if not os.environ.get("RAY_ADDRESS") else "joining the Ray cluster ...")
        started_ray = init_ray(num_cpus)
        logging.getLogger("ray.serve").setLevel(logging.WARNING)  # not a line per deployment change
        engine.start()
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(main())
    except ServerError as exc:
        fail(str(exc), 1)
    except KeyboardInterrupt:
        pass
    finally:
        if connected_here and ray.is_initialized():
            if started_ray:
                serve.shutdown()
            ray.shutdown()
    console.print("stopped")
