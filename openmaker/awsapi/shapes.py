"""Operations' input and output shapes, from the service models that ship inside botocore.

``validate_input`` checks a decoded request against the operation's input shape the way AWS's
front ends do (``1 validation error detected: Value null at 'text' failed to satisfy constraint:
Member must not be null``) and converts blobs and timestamps to Python values.
``check_output`` lists every way an answer departs from the output shape (used by the tests
and, cheaply, by the front end before it answers): unknown or missing members, wrong types,
values outside an enum.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
from datetime import datetime, timezone
from typing import Any

from openmaker.awsapi.errors import AwsError


@functools.lru_cache(maxsize=None)
def service_model(service: str):
    """botocore's model of ``service`` (e.g. ``comprehendmedical``, ``sagemaker-runtime``)."""
    return _session().get_service_model(service)


@functools.lru_cache(maxsize=1)
def _session():
    import botocore.session

    return botocore.session.get_session()


def operation_model(service: str, operation: str):
    return service_model(service).operation_model(operation)


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


class _Validator:
    """Walks a value along a shape, collecting AWS-style constraint messages."""

    def __init__(self, binary_as_base64: bool) -> None:
        self.errors: list[str] = []
        self.binary_as_base64 = binary_as_base64

    def fail(self, value: Any, path: str, constraint: str) -> None:
        shown = "null" if value is None else _short(value)
        self.errors.append(f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}")

    def walk(self, value: Any, shape, path: str) -> Any:
        kind = shape.type_name
        meta = shape.metadata
        if kind == "structure":
            if not isinstance(value, dict):
                self.fail(value, path, "Member must be a structure")
                return value
            out = {}
            for name, member in shape.members.items():
                child = f"{path}.{_lower_first(name)}" if path else _lower_first(name)
                if name not in value or value[name] is None:
                    if name in shape.required_members:
                        self.fail(None, child, "Member must not be null")
                    continue
                out[name] = self.walk(value[name], member, child)
            unknown = sorted(set(value) - set(shape.members))
            for name in unknown:
                self.errors.append(f"'{name}' is not a member of {shape.name} at '{path or shape.name}'")
            return out
        if kind == "list":
            if not isinstance(value, list):
                self.fail(value, path, "Member must be a list")
                return value
            self._length(value, len(value), meta, path)
            return [self.walk(item, shape.member, f"{path}.{i + 1}.member") for i, item in enumerate(value)]
        if kind == "map":
            if not isinstance(value, dict):
                self.fail(value, path, "Member must be a map")
                return value
            self._length(value, len(value), meta, path)
            return {self.walk(k, shape.key, f"{path}.key"): self.walk(v, shape.value, f"{path}.value") for k, v in value.items()}
        if kind == "string":
            if not isinstance(value, str):
                self.fail(value, path, "Member must be a string")
                return value
            self._length(value, len(value), meta, path)
            if shape.enum and value not in shape.enum:
                self.fail(value, path, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
            pattern = meta.get("pattern")
            if pattern is not None and not _matches(pattern, value) and not _local_uri(value, pattern):
                self.fail(value, path, f"Member must satisfy regular expression pattern: {pattern}")
            return value
        if kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                else:
                    self.fail(value, path, f"Member must be an {kind}")
                    return value
            self._range(value, meta, path)
            return value
        if kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                self.fail(value, path, "Member must be a number")
                return value
            self._range(value, meta, path)
            return float(value)
        if kind == "boolean":
            if not isinstance(value, bool):
                self.fail(value, path, "Member must be a boolean")
            return value
        if kind == "blob":
            if isinstance(value, (bytes, bytearray)):
                data = bytes(value)
            elif isinstance(value, str) and self.binary_as_base64:
                try:
                    data = base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    self.fail("(blob)", path, "Member must be base64-encoded binary data")
                    return value
            else:
                self.fail(value, path, "Member must be binary data")
                return value
            self._length(data, len(data), meta, path)
            return data
        if kind == "timestamp":
            if isinstance(value, datetime):
                return value
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return datetime.fromtimestamp(value, timezone.utc)
            self.fail(value, path, "Member must be a timestamp")
            return value
        return value

    def _length(self, value: Any, size: int, meta: dict, path: str) -> None:
        if "min" in meta and size < meta["min"]:
            self.fail(value, path, f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and size > meta["max"]:
            self.fail(value, path, f"Member must have length less than or equal to {meta['max']}")

    def _range(self, value: float, meta: dict, path: str) -> None:
        if "min" in meta and value < meta["min"]:
            self.fail(value, path, f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            self.fail(value, path, f"Member must have value less than or equal to {meta['max']}")


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str):
    import re

    try:
        return re.compile(pattern)
    except re.error:
        return None  # a Java-only construct: AWS's patterns are advisory here


def _matches(pattern: str, value: str) -> bool:
    regex = _compiled(pattern)
    return regex is None or regex.search(value) is not None  # Smithy patterns are not implicitly anchored


def _local_uri(value: str, pattern: str) -> bool:
    """openmaker's one extension: where an S3 URI is asked for, a ``file://`` URI names a local folder."""
    return value.startswith("file://") and "s3" in pattern.lower()


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validate_input(service: str, operation: str, params: Any, *, binary_as_base64: bool = True) -> dict[str, Any]:
    """The request's members checked against the input shape; blobs decoded. Raises ``ValidationException``."""
    shape = operation_model(service, operation).input_shape
    if shape is None:
        return {}
    if not isinstance(params, dict):
        raise AwsError("SerializationException", "Start of structure or map found where not expected.")
    validator = _Validator(binary_as_base64)
    out = validator.walk(params, shape, "")
    if validator.errors:
        count = len(validator.errors)
        noun = "error" if count == 1 else "errors"
        raise AwsError("ValidationException", f"{count} validation {noun} detected: " + "; ".join(validator.errors[:10]))
    return out


def check_output(service: str, operation: str, data: Any) -> list[str]:
    """Every departure of ``data`` from the operation's output shape (empty when it conforms)."""
    shape = operation_model(service, operation).output_shape
    if shape is None:
        return [] if not data else ["the operation has no output, but data was given"]
    problems: list[str] = []
    _check(data, shape, shape.name, problems)
    return problems


def _check(value: Any, shape, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a structure, got {type(value).__name__}")
            return
        for name in sorted(set(value) - set(shape.members)):
            problems.append(f"{path}: unknown member {name!r}")
        for name in shape.required_members:
            if value.get(name) is None:
                problems.append(f"{path}: required member {name!r} is missing")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _check(value[name], member, f"{path}.{name}", problems)
    elif kind == "list":
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            _check(item, shape.member, f"{path}[{i}]", problems)
    elif kind == "map":
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        for k, v in value.items():
            _check(k, shape.key, f"{path}.<key>", problems)
            _check(v, shape.value, f"{path}[{k!r}]", problems)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(f"{path}: expected a string, got {type(value).__name__}")
        elif shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} is not one of {list(shape.enum)}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{path}: expected an integer, got {type(value).__name__}")
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{path}: expected a number, got {type(value).__name__}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(f"{path}: expected a boolean, got {type(value).__name__}")
    elif kind == "timestamp":
        if not isinstance(value, (datetime, int, float)) or isinstance(value, bool):
            problems.append(f"{path}: expected a timestamp (datetime or epoch seconds), got {type(value).__name__}")
    elif kind == "blob":
        if not isinstance(value, (bytes, bytearray)):
            problems.append(f"{path}: expected bytes, got {type(value).__name__}")
