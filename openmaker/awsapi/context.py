"""What an operation answered outside a model gets: settings, identity, ARNs and a resource store.

A room publishes such operations as ``Room.aws_operations`` (a function returning
``{"sagemaker:CreateTrainingJob": fn, ...}``); the front end calls ``fn(params, ctx)``
in a thread with the validated request members and an :class:`AwsContext`, and
answers the dict it returns (or the :class:`~openmaker.awsapi.errors.AwsError` it raises).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import select

from openmaker import db
from openmaker.awsapi.tables import Resource

#: The account id openmaker answers with: AWS's documented placeholder account.
ACCOUNT_ID = "000000000000"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, (bytes, bytearray)):
        raise TypeError("binary values are not kept in the resource store")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _json_hook(value: dict) -> Any:
    if len(value) == 1 and "__datetime__" in value:
        return datetime.fromisoformat(value["__datetime__"])
    return value


class ResourceStore:
    """Control-plane resources by ``(kind, name)``, kept as JSON in the ``aws_resource`` table.

    Datetimes survive the round trip; every call is its own transaction (safe from threads).
    """

    def __init__(self, database_url: str) -> None:
        self.url = database_url

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        with db.session_scope(self.url) as session:
            row = session.scalar(select(Resource).where(Resource.kind == kind, Resource.name == name))
            return None if row is None else json.loads(row.body, object_hook=_json_hook)

    def create(self, kind: str, name: str, body: dict[str, Any]) -> bool:
        """Insert; False (and nothing written) when ``(kind, name)`` exists already."""
        from sqlalchemy.exc import IntegrityError

        try:
            with db.session_scope(self.url) as session:
                session.add(Resource(kind=kind, name=name, body=json.dumps(body, default=_json_default)))
        except IntegrityError:
            return False
        return True

    def put(self, kind: str, name: str, body: dict[str, Any]) -> None:
        """Insert or replace."""
        text = json.dumps(body, default=_json_default)
        with db.session_scope(self.url) as session:
            row = session.scalar(select(Resource).where(Resource.kind == kind, Resource.name == name))
            if row is None:
                session.add(Resource(kind=kind, name=name, body=text))
            else:
                row.body, row.updated_at = text, datetime.now(timezone.utc)

    def update(self, kind: str, name: str, **fields: Any) -> dict[str, Any] | None:
        """Merge ``fields`` into a stored resource; None when it does not exist."""
        with db.session_scope(self.url) as session:
            row = session.scalar(select(Resource).where(Resource.kind == kind, Resource.name == name))
            if row is None:
                return None
            body = json.loads(row.body, object_hook=_json_hook)
            body.update(fields)
            row.body, row.updated_at = json.dumps(body, default=_json_default), datetime.now(timezone.utc)
            return body

    def delete(self, kind: str, name: str) -> bool:
        with db.session_scope(self.url) as session:
            row = session.scalar(select(Resource).where(Resource.kind == kind, Resource.name == name))
            if row is None:
                return False
            session.delete(row)
            return True

    def list(self, kind: str) -> list[dict[str, Any]]:
        with db.session_scope(self.url) as session:
            rows = session.scalars(select(Resource).where(Resource.kind == kind).order_by(Resource.created_at, Resource.id))
            return [json.loads(row.body, object_hook=_json_hook) for row in rows]


@dataclass
class AwsContext:
    """Handed to a room's operation: the server's settings, the region asked, the resource store."""

    settings: Any
    region: str
    resources: ResourceStore
    account: str = ACCOUNT_ID
    #: The service (signing name) the request was for, e.g. ``sagemaker``.
    service: str = "sagemaker"

    def arn(self, resource_type: str, name: str) -> str:
        """``arn:aws:sagemaker:REGION:ACCOUNT:training-job/name`` (SageMaker lower-cases the name)."""
        return f"arn:aws:{self.service}:{self.region}:{self.account}:{resource_type}/{name.lower()}"


Operation = Callable[[dict[str, Any], AwsContext], dict[str, Any]]
