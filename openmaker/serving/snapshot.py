"""Registrations kept in the platform database, so a restarted server serves the same models
and pipeline endpoints."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select

from openmaker import db


class DatabaseRegistrationStore:
    """``RegistrationStore`` over the ``serving_model`` table (SQLite by default, PostgreSQL by URL)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        db.migrate(url)

    def save(self, record: dict[str, Any]) -> None:
        with db.session_scope(self.url) as session:
            db.save_registration(session, **record)

    def delete(self, name: str, version: str) -> None:
        with db.session_scope(self.url) as session:
            db.delete_registration(session, name, version)

    def load(self) -> list[dict[str, Any]]:
        with db.session_scope(self.url) as session:
            return [
                {column: getattr(row, column) for column in db.REGISTRATION_FIELDS}
                for row in db.list_registrations(session)
            ]

    def save_endpoint(self, name: str, stages: list[tuple[str, str]], accepts: list[str | None] | None) -> None:
        with db.session_scope(self.url) as session:
            session.execute(delete(db.EndpointRegistration).where(db.EndpointRegistration.name == name))
            session.add(
                db.EndpointRegistration(
                    name=name, stages=json.dumps([list(s) for s in stages]), accepts=json.dumps(accepts) if accepts else None
                )
            )

    def delete_endpoint(self, name: str) -> None:
        with db.session_scope(self.url) as session:
            session.execute(delete(db.EndpointRegistration).where(db.EndpointRegistration.name == name))

    def load_endpoints(self) -> list[dict[str, Any]]:
        with db.session_scope(self.url) as session:
            rows = session.scalars(select(db.EndpointRegistration).order_by(db.EndpointRegistration.id))
            return [
                {"name": r.name, "stages": [tuple(s) for s in json.loads(r.stages)], "accepts": json.loads(r.accepts) if r.accepts else None}
                for r in rows
            ]
