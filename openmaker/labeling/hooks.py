"""Pre- and post-labeling hooks with Ground Truth's request and response JSON.

A hook is a Python callable named ``module:function`` (called with the event dict) or an HTTP(S)
URL (the event POSTed as JSON; the Lambda equivalent). The defaults reproduce the published bulk-QA
Lambdas, with their bugs fixed:

- :func:`bulkqa_pre_hook` reads the batch the manifest line points at (``source-ref``) and returns
  ``{"taskInput": {"sourceRef": [...]}}``;
- :func:`bulkqa_post_hook` maps every checkbox to its item by the ``-{i}`` suffix of its name (the
  sample zipped answers with items in JSON key order, which attributes verdicts to the wrong images
  once a batch has more than 10 items), counts each worker once per item, and returns one
  ``consolidatedAnnotation`` per data object (not one per worker), so consolidating twice changes nothing.
"""

from __future__ import annotations

import importlib
import json
import re
from typing import Any, Callable

from openmaker import storage
from openmaker.labeling.errors import LabelingError

VERSION = "2018-10-16"
DEFAULT_PRE_HOOK = "openmaker.labeling.hooks:bulkqa_pre_hook"
DEFAULT_POST_HOOK = "openmaker.labeling.hooks:bulkqa_post_hook"
_NAME = re.compile(r"^(?P<label>.*)-(?P<index>\d+)$", re.S)
HTTP_TIMEOUT = 60.0


def job_arn(job_name: str) -> str:
    return f"arn:openmaker:labeling:local:labeling-job/{job_name}"


def check_hook(spec: str | None) -> None:
    """Raise :class:`LabelingError` unless ``spec`` names a callable or is an HTTP(S) URL."""
    if spec:
        resolve_hook(spec)


def resolve_hook(spec: str) -> Callable[[dict], Any]:
    """The hook ``spec`` names, as a function of the event."""
    if spec.startswith(("http://", "https://")):
        return lambda event: _post_json(spec, event)
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise LabelingError(f"hook {spec!r} is neither module:function nor an http(s):// URL")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LabelingError(f"hook {spec!r}: cannot import {module_name!r} ({exc})") from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise LabelingError(f"hook {spec!r}: {module_name} has no function {attribute!r}")
    return function


def _post_json(url: str, event: dict) -> Any:
    import httpx

    try:
        response = httpx.post(url, json=event, timeout=HTTP_TIMEOUT)
    except httpx.HTTPError as exc:
        raise LabelingError(f"hook {url} could not be reached: {exc}") from None
    if response.status_code >= 300:
        raise LabelingError(f"hook {url} answered HTTP {response.status_code}: {response.text[:200]}")
    try:
        return response.json()
    except ValueError:
        raise LabelingError(f"hook {url} did not answer JSON") from None


def call_hook(spec: str, event: dict) -> Any:
    function = resolve_hook(spec)
    try:
        return function(event)
    except LabelingError:
        raise
    except Exception as exc:  # a user's hook: its failure is reported, not a traceback
        raise LabelingError(f"hook {spec} failed: {type(exc).__name__}: {exc}") from None


# --- pre-labeling -------------------------------------------------------------


def pre_event(job_name: str, data_object: dict) -> dict:
    return {"version": VERSION, "labelingJobArn": job_arn(job_name), "dataObject": data_object}


def run_pre_hook(spec: str | None, job_name: str, data_object: dict, *, read: Callable[[str], str] | None = None) -> tuple[Any, bool]:
    """``(taskInput, isHumanAnnotationRequired)`` for one manifest line."""
    event = pre_event(job_name, data_object)
    if spec:
        response = call_hook(spec, event)
    else:
        response = bulkqa_pre_hook(event, read=read)
    where = f"pre-labeling hook {spec or DEFAULT_PRE_HOOK}"
    if not isinstance(response, dict) or "taskInput" not in response:
        raise LabelingError(f"{where} must return an object with 'taskInput' (got {type(response).__name__})")
    required = response.get("isHumanAnnotationRequired", response.get("humanAnnotationRequired", True))
    if isinstance(required, str):
        required = required.strip().lower() != "false"
    return response["taskInput"], bool(required)


def bulkqa_pre_hook(event: dict, read: Callable[[str], str] | None = None) -> dict:
    """The bulk-QA pre-labeling hook: the batch file ``source-ref`` points at becomes ``taskInput.sourceRef``."""
    data_object = event.get("dataObject") or {}
    read = read or storage.read_text
    if "source-ref" in data_object:
        ref = data_object["source-ref"]
        try:
            text = read(ref)
        except FileNotFoundError:
            raise LabelingError(f"the task input {ref} does not exist") from None
    elif "source" in data_object:
        text = data_object["source"]
    else:
        raise LabelingError("the data object has neither 'source-ref' nor 'source'")
    try:
        batch = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        raise LabelingError(f"the task input of {data_object} is not JSON") from None
    return {"taskInput": {"sourceRef": batch}}


# --- answers and post-labeling ------------------------------------------------


def parse_bulkqa_answer(answer: Any, labels: list[str]) -> dict[int, bool]:
    """Each item's verdict in a bulk-QA crowd-form answer, by the ``<label>-<i>`` checkbox names.

    ``labels[i]`` is the label of item ``i``. Raises :class:`LabelingError` for a checkbox that names
    an item the task does not have, or when an item has no verdict.
    """
    if not isinstance(answer, dict):
        raise LabelingError("an answer is a JSON object of the crowd form's fields")
    verdicts: dict[int, bool] = {}
    for key, value in answer.items():
        match = _NAME.match(str(key))
        if match is None:
            continue  # other fields of a template (a comment box) are kept in the answer, not counted
        index = int(match["index"])
        if index >= len(labels) or match["label"] != labels[index]:
            if match["label"] in labels:
                raise LabelingError(f"answer field {key!r} names no item of this task ({len(labels)} items)")
            continue
        if not (isinstance(value, dict) and len(value) == 1 and isinstance(next(iter(value.values())), bool)):
            raise LabelingError(f"answer field {key!r} must be a checkbox value like {{\"Confirmed\": true}}")
        verdicts[index] = next(iter(value.values()))
    missing = [i for i in range(len(labels)) if i not in verdicts]
    if missing:
        shown = ", ".join(f"{labels[i]}-{i}" for i in missing[:5]) + (" …" if len(missing) > 5 else "")
        raise LabelingError(f"the answer has no verdict for {len(missing)} item(s): {shown}")
    return verdicts


def post_event(job_name: str, label_attribute_name: str, labels: list[str], payload_uri: str) -> dict:
    return {
        "version": VERSION,
        "labelingJobArn": job_arn(job_name),
        "labelCategories": labels,
        "labelAttributeName": label_attribute_name,
        "roleArn": "",
        "payload": {"s3Uri": payload_uri},
    }


def bulkqa_post_hook(event: dict, read: Callable[[str], str] | None = None) -> list[dict]:
    """The bulk-QA consolidation: per data object, every item's confirm and disconfirm counts."""
    read = read or storage.read_text
    payload = json.loads(read(event["payload"]["s3Uri"]))
    attribute = event["labelAttributeName"]
    out = []
    for dataset in payload:
        data_object = dataset["dataObject"]
        batch = json.loads(data_object["content"]) if "content" in data_object else json.loads(read(data_object["s3Uri"]))
        labels = [str(entry.get("label", "")) for entry in batch]
        confirm = [0] * len(labels)
        disconfirm = [0] * len(labels)
        workers = []
        for annotation in dataset.get("annotations", []):
            human = json.loads(annotation["annotationData"]["content"])
            for index, ok in parse_bulkqa_answer(human, labels).items():
                if ok:
                    confirm[index] += 1
                else:
                    disconfirm[index] += 1
            workers.append({"workerId": annotation["workerId"], "workerAnnotation": human})
        items = [
            {**entry, "index": i, "WorkerConfirmCount": confirm[i], "WorkerDisconfirmCount": disconfirm[i]}
            for i, entry in enumerate(batch)
        ]
        out.append(
            {
                "datasetObjectId": dataset["datasetObjectId"],
                "consolidatedAnnotation": {"content": {attribute: {"items": items, "annotations": workers}}},
            }
        )
    return out


def check_post_response(spec: str, response: Any, expected_ids: set[str]) -> dict[str, Any]:
    """``{datasetObjectId: content}`` from a post hook's response; raises on a malformed one."""
    where = f"post-labeling hook {spec}"
    if not isinstance(response, list):
        raise LabelingError(f"{where} must return a list of {{datasetObjectId, consolidatedAnnotation}}")
    out: dict[str, Any] = {}
    for entry in response:
        try:
            object_id = str(entry["datasetObjectId"])
            content = entry["consolidatedAnnotation"]["content"]
        except (KeyError, TypeError):
            raise LabelingError(f"{where}: an entry lacks datasetObjectId or consolidatedAnnotation.content") from None
        if object_id not in expected_ids:
            raise LabelingError(f"{where}: datasetObjectId {object_id!r} is not one it was sent")
        out[object_id] = content  # one per data object: a hook that repeats one per worker keeps the last
    return out
