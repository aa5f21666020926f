"""The ``clinical`` handler: POST a note, get its entities or its linked concepts back.

The body is the note as UTF-8 text (``text/plain``) or Comprehend Medical's
request JSON ``{"Text": "..."}``. The answer is Comprehend Medical's JSON for
one operation (:data:`OPERATIONS`), chosen by the archive manifest's
``model.operation`` and per request by
``X-Amzn-SageMaker-Custom-Attributes: operation=infer-rxnorm``:

========================  ====================================================
``detect-entities-v2``    ``DetectEntitiesV2`` (the default)
``detect-entities``       ``DetectEntities`` (the deprecated V1)
``infer-snomedct``        ``InferSNOMEDCT``: SNOMED codes, ``SNOMEDCTDetails``
``infer-icd10cm``         ``InferICD10CM``: ICD10CM codes mapping to the finding
``infer-rxnorm``          ``InferRxNorm``: RxNorm ingredients, brands, products
========================  ====================================================

Every answer conforms to botocore's output shape, so the AWS front end passes
it on as it is. Options (manifest ``model.<name>`` or the header):
``min_score`` (0..1, entities below it are left out) and ``omop_ids``
(``true`` adds each linked concept's OMOP ``concept_id`` as
``OMOPConceptId``, a member outside Comprehend Medical's shapes; default
``false``). Codes come only from the vocabulary: the CDM named by
``model.db`` (a URL) or, without one, the bundled Eunomia vocabulary.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from openmaker.clinical.errors import ClinicalError, NoteError
from openmaker.hyperparameters import HyperparameterError, parse_bool
from openmaker.serving import codecs
from openmaker.serving.custom_attributes import HEADER as CUSTOM_ATTRIBUTES
from openmaker.serving.custom_attributes import parse_custom_attributes
from openmaker.serving.errors import BadRequest, InferenceError
from openmaker.serving.handlers.base import Context, Handler
from openmaker.serving.protocol import InferenceRequest, InferenceResponse

OPERATIONS = ("detect-entities-v2", "infer-snomedct", "detect-entities", "infer-rxnorm", "infer-icd10cm")
OPTION_NAMES = ("operation", "min_score", "omop_ids")
MAX_TEXT = 100_000  # characters per request; longer notes belong in a batch run
_detectors: dict[str | None, Any] = {}
_lock = threading.Lock()


def vocabulary_detector(db: str | None, schema: str | None = None):
    """A detector over ``db``'s vocabulary (or the bundled Eunomia one), built once per process."""
    from openmaker.clinical.detect import Detector

    key = f"{db}|{schema}" if db else None
    with _lock:
        detector = _detectors.get(key)
        if detector is None:
            if db:
                from openmaker.clinical.cdm import connect

                cdm = connect(db, schema)
            else:
                from openmaker.clinical.eunomia import vocabulary_cdm

                cdm = vocabulary_cdm()
            detector = _detectors[key] = Detector.from_cdm(cdm)
        return detector


def _options(values: dict[str, Any]) -> tuple[str, float, bool]:
    """``(operation, min_score, omop_ids)`` from manifest defaults and header values; a bad one is a 400."""
    operation = str(values.get("operation", "detect-entities-v2")).lower()
    if operation not in OPERATIONS:
        raise BadRequest(f"operation {operation!r} is not one of {', '.join(OPERATIONS)}")
    try:
        min_score = float(values.get("min_score", 0.0))
    except ValueError:
        raise BadRequest(f"min_score {values.get('min_score')!r} is not a number") from None
    if not 0.0 <= min_score <= 1.0:
        raise BadRequest(f"min_score must be between 0 and 1, not {min_score}")
    try:
        omop_ids = parse_bool("omop_ids", values.get("omop_ids", False))
    except HyperparameterError as exc:
        raise BadRequest(str(exc)) from None
    return operation, min_score, omop_ids


def answer(operation: str, entities: list, text: str, index, omop_ids: bool = False) -> dict:
    """The JSON of ``operation`` (one of :data:`OPERATIONS`) for a note's ``entities``, linked through ``index``."""
    from openmaker.clinical import shapes

    if operation == "infer-snomedct":
        return shapes.infer_snomedct(entities, text, index.versions.get("SNOMED"), omop_ids)
    if operation == "infer-icd10cm":
        return shapes.infer_icd10cm(entities, index, omop_ids)
    if operation == "infer-rxnorm":
        return shapes.infer_rxnorm(entities, index, omop_ids)
    if operation == "detect-entities":
        return shapes.detect_entities_v1(entities)
    if operation == "detect-entities-v2":
        return shapes.detect_entities_v2(entities)
    raise ValueError(f"operation {operation!r} is not one of {', '.join(OPERATIONS)}")


def read_text(body: bytes, content_type: str) -> str:
    """The note from a request body: plain UTF-8, or ``{"Text": ...}``."""
    if not body:
        raise BadRequest("the body is empty: POST the note as text/plain or {\"Text\": \"...\"}")
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "application/json" or body.lstrip()[:1] == b"{":
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            if media == "application/json":
                raise BadRequest("the body is not JSON: send {\"Text\": \"...\"} or text/plain") from None
            payload = None
        if isinstance(payload, dict):
            text = payload.get("Text")
            if not isinstance(text, str):
                raise BadRequest('the JSON body has no "Text" string')
            return text
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the note is not valid UTF-8 (byte {exc.start})") from None


class ClinicalHandler(Handler):
    """Finds entities in each posted note with the room's detector."""

    platform = "openmaker-clinical"

    def initialize(self, context: Context) -> None:
        super().initialize(context)
        settings = context.manifest.get("model", {})
        self.defaults = {k: settings[k] for k in OPTION_NAMES if k in settings}
        _options(self.defaults)  # a bad manifest fails at load time
        try:
            self.detector = vocabulary_detector(settings.get("db"), settings.get("schema"))
        except ClinicalError as exc:
            raise InferenceError(str(exc), status=500) from exc

    def preprocess(self, request: InferenceRequest) -> Any:
        text = read_text(request.body, request.content_type)
        if len(text) > MAX_TEXT:
            raise BadRequest(f"the note has {len(text)} characters; at most {MAX_TEXT} per request")
        values = dict(self.defaults)
        headers = {k.lower(): v for k, v in (request.headers or {}).items()}
        if headers.get(CUSTOM_ATTRIBUTES):
            values.update(parse_custom_attributes(headers[CUSTOM_ATTRIBUTES], OPTION_NAMES))
        return (text, *_options(values))

    def inference(self, inputs: list[Any]) -> list[Any]:
        outputs = []
        for text, operation, min_score, omop_ids in inputs:
            try:
                found = [e for e in self.detector.detect(text) if e.score >= min_score]
            except NoteError as exc:
                outputs.append(BadRequest(str(exc).removeprefix("note text: ")))
                continue
            outputs.append(answer(operation, found, text, self.detector.index, omop_ids))
        return outputs

    def postprocess(self, output: Any, request: InferenceRequest) -> InferenceResponse:
        if isinstance(output, Exception):
            raise output
        return InferenceResponse(body=json.dumps(output).encode(), content_type=codecs.JSON)
