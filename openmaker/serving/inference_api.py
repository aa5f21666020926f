"""The inference API (port 8080): TorchServe/MMS predictions, SageMaker's ``/ping`` and
``/invocations``, and the Open Inference Protocol (``/v2``)."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from openmaker import __version__
from openmaker.serving.errors import BadRequest, InferenceError
from openmaker.serving.http import create_api_app, error_body, error_response
from openmaker.serving.model import ModelVersion
from openmaker.serving.pipeline import PipelineStageError
from openmaker.serving.protocol import InferenceRequest, InferenceResponse
from openmaker.serving.registry import ModelRegistry
from openmaker.serving.tensors import decode_inputs, encode_outputs

TARGET_MODEL_HEADER = "x-amzn-sagemaker-target-model"
# Headers a handler may read; SageMaker passes little more than these through.
_FORWARDED = ("content-type", "accept", "x-amzn-sagemaker-custom-attributes", "x-request-id")


class PayloadTooLarge(InferenceError):
    status = 413


async def receive_body(receive, content_length: str | None, limit: int) -> bytes:
    """Read an ASGI request body, refusing more than ``limit`` bytes without reading it all."""
    if content_length is not None:
        try:
            size = int(content_length)
        except ValueError:
            raise BadRequest(f"invalid Content-Length {content_length!r}") from None
        if size > limit:
            raise PayloadTooLarge(f"request body of {size} bytes is over the limit of {limit} bytes")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest("the client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_body(request: Request, limit: int) -> bytes:
    return await receive_body(request.receive, request.headers.get("content-length"), limit)


async def to_inference_request(request: Request, limit: int) -> InferenceRequest:
    headers = request.headers
    content_type = headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        # curl -F data=@kitten.jpg: take the "data" (or "body") part, else the first one.
        form = await request.form(max_part_size=limit)
        part = form.get("data") or form.get("body") or next(iter(form.values()), None)
        if part is None:
            raise BadRequest("multipart body has no parts; send the input as the 'data' field")
        if isinstance(part, str):
            body, content_type = part.encode(), "text/plain"
        else:
            body, content_type = await part.read(), part.content_type or "application/octet-stream"
    else:
        body = await read_body(request, limit)
    return InferenceRequest(
        body=body,
        content_type=content_type,
        accept=headers.get("accept", ""),
        headers={k: headers[k] for k in _FORWARDED if k in headers},
    )


class PredictionsFastPath:
    """Answers ``POST /predictions/{model}[/{version}]`` and ``POST /endpoints/{name}/invocations``
    (inference pipelines) in plain ASGI, ahead of FastAPI.

    This is the server's hot path: routing, dependency solving and Request
    objects cost more than the rest of the frontend's work for a small model.
    Everything else (multipart bodies, other paths) goes to the FastAPI app,
    which also documents these routes; the answers are the same either way.
    """

    def __init__(self, app: FastAPI, registry: ModelRegistry, limit: int) -> None:
        self.app, self.registry, self.limit = app, registry, limit

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        if path.startswith("/predictions/"):
            parts = path[len("/predictions/") :].split("/")
            if not 1 <= len(parts) <= 2 or not all(parts):
                return await self.app(scope, receive, send)
            endpoint = False
        elif path.startswith("/endpoints/") and path.endswith("/invocations"):
            # SageMaker runtime's path for an endpoint: /endpoints/{name}/invocations
            parts = path[len("/endpoints/") : -len("/invocations")].split("/")
            if len(parts) != 1 or not parts[0]:
                return await self.app(scope, receive, send)
            endpoint = True
        else:
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        content_type = headers.get("content-type", "")
        if content_type.startswith("multipart/"):
            return await self.app(scope, receive, send)
        extra: list[tuple[bytes, bytes]] = []
        try:
            if endpoint:
                target = self.registry.get_endpoint(parts[0])
            else:
                target = self.registry.get(parts[0], parts[1] if len(parts) == 2 else None)
            body = await receive_body(receive, headers.get("content-length"), self.limit)
            request = InferenceRequest(
                body=body,
                content_type=content_type,
                accept=headers.get("accept", ""),
                headers={k: headers[k] for k in _FORWARDED if k in headers},
            )
            response = await (target.run(request) if endpoint else target.submit(request))
            status, payload, media = response.status, response.body, response.content_type
        except InferenceError as exc:
            status, media = exc.status, "application/json"
            payload = json.dumps(error_body(exc.status, type(exc).__name__, exc.message)).encode()
            retry_after = getattr(exc, "retry_after", None)
            if retry_after is not None:
                extra.append((b"retry-after", str(retry_after).encode()))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", media.encode("latin-1")), (b"content-length", str(len(payload)).encode()), *extra],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def to_http(response: InferenceResponse) -> Response:
    return Response(response.body, status_code=response.status, media_type=response.content_type)


def create_inference_app(registry: ModelRegistry) -> PredictionsFastPath:
    app = create_api_app(
        "openmaker inference API",
        __version__,
        "TorchServe/MMS predictions, SageMaker /ping and /invocations, Open Inference Protocol v2.",
    )
    limit = registry.settings.max_request_size

    @app.get("/ping", tags=["health"])
    async def ping() -> JSONResponse:
        """Healthy when every model runs at least its minimum number of workers."""
        if registry.loading:
            return JSONResponse({"status": "Starting"}, 503)
        unhealthy = [f"{m.name}/{m.version}" for m in registry.all_versions() if not m.healthy]
        if unhealthy:
            return JSONResponse({"status": "Unhealthy", "models": unhealthy}, 500)
        return JSONResponse({"status": "Healthy"})

    async def predict(model: ModelVersion, request: Request) -> Response:
        return to_http(await model.submit(await to_inference_request(request, limit)))

    @app.post("/predictions/{model_name}", tags=["inference"])
    async def predictions(model_name: str, request: Request) -> Response:
        """Run the default version of a model on the request body."""
        return await predict(registry.get(model_name), request)

    @app.post("/predictions/{model_name}/{version}", tags=["inference"])
    async def predictions_version(model_name: str, version: str, request: Request) -> Response:
        return await predict(registry.get(model_name, version), request)

    @app.post("/invocations", tags=["sagemaker"])
    async def invocations(request: Request) -> Response:
        """SageMaker's endpoint: the only model, or the model or pipeline endpoint named by header or ``?model_name=``."""
        target = request.headers.get(TARGET_MODEL_HEADER) or request.query_params.get("model_name")
        if target and registry.has_endpoint(target):
            return await run_endpoint(target, request)
        if target:
            for suffix in (".tar.gz", ".mar"):
                target = target.removesuffix(suffix)
            model = registry.get(target)
        else:
            model = registry.default_model()
        return await predict(model, request)

    async def run_endpoint(name: str, request: Request) -> Response:
        pipeline = registry.get_endpoint(name)
        try:
            return to_http(await pipeline.run(await to_inference_request(request, limit)))
        except PipelineStageError as exc:
            response = error_response(exc, request.url.path)
            if exc.retry_after is not None:
                response.headers["Retry-After"] = str(exc.retry_after)
            return response

    @app.post("/endpoints/{endpoint_name}/invocations", tags=["sagemaker"])
    async def endpoint_invocations(endpoint_name: str, request: Request) -> Response:
        """SageMaker runtime's InvokeEndpoint for an inference pipeline endpoint (2 to 15 models in series)."""
        return await run_endpoint(endpoint_name, request)

    # -- Open Inference Protocol (KServe v2) ----------------------------------
    @app.get("/v2", tags=["v2"])
    async def v2_metadata() -> dict:
        return {"name": "openmaker", "version": __version__, "extensions": []}

    @app.get("/v2/health/live", tags=["v2"])
    async def v2_live() -> Response:
        return Response(status_code=200)

    @app.get("/v2/health/ready", tags=["v2"])
    async def v2_ready() -> Response:
        ready = not registry.loading and all(m.healthy for m in registry.all_versions())
        return Response(status_code=200 if ready else 503)

    def v2_model(name: str, version: str | None) -> ModelVersion:
        return registry.get(name, version)

    def model_metadata(model: ModelVersion) -> dict:
        meta = model.metadata or {}
        return {
            "name": model.name,
            "versions": [m.version for m in registry.versions(model.name)],
            "platform": meta.get("platform", model.handler),
            "inputs": meta.get("inputs", []),
            "outputs": meta.get("outputs", []),
        }

    @app.get("/v2/models/{name}", tags=["v2"])
    async def v2_model_metadata(name: str) -> dict:
        return model_metadata(v2_model(name, None))

    @app.get("/v2/models/{name}/versions/{version}", tags=["v2"])
    async def v2_model_version_metadata(name: str, version: str) -> dict:
        return model_metadata(v2_model(name, version))

    @app.get("/v2/models/{name}/ready", tags=["v2"])
    async def v2_model_ready(name: str) -> Response:
        return Response(status_code=200 if v2_model(name, None).ready_workers else 503)

    @app.get("/v2/models/{name}/versions/{version}/ready", tags=["v2"])
    async def v2_model_version_ready(name: str, version: str) -> Response:
        return Response(status_code=200 if v2_model(name, version).ready_workers else 503)

    async def v2_infer(model: ModelVersion, request: Request) -> JSONResponse:
        raw = await read_body(request, limit)
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            return JSONResponse({"error": f"body is not valid JSON: {exc}"}, 400)
        try:
            inputs, wanted, request_id = decode_inputs(payload)
        except InferenceError as exc:
            return JSONResponse({"error": exc.message}, exc.status)
        try:
            response = await model.submit(InferenceRequest(tensors=inputs, request_id=request_id or ""))
        except InferenceError as exc:
            return JSONResponse({"error": exc.message}, exc.status)
        if response.status >= 400 or response.tensors is None:
            message = _message_of(response) if response.status >= 400 else "the handler returned no tensors"
            return JSONResponse({"error": message}, response.status if response.status >= 400 else 500)
        try:
            outputs = encode_outputs(response.tensors, wanted)
        except InferenceError as exc:
            return JSONResponse({"error": exc.message}, exc.status)
        body = {"model_name": model.name, "model_version": model.version, "outputs": outputs}
        if request_id is not None:
            body["id"] = request_id
        return JSONResponse(body)

    @app.post("/v2/models/{name}/infer", tags=["v2"])
    async def v2_model_infer(name: str, request: Request) -> JSONResponse:
        return await v2_infer(v2_model(name, None), request)

    @app.post("/v2/models/{name}/versions/{version}/infer", tags=["v2"])
    async def v2_model_version_infer(name: str, version: str, request: Request) -> JSONResponse:
        return await v2_infer(v2_model(name, version), request)

    return PredictionsFastPath(app, registry, limit)


def _message_of(response: InferenceResponse) -> str:
    try:
        return json.loads(response.body).get("message", "")
    except (ValueError, AttributeError):
        return response.body.decode("utf-8", "replace")
