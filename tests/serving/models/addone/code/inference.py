"""Pipeline test stage: adds 1 to numbers; refuses values over 100 with a 400."""

import json

from openmaker.serving.errors import BadRequest, NotAcceptable


def model_fn(model_dir):
    return 1.0


def transform_fn(model, body, content_type, accept):
    if content_type == "text/csv":
        values = [float(v) for v in body.replace("\n", ",").split(",") if v.strip()]
    elif content_type == "application/json":
        data = json.loads(body)
        values = [float(v) for v in (data["values"] if isinstance(data, dict) else data)]
    else:
        raise BadRequest(f"unsupported content type {content_type!r}")
    if any(v > 100 for v in values):
        raise BadRequest("values over 100 are refused")
    out = [v + model for v in values]
    if accept == "application/json":
        return json.dumps({"values": out}), "application/json"
    if accept == "text/csv":
        return "".join(f"{v:g}\n" for v in out), "text/csv"
    raise NotAcceptable(f"cannot answer {accept!r}")
