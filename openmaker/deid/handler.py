"""The ``deid`` handler: de-identify an image, or read its text, or find PHI in text.

Three operations, chosen by the archive manifest's ``model.operation`` and per
request by ``X-Amzn-SageMaker-Custom-Attributes: operation=detect-text``:

- ``redact`` (the default): the body is one image (PNG, JPEG, TIFF or DICOM)
  and ``Accept`` picks the answer:

  - ``image/png`` (the default): the first frame, redacted, as PNG;
  - ``application/json``: ``{"TextDetections": ..., "Entities": ..., "Redactions": ...}``
    per frame -- Rekognition ``DetectText`` and Comprehend Medical ``DetectPHI``
    shapes, plus the redacted boxes in pixels;
  - ``application/dicom``: the de-identified DICOM (DICOM input only).

- ``detect-text``: the body is one image (first frame of a multi-frame one);
  the answer is exactly Rekognition's ``DetectText`` JSON -- LINE then WORD
  detections, ``Confidence`` in percent, relative geometry -- from OCR alone
  (no PHI detection, no redaction), with every word (no 100-word cap).
- ``detect-phi``: the body is text, ``text/plain`` UTF-8 or ``{"Text": "..."}``
  (at most ``MAX_TEXT`` characters); the answer is exactly Comprehend Medical's
  ``DetectPHI`` JSON. ``mode`` and ``threshold`` (minimum ``Score``) apply.

Other options come from the archive manifest (``model.color``, ``dpi``,
``threshold``, ``mode``, ``verify``) and per request from the same header,
e.g. ``mode=strict,color=black``.
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
REDACT, DETECT_TEXT, DETECT_PHI = "redact", "detect-text", "detect-phi"
OPERATIONS = (REDACT, DETECT_TEXT, DETECT_PHI)
#: What each operation can answer; the first is the default.
ANSWERS = {REDACT: SUPPORTED_ACCEPT, DETECT_TEXT: (codecs.JSON,), DETECT_PHI: (codecs.JSON,)}
OPTION_NAMES = ("operation", "color", "dpi", "threshold", "mode", "verify")
#: Characters of text per detect-phi request (Comprehend Medical's own limit, enforced by the AWS front end, is 20,000).
MAX_TEXT = 100_000
#: How the image formats the room reads begin (DICOM: "DICM" after the 128-byte preamble).
_IMAGE_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"II*\x00": "TIFF", b"MM\x00*": "TIFF"}


def _answer_type(accept: str, supported: tuple[str, ...]) -> str:
    for media_type in codecs.parse_accept(accept, default=supported[0]):
        if media_type in supported:
            return media_type
    raise NotAcceptable(f"cannot produce any type in Accept {accept!r}; supported: {', '.join(supported)}")


def _operation(value: Any) -> str:
    operation = str(value).strip().lower()
    if operation not in OPERATIONS:
        raise BadRequest(f"operation {operation!r} is not one of {', '.join(OPERATIONS)}")
    return operation


def _image_format(body: bytes) -> str | None:
    """The image format ``body`` starts like (PNG, JPEG, TIFF, DICOM), or None."""
    if body[128:132] == b"DICM":
        return "DICOM"
    return next((name for magic, name in _IMAGE_SIGNATURES.items() if body.startswith(magic)), None)


def read_text(body: bytes, content_type: str) -> str:
    """The text of a detect-phi request: UTF-8 (``text/plain``) or ``{"Text": "..."}``.

    JSON is read when the content type says so, or when a body of no text type
    starts with ``{``. ``BadRequest`` for an empty, image, non-UTF-8 or too long body.
    """
    if not body:
        raise BadRequest('the body is empty: POST the text as text/plain (UTF-8) or {"Text": "..."}')
    found = _image_format(body)
    if found:
        raise BadRequest(
            f"operation detect-phi takes text (text/plain UTF-8 or {{\"Text\": \"...\"}}), but the body is a {found} image; "
            "images go to operation=detect-text or operation=redact"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the text is not valid UTF-8 (byte {exc.start})") from None
    media = codecs.media_type(content_type)
    if media == codecs.JSON or (not media.startswith("text/") and text.lstrip().startswith("{")):
        text = _json_text(text)
    if not text:
        raise BadRequest("the text is empty: there is nothing to examine")
    if len(text) > MAX_TEXT:
        raise BadRequest(f"the text has {len(text)} characters; at most {MAX_TEXT} per request")
    return text


def _json_text(body: str) -> str:
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as exc:
        raise BadRequest(f'the body is not valid JSON ({exc.msg} at character {exc.pos}): send {{"Text": "..."}} or text/plain') from None
    if not isinstance(payload, dict) or not isinstance(payload.get("Text"), str):
        raise BadRequest('the JSON body has no "Text" string: send {"Text": "..."}')
    return payload["Text"]


class DeidHandler(Handler):
    """De-identifies each posted image with the room's pipeline, or answers DetectText / DetectPHI."""

    platform = "openmaker-deid"

    def initialize(self, context: Context) -> None:
        super().initialize(context)
        from openmaker.deid.ocr import TextDetector

        settings = context.manifest.get("model", {})
        self.defaults = {k: settings[k] for k in OPTION_NAMES if k in settings}
        self._settings(dict(self.defaults))  # a bad manifest fails at load time
        self.detector = TextDetector(threads=max(1, context.threads))

    def _settings(self, values: dict[str, Any]):
        """The operation and the ``DeidOptions`` of ``values`` (consumed); ``BadRequest`` naming a bad one."""
        operation = _operation(values.pop("operation", REDACT))
        return operation, self._options(values)

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
        values = dict(self.defaults)
        headers = {k.lower(): v for k, v in (request.headers or {}).items()}
        if headers.get(CUSTOM_ATTRIBUTES):
            values.update(parse_custom_attributes(headers[CUSTOM_ATTRIBUTES], OPTION_NAMES))
        operation, options = self._settings(values)
        answer = _answer_type(request.accept, ANSWERS[operation])
        if operation == DETECT_PHI:
            return operation, read_text(request.body, request.content_type), answer, options
        if not request.body:
            raise BadRequest("the body is empty: POST an image (PNG, JPEG, TIFF or DICOM)")
        return operation, request.body, answer, options

    def inference(self, inputs: list[Any]) -> list[Any]:
        return [self._run(*item) for item in inputs]

    def _run(self, operation: str, payload: Any, answer: str, options) -> Any:
        """One request's result and answer type, or the error to answer with."""
        from openmaker.deid.process import deidentify_image, detect_phi_in_text, detect_text

        try:
            if operation == DETECT_PHI:
                return detect_phi_in_text(payload, options), answer
            if operation == DETECT_TEXT:
                return detect_text(payload, "", self.detector), answer
            return deidentify_image(payload, "", options, self.detector), answer
        except ImageReadError as exc:
            prefix = "operation detect-text takes an image: " if operation == DETECT_TEXT else ""
            return BadRequest(f"{prefix}{exc}")
        except DeidError as exc:
            return InferenceError(str(exc), status=422)

    def postprocess(self, output: Any, request: InferenceRequest) -> InferenceResponse:
        if isinstance(output, Exception):
            raise output
        result, answer = output
        if isinstance(result, dict):  # detect-text, detect-phi: already the AWS answer
            return _json(result)
        if answer == PNG:
            return InferenceResponse(body=result.pngs[0], content_type=PNG)
        if answer == DICOM:
            if result.dicom is None:
                raise NotAcceptable("application/dicom is only produced for DICOM input")
            return InferenceResponse(body=result.dicom, content_type=DICOM)
        return _json(detections(result))


def _json(data: dict[str, Any]) -> InferenceResponse:
    return InferenceResponse(body=json.dumps(data).encode(), content_type=codecs.JSON)


def detections(result) -> dict[str, Any]:
    """The JSON answer of ``redact``: DetectText and DetectPHI per frame, and the boxes redacted."""
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
