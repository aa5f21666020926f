"""Serve a Linear Learner model (``model.json`` written by the training entry point) like SageMaker does.

Requests: ``text/csv`` (features only, one record per line), ``application/json``
(``{"instances": [{"features": [...]}, ...]}``, ``{"instances": [[...], ...]}``,
``{"features": [...]}`` or a bare list) and ``application/jsonlines`` (one
``{"features": [...]}`` or list per line).
Responses: ``application/json`` ``{"predictions": [{"score": x, "predicted_label": k}, ...]}``
(no ``predicted_label`` for a regressor) or ``application/jsonlines``. Like
SageMaker's Linear Learner, ``text/csv`` is not an accepted response type (406).
Bad rows are 400 naming the row and column, an unknown Content-Type is 415.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from openmaker.serving import codecs
from openmaker.serving.errors import ArchiveError, BadRequest, NotAcceptable, UnsupportedMediaType
from openmaker.serving.handlers.base import Context, Handler
from openmaker.serving.protocol import InferenceRequest, InferenceResponse

JSONLINES = "application/jsonlines"
JSONLINES_ALIASES = ("application/jsonlines", "application/jsonl", "application/x-jsonlines")
RECORDIO = "application/x-recordio-protobuf"
CONTENT_TYPES = (codecs.CSV, codecs.JSON, JSONLINES)
ACCEPT_TYPES = (codecs.JSON, JSONLINES)


class LinearLearnerHandler(Handler):
    platform = "linear-learner"

    def initialize(self, context: Context) -> None:
        super().initialize(context)
        from openmaker.training.linear_learner.model import MODEL_FILE, LinearLearner

        path = context.model_dir / MODEL_FILE
        if not path.is_file():
            raise ArchiveError(f"Linear Learner archive has no {MODEL_FILE} (written by the training job "
                               f"into the model directory)")
        try:
            self.model = LinearLearner.load(path)
        except Exception as exc:
            raise ArchiveError(f"cannot load {MODEL_FILE}: {type(exc).__name__}: {exc}") from exc
        self.feature_dim = self.model.feature_dim_
        self.predictor_type = self.model._hp["predictor_type"]

    def metadata(self) -> dict[str, Any]:
        outputs = [{"name": "score", "datatype": "FP64",
                    "shape": [-1, self.model._out] if self.predictor_type == "multiclass_classifier" else [-1]}]
        if self.predictor_type != "regressor":
            outputs.append({"name": "predicted_label", "datatype": "INT64", "shape": [-1]})
        return {"platform": self.platform, "predictor_type": self.predictor_type,
                "inputs": [{"name": "features", "datatype": "FP64", "shape": [-1, self.feature_dim]}],
                "outputs": outputs}

    # ------------------------------------------------------------------ request decoding

    def preprocess(self, request: InferenceRequest) -> tuple[np.ndarray, str]:
        if request.tensors is not None:
            if len(request.tensors) != 1:
                raise BadRequest(f"Linear Learner takes one input tensor [rows, {self.feature_dim}], "
                                 f"got {len(request.tensors)}")
            X = np.asarray(next(iter(request.tensors.values())), dtype=np.float64)
            if X.ndim == 1:
                X = X.reshape(1, -1)
            if X.ndim != 2 or X.shape[1] != self.feature_dim:
                raise BadRequest(f"input tensor has shape {list(X.shape)}; expected [rows, {self.feature_dim}]")
            return X, "tensors"
        accept = self._accept(request.accept)
        ctype = codecs.media_type(request.content_type)
        if ctype in JSONLINES_ALIASES:
            ctype = JSONLINES
        if ctype not in CONTENT_TYPES:
            if ctype == RECORDIO:
                raise UnsupportedMediaType("application/x-recordio-protobuf requests are not implemented; "
                                           "send text/csv or application/json")
            raise UnsupportedMediaType(f"unsupported Content-Type {request.content_type or '(none)'!r}; "
                                       f"Linear Learner accepts {', '.join(CONTENT_TYPES)}")
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"{ctype} body is not UTF-8: {exc}") from None
        if not text.strip():
            raise BadRequest("request body is empty")
        if ctype == codecs.CSV:
            rows = self._csv_rows(text)
        elif ctype == codecs.JSON:
            rows = self._json_rows(text)
        else:
            rows = self._jsonlines_rows(text)
        return self._to_array(rows), accept

    def _accept(self, header: str | None) -> str:
        types = codecs.parse_accept(header, default=codecs.JSON)
        for t in types:
            if t in JSONLINES_ALIASES:
                return JSONLINES
            if t == codecs.JSON:
                return codecs.JSON
        if codecs.CSV in types:
            raise NotAcceptable("Linear Learner does not support text/csv as the Accept type (as in SageMaker); "
                                "use application/json or application/jsonlines")
        raise NotAcceptable(f"cannot produce any type in Accept {header!r}; "
                            f"Linear Learner answers {', '.join(ACCEPT_TYPES)}")

    def _csv_rows(self, text: str) -> list[list[float]]:
        rows = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            values = line.split(",")
            if len(values) != self.feature_dim:
                raise BadRequest(f"CSV row {lineno} has {len(values)} columns; the model expects "
                                 f"{self.feature_dim} features (text/csv carries features only, no label)")
            row = []
            for col, value in enumerate(values, start=1):
                try:
                    number = float(value)
                except ValueError:
                    raise BadRequest(f"CSV row {lineno}, column {col}: {value.strip()!r} is not a number") from None
                if not np.isfinite(number):
                    raise BadRequest(f"CSV row {lineno}, column {col}: {value.strip()!r} is not finite")
                row.append(number)
            rows.append(row)
        return rows

    def _json_rows(self, text: str) -> list[list[float]]:
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise BadRequest(f"body is not valid JSON: {exc}") from None
        if isinstance(doc, dict):
            if "instances" in doc:
                instances = doc["instances"]
                if not isinstance(instances, list):
                    raise BadRequest('"instances" must be a list of {"features": [...]} objects or number lists')
            elif "features" in doc:
                instances = [doc]
            else:
                raise BadRequest('JSON body must be {"instances": [{"features": [...]}, ...]}')
        elif isinstance(doc, list):
            instances = [doc] if doc and all(_is_number(v) for v in doc) else doc
        else:
            raise BadRequest('JSON body must be {"instances": [{"features": [...]}, ...]}')
        return [self._instance(inst, i) for i, inst in enumerate(instances, start=1)]

    def _jsonlines_rows(self, text: str) -> list[list[float]]:
        rows = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except ValueError as exc:
                raise BadRequest(f"JSON Lines line {lineno} is not valid JSON: {exc}") from None
            rows.append(self._instance(doc, lineno, what="line"))
        return rows

    def _instance(self, inst: Any, index: int, what: str = "instance") -> list[float]:
        features = inst.get("features") if isinstance(inst, dict) else inst
        if isinstance(features, dict) and "values" in features:  # {"features": {"values": [...]}}
            features = features["values"]
        if not isinstance(features, list):
            raise BadRequest(f'{what} {index}: expected {{"features": [numbers]}} or a list of numbers')
        if len(features) != self.feature_dim:
            raise BadRequest(f"{what} {index} has {len(features)} features; the model expects {self.feature_dim}")
        for col, value in enumerate(features, start=1):
            if not _is_number(value) or not np.isfinite(value):
                raise BadRequest(f"{what} {index}, feature {col}: {value!r} is not a finite number")
        return features

    def _to_array(self, rows: list[list[float]]) -> np.ndarray:
        if not rows:
            raise BadRequest("request holds no records")
        return np.asarray(rows, dtype=np.float64)

    # ------------------------------------------------------------------ model and response

    def inference(self, inputs: list[tuple[np.ndarray, str]]) -> list[dict[str, np.ndarray]]:
        arrays = [X for X, _ in inputs]
        X = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
        result = self.model.predict(X)
        outputs, start = [], 0
        for X_i in arrays:
            end = start + X_i.shape[0]
            outputs.append({k: v[start:end] for k, v in result.items()})
            start = end
        return outputs

    def postprocess(self, output: dict[str, np.ndarray], request: InferenceRequest) -> InferenceResponse:
        if request.tensors is not None:
            return InferenceResponse(tensors=dict(output))
        accept = self._accept(request.accept)
        scores = output["score"].tolist()
        labels = output.get("predicted_label")
        if labels is None:
            records = [{"score": s} for s in scores]
        else:
            records = [{"score": s, "predicted_label": int(k)} for s, k in zip(scores, labels.tolist())]
        if accept == JSONLINES:
            body = "".join(json.dumps(r) + "\n" for r in records)
            return InferenceResponse(body=body.encode(), content_type=JSONLINES)
        return InferenceResponse(body=json.dumps({"predictions": records}).encode(), content_type=codecs.JSON)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
