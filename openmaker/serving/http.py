"""What the server's HTTP apps share: JSON error bodies and exception handlers.

Errors look like TorchServe's: ``{"code": 404, "type": "ModelNotFound",
"message": "..."}``. Validation problems that FastAPI would answer with 422
become 400, because a malformed request is the client's error of the
simplest kind.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from openmaker.serving.errors import InferenceError, ServiceUnavailable


def error_body(status: int, kind: str, message: str) -> dict:
    return {"code": status, "type": kind, "message": message}


def error_response(exc: InferenceError, path: str = "") -> JSONResponse:
    headers = {}
    if isinstance(exc, ServiceUnavailable):
        headers["Retry-After"] = str(exc.retry_after)
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if path.startswith("/v2"):  # the Open Inference Protocol's error shape
        return JSONResponse({"error": exc.message}, exc.status, headers=headers)
    return JSONResponse(error_body(exc.status, type(exc).__name__, exc.message), exc.status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InferenceError)
    async def _inference_error(request: Request, exc: InferenceError) -> JSONResponse:
        return error_response(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p not in ('query', 'path', 'body'))}: {e.get('msg')}"
            for e in exc.errors()
        )
        return JSONResponse(error_body(400, "BadRequest", f"invalid request: {problems}"), 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
        return JSONResponse(error_body(exc.status_code, kind, str(exc.detail)), exc.status_code, headers=exc.headers)


def create_api_app(title: str, version: str, description: str, **kwargs) -> FastAPI:
    """A FastAPI app whose ``/docs`` works offline (Swagger UI from the swagger-ui-bundle package, not a CDN)."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from starlette.responses import HTMLResponse
    from starlette.staticfiles import StaticFiles

    app = FastAPI(title=title, version=version, description=description, docs_url=None, redoc_url=None, **kwargs)
    # The bundled Swagger UI (4.x) renders OpenAPI 3.0 documents.
    app.openapi_version = "3.0.3"
    install_error_handlers(app)
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:  # the API works without its docs page
        return app
    app.mount("/docs-static", StaticFiles(directory=swagger_ui_path), name="docs-static")

    async def docs(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="openapi.json",
            title=f"{title} - docs",
            swagger_js_url="docs-static/swagger-ui-bundle.js",
            swagger_css_url="docs-static/swagger-ui.css",
            swagger_favicon_url="docs-static/favicon-32x32.png",
        )

    # A plain route, outside the app's dependencies: the description of an API is not a secret.
    app.add_route("/docs", docs, include_in_schema=False)
    return app
