"""The ``deid`` handler: POST an image, get it back redacted (or the detections as JSON).

The body is one image: PNG, JPEG, TIFF or DICOM. ``Accept`` picks the answer:

- ``image/png`` (the default): the first frame, redacted, as PNG;
- ``application/json``: ``{"TextDetections": ..., "Entities": ..., "Redactions": ...}``
  per frame -- Rekognition ``DetectText`` and Comprehend Medical ``DetectPHI``
  shapes, plus the redacted boxes in pixels;
- ``application/dicom``: the de-identified DICOM (DICOM input only).

Options come from the archive manifest (``model.color``, ``dpi``,
``threshold``, ``mode``) and per request from SageMaker's
``X-Amzn-SageMaker-Custom-Attributes`` header, e.g. ``mode=strict,color=black``.
"""

from __future__ import annotations

import json
from typing import Any

from openmaker.deid.errors import DeidError, ImageReadError
from openmaker.serving import codecs
from openmaker.serving.custom_attributes import HEADER as CUSTOM_ATTRIBUTES
from openmaker.serving.custom_attributes import parse_custom_attributes
from openmaker.serving.errors import BadRequest, InferenceError, NotAcceptable
from openmaker.serving.handlers.base import Context, Handler
from openmaker.serving.protocol import InferenceRequest, InferenceResponse

PNG = "image/png"
DICOM = "application/dicom"
SUPPORTED_ACCEPT = (PNG, codecs.JSON, DICOM)
OPTION_NAMES = ("color", "dpi", "threshold", "mode", "verify")


def _answer_type(accept: str) -> str:
    for media_type in codecs.parse_accept(accept, default=PNG):
        if media_type in SUPPORTED_ACCEPT:
            return media_type
    raise NotAcceptable(f"cannot produce any type in Accept {accept!r}; supported: {', '.join(SUPPORTED_ACCEPT)}")


class DeidHandler(Handler):
    """De-identifies each posted image with the room's pipeline."""

    platform = "openmaker-deid"

    def initialize(self, context: Context) -> None:
        super().initialize(context)
        from openmaker.deid.ocr import TextDetector

        settings = context.manifest.get("model", {})
        self.defaults = {k: settings[k] for k in OPTION_NAMES if k in settings}
        self._options(self.defaults)  # a bad manifest fails at load time
        self.detector = TextDetector(threads=max(1, context.threads))

    def _options(self, values: dict[str, Any]):
        from openmaker.deid.process import DeidOptions

        kwargs: dict[str, Any] = {}
        try:
            for key, value in values.items():
                if key == "dpi":
                    kwargs[key] = int(value)
                elif key == "threshold":
                    kwargs[key] = float(value)
                elif key == "verify":
                    kwargs[key] = str(value).lower() in ("1", "true", "yes", "on")
                else:
                    kwargs[key] = value
            return DeidOptions(**kwargs)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None

    def preprocess(self, request: InferenceRequest) -> Any:
        answer = _answer_type(request.accept)
        if not request.body:
            raise BadRequest("the body is empty: POST an image (PNG, JPEG, TIFF or DICOM)")
        values = dict(self.defaults)
        headers = {k.lower(): v for k, v in (request.headers or {}).items()}
        if headers.get(CUSTOM_ATTRIBUTES):
            values.update(parse_custom_attributes(headers[CUSTOM_ATTRIBUTES], OPTION_NAMES))
        return request.body, answer, self._options(values)

    def inference(self, inputs: list[Any]) -> list[Any]:
        from openmaker.deid.process import deidentify_image

        outputs = []
        for body, answer, options in inputs:
            try:
                outputs.append((deidentify_image(body, "", options, self.detector), answer))
            except ImageReadError as exc:
                outputs.append(BadRequest(str(exc)))
            except DeidError as exc:
                outputs.append(InferenceError(str(exc), status=422))
        return outputs

    def postprocess(self, output: Any, request: InferenceRequest) -> InferenceResponse:
        if isinstance(output, Exception):
            raise output
        result, answer = output
        if answer == PNG:
            return InferenceResponse(body=result.pngs[0], content_type=PNG)
        if answer == DICOM:
            if result.dicom is None:
                raise NotAcceptable("application/dicom is only produced for DICOM input")
            return InferenceResponse(body=result.dicom, content_type=DICOM)
        return InferenceResponse(body=json.dumps(detections(result)).encode(), content_type=codecs.JSON)


def detections(result) -> dict[str, Any]:
    """The JSON answer: DetectText and DetectPHI per frame, and the boxes redacted."""
    from openmaker.deid.ocr import detect_text_response

    frames = []
    for frame in result.frames:
        frames.append(
            {
                **detect_text_response(frame.lines, frame.width, frame.height),
                "Entities": frame.phi["Entities"],
                "Redactions": [r.as_report() for r in frame.redactions],
            }
        )
    first = frames[0]
    return {**first, "Frames": frames if len(frames) > 1 else [], "Kind": result.kind}
