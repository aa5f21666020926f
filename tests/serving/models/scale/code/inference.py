"""Pipeline test stage: multiplies numbers by 2 (CSV or JSON in, JSON or CSV out)."""

import json

from openmaker.serving.errors import BadRequest, NotAcceptable

FACTOR = 2.0


def parse(body, content_type):
    if content_type == "text/csv":
        try:
            return [float(v) for v in body.replace("\n", ",").split(",") if v.strip()]
        except ValueError as exc:
            raise BadRequest(f"CSV body has a non-numeric value: {exc}") from None
    if content_type == "application/json":
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise BadRequest(f"body is not valid JSON: {exc}") from None
        return [float(v) for v in (data["values"] if isinstance(data, dict) else data)]
    raise BadRequest(f"unsupported content type {content_type!r}")


def render(values, accept, extra=None):
    if accept == "application/json":
        return json.dumps({"values": values, **(extra or {})}), "application/json"
    if accept == "text/csv":
        return "".join(f"{v:g}\n" for v in values), "text/csv"
    raise NotAcceptable(f"cannot answer {accept!r}")


def model_fn(model_dir):
    return FACTOR


def transform_fn(model, body, content_type, accept):
    return render([v * model for v in parse(body, content_type)], accept)
