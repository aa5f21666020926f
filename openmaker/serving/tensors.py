"""Open Inference Protocol (KServe v2) tensors: JSON <-> numpy, with checks that name the problem."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from openmaker.serving.errors import BadRequest

DATATYPES = {
    "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
    "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
    "FP16": np.float16, "FP32": np.float32, "FP64": np.float64, "BYTES": np.object_,
}  # fmt: skip
_NAMES = {np.dtype(v).name: k for k, v in DATATYPES.items() if k != "BYTES"}


def _flatten(data: Any) -> list:
    if isinstance(data, list):
        out: list = []
        for item in data:
            out.extend(_flatten(item) if isinstance(item, list) else [item])
        return out
    return [data]


def decode_inputs(payload: Any) -> tuple[dict[str, np.ndarray], list[str] | None, str | None]:
    """Check an inference request body; return inputs by name, requested output names and the id."""
    if not isinstance(payload, dict):
        raise BadRequest("inference request must be a JSON object with an 'inputs' list")
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest("inference request needs a non-empty 'inputs' list")
    arrays: dict[str, np.ndarray] = {}
    for i, spec in enumerate(inputs):
        where = f"inputs[{i}]"
        if not isinstance(spec, dict):
            raise BadRequest(f"{where} must be an object with name, shape, datatype and data")
        name, shape, datatype = spec.get("name"), spec.get("shape"), spec.get("datatype")
        if not isinstance(name, str) or not name:
            raise BadRequest(f"{where}.name must be a non-empty string")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise BadRequest(f"{where} ({name}): shape must be a list of non-negative integers")
        if datatype not in DATATYPES:
            raise BadRequest(f"{where} ({name}): unknown datatype {datatype!r}; one of {', '.join(DATATYPES)}")
        if "data" not in spec:
            raise BadRequest(f"{where} ({name}): 'data' is missing")
        flat = _flatten(spec["data"])
        if len(flat) != math.prod(shape):
            raise BadRequest(f"{where} ({name}): shape {shape} needs {math.prod(shape)} values, got {len(flat)}")
        try:
            arrays[name] = np.array(flat, dtype=DATATYPES[datatype]).reshape(shape)
        except (ValueError, TypeError, OverflowError) as exc:
            raise BadRequest(f"{where} ({name}): data does not fit {datatype}: {exc}") from exc
    outputs = payload.get("outputs")
    wanted = None
    if outputs is not None:
        if not isinstance(outputs, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs):
            raise BadRequest("'outputs' must be a list of objects with a 'name'")
        wanted = [o["name"] for o in outputs]
    request_id = payload.get("id")
    return arrays, wanted, str(request_id) if request_id is not None else None


def datatype_of(array: np.ndarray) -> str:
    if array.dtype.kind in "OSU":
        return "BYTES"
    return _NAMES.get(array.dtype.name, "FP64")


def encode_outputs(outputs: dict[str, Any], wanted: list[str] | None) -> list[dict[str, Any]]:
    if wanted is not None:
        missing = [w for w in wanted if w not in outputs]
        if missing:
            raise BadRequest(f"unknown output(s) {', '.join(missing)}; the model has {', '.join(outputs)}")
    result = []
    for name, value in outputs.items():
        if wanted is not None and name not in wanted:
            continue
        array = np.asarray(value)
        data = array.reshape(-1).tolist()
        if array.dtype.kind == "S":
            data = [v.decode("utf-8", "replace") for v in data]
        result.append({"name": name, "shape": list(array.shape), "datatype": datatype_of(array), "data": data})
    return result
