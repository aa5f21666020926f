"""The management API (port 8081, loopback and bearer token by default), as TorchServe's."""

from __future__ import annotations

import json

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse

from openmaker import __version__
from openmaker.serving.errors import BadRequest, InferenceError
from openmaker.serving.http import create_api_app
from openmaker.serving.model import ModelVersion
from openmaker.serving.registry import ModelRegistry


def _status(message: str, code: int = 200) -> JSONResponse:
    return JSONResponse({"status": message}, code)


def create_management_app(registry: ModelRegistry, token: str | None) -> FastAPI:
    from openmaker.serving.auth import bearer_checker

    dependencies = [Depends(bearer_checker(token))] if token else []
    app = create_api_app(
        "openmaker management API",
        __version__,
        "Register, scale, describe and unregister models (TorchServe's management API).",
        dependencies=dependencies,
    )

    def describe(models: list[ModelVersion]) -> list[dict]:
        return [m.describe(registry.is_default(m)) for m in models]

    @app.post("/models", tags=["models"])
    async def register(
        url: str = Query(..., description="archive name in the model store, or an allowed URL"),
        model_name: str | None = None,
        handler: str | None = None,
        batch_size: int | None = None,
        max_batch_delay: float | None = Query(None, description="ms to wait to fill a batch"),
        initial_workers: int | None = None,
        synchronous: bool = False,
        response_timeout: float | None = Query(None, description="seconds"),
        threads_per_worker: int | None = None,
    ) -> JSONResponse:
        model = await registry.register(
            url,
            model_name=model_name,
            handler=handler,
            batch_size=batch_size,
            max_batch_delay_ms=max_batch_delay,
            initial_workers=initial_workers,
            synchronous=synchronous,
            response_timeout=response_timeout,
            threads_per_worker=threads_per_worker,
        )
        if model.min_workers == 0:
            return _status(
                f'Model "{model.name}" Version: {model.version} registered with 0 initial workers. '
                "Use scale workers API to add workers for the model."
            )
        if synchronous:
            return _status(f'Model "{model.name}" Version: {model.version} registered with {model.min_workers} initial workers')
        return _status(f'Model "{model.name}" Version: {model.version} registered; workers are starting', 202)

    @app.get("/models", tags=["models"])
    async def list_models(limit: int = Query(100, ge=1, le=1000), next_page_token: int = Query(0, ge=0)) -> dict:
        names = registry.names()
        page = names[next_page_token : next_page_token + limit]
        body: dict = {"models": [{"modelName": n, "modelUrl": registry.get(n).url} for n in page]}
        if next_page_token + limit < len(names):
            body["nextPageToken"] = str(next_page_token + limit)
        return body

    @app.get("/models/{model_name}", tags=["models"])
    async def describe_default(model_name: str) -> list[dict]:
        return describe([registry.get(model_name)])

    @app.get("/models/{model_name}/{version}", tags=["models"])
    async def describe_version(model_name: str, version: str) -> list[dict]:
        if version == "all":
            return describe(registry.versions(model_name))
        return describe([registry.get(model_name, version)])

    async def scale(model_name, version, min_worker, max_worker, synchronous, threads_per_worker) -> JSONResponse:
        if min_worker is None:
            raise InferenceError("parameter 'min_worker' is required", 400)
        if max_worker is not None and max_worker < min_worker:
            raise InferenceError(f"max_worker ({max_worker}) is below min_worker ({min_worker})", 400)
        model = await registry.scale(model_name, version, min_worker, max_worker, synchronous, threads_per_worker)
        target = f"model: {model.name}" + (f", version: {version}" if version else "")
        if synchronous:
            return _status(f"Workers scaled to {model.min_workers} for {target}")
        return _status("Processing worker updates...", 202)

    @app.put("/models/{model_name}", tags=["models"])
    async def scale_default(
        model_name: str,
        min_worker: int | None = Query(None, ge=0),
        max_worker: int | None = Query(None, ge=0),
        synchronous: bool = False,
        threads_per_worker: int | None = Query(None, ge=1),
    ) -> JSONResponse:
        return await scale(model_name, None, min_worker, max_worker, synchronous, threads_per_worker)

    @app.put("/models/{model_name}/{version}", tags=["models"])
    async def scale_version(
        model_name: str,
        version: str,
        min_worker: int | None = Query(None, ge=0),
        max_worker: int | None = Query(None, ge=0),
        synchronous: bool = False,
        threads_per_worker: int | None = Query(None, ge=1),
    ) -> JSONResponse:
        return await scale(model_name, version, min_worker, max_worker, synchronous, threads_per_worker)

    @app.put("/models/{model_name}/{version}/set-default", tags=["models"])
    async def set_default(model_name: str, version: str) -> JSONResponse:
        await registry.set_default(model_name, version)
        return _status(f"Default version successfully updated for model \"{model_name}\" to \"{version}\"")

    @app.delete("/models/{model_name}", tags=["models"])
    async def unregister_default(model_name: str) -> JSONResponse:
        model = await registry.unregister(model_name, None)
        return _status(f'Model "{model.name}" unregistered')

    @app.delete("/models/{model_name}/{version}", tags=["models"])
    async def unregister_version(model_name: str, version: str) -> JSONResponse:
        model = await registry.unregister(model_name, version)
        return _status(f'Model "{model.name}" version {model.version} unregistered')

    # -- inference pipeline endpoints (SageMaker serial inference pipelines) ------
    @app.post("/endpoints", tags=["endpoints"])
    async def create_endpoint(
        request: Request,
        name: str | None = Query(None, description="endpoint name (or JSON body {\"name\": ..., \"models\": [...]})"),
        models: str | None = Query(None, description="comma-separated models in order, each NAME or NAME:VERSION"),
    ) -> JSONResponse:
        """Create an endpoint that runs 2 to 15 registered models in series."""
        accepts = None
        raw = await request.body()
        if raw.strip():
            try:
                payload = json.loads(raw)
            except ValueError as exc:
                raise BadRequest(f"body is not valid JSON: {exc}") from None
            if not isinstance(payload, dict):
                raise BadRequest('body must be a JSON object: {"name": ..., "models": [...]}')
            name = payload.get("name", name)
            specs = payload.get("models", models)
            accepts = payload.get("accepts")
            if accepts is not None and (
                not isinstance(accepts, list) or not all(a is None or isinstance(a, str) for a in accepts)
            ):
                raise BadRequest("'accepts' must be a list with one content type (or null) per model")
        else:
            specs = models
        if not name or not isinstance(name, str):
            raise BadRequest("parameter 'name' is required")
        if isinstance(specs, str):
            specs = [s.strip() for s in specs.split(",") if s.strip()]
        if not specs or not isinstance(specs, list) or not all(isinstance(s, str) and s for s in specs):
            raise BadRequest("parameter 'models' is required: 2 to 15 model names, NAME or NAME:VERSION")
        pipeline = await registry.create_endpoint(name, [parse_model_spec(s) for s in specs], accepts)
        stages = " -> ".join(f"{m.name}:{m.version}" for m in pipeline.stages)
        return _status(f'Endpoint "{pipeline.name}" created: {stages}')

    @app.get("/endpoints", tags=["endpoints"])
    async def list_endpoints() -> dict:
        return {
            "endpoints": [
                {"endpointName": e.name, "models": [f"{m.name}:{m.version}" for m in e.stages]}
                for e in registry.endpoints()
            ]
        }

    @app.get("/endpoints/{name}", tags=["endpoints"])
    async def describe_endpoint(name: str) -> dict:
        return registry.get_endpoint(name).describe(lambda m: m.describe(registry.is_default(m)))

    @app.delete("/endpoints/{name}", tags=["endpoints"])
    async def delete_endpoint(name: str) -> JSONResponse:
        await registry.delete_endpoint(name)
        return _status(f'Endpoint "{name}" deleted')

    return app


def parse_model_spec(spec: str) -> str | tuple[str, str]:
    """``NAME`` (its default version) or ``NAME:VERSION``."""
    name, sep, version = spec.partition(":")
    if sep and not (name and version):
        raise BadRequest(f"model {spec!r}: expected NAME or NAME:VERSION")
    return (name, version) if sep else name
