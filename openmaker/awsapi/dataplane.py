"""Data-plane operations, answered by models on the server found through their handler.

Comprehend Medical goes to a model with the ``clinical`` handler (``deid`` for ``DetectPHI``),
Rekognition's ``DetectText`` to one with the ``deid`` handler, each asked for the operation
by SageMaker's custom-attributes header; ``InvokeEndpoint`` goes to the named model or
pipeline endpoint. Requests queue in the model's bounded queue like any other, so a full
queue answers ``ThrottlingException``. The front end never imports the room behind a handler.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from openmaker.awsapi.errors import AwsError
from openmaker.awsapi.shapes import check_output
from openmaker.serving.errors import InferenceError, ModelNotFound, QueueFull, RequestTimeout
from openmaker.serving.protocol import InferenceRequest

CUSTOM_ATTRIBUTES = "x-amzn-sagemaker-custom-attributes"
JSON = "application/json"
#: Rekognition's limits: 5 MB of image bytes in the request, 15 MB for an S3 object.
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_S3_IMAGE_BYTES = 15 * 1024 * 1024


@dataclass(frozen=True)
class ModelOperation:
    """An AWS operation answered by a model: its handler, the ``operation=`` it is asked for, text limits."""

    handler: str
    operation: str
    #: Comprehend Medical's limit on ``Text`` in characters (None: no text member).
    text_limit: int | None = None
    #: The service's error for a request the model refuses.
    invalid: str = "InvalidRequestException"
    #: More custom attributes, pinning options a model's manifest could set otherwise.
    options: str = ""

    @property
    def attributes(self) -> str:
        return f"operation={self.operation}{',' + self.options if self.options else ''}"


#: Answers exactly in botocore's shapes: no OMOP concept ids as extra members, every score.
CLINICAL_OPTIONS = "omop_ids=false,min_score=0"
MODEL_OPERATIONS: dict[tuple[str, str], ModelOperation] = {
    ("comprehendmedical", "DetectPHI"): ModelOperation("deid", "detect-phi", 20_000),
    ("comprehendmedical", "DetectEntitiesV2"): ModelOperation("clinical", "detect-entities-v2", options=CLINICAL_OPTIONS, text_limit=20_000),
    ("comprehendmedical", "DetectEntities"): ModelOperation("clinical", "detect-entities", options=CLINICAL_OPTIONS, text_limit=20_000),
    ("comprehendmedical", "InferSNOMEDCT"): ModelOperation("clinical", "infer-snomedct", options=CLINICAL_OPTIONS, text_limit=10_000),
    ("comprehendmedical", "InferRxNorm"): ModelOperation("clinical", "infer-rxnorm", options=CLINICAL_OPTIONS, text_limit=10_000),
    ("comprehendmedical", "InferICD10CM"): ModelOperation("clinical", "infer-icd10cm", options=CLINICAL_OPTIONS, text_limit=10_000),
    ("rekognition", "DetectText"): ModelOperation("deid", "detect-text", invalid="InvalidParameterException"),
}

_UNAVAILABLE = {"comprehendmedical": "ServiceUnavailableException", "rekognition": "InternalServerError"}
_INTERNAL = {"comprehendmedical": "InternalServerException", "rekognition": "InternalServerError"}


MAX_INVOKE_BYTES = 6 * 1024 * 1024


def check_request_size(service: str, operation: str, params: Any) -> None:
    """The services' own size errors, checked before the shapes' length rules: Comprehend Medical's
    ``TextSizeLimitExceededException``, Rekognition's ``ImageTooLargeException``, InvokeEndpoint's 6 MB limit."""
    if service == "sagemaker-runtime" and isinstance(params, dict):
        size = len(params.get("Body") or b"")
        if size > MAX_INVOKE_BYTES:
            raise AwsError("ValidationError", f"Request payload of {size} bytes is over InvokeEndpoint's limit of {MAX_INVOKE_BYTES} bytes (6 MB).")
        return
    if service == "rekognition" and isinstance(params, dict) and isinstance(params.get("Image"), dict):
        data = params["Image"].get("Bytes")
        size = len(data) * 3 // 4 if isinstance(data, str) else len(data) if isinstance(data, bytes) else 0
        if size > MAX_IMAGE_BYTES:
            raise AwsError("ImageTooLargeException", f"Image size is too large: about {size} bytes, at most {MAX_IMAGE_BYTES}.")
        return
    spec = MODEL_OPERATIONS.get((service, operation))
    if spec is None or spec.text_limit is None or not isinstance(params, dict):
        return
    text = params.get("Text")
    if isinstance(text, str) and len(text) > spec.text_limit:
        raise AwsError(
            "TextSizeLimitExceededException",
            f"The size of the text submitted exceeds the size limit. Reduce the size of the text: {len(text)} "
            f"characters sent, {operation} takes at most {spec.text_limit}.",
        )


def find_model(registry, handler: str, service: str, operation: str):
    """The model that answers: the default version of the first model (by name) using ``handler``."""
    candidates = sorted(
        (m for m in registry.all_versions() if m.handler == handler and registry.is_default(m)), key=lambda m: m.name
    )
    if not candidates:
        raise AwsError(
            _UNAVAILABLE.get(service, "ServiceUnavailableException"),
            f"{service}:{operation} needs a model with the '{handler}' handler on this server and none is registered; "
            f"`openmaker up` registers the samples, or register one through the management API",
            503,
        )
    return candidates[0]


def model_failure(service: str, exc: InferenceError, invalid: str) -> AwsError:
    """A model server error in the service's words."""
    if isinstance(exc, QueueFull):
        return AwsError("ThrottlingException", f"Rate exceeded: {exc.message}")
    if isinstance(exc, RequestTimeout) or exc.status == 503:
        return AwsError(_UNAVAILABLE.get(service, "ServiceUnavailableException"), exc.message, 503)
    if 400 <= exc.status < 500:
        return AwsError(invalid, exc.message)
    return AwsError(_INTERNAL.get(service, "InternalServerException"), exc.message, 500)


async def ask_model(registry, service: str, operation: str, body: bytes, content_type: str) -> dict[str, Any]:
    """Send one request to the model for ``service:operation`` and return its JSON answer, shape-checked."""
    spec = MODEL_OPERATIONS[(service, operation)]
    model = find_model(registry, spec.handler, service, operation)
    request = InferenceRequest(
        body=body, content_type=content_type, accept=JSON,
        headers={"content-type": content_type, "accept": JSON, CUSTOM_ATTRIBUTES: spec.attributes},
    )  # fmt: skip
    try:
        response = await model.submit(request)
    except InferenceError as exc:
        raise model_failure(service, exc, spec.invalid) from None
    if response.status >= 400:
        raise model_failure(service, InferenceError(_error_message(response.body), response.status), spec.invalid)
    try:
        answer = json.loads(response.body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        answer = None
    problems = check_output(service, operation, answer) if isinstance(answer, dict) else ["not a JSON object"]
    if problems:
        raise AwsError(
            _INTERNAL.get(service, "InternalServerException"),
            f"model {model.name!r} answered {operation} outside its shape: {'; '.join(problems[:3])}",
            500,
        )
    return answer


async def comprehend_medical(registry, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps({"Text": params["Text"]}).encode()
    return await ask_model(registry, "comprehendmedical", operation, body, JSON)


# -- Rekognition --------------------------------------------------------------


def image_kind(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


def read_image(image: dict[str, Any]) -> bytes:
    """``Image.Bytes`` or ``Image.S3Object`` (through openmaker's storage), checked as Rekognition checks."""
    if ("Bytes" in image) == ("S3Object" in image):
        raise AwsError("InvalidParameterException", "Request has invalid parameters: give exactly one of Image.Bytes and Image.S3Object")
    if "Bytes" in image:
        data, limit = image["Bytes"], MAX_IMAGE_BYTES
    else:
        data, limit = _read_s3(image["S3Object"]), MAX_S3_IMAGE_BYTES
    if len(data) > limit:
        raise AwsError("ImageTooLargeException", f"Image size is too large: {len(data)} bytes, at most {limit}.")
    if image_kind(data) is None:
        raise AwsError("InvalidImageFormatException", "Request has invalid image format: only PNG and JPEG are supported.")
    return data


def _read_s3(obj: dict[str, Any]) -> bytes:
    from openmaker import storage

    bucket, name = obj.get("Bucket"), obj.get("Name")
    if not bucket or not name:
        raise AwsError("InvalidParameterException", "Request has invalid parameters: Image.S3Object needs Bucket and Name")
    try:
        return storage.read_bytes(f"s3://{bucket}/{name}")
    except (FileNotFoundError, PermissionError, OSError) as exc:
        raise AwsError(
            "InvalidS3ObjectException",
            f"Unable to get object metadata from S3. Check object key, region and/or access permissions: s3://{bucket}/{name} ({exc})",
        ) from None


def _inside(box: dict[str, float], region: dict[str, float]) -> bool:
    """Rekognition's rule: a detection is in a region when more than half of its area is."""
    left = max(box["Left"], region["Left"])
    top = max(box["Top"], region["Top"])
    right = min(box["Left"] + box["Width"], region["Left"] + region["Width"])
    bottom = min(box["Top"] + box["Height"], region["Top"] + region["Height"])
    overlap = max(0.0, right - left) * max(0.0, bottom - top)
    return overlap > 0.5 * box["Width"] * box["Height"]


def _region_box(region: dict[str, Any]) -> dict[str, float]:
    if "BoundingBox" in region:
        return {k: float(region["BoundingBox"].get(k, 0.0)) for k in ("Left", "Top", "Width", "Height")}
    xs = [p.get("X", 0.0) for p in region.get("Polygon", [])]
    ys = [p.get("Y", 0.0) for p in region.get("Polygon", [])]
    if not xs:
        raise AwsError("InvalidParameterException", "Request has invalid parameters: a region of interest needs a BoundingBox or a Polygon")
    return {"Left": min(xs), "Top": min(ys), "Width": max(xs) - min(xs), "Height": max(ys) - min(ys)}


def apply_filters(answer: dict[str, Any], filters: dict[str, Any] | None) -> dict[str, Any]:
    """DetectText's ``Filters``: word confidence and size minima, regions of interest. A line stays while one of its words does."""
    if not filters:
        return answer
    word_filter = filters.get("WordFilter") or {}
    regions = [_region_box(r) for r in filters.get("RegionsOfInterest") or []]
    min_conf = word_filter.get("MinConfidence", 0.0)
    min_h = word_filter.get("MinBoundingBoxHeight", 0.0)
    min_w = word_filter.get("MinBoundingBoxWidth", 0.0)

    def keep(detection: dict[str, Any]) -> bool:
        box = detection["Geometry"]["BoundingBox"]
        if detection["Confidence"] < min_conf or box["Height"] < min_h or box["Width"] < min_w:
            return False
        return not regions or any(_inside(box, region) for region in regions)

    words = [d for d in answer["TextDetections"] if d["Type"] == "WORD" and keep(d)]
    parents = {d.get("ParentId") for d in words}
    lines = [d for d in answer["TextDetections"] if d["Type"] == "LINE" and d["Id"] in parents]
    return {**answer, "TextDetections": lines + words}


async def detect_text(registry, params: dict[str, Any]) -> dict[str, Any]:
    import asyncio

    data = await asyncio.to_thread(read_image, params["Image"])
    answer = await ask_model(registry, "rekognition", "DetectText", data, image_kind(data))
    return apply_filters(answer, params.get("Filters"))


# -- SageMaker Runtime ----------------------------------------------------------


def _endpoint_missing(name: str, account: str) -> AwsError:
    return AwsError("ValidationError", f"Endpoint {name} of account {account} not found.")


async def invoke_endpoint(registry, params: dict[str, Any], account: str) -> dict[str, Any]:
    """``InvokeEndpoint`` on a model or pipeline endpoint; the model's own errors become ``ModelError``."""
    from openmaker.serving.pipeline import PipelineStageError

    name = params["EndpointName"]
    target_model = params.get("TargetModel")
    headers = {"content-type": params.get("ContentType", ""), "accept": params.get("Accept", "")}
    if params.get("CustomAttributes"):
        headers[CUSTOM_ATTRIBUTES] = params["CustomAttributes"]
    request = InferenceRequest(
        body=params.get("Body", b""), content_type=headers["content-type"], accept=headers["accept"], headers=headers
    )
    try:
        if registry.has_endpoint(name) and not target_model:
            response = await registry.get_endpoint(name).run(request)
        else:
            model_name = name
            if target_model:
                for suffix in (".tar.gz", ".mar"):
                    target_model = target_model.removesuffix(suffix)
                model_name = target_model
            try:
                model = registry.get(model_name)
            except ModelNotFound:
                raise _endpoint_missing(name, account) from None
            response = await model.submit(request)
    except PipelineStageError as exc:
        raise _model_error(exc, f"stage {exc.stage} ({exc.model})") from None
    except QueueFull as exc:
        raise AwsError("ThrottlingException", f"Rate exceeded: {exc.message}") from None
    except InferenceError as exc:
        if exc.status == 503:
            raise AwsError("ServiceUnavailable", exc.message, 503) from None
        raise _model_error(exc, "model") from None
    if response.status >= 400:
        raise _model_error(InferenceError(_error_message(response.body), response.status), "model")
    return {
        "Body": response.body,
        "ContentType": response.content_type or "application/octet-stream",
        "InvokedProductionVariant": "AllTraffic",
    }


def _error_message(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    try:
        payload = json.loads(text)
    except ValueError:
        return text
    return str(payload.get("message", text)) if isinstance(payload, dict) else text


def _model_error(exc: InferenceError, source: str) -> AwsError:
    kind = "client" if exc.status < 500 else "server"
    return AwsError(
        "ModelError",
        f'Received {kind} error ({exc.status}) from {source} with message "{exc.message}".',
        424,
        OriginalStatusCode=exc.status,
        OriginalMessage=exc.message,
    )
