"""The ``object-detection`` handler: POST an image, get SageMaker's ``{"prediction": [...]}``.

Requests: ``image/jpeg``, ``image/png`` or ``application/x-image``. Each prediction row is
``[class_id, score, xmin, ymin, xmax, ymax]`` (boxes relative to the image), best first. The score
threshold comes from the archive manifest (``model.threshold``) and per request from SageMaker's
``X-Amzn-SageMaker-Custom-Attributes`` header (``threshold=0.4``); ``Accept: image/png`` answers
the image with its boxes drawn instead.
"""

from __future__ import annotations

import json
from typing import Any

from openmaker.serving import codecs
from openmaker.serving.custom_attributes import HEADER as CUSTOM_ATTRIBUTES
from openmaker.serving.custom_attributes import parse_custom_attributes
from openmaker.serving.errors import ArchiveError, BadRequest, NotAcceptable, UnsupportedMediaType
from openmaker.serving.handlers.base import Context, Handler
from openmaker.serving.protocol import InferenceRequest, InferenceResponse

IMAGE_TYPES = ("image/jpeg", "image/png", "application/x-image")
PNG = "image/png"
ACCEPT_TYPES = (codecs.JSON, PNG)


def _threshold(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadRequest(f"threshold must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= number <= 1.0:
        raise BadRequest(f"threshold must be a number in [0, 1], got {value!r}")
    return number


class ObjectDetectionHandler(Handler):
    platform = "object-detection"

    def initialize(self, context: Context) -> None:
        super().initialize(context)
        from openmaker.vision.errors import ModelError
        from openmaker.vision.predictor import Predictor

        try:
            self.predictor = Predictor(context.model_dir, threads=max(1, context.threads))
        except ModelError as exc:
            raise ArchiveError(str(exc)) from None
        settings = context.manifest.get("model", {})
        self.threshold = _threshold(settings.get("threshold", 0.01))

    def metadata(self) -> dict[str, Any]:
        config = self.predictor.config
        return {"platform": self.platform, "classes": self.predictor.classes, "image_size": config.image_size,
                "base_network": config.base_network, "inputs": [{"name": "image", "content_types": list(IMAGE_TYPES)}],
                "outputs": [{"name": "prediction", "datatype": "FP32", "shape": [-1, 6]}]}

    def preprocess(self, request: InferenceRequest) -> Any:
        ctype = codecs.media_type(request.content_type)
        if ctype not in IMAGE_TYPES:
            raise UnsupportedMediaType(f"unsupported Content-Type {request.content_type or '(none)'!r}; "
                                       f"send one of {', '.join(IMAGE_TYPES)}")
        answer = next((t for t in codecs.parse_accept(request.accept, default=codecs.JSON) if t in ACCEPT_TYPES), None)
        if answer is None:
            raise NotAcceptable(f"cannot produce any type in Accept {request.accept!r}; supported: {', '.join(ACCEPT_TYPES)}")
        if not request.body:
            raise BadRequest("the body is empty: POST a JPEG or PNG image")
        threshold = self.threshold
        headers = {k.lower(): v for k, v in (request.headers or {}).items()}
        if headers.get(CUSTOM_ATTRIBUTES):
            values = parse_custom_attributes(headers[CUSTOM_ATTRIBUTES], ("threshold",))
            if "threshold" in values:
                threshold = _threshold(values["threshold"])
        from openmaker.vision.dataset import decode_image
        from openmaker.vision.errors import DatasetError

        try:
            image = decode_image(request.body, "the posted image").convert("RGB")
        except DatasetError as exc:
            raise BadRequest(str(exc)) from None
        return image, threshold, answer

    def inference(self, inputs: list[Any]) -> list[Any]:
        images = [image for image, _, _ in inputs]
        rows = self.predictor.predict_many(images, score_threshold=0.0)
        return [(image, r[r[:, 1] >= threshold], answer) for (image, threshold, answer), r in zip(inputs, rows)]

    def postprocess(self, output: Any, request: InferenceRequest) -> InferenceResponse:
        image, rows, answer = output
        if answer == PNG:
            import io

            from openmaker.vision.draw import draw_boxes

            buffer = io.BytesIO()
            draw_boxes(image, rows, self.predictor.classes).save(buffer, format="PNG")
            return InferenceResponse(body=buffer.getvalue(), content_type=PNG)
        prediction = [[float(round(v, 6)) for v in row] for row in rows.tolist()]
        return InferenceResponse(body=json.dumps({"prediction": prediction}).encode(), content_type=codecs.JSON)
