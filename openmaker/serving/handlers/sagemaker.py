"""SageMaker script mode: ``model_fn``, ``input_fn``, ``predict_fn``, ``output_fn`` or ``transform_fn``.

The user module is ``code/inference.py`` (or ``$SAGEMAKER_PROGRAM``) of the
archive. Missing functions fall back to the toolkit's defaults:
``input_fn`` decodes CSV/JSON/NPY, ``output_fn`` encodes to the ``Accept``
type, ``predict_fn`` calls ``model.predict`` (as the scikit-learn container
does) or the model itself. Like the toolkit, JSON and CSV bodies reach
``input_fn`` as ``str``; other types stay ``bytes``. Each function may take a
trailing ``context`` argument.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
from typing import Any, Callable

from openmaker.serving import codecs
from openmaker.serving.errors import ArchiveError, BadRequest, InferenceError
from openmaker.serving.handlers.base import Context, Handler
from openmaker.serving.protocol import InferenceRequest, InferenceResponse

_TEXT_TYPES = (codecs.JSON, codecs.CSV)


def _arity_call(fn: Callable, context: Context, *args: Any) -> Any:
    params = inspect.signature(fn).parameters
    positional = [p for p in params.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) > len(args) or any(p.kind == p.VAR_POSITIONAL for p in params.values()):
        return fn(*args, context)
    return fn(*args)


class SageMakerHandler(Handler):
    platform = "sagemaker_script_mode"

    def initialize(self, context: Context) -> None:
        super().initialize(context)
        program = os.environ.get("SAGEMAKER_PROGRAM") or context.manifest.get("model", {}).get("entryPoint") or "inference.py"
        path = context.code_dir / program
        if not path.is_file():
            raise ArchiveError(f"script-mode archive has no code/{program}")
        sys.path.insert(0, str(context.code_dir))
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
        self.module = module
        fn = lambda name: getattr(module, name, None)  # noqa: E731
        self.transform_fn = fn("transform_fn")
        self.input_fn, self.predict_fn, self.output_fn = fn("input_fn"), fn("predict_fn"), fn("output_fn")
        if self.transform_fn and (self.input_fn or self.predict_fn or self.output_fn):
            raise ArchiveError(
                f"{program} defines transform_fn together with input_fn/predict_fn/output_fn; define one or the other"
            )
        model_fn = fn("model_fn")
        if model_fn is None:
            raise ArchiveError(f"{program} defines no model_fn(model_dir)")
        self.default_accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", codecs.JSON)
        self.model = _arity_call(model_fn, context, str(context.model_dir))

    def preprocess(self, request: InferenceRequest) -> InferenceRequest:
        return request

    def inference(self, inputs: list[InferenceRequest]) -> list[Any]:
        # Script-mode functions take one request at a time; batching only saves round trips.
        return [self._one(request) for request in inputs]

    def _one(self, request: InferenceRequest) -> Any:
        try:
            return self._transform(request)
        except Exception as exc:  # answered per request by postprocess
            return exc

    def _transform(self, request: InferenceRequest) -> tuple[bytes, str]:
        ctx = self.context
        ctype = codecs.media_type(request.content_type) or codecs.JSON
        accept = request.accept if request.accept and request.accept != "*/*" else self.default_accept
        body: Any = request.body
        if request.tensors is not None:
            data = next(iter(request.tensors.values())) if len(request.tensors) == 1 else request.tensors
            result = self._predict(data)
            return result, "tensors"
        if ctype in _TEXT_TYPES:
            try:
                body = request.body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InferenceError(f"{ctype} body is not UTF-8: {exc}", 400) from exc
        if self.transform_fn:
            result = _arity_call(self.transform_fn, ctx, self.model, body, ctype, accept)
        else:
            data = self._input(body, ctype) if self.input_fn else codecs.decode(body, ctype)
            prediction = self._predict(data)
            if self.output_fn:
                result = _arity_call(self.output_fn, ctx, prediction, accept)
            else:
                result = codecs.encode(prediction, accept)
        return result

    def _input(self, body: Any, content_type: str) -> Any:
        """The user's input_fn; what it cannot read is the client's error (400), not the server's."""
        try:
            return _arity_call(self.input_fn, self.context, body, content_type)
        except InferenceError:
            raise
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
            raise BadRequest(f"{exc}") from exc

    def _predict(self, data: Any) -> Any:
        if self.predict_fn:
            return _arity_call(self.predict_fn, self.context, data, self.model)
        if hasattr(self.model, "predict"):
            return self.model.predict(data)
        if callable(self.model):
            return self.model(data)
        raise InferenceError("script defines no predict_fn and the model has no predict()", 500)

    def postprocess(self, output: Any, request: InferenceRequest) -> InferenceResponse:
        if isinstance(output, BaseException):
            raise output
        result, kind = output if isinstance(output, tuple) and len(output) == 2 else (output, None)
        if kind == "tensors":
            import numpy as np

            return InferenceResponse(tensors={"output0": np.asarray(result)})
        if kind is None:
            # transform_fn/output_fn returned a bare body: its type is the Accept type.
            accept = request.accept if request.accept and request.accept != "*/*" else self.default_accept
            kind = codecs.parse_accept(accept)[0]
        body = result if isinstance(result, bytes) else str(result).encode("utf-8")
        return InferenceResponse(body=body, content_type=kind)
