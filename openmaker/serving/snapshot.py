"""Registrations kept in the platform database, so a restarted server serves the same models."""

from __future__ import annotations

from typing import Any

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
