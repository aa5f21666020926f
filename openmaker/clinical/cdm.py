"""Connecting to an OMOP CDM database: SQLite (default), DuckDB, PostgreSQL, or any SQLAlchemy URL.

``--db`` takes a SQLAlchemy URL (``postgresql://user@host/cdm``,
``duckdb:///cdm.duckdb``, ``sqlite:///cdm.db``, ``redshift+psycopg2://...``) or a
file path (``*.duckdb`` opens DuckDB, anything else SQLite). Without one, the
room uses ``omop.db`` in the openmaker home.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from openmaker.clinical.errors import SchemaError


def default_url() -> str:
    from openmaker.config import get_settings

    return f"sqlite:///{get_settings().home / 'omop.db'}"


def normalize_url(db: str | None) -> str:
    """A SQLAlchemy URL for ``db`` (a URL or a file path); psycopg 3 for plain ``postgresql://``."""
    if not db:
        return default_url()
    if "://" not in db:
        path = Path(db).expanduser()
        scheme = "duckdb" if path.suffix.lower() in (".duckdb", ".ddb") else "sqlite"
        return f"{scheme}:///{path}"
    if db.startswith("postgresql://") or db.startswith("postgres://"):
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    return db


@dataclass
class Cdm:
    """A CDM database: its engine and the schema its tables live in (None: the default one)."""

    engine: Engine
    schema: str | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def describe(self) -> str:
        where = self.engine.url.render_as_string(hide_password=True)
        return where + (f" (schema {self.schema})" if self.schema else "")


def connect(db: str | None = None, schema: str | None = None) -> Cdm:
    """Open the CDM at ``db``; a bad URL or a missing driver is a :class:`SchemaError`."""
    url = normalize_url(db)
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise SchemaError(f"not a database URL or path: {db!r}") from exc
    kwargs = {}
    backend = parsed.get_backend_name()
    if backend in ("sqlite", "duckdb") and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        kwargs["connect_args"] = {"timeout": 60}
    elif backend != "duckdb":
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
    except Exception as exc:  # unknown dialect, driver not installed
        raise SchemaError(f"cannot open {parsed.render_as_string(hide_password=True)}: {exc}") from exc
    if backend == "sqlite":

        @event.listens_for(engine, "connect")
        def _wal(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    if schema and backend == "sqlite":
        raise SchemaError("SQLite has no schemas: leave --schema out (or use another database)")
    return Cdm(engine, schema)
