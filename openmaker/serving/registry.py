"""The models a server holds: register, scale, describe, unregister, default versions.

Where a model may come from is checked here: a name in the model store, or a
URL under one of the allowed prefixes. Anything else is refused with 403 —
letting a management client fetch code from an arbitrary URL is how
TorchServe's ShellTorch (CVE-2023-43654) turned into remote code execution.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any, Iterator, Protocol
from urllib.parse import urlparse

from openmaker.config import Settings
from openmaker.serving.archive import ModelArchive
from openmaker.serving.errors import ArchiveError, Conflict, Forbidden, InferenceError, ModelNotFound
from openmaker.serving.metrics import ModelMetrics, ServerMetrics
from openmaker.serving.model import ModelVersion
from openmaker.serving.pipeline import Pipeline, PipelineError, check_stage_count
from openmaker.serving.workers import cleanup_socket_dir


class RegistrationStore(Protocol):
    """Where registrations are kept so a restarted server serves the same models."""

    def save(self, record: dict[str, Any]) -> None: ...
    def delete(self, name: str, version: str) -> None: ...
    def load(self) -> list[dict[str, Any]]: ...
    def save_endpoint(self, name: str, stages: list[tuple[str, str]], accepts: list[str | None] | None) -> None: ...
    def delete_endpoint(self, name: str) -> None: ...
    def load_endpoints(self) -> list[dict[str, Any]]: ...


class Engine(Protocol):
    """What runs the model versions of a registry: local worker processes, or Ray Serve.

    ``create_model`` makes the ``ModelVersion`` (or subclass) that queues, runs and
    scales one registered archive; ``shutdown`` runs after every model is stopped.
    """

    name: str

    def create_model(self, archive: ModelArchive, url: str, metrics: ModelMetrics, **options: Any) -> ModelVersion: ...
    async def shutdown(self) -> None: ...


class LocalEngine:
    """The default engine: each model version runs its own local worker processes."""

    name = "local"

    def create_model(self, archive: ModelArchive, url: str, metrics: ModelMetrics, **options: Any) -> ModelVersion:
        return ModelVersion(archive, url, metrics, **options)

    async def shutdown(self) -> None:
        cleanup_socket_dir()


class ModelRegistry:
    """Every model version a server serves, by name and version."""

    def __init__(
        self, settings: Settings, store: RegistrationStore | None = None, engine: Engine | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.engine = engine or LocalEngine()
        self.metrics = ServerMetrics(self.all_versions)
        self._models: dict[str, dict[str, ModelVersion]] = {}
        self._defaults: dict[str, str] = {}
        #: Inference pipelines by endpoint name (kept in the store, like the models).
        self._endpoints: dict[str, Pipeline] = {}
        self._lock = asyncio.Lock()
        self.unpack_root = settings.home / "models"
        #: True while the server registers its startup models: /ping answers 503 until then.
        self.loading = False

    # -- lookup --------------------------------------------------------------
    def all_versions(self) -> Iterator[ModelVersion]:
        for versions in list(self._models.values()):
            yield from list(versions.values())

    def names(self) -> list[str]:
        return sorted(self._models)

    def get(self, name: str, version: str | None = None) -> ModelVersion:
        versions = self._models.get(name)
        if not versions:
            raise ModelNotFound(f"model {name!r} is not registered")
        key = version or self._defaults[name]
        model = versions.get(key)
        if model is None:
            raise ModelNotFound(f"model {name!r} has no version {key!r}; versions: {', '.join(sorted(versions))}")
        return model

    def versions(self, name: str) -> list[ModelVersion]:
        if name not in self._models:
            raise ModelNotFound(f"model {name!r} is not registered")
        return list(self._models[name].values())

    def is_default(self, model: ModelVersion) -> bool:
        return self._defaults.get(model.name) == model.version

    def default_model(self) -> ModelVersion:
        """The model ``/invocations`` serves when none is named: the only one registered."""
        if len(self._models) == 1:
            return self.get(next(iter(self._models)))
        if not self._models:
            raise ModelNotFound("no model is registered")
        raise InferenceError(
            "several models are registered; name one with the X-Amzn-SageMaker-Target-Model header "
            f"or ?model_name= ({', '.join(self.names())})",
            400,
        )

    # -- where archives may come from ---------------------------------------
    def resolve_url(self, url: str, trusted: bool = False) -> Path:
        """Map a registration URL to a local archive path, enforcing the allow-list.

        ``trusted`` is for the operator's own command line: any absolute local path is fine there.
        """
        if not url:
            raise InferenceError("parameter 'url' is required", 400)
        if trusted and Path(url).is_absolute() and Path(url).exists():
            return Path(url).resolve()
        store = self.settings.resolved_model_store.resolve()
        parsed = urlparse(url)
        if parsed.scheme in ("", "file") and not url.startswith(("/", "file:")):
            path = (store / url).resolve()
            if store not in path.parents:
                raise Forbidden(f"{url!r} points outside the model store")
            if not path.exists():
                raise ModelNotFound(f"no model archive {url!r} in the model store {store}")
            return path
        allowed = [p for p in self.settings.allowed_urls if p]
        if not any(url.startswith(prefix) for prefix in allowed):
            if parsed.scheme in ("", "file"):
                path = Path(parsed.path if parsed.scheme else url).resolve()
                if store in path.parents and path.exists():
                    return path
            raise Forbidden(
                f"registering models from {url!r} is not allowed: use a name in the model store ({store}) "
                "or add a URL prefix to the allowed_urls setting"
            )
        if parsed.scheme in ("", "file"):
            path = Path(parsed.path if parsed.scheme else url)
            if not path.exists():
                raise ModelNotFound(f"model archive {url!r} does not exist")
            return path
        return self._download(url)

    def _download(self, url: str) -> Path:
        from openmaker import storage

        name = Path(urlparse(url).path).name or "model"
        dest = self.settings.resolved_model_store / ".downloads" / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            if urlparse(url).scheme in ("http", "https"):
                import httpx

                with httpx.stream("GET", url, follow_redirects=False, timeout=60) as r:
                    r.raise_for_status()
                    with dest.open("wb") as f:
                        for chunk in r.iter_bytes():
                            f.write(chunk)
                return dest
            return storage.download(url, dest)
        except FileNotFoundError as exc:
            raise ModelNotFound(f"model archive {url!r} does not exist") from exc
        except ValueError as exc:
            raise InferenceError(str(exc), 400) from exc
        except Exception as exc:
            raise InferenceError(f"cannot fetch {url!r}: {exc}", 502) from exc

    # -- management ----------------------------------------------------------
    async def register(
        self,
        url: str,
        *,
        model_name: str | None = None,
        handler: str | None = None,
        batch_size: int | None = None,
        max_batch_delay_ms: float | None = None,
        initial_workers: int | None = None,
        synchronous: bool = False,
        response_timeout: float | None = None,
        threads_per_worker: int | None = None,
        persist: bool = True,
        trusted: bool = False,
    ) -> ModelVersion:
        """Load an archive and start its workers; ``trusted`` skips the URL allow-list (CLI only)."""
        s = self.settings
        path = await asyncio.to_thread(self.resolve_url, url, trusted)
        archive = await asyncio.to_thread(ModelArchive.open, path, self.unpack_root, model_name)
        _check_positive(batch_size=batch_size, threads_per_worker=threads_per_worker, response_timeout=response_timeout)
        if max_batch_delay_ms is not None and max_batch_delay_ms < 0:
            raise InferenceError("max_batch_delay must be >= 0", 400)
        if initial_workers is not None and initial_workers < 0:
            raise InferenceError("initial_workers must be >= 0", 400)
        async with self._lock:
            if archive.name in self._endpoints:
                raise Conflict(f"{archive.name!r} is the name of an inference pipeline endpoint; choose another model name")
            if archive.version in self._models.get(archive.name, {}):
                raise Conflict(f"model {archive.name!r} version {archive.version} is already registered")
            model = self.engine.create_model(
                archive,
                url,
                self.metrics.for_model(archive.name, archive.version),
                handler=handler,
                batch_size=batch_size or s.default_batch_size,
                max_batch_delay_ms=s.default_max_batch_delay_ms if max_batch_delay_ms is None else max_batch_delay_ms,
                response_timeout=response_timeout or s.default_response_timeout,
                startup_timeout=s.default_startup_timeout,
                threads_per_worker=threads_per_worker or s.default_threads_per_worker,
                queue_size=s.job_queue_size,
                pipeline_depth=s.worker_pipeline_depth,
            )
            self._models.setdefault(archive.name, {})[archive.version] = model
            self._defaults.setdefault(archive.name, archive.version)
        workers = s.default_workers_per_model if initial_workers is None else initial_workers
        try:
            await model.scale(workers, synchronous=synchronous)
        except InferenceError:
            await self._remove(model)
            raise
        if persist:
            await self._persist(model)
        return model

    async def scale(
        self,
        name: str,
        version: str | None,
        min_workers: int,
        max_workers: int | None,
        synchronous: bool,
        threads_per_worker: int | None = None,
    ) -> ModelVersion:
        model = self.get(name, version)
        if threads_per_worker is not None and threads_per_worker != model.threads_per_worker:
            _check_positive(threads_per_worker=threads_per_worker)
            # Thread counts are fixed when a process starts: restart the workers.
            await model.scale(0)
            model.threads_per_worker = threads_per_worker
        await model.scale(min_workers, max_workers, synchronous)
        await self._persist(model)
        return model

    async def unregister(self, name: str, version: str | None) -> ModelVersion:
        model = self.get(name, version)
        users = [e.name for e in self._endpoints.values() if e.uses(model)]
        if users:
            raise Conflict(
                f"model {name!r} version {model.version} is a stage of endpoint(s) {', '.join(sorted(users))}; "
                "delete the endpoint(s) first"
            )
        if self.is_default(model) and len(self._models[name]) > 1:
            raise Conflict(
                f"version {model.version} is the default of model {name!r}; set another default version first"
            )
        await self._remove(model)
        if self.store is not None:
            await asyncio.to_thread(self.store.delete, model.name, model.version)
        return model

    async def set_default(self, name: str, version: str) -> ModelVersion:
        model = self.get(name, version)
        self._defaults[name] = version
        for other in self._models[name].values():
            await self._persist(other)
        return model

    async def _remove(self, model: ModelVersion) -> None:
        async with self._lock:
            versions = self._models.get(model.name, {})
            versions.pop(model.version, None)
            if not versions:
                self._models.pop(model.name, None)
                self._defaults.pop(model.name, None)
            elif self._defaults.get(model.name) == model.version:
                self._defaults[model.name] = sorted(versions)[0]
        await model.stop()
        if model.archive.path.is_relative_to(self.unpack_root):
            shutil.rmtree(model.archive.path, ignore_errors=True)

    async def _persist(self, model: ModelVersion) -> None:
        if self.store is None:
            return
        record = {
            "model_name": model.name,
            "model_version": model.version,
            "url": model.url,
            "handler": model.handler,
            "batch_size": model.batch_size,
            "max_batch_delay_ms": model.max_batch_delay_ms,
            "min_workers": model.min_workers,
            "max_workers": model.max_workers,
            "threads_per_worker": model.threads_per_worker,
            "response_timeout": model.response_timeout,
            "is_default": self.is_default(model),
        }
        await asyncio.to_thread(self.store.save, record)

    async def restore(self) -> list[str]:
        """Register again what the store remembers; returns the problems, one line each."""
        if self.store is None:
            return []
        problems = []
        for rec in await asyncio.to_thread(self.store.load):
            try:
                await self.register(
                    rec["url"],
                    model_name=rec["model_name"],
                    handler=rec.get("handler"),
                    batch_size=rec.get("batch_size"),
                    max_batch_delay_ms=rec.get("max_batch_delay_ms"),
                    initial_workers=rec.get("min_workers"),
                    response_timeout=rec.get("response_timeout"),
                    threads_per_worker=rec.get("threads_per_worker"),
                    persist=False,
                    trusted=True,  # it passed the checks when it was first registered
                )
                if rec.get("is_default"):
                    self._defaults[rec["model_name"]] = rec["model_version"]
            except (InferenceError, ArchiveError) as exc:
                problems.append(f"{rec['model_name']} {rec['model_version']}: {exc}")
        for rec in await asyncio.to_thread(self.store.load_endpoints):
            try:
                await self.create_endpoint(rec["name"], rec["stages"], rec["accepts"], persist=False)
            except InferenceError as exc:
                problems.append(f"endpoint {rec['name']}: {exc}")
        return problems

    # -- inference pipeline endpoints ---------------------------------------
    async def create_endpoint(
        self,
        name: str,
        model_names: list[str | tuple[str, str | None]],
        accepts: list[str | None] | None = None,
        persist: bool = True,
    ) -> Pipeline:
        """A serial inference pipeline over registered models (each ``name`` or ``(name, version)``;
        a bare name is pinned to the model's default version now)."""
        if not name or not isinstance(name, str) or "/" in name:
            raise PipelineError(f"invalid endpoint name {name!r}")
        check_stage_count(len(model_names))
        async with self._lock:
            if name in self._models:
                raise Conflict(f"{name!r} is the name of a registered model; choose another endpoint name")
            if name in self._endpoints:
                raise Conflict(f"endpoint {name!r} already exists; delete it first (a pipeline is immutable)")
            stages = []
            for spec in model_names:
                model_name, version = (spec, None) if isinstance(spec, str) else spec
                stages.append(self.get(model_name, version or None))
            pipeline = Pipeline(name, stages, accepts)
            self._endpoints[name] = pipeline
        if persist and self.store is not None:
            pinned = [(stage.name, stage.version) for stage in pipeline.stages]
            await asyncio.to_thread(self.store.save_endpoint, name, pinned, pipeline.accepts)
        return pipeline

    def get_endpoint(self, name: str) -> Pipeline:
        pipeline = self._endpoints.get(name)
        if pipeline is None:
            raise ModelNotFound(f"endpoint {name!r} does not exist")
        return pipeline

    def endpoints(self) -> list[Pipeline]:
        return [self._endpoints[n] for n in sorted(self._endpoints)]

    def has_endpoint(self, name: str) -> bool:
        return name in self._endpoints

    async def delete_endpoint(self, name: str) -> Pipeline:
        async with self._lock:
            pipeline = self.get_endpoint(name)
            del self._endpoints[name]
        if self.store is not None:
            await asyncio.to_thread(self.store.delete_endpoint, name)
        return pipeline

    async def shutdown(self) -> None:
        await asyncio.gather(*(model.stop() for model in list(self.all_versions())))
        await self.engine.shutdown()


def _check_positive(**values: float | None) -> None:
    for key, value in values.items():
        if value is not None and value <= 0:
            raise InferenceError(f"{key} must be > 0, got {value}", 400)
