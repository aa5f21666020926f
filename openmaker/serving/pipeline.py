"""Serial inference pipelines (SageMaker "Inference Pipelines"): 2 to 15 models as one endpoint.

A request goes through the stages in order, each in its own model's workers
(``ModelVersion.submit``); the response of one stage is the request of the
next. Content types follow SageMaker's rules:

* the client's ``Content-Type`` goes to the first stage, its ``Accept`` to the last;
* between stages the request carries ``Accept: application/json`` (or the
  accept configured for that stage), and the next stage gets the previous
  response's body with the previous response's content type.

A stage that answers with a status >= 400, or raises ``InferenceError``
(no worker, timeout, full queue), stops the pipeline: the client gets that
status and a ``PipelineStageError`` whose message names the stage, e.g.
``stage 2 of 2 (linear-learner): ...``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from openmaker.serving.errors import InferenceError, ServiceUnavailable
from openmaker.serving.protocol import InferenceRequest, InferenceResponse

#: SageMaker's limits on the containers of a pipeline model.
MIN_STAGES = 2
MAX_STAGES = 15
#: What intermediate stages are asked for unless configured otherwise.
INTERMEDIATE_ACCEPT = "application/json"


class PipelineError(InferenceError):
    """A pipeline that cannot be made: wrong number of stages, bad settings."""

    status = 400


class PipelineStageError(InferenceError):
    """A stage failed; ``status`` is the stage's, the message names the stage."""

    def __init__(self, message: str, status: int, stage: int, model: str, retry_after: int | None = None) -> None:
        super().__init__(message, status)
        self.stage = stage
        self.model = model
        self.retry_after = retry_after


@dataclass
class Pipeline:
    """A serial inference pipeline over registered model versions.

    ``accepts`` optionally gives, per stage, the ``Accept`` sent to that stage when
    it is not the last (``None`` or missing: ``application/json``); the last stage
    always gets the client's ``Accept``.
    """

    name: str
    stages: list[Any]  # ModelVersion (anything with ``name``, ``version`` and ``async submit``)
    accepts: list[str | None] | None = None
    created_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.stages = list(self.stages)
        check_stage_count(len(self.stages))
        if self.accepts is not None:
            if len(self.accepts) != len(self.stages):
                raise PipelineError(
                    f"accepts has {len(self.accepts)} entries for {len(self.stages)} stages; give one per stage (null for JSON)"
                )
            self.accepts = [a or None for a in self.accepts]

    async def run(self, request: InferenceRequest) -> InferenceResponse:
        return await run_stages(self.stages, request, self.accepts)

    def uses(self, model: Any) -> bool:
        return any(stage is model for stage in self.stages)

    def describe(self, describe_model=None) -> dict[str, Any]:
        """The endpoint as the management API shows it; ``describe_model(model)`` adds each stage's details."""
        stages = []
        for i, stage in enumerate(self.stages):
            entry: dict[str, Any] = {"stage": i + 1, "modelName": stage.name, "modelVersion": stage.version}
            if i < len(self.stages) - 1:
                entry["accept"] = self._accept_for(i)
            if describe_model is not None:
                entry["model"] = describe_model(stage)
            stages.append(entry)
        return {
            "endpointName": self.name,
            "mode": "Serial",
            "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created_at)),
            "stages": stages,
        }

    def _accept_for(self, index: int) -> str:
        return (self.accepts[index] if self.accepts else None) or INTERMEDIATE_ACCEPT


def check_stage_count(count: int) -> None:
    if not MIN_STAGES <= count <= MAX_STAGES:
        raise PipelineError(
            f"an inference pipeline has {MIN_STAGES} to {MAX_STAGES} models, got {count}"
            + ("; call a single model directly" if count == 1 else "")
        )


async def run_stages(
    stages: Sequence[Any], request: InferenceRequest, accepts: Sequence[str | None] | None = None
) -> InferenceResponse:
    """Run ``request`` through ``stages`` in order; see the module's docstring for the rules.

    Takes any number of stages (batch transform may run one); ``Pipeline``
    checks the 2-to-15 limit. Raises ``PipelineStageError`` for a failed stage.
    """
    total = len(stages)
    if total == 0:
        raise PipelineError("an inference pipeline needs at least one stage")
    last = total - 1
    for index, stage in enumerate(stages):
        if index < last:
            accept = (accepts[index] if accepts else None) or INTERMEDIATE_ACCEPT
        else:
            accept = request.accept
        if index:
            stage_request = _forward(request, response, accept)
        elif accept != request.accept:
            stage_request = _forward(request, request, accept)
        else:
            stage_request = request
        try:
            response = await stage.submit(stage_request)
        except InferenceError as exc:
            raise _stage_error(index, total, stage, exc.status, exc.message, exc) from exc
        if response.status >= 400:
            raise _stage_error(index, total, stage, response.status, _message_of(response))
    return response


def _headers(original: dict[str, str], content_type: str, accept: str) -> dict[str, str]:
    headers = dict(original)
    headers["content-type"] = content_type
    if accept:
        headers["accept"] = accept
    else:
        headers.pop("accept", None)
    return headers


def _stage_error(
    index: int, total: int, stage: Any, status: int, message: str, cause: InferenceError | None = None
) -> PipelineStageError:
    retry_after = cause.retry_after if isinstance(cause, ServiceUnavailable) else None
    return PipelineStageError(
        f"stage {index + 1} of {total} ({stage.name}): {message}", status, index + 1, stage.name, retry_after
    )


def _message_of(response: InferenceResponse) -> str:
    text = response.body.decode("utf-8", "replace") if response.body else ""
    try:
        payload = json.loads(text)
    except ValueError:
        return text.strip() or f"status {response.status}"
    if isinstance(payload, dict):
        for key in ("message", "error", "errorMessage"):
            if isinstance(payload.get(key), str):
                return payload[key]
    return text.strip()


def _forward(client: InferenceRequest, source: InferenceRequest | InferenceResponse, accept: str) -> InferenceRequest:
    """The request a stage gets: ``source``'s body and type (the previous answer, or the client's
    request), the ``accept`` this stage must produce, the client's forwarded headers and id."""
    return InferenceRequest(
        body=source.body,
        content_type=source.content_type,
        accept=accept,
        headers=_headers(client.headers, source.content_type, accept),
        tensors=source.tensors,
        request_id=client.request_id,
    )
