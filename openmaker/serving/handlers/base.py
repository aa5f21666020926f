"""The handler contract: ``initialize`` once, then ``handle`` batches.

``Handler.handle`` runs the three stages the way TorchServe's BaseHandler
does, but keeps each request's failure to itself: ``preprocess`` runs per
request, ``inference`` once on the list of inputs that decoded, and
``postprocess`` per request. A request that fails in ``preprocess`` gets its
own error response while the rest of the batch is answered.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from openmaker.serving.errors import InferenceError
from openmaker.serving.protocol import InferenceRequest, InferenceResponse


@dataclass
class Context:
    """What a handler knows about its model and worker."""

    model_dir: Path
    model_name: str
    model_version: str
    manifest: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 1
    threads: int = 1
    worker_id: int = 0

    @property
    def code_dir(self) -> Path:
        return self.model_dir / "code"


class Handler:
    """Base class of every handler; subclasses override the stages they need."""

    #: Open Inference Protocol platform name shown by model metadata.
    platform = "openmaker"
    #: Threads that preprocess the requests of one batch side by side; worth it when
    #: ``preprocess`` releases the GIL (image decoding, numpy), as the image handler's does.
    preprocess_threads = 1
    _pool = None

    def initialize(self, context: Context) -> None:
        """Load the model from ``context.model_dir``; called once per worker."""
        self.context = context

    def metadata(self) -> dict[str, Any]:
        """Tensor metadata for ``GET /v2/models/{m}``: ``inputs``/``outputs`` lists."""
        return {"platform": self.platform, "inputs": [], "outputs": []}

    def preprocess(self, request: InferenceRequest) -> Any:
        """Decode one request into a model input."""
        return request

    def inference(self, inputs: list[Any]) -> list[Any]:
        """Run the model on a list of decoded inputs; return one output each."""
        raise NotImplementedError(f"{type(self).__name__} does not implement inference()")

    def postprocess(self, output: Any, request: InferenceRequest) -> InferenceResponse:
        """Encode one model output as the response to ``request``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement postprocess()")

    def handle(self, requests: list[InferenceRequest]) -> list[InferenceResponse]:
        responses: list[InferenceResponse | None] = [None] * len(requests)
        decoded: list[Any] = []
        positions: list[int] = []
        for i, (ok, value) in enumerate(self._preprocess_all(requests)):
            if ok:
                decoded.append(value)
                positions.append(i)
            else:  # one bad request must not fail the batch
                responses[i] = error_response(value)
        if decoded:
            try:
                outputs = self.inference(decoded)
                if len(outputs) != len(decoded):
                    raise InferenceError(
                        f"handler returned {len(outputs)} outputs for {len(decoded)} inputs"
                    )
            except Exception as exc:
                failure = error_response(exc)
                for i in positions:
                    responses[i] = failure
            else:
                for i, output in zip(positions, outputs):
                    try:
                        responses[i] = self.postprocess(output, requests[i])
                    except Exception as exc:
                        responses[i] = error_response(exc)
        return [r if r is not None else error_response(InferenceError("no response")) for r in responses]


    def _preprocess_one(self, request: InferenceRequest) -> tuple[bool, Any]:
        try:
            return True, self.preprocess(request)
        except Exception as exc:
            return False, exc

    def _preprocess_all(self, requests: list[InferenceRequest]) -> list[tuple[bool, Any]]:
        if self.preprocess_threads <= 1 or len(requests) <= 1:
            return [self._preprocess_one(r) for r in requests]
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.preprocess_threads, thread_name_prefix="preprocess")
        return list(self._pool.map(self._preprocess_one, requests))


def error_response(exc: BaseException) -> InferenceResponse:
    """Turn an exception into the JSON error response the client sees."""
    import json

    if isinstance(exc, InferenceError):
        status, message = exc.status, exc.message
    elif isinstance(exc, NotImplementedError):
        status, message = 501, str(exc) or "not implemented"
    else:
        status = 500
        message = f"{type(exc).__name__}: {exc}"
        # Keep the traceback in the worker's log, not in the client's body.
        traceback.print_exception(exc, file=sys.stderr)
    body = json.dumps({"code": status, "type": type(exc).__name__, "message": message})
    return InferenceResponse(body=body.encode(), content_type="application/json", status=status)


def builtin_handlers() -> dict[str, str]:
    """Names of the installed handlers and their ``module:Class`` targets."""
    return {ep.name: ep.value for ep in entry_points(group="openmaker.handlers")}


def load_handler_class(name: str, code_dir: Path | None = None) -> type[Handler]:
    """Resolve a handler by entry-point name or ``module:Class`` (searched in ``code_dir`` first)."""
    target = builtin_handlers().get(name, name)
    if ":" not in target:
        known = ", ".join(sorted(builtin_handlers())) or "none"
        raise InferenceError(f"unknown handler {name!r}; built-in handlers: {known}; or use module:Class")
    module_name, _, attr = target.partition(":")
    if code_dir is not None and code_dir.is_dir() and str(code_dir) not in sys.path:
        sys.path.insert(0, str(code_dir))
    module = importlib.import_module(module_name)
    cls = getattr(module, attr, None)
    if cls is None:
        raise InferenceError(f"handler module {module_name!r} has no attribute {attr!r}")
    return cls
