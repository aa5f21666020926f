"""The AWS front end as an ASGI app: read, route, authenticate, validate, dispatch, answer.

Every request is signed (SigV4) with a key openmaker issued (``openmaker keys create``);
there is no unauthenticated mode. Each error leaves in AWS's shape for the protocol the
client spoke; an unexpected exception is logged and answered as the service's internal
error, never as a stack trace.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from openmaker.awsapi import dataplane, protocols, sigv4
from openmaker.awsapi.context import AwsContext, ResourceStore
from openmaker.awsapi.controlplane import HostingPlane
from openmaker.awsapi.errors import AwsError
from openmaker.awsapi.keys import KeyStore
from openmaker.awsapi.shapes import check_output, operation_model, validate_input

log = logging.getLogger("openmaker.awsapi")

#: The largest request body read: a 5 MB image in base64 JSON, or a 6 MB InvokeEndpoint payload.
MAX_BODY = 8 * 1024 * 1024
Handler = Callable[[dict[str, Any], AwsContext], Awaitable[dict[str, Any]]]


class AwsFrontEnd:
    """The ASGI app: ``registry`` is the model server's, ``room_operations`` what rooms publish."""

    def __init__(self, registry, settings, keys: KeyStore, resources: ResourceStore, room_operations: dict[str, Callable]):
        self.registry, self.settings, self.keys, self.resources = registry, settings, keys, resources
        self.hosting = HostingPlane(registry)
        self.handlers: dict[tuple[str, str], Handler] = {}
        for name, fn in self.hosting.operations().items():
            self.handlers[("sagemaker", name)] = fn
        for key, fn in room_operations.items():
            service, _, name = key.partition(":")
            self.handlers[(service, name)] = _in_thread(fn)
        for service, name in dataplane.MODEL_OPERATIONS:
            self.handlers[(service, name)] = self._model_operation(service, name)
        self.handlers[("sagemaker-runtime", "InvokeEndpoint")] = self._invoke_endpoint
        self.hosting.mark_interrupted(self._context("us-east-1", "sagemaker"))

    def supported(self) -> dict[str, list[str]]:
        """Operations answered, by service."""
        out: dict[str, list[str]] = {}
        for service, name in sorted(self.handlers):
            out.setdefault(service, []).append(name)
        return out

    def _context(self, region: str, service: str) -> AwsContext:
        return AwsContext(self.settings, region, self.resources, service=service)

    def _model_operation(self, service: str, name: str) -> Handler:
        async def handler(params: dict[str, Any], ctx: AwsContext) -> dict[str, Any]:
            if service == "rekognition":
                return await dataplane.detect_text(self.registry, params)
            return await dataplane.comprehend_medical(self.registry, name, params)

        return handler

    async def _invoke_endpoint(self, params: dict[str, Any], ctx: AwsContext) -> dict[str, Any]:
        return await dataplane.invoke_endpoint(self.registry, params, ctx.account)

    # -- ASGI -------------------------------------------------------------------------
    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return
        if scope["type"] != "http":
            return
        headers: dict[str, list[str]] = {}
        for key, value in scope["headers"]:
            headers.setdefault(key.decode("latin-1").lower(), []).append(value.decode("latin-1"))
        single = {k: v[-1] for k, v in headers.items()}
        method, path = scope["method"], scope["path"]
        call: protocols.Call | None = None
        try:
            if method == "GET" and path in ("/", "/ping", "/health"):
                return await _send(send, 200, {"content-type": "application/json"}, b'{"status": "ok"}')
            call = protocols.route(method, path, single)
            body = await _read_body(receive, single.get("content-length"))
            ctx = self._authenticate(call, scope, headers, body)
            protocols.decode(call, path, single, body)
            data = await self._dispatch(call, ctx)
            status, out_headers, payload = protocols.render(call, data)
        except AwsError as exc:
            status, out_headers, payload = protocols.render_error(call, exc)
        except Exception:  # noqa: BLE001 - the client gets AWS's internal error, the log the traceback
            log.exception("AWS front end: %s %s failed", method, path)
            error = AwsError(_internal_code(call), "openmaker could not complete the request; the server log has the details", 500)
            status, out_headers, payload = protocols.render_error(call, error)
        await _send(send, status, out_headers, payload)

    def _authenticate(self, call: protocols.Call, scope, headers: dict[str, list[str]], body: bytes) -> AwsContext:
        auth = sigv4.parse_authorization(headers.get("authorization", [None])[-1])
        found = self.keys.lookup(auth.access_key_id)
        if found is None:
            raise AwsError("UnrecognizedClientException", "The security token included in the request is invalid.")
        key, secret = found
        if auth.service != call.signing_name:
            raise AwsError(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{call.signing_name}', not '{auth.service}'.",
            )
        raw_path = scope.get("raw_path") or scope["path"].encode()
        sigv4.verify(
            auth, secret, method=scope["method"], raw_path=raw_path.decode("latin-1"),
            query=scope.get("query_string", b"").decode("latin-1"), headers=headers, body=body,
        )  # fmt: skip
        if not key.allows(call.service):
            raise AwsError(
                "AccessDeniedException",
                f"User: arn:aws:iam::000000000000:user/{key.name} is not authorized to perform: "
                f"{call.service}:{call.operation} (the key is limited to {', '.join(key.services or ())})",
            )
        self.keys.touch(key.access_key_id)
        return self._context(auth.region, call.signing_name)

    async def _dispatch(self, call: protocols.Call, ctx: AwsContext) -> dict[str, Any]:
        handler = self.handlers.get((call.service, call.operation))
        if handler is None:
            supported = ", ".join(self.supported().get(call.service, []))
            raise AwsError(
                "UnknownOperationException",
                f"openmaker does not implement {call.service}:{call.operation}; it answers {supported} (see docs/aws.md)",
            )
        dataplane.check_request_size(call.service, call.operation, call.params)
        try:
            params = validate_input(call.service, call.operation, call.params, binary_as_base64=call.protocol == "json")
        except AwsError as exc:
            if exc.code == "ValidationException" and call.service == "sagemaker-runtime":
                exc.code = "ValidationError"  # SageMaker Runtime's name for it
            raise
        data = _only_output_members(call, await handler(params, ctx))
        problems = check_output(call.service, call.operation, data)
        if problems:
            log.error("AWS front end: %s:%s answer outside its shape: %s", call.service, call.operation, problems)
            raise AwsError(_internal_code(call), f"the answer to {call.operation} is outside its shape: {problems[0]}", 500)
        return data


def _only_output_members(call: protocols.Call, data: dict[str, Any]) -> dict[str, Any]:
    """Stored records carry more than an answer shows: keep the output shape's members."""
    shape = operation_model(call.service, call.operation).output_shape
    if shape is None:
        return {}
    return {k: v for k, v in data.items() if k in shape.members}


def _internal_code(call: protocols.Call | None) -> str:
    service = call.service if call else ""
    return {
        "rekognition": "InternalServerError",
        "sagemaker-runtime": "InternalFailure",
        "sagemaker": "InternalFailure",
    }.get(service, "InternalServerException")


def _in_thread(fn: Callable[[dict[str, Any], AwsContext], dict[str, Any]]) -> Handler:
    async def run(params: dict[str, Any], ctx: AwsContext) -> dict[str, Any]:
        return await asyncio.to_thread(fn, params, ctx)

    return run


async def _read_body(receive, content_length: str | None) -> bytes:
    if content_length is not None:
        try:
            size = int(content_length)
        except ValueError:
            raise AwsError("SerializationException", f"invalid Content-Length {content_length!r}") from None
        if size > MAX_BODY:
            raise AwsError("RequestEntityTooLargeException", f"the request body of {size} bytes is over {MAX_BODY} bytes", 413)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise AwsError("SerializationException", "the client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise AwsError("RequestEntityTooLargeException", f"the request body is over {MAX_BODY} bytes", 413)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send, status: int, headers: dict[str, str], body: bytes) -> None:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def create_aws_app(server, rooms=None) -> AwsFrontEnd:
    """The front end for a running ``ModelServer`` (``ModelServer.app_factories`` calls this)."""
    from openmaker import db
    from openmaker.awsapi.keys import load_server_key

    settings = server.settings
    url = settings.resolved_database_url
    db.migrate(url)
    keys = KeyStore(url, load_server_key(settings.home, settings.aws_key_secret))
    operations: dict[str, Callable] = {}
    for room in rooms or []:
        if room.aws_operations is not None:
            operations.update(room.aws_operations())
    return AwsFrontEnd(server.registry, settings, keys, ResourceStore(url), operations)
