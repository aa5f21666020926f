"""The wire protocols botocore speaks, for the services openmaker answers.

- **JSON 1.1** (Rekognition, SageMaker, Comprehend Medical's older protocol): ``POST /`` with
  ``X-Amz-Target: <targetPrefix>.<Operation>``, a JSON body, blobs as base64, timestamps as epoch seconds.
- **Smithy RPCv2 CBOR** (Comprehend Medical in current botocore): ``POST /service/<targetPrefix>/operation/<Operation>``
  with ``smithy-protocol: rpc-v2-cbor`` and a CBOR body.
- **REST-JSON** (SageMaker Runtime): members bound to the URI, headers and the payload by the service model.

:func:`parse` turns a request into a :class:`Call`; :func:`render` and :func:`render_error` turn an
answer or an :class:`AwsError` back into status, headers and body in the same protocol.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from openmaker.awsapi.errors import AwsError
from openmaker.awsapi.shapes import operation_model, service_model

#: X-Amz-Target prefixes (and RPCv2 service names) of the services answered, with their boto3 names.
TARGET_PREFIXES = {
    "ComprehendMedical_20181030": "comprehendmedical",
    "RekognitionService": "rekognition",
    "SageMaker": "sagemaker",
}
REST_SERVICES = ("sagemaker-runtime",)
JSON_TYPE = "application/x-amz-json-1.1"
CBOR_TYPE = "application/cbor"
_RPC_PATH = re.compile(r"^/service/(?P<service>[^/]+)/operation/(?P<operation>[^/]+)$")


@dataclass
class Call:
    """One decoded request: which service and operation, in which protocol, with which members."""

    service: str
    operation: str
    protocol: str  # "json" | "cbor" | "rest-json"
    params: Any = None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def signing_name(self) -> str:
        return service_model(self.service).signing_name


def _unknown_operation(message: str) -> AwsError:
    return AwsError("UnknownOperationException", message)


def _operation(service: str, name: str) -> str:
    if name not in service_model(service).operation_names:
        raise _unknown_operation(f"{service} has no operation {name!r}")
    return name


def route(method: str, path: str, headers: dict[str, str]) -> Call:
    """Which service and operation a request is for (before its signature or body is looked at)."""
    target = headers.get("x-amz-target")
    if target is not None:
        prefix, _, name = target.rpartition(".")
        service = TARGET_PREFIXES.get(prefix)
        if service is None or method != "POST":
            raise _unknown_operation(f"unknown X-Amz-Target {target!r}; openmaker answers {', '.join(sorted(TARGET_PREFIXES))}")
        return Call(service, _operation(service, name), "json")
    match = _RPC_PATH.match(path)
    if match and method == "POST":
        service = TARGET_PREFIXES.get(match["service"])
        if service is None:
            raise _unknown_operation(f"unknown service {match['service']!r} in {path}")
        if headers.get("smithy-protocol", "").lower() != "rpc-v2-cbor":
            raise AwsError("SerializationException", "RPCv2 requests need the header 'smithy-protocol: rpc-v2-cbor'")
        return Call(service, _operation(service, match["operation"]), "cbor")
    for service in REST_SERVICES:
        for name in service_model(service).operation_names:
            http = operation_model(service, name).http
            if http.get("method") == method and _uri_params(http["requestUri"], path) is not None:
                return Call(service, name, "rest-json")
    raise _unknown_operation(f"no operation answers {method} {path}; see docs/aws.md for what openmaker supports")


def _uri_pattern(template: str) -> re.Pattern:
    regex = re.escape(template.split("?")[0])
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
    return re.compile(f"^{regex}$")


def _uri_params(template: str, path: str) -> dict[str, str] | None:
    match = _uri_pattern(template).match(path)
    return None if match is None else match.groupdict()


def decode(call: Call, path: str, headers: dict[str, str], body: bytes) -> None:
    """Fill ``call.params`` from the body (and, for REST-JSON, the URI and headers)."""
    if call.protocol == "json":
        call.params = _json_body(body)
    elif call.protocol == "cbor":
        call.params = _cbor_body(body)
    else:
        call.params = _rest_members(call, path, headers, body)


def _json_body(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AwsError("SerializationException", f"the request body is not valid JSON: {exc}") from None


def _cbor_body(body: bytes) -> Any:
    if not body:
        return {}
    import cbor2

    try:
        value = cbor2.loads(body)
    except (cbor2.CBORDecodeError, ValueError, EOFError) as exc:
        raise AwsError("SerializationException", f"the request body is not valid CBOR: {exc}") from None
    return value


def _rest_members(call: Call, path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    from urllib.parse import unquote

    model = operation_model(call.service, call.operation)
    uri = _uri_params(model.http["requestUri"], path) or {}
    params: dict[str, Any] = {}
    shape = model.input_shape
    payload = shape.serialization.get("payload")
    for name, member in shape.members.items():
        where = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if where == "uri" and wire in uri:
            params[name] = unquote(uri[wire])
        elif where == "header" and wire.lower() in headers:
            value = headers[wire.lower()]
            params[name] = value.lower() == "true" if member.type_name == "boolean" else value
        elif name == payload:
            params[name] = body
    if payload is None and body.strip():
        params.update(_json_body(body))
    return params


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _headers(call: Call, content_type: str) -> dict[str, str]:
    headers = {"content-type": content_type, "x-amzn-requestid": call.request_id}
    if call.protocol == "cbor":
        headers["smithy-protocol"] = "rpc-v2-cbor"
    return headers


def render(call: Call, data: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """An operation's answer in the call's protocol."""
    if call.protocol == "cbor":
        import cbor2

        return 200, _headers(call, CBOR_TYPE), cbor2.dumps(data, datetime_as_timestamp=True, timezone=timezone.utc)
    if call.protocol == "json":
        return 200, _headers(call, JSON_TYPE), json.dumps(data, default=_json_default).encode()
    shape = operation_model(call.service, call.operation).output_shape
    payload = shape.serialization.get("payload")
    headers = {"x-amzn-requestid": call.request_id}
    body = b""
    for name, member in shape.members.items():
        value = data.get(name)
        if value is None:
            continue
        if member.serialization.get("location") == "header":
            headers[member.serialization.get("name", name).lower()] = str(value)
        elif name == payload:
            body = value
    headers.setdefault("content-type", "application/json")
    return 200, headers, body


def render_error(call: Call | None, error: AwsError) -> tuple[int, dict[str, str], bytes]:
    """An error in AWS's shape for the call's protocol (JSON 1.1 when the request could not be routed)."""
    call = call or Call("", "", "json")
    if call.protocol == "cbor":
        import cbor2

        body = dict(error.body())
        body["__type"] = f"com.amazonaws.{call.service}#{error.code}"
        return error.status, _headers(call, CBOR_TYPE), cbor2.dumps(body)
    if call.protocol == "rest-json":
        headers = {"content-type": "application/json", "x-amzn-requestid": call.request_id, "x-amzn-errortype": error.code}
        body = {"__type": error.code, "message": error.message, "Message": error.message, **error.fields}
        return error.status, headers, json.dumps(body).encode()
    return error.status, _headers(call, JSON_TYPE), json.dumps(error.body()).encode()
