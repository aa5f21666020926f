"""SageMaker's control plane for hosting: models, endpoint configs and endpoints on the model server.

``CreateModel`` and ``CreateEndpointConfig`` are records (kept in the ``aws_resource`` table);
``CreateEndpoint`` registers the config's model with the server under the endpoint's name, from
its ``ModelDataUrl`` under the same rules as the management API (the model store, or a prefix in
the ``allowed_urls`` setting, e.g. ``s3://models/``) (a
``Containers`` model becomes an inference pipeline of 2 to 15 registered stages) in the
background, so the endpoint goes ``Creating`` → ``InService`` (or ``Failed`` with the reason)
as on SageMaker, and ``InvokeEndpoint`` reaches it. Models registered on the server directly
are listed and described as ``InService`` endpoints too: they answer ``InvokeEndpoint`` as well.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime, timezone
from typing import Any

from openmaker.awsapi.context import AwsContext
from openmaker.awsapi.errors import AwsError, validation
from openmaker.serving.errors import InferenceError

MODEL, CONFIG, ENDPOINT = "model", "endpoint-config", "endpoint"
#: Records kept as such, by kind (also their ARN's resource type): the member naming one, SageMaker's word for it.
RECORDS = {MODEL: ("ModelName", "model"), CONFIG: ("EndpointConfigName", "endpoint configuration")}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _exists(what: str, arn: str) -> AwsError:
    return validation(f'Cannot create already existing {what} "{arn}".')


def _missing(what: str, arn: str) -> AwsError:
    return validation(f'Could not find {what} "{arn}".')


class HostingPlane:
    """The hosting operations of the ``sagemaker`` service, over one server's registry."""

    def __init__(self, registry) -> None:
        self.registry = registry
        self._tasks: set[asyncio.Task] = set()

    # -- models and endpoint configs (records) -------------------------------------
    async def create_model(self, params: dict[str, Any], ctx: AwsContext) -> dict[str, Any]:
        name = params["ModelName"]
        containers = params.get("Containers") or []
        primary = params.get("PrimaryContainer")
        if bool(primary) == bool(containers):
            raise validation("Give exactly one of PrimaryContainer and Containers.")
        for container in [primary] if primary else containers:
            if not container.get("ModelDataUrl"):
                raise validation(
                    "openmaker serves model archives: each container needs a ModelDataUrl (s3:// or file://) "
                    "of a model.tar.gz or model directory"
                )
            if (container.get("Mode") or "SingleModel") != "SingleModel":
                raise validation("openmaker's control plane hosts SingleModel containers only (not MultiModel)")
        if containers and not 2 <= len(containers) <= 15:
            raise validation(f"An inference pipeline has 2 to 15 containers, not {len(containers)}.")
        arn = ctx.arn("model", name)
        record = {**params, "ModelArn": arn, "CreationTime": _now()}
        if not await asyncio.to_thread(ctx.resources.create, MODEL, name, record):
            raise _exists("model", arn)
        return {"ModelArn": arn}

    async def _stored(self, kind: str, name: str, ctx: AwsContext) -> dict[str, Any]:
        """A model or endpoint config as kept; SageMaker's ``Could not find ...`` when there is none."""
        record = await asyncio.to_thread(ctx.resources.get, kind, name)
        if record is None:
            raise _missing(RECORDS[kind][1], ctx.arn(kind, name))
        return record

    def _describer(self, kind: str):
        async def describe(params: dict[str, Any], ctx: AwsContext) -> dict[str, Any]:
            return await self._stored(kind, params[RECORDS[kind][0]], ctx)

        return describe

    def _deleter(self, kind: str):
        async def delete(params: dict[str, Any], ctx: AwsContext) -> dict[str, Any]:
            name = params[RECORDS[kind][0]]
            if not await asyncio.to_thread(ctx.resources.delete, kind, name):
                raise _missing(RECORDS[kind][1], ctx.arn(kind, name))
            return {}

        return delete

    async def create_endpoint_config(self, params: dict[str, Any], ctx: AwsContext) -> dict[str, Any]:
        name = params["EndpointConfigName"]
        variants = params["ProductionVariants"]
        if len(variants) != 1:
            raise validation(f"openmaker hosts one production variant per endpoint config, not {len(variants)}.")
        for variant in variants:
            if not variant.get("ModelName"):
                raise validation("ProductionVariants.1.ModelName is required")
            await self._stored(MODEL, variant["ModelName"], ctx)
        arn = ctx.arn("endpoint-config", name)
        record = {**params, "EndpointConfigArn": arn, "CreationTime": _now()}
        if not await asyncio.to_thread(ctx.resources.create, CONFIG, name, record):
            raise _exists("endpoint configuration", arn)
        return {"EndpointConfigArn": arn}

    # -- endpoints ------------------------------------------------------------------
    def _served(self, name: str) -> bool:
        return self.registry.has_endpoint(name) or name in self.registry.names()

    async def create_endpoint(self, params: dict[str, Any], ctx: AwsContext) -> dict[str, Any]:
        name, config_name = params["EndpointName"], params["EndpointConfigName"]
        arn = ctx.arn("endpoint", name)
        variant = (await self._stored(CONFIG, config_name, ctx))["ProductionVariants"][0]
        model = await self._stored(MODEL, variant["ModelName"], ctx)
        if self._served(name):
            raise _exists("endpoint", arn)
        for container in [model["PrimaryContainer"]] if model.get("PrimaryContainer") else model["Containers"]:
            code = (container.get("Environment") or {}).get("SAGEMAKER_SUBMIT_DIRECTORY", "")
            if "://" in code:
                raise validation(
                    f"SAGEMAKER_SUBMIT_DIRECTORY={code}: openmaker's endpoints serve archives that hold their code "
                    "(code/inference.py, as openmaker training jobs write them); pack the source directory into "
                    "the model archive (batch transform jobs do take code from a URI)"
                )
        now = _now()
        record = {
            "EndpointName": name, "EndpointArn": arn, "EndpointConfigName": config_name,
            "EndpointStatus": "Creating", "CreationTime": now, "LastModifiedTime": now,
            "ProductionVariants": [_variant_summary(variant, 0)],
        }  # fmt: skip
        if not await asyncio.to_thread(ctx.resources.create, ENDPOINT, name, record):
            raise _exists("endpoint", arn)
        task = asyncio.get_running_loop().create_task(self._deploy(name, model, variant, ctx))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return {"EndpointArn": arn}

    async def _deploy(self, name: str, model: dict[str, Any], variant: dict[str, Any], ctx: AwsContext) -> None:
        count = int(variant.get("InitialInstanceCount") or 1)
        stages: list[str] = []
        try:
            if model.get("PrimaryContainer"):
                await self.registry.register(
                    model["PrimaryContainer"]["ModelDataUrl"], model_name=name, initial_workers=count,
                    synchronous=True,
                )  # fmt: skip
            else:
                for i, container in enumerate(model["Containers"], 1):
                    stage = f"{name}-{container.get('ContainerHostname') or f'container-{i}'}"
                    await self.registry.register(
                        container["ModelDataUrl"], model_name=stage, initial_workers=count, synchronous=True
                    )
                    stages.append(stage)
                await self.registry.create_endpoint(name, stages)
        except (InferenceError, OSError, ValueError) as exc:
            for stage in stages:
                await _quietly(self.registry.unregister(stage, None))
            message = getattr(exc, "message", None) or str(exc)
            await asyncio.to_thread(
                ctx.resources.update, ENDPOINT, name, EndpointStatus="Failed", FailureReason=message[:1024],
                LastModifiedTime=_now(),
            )  # fmt: skip
            return
        await asyncio.to_thread(
            ctx.resources.update, ENDPOINT, name, EndpointStatus="InService", LastModifiedTime=_now(),
            ProductionVariants=[_variant_summary(variant, count)], Stages=stages,
        )  # fmt: skip

    def _native(self, name: str, ctx: AwsContext) -> dict[str, Any] | None:
        """A model or pipeline registered on the server directly, described as an endpoint."""
        if self.registry.has_endpoint(name):
            created = min(stage.registered_at for stage in self.registry.get_endpoint(name).stages)
        elif name in self.registry.names():
            created = min(m.registered_at for m in self.registry.versions(name))
        else:
            return None
        when = datetime.fromtimestamp(created, timezone.utc)
        return {
            "EndpointName": name, "EndpointArn": ctx.arn("endpoint", name), "EndpointConfigName": name,
            "EndpointStatus": "InService", "CreationTime": when, "LastModifiedTime": when,
            "ProductionVariants": [{"VariantName": "AllTraffic", "CurrentWeight": 1.0, "DesiredWeight": 1.0}],
        }  # fmt: skip

    async def _endpoint(self, name: str, ctx: AwsContext) -> dict[str, Any]:
        record = await asyncio.to_thread(ctx.resources.get, ENDPOINT, name)
        if record is None:
            record = self._native(name, ctx)
        if record is None:
            raise _missing("endpoint", ctx.arn("endpoint", name))
        return record

    async def describe_endpoint(self, params: dict[str, Any], ctx: AwsContext) -> dict[str, Any]:
        record = await self._endpoint(params["EndpointName"], ctx)
        return {k: v for k, v in record.items() if k != "Stages"}

    async def delete_endpoint(self, params: dict[str, Any], ctx: AwsContext) -> dict[str, Any]:
        name = params["EndpointName"]
        record = await self._endpoint(name, ctx)
        if record["EndpointStatus"] == "Creating":
            raise validation(f'Cannot delete endpoint "{record["EndpointArn"]}" while it is Creating.')
        if self.registry.has_endpoint(name):
            pipeline = await self.registry.delete_endpoint(name)
            for stage in record.get("Stages", []):
                if any(stage == s.name for s in pipeline.stages):
                    await _quietly(self.registry.unregister(stage, None))
        elif name in self.registry.names():
            for model in list(self.registry.versions(name)):
                await _quietly(self.registry.unregister(name, model.version))
        await asyncio.to_thread(ctx.resources.delete, ENDPOINT, name)
        return {}

    async def list_endpoints(self, params: dict[str, Any], ctx: AwsContext) -> dict[str, Any]:
        records = {r["EndpointName"]: r for r in await asyncio.to_thread(ctx.resources.list, ENDPOINT)}
        for name in [*self.registry.names(), *(p.name for p in self.registry.endpoints())]:
            if name not in records and not _is_stage(name, records):
                native = self._native(name, ctx)
                if native is not None:
                    records[name] = native
        items = [r for r in records.values() if _listed(r, params)]
        sort_by = params.get("SortBy", "CreationTime")
        key = {"Name": "EndpointName", "CreationTime": "CreationTime", "Status": "EndpointStatus"}[sort_by]
        items.sort(key=lambda r: r[key], reverse=params.get("SortOrder", "Descending") == "Descending")
        start = _token(params.get("NextToken"))
        size = params.get("MaxResults", 10)
        page = items[start : start + size]
        fields = ("EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime", "EndpointStatus")
        out: dict[str, Any] = {"Endpoints": [{k: r[k] for k in fields} for r in page]}
        if start + size < len(items):
            out["NextToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        return out

    def mark_interrupted(self, ctx: AwsContext) -> None:
        """Endpoints left ``Creating`` by a server that stopped are ``Failed`` now (run at start-up)."""
        for record in ctx.resources.list(ENDPOINT):
            if record["EndpointStatus"] == "Creating" and not self._served(record["EndpointName"]):
                ctx.resources.update(
                    ENDPOINT, record["EndpointName"], EndpointStatus="Failed", LastModifiedTime=_now(),
                    FailureReason="the server stopped while the endpoint was being created; delete it and create it again",
                )  # fmt: skip

    def operations(self) -> dict[str, Any]:
        return {
            "CreateModel": self.create_model, "DescribeModel": self._describer(MODEL), "DeleteModel": self._deleter(MODEL),
            "CreateEndpointConfig": self.create_endpoint_config,
            "DescribeEndpointConfig": self._describer(CONFIG), "DeleteEndpointConfig": self._deleter(CONFIG),
            "CreateEndpoint": self.create_endpoint, "DescribeEndpoint": self.describe_endpoint,
            "DeleteEndpoint": self.delete_endpoint, "ListEndpoints": self.list_endpoints,
        }  # fmt: skip


def _variant_summary(variant: dict[str, Any], count: int) -> dict[str, Any]:
    weight = float(variant.get("InitialVariantWeight", 1.0))
    desired = int(variant.get("InitialInstanceCount") or 1)
    return {
        "VariantName": variant.get("VariantName") or "AllTraffic", "CurrentWeight": weight, "DesiredWeight": weight,
        "CurrentInstanceCount": count, "DesiredInstanceCount": desired,
    }  # fmt: skip


def _is_stage(name: str, records: dict[str, dict[str, Any]]) -> bool:
    return any(name in r.get("Stages", []) for r in records.values())


def _listed(record: dict[str, Any], params: dict[str, Any]) -> bool:
    if params.get("NameContains") and params["NameContains"] not in record["EndpointName"]:
        return False
    if params.get("StatusEquals") and record["EndpointStatus"] != params["StatusEquals"]:
        return False
    for member, field, before in (
        ("CreationTimeBefore", "CreationTime", True), ("CreationTimeAfter", "CreationTime", False),
        ("LastModifiedTimeBefore", "LastModifiedTime", True), ("LastModifiedTimeAfter", "LastModifiedTime", False),
    ):  # fmt: skip
        bound = params.get(member)
        if bound is not None and (record[field] >= bound if before else record[field] <= bound):
            return False
    return True


def _token(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError:
        raise validation(f"NextToken {token!r} is not a token this server gave") from None


async def _quietly(coro) -> None:
    try:
        await coro
    except InferenceError:
        pass
