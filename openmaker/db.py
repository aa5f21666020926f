"""The shared database: SQLAlchemy 2 engines and sessions, Alembic migrations, shared tables.

SQLite (a file in the openmaker home) is the default; any SQLAlchemy URL
works, PostgreSQL is tested for real (``OPENMAKER_DATABASE_URL=
postgresql+psycopg://user@host/db``). The schema is owned by the Alembic
migrations in ``openmaker/migrations``: call :func:`migrate` (or run
``openmaker db upgrade``) before use.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    false,
    func,
    select,
    text,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

__all__ = [
    "Base",
    "ModelRegistration",
    "current_revision",
    "delete_registration",
    "dispose_engines",
    "get_engine",
    "list_registrations",
    "migrate",
    "save_registration",
    "session_scope",
]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Named constraints, so that migrations can refer to them by name on every
# backend (SQLite's batch mode needs names to drop or alter a constraint).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of the tables shared by the rooms; its metadata is what the migrations track."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class ModelRegistration(Base):
    """A model registered on the model server, kept so that a restarted server serves it again."""

    __tablename__ = "serving_model"
    __table_args__ = (UniqueConstraint("model_name", "model_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_name: Mapped[str] = mapped_column(String(255))
    model_version: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)  # the model archive's URI
    handler: Mapped[str | None] = mapped_column(String(255), nullable=True)
    batch_size: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    max_batch_delay_ms: Mapped[float] = mapped_column(Float, default=100.0, server_default="100.0")
    min_workers: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    max_workers: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    response_timeout: Mapped[float] = mapped_column(Float, default=120.0, server_default="120.0")
    threads_per_worker: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_utcnow, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_utcnow, onupdate=_utcnow, server_default=func.now()
    )

    def __repr__(self) -> str:
        return f"ModelRegistration({self.model_name!r}, {self.model_version!r}, url={self.url!r})"


class EndpointRegistration(Base):
    """An inference pipeline endpoint, kept so that a restarted server serves it again."""

    __tablename__ = "serving_endpoint"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    stages: Mapped[str] = mapped_column(Text)  # JSON: [[model_name, model_version], ...]
    accepts: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON: [accept or null, ...]
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_utcnow, server_default=func.now()
    )


# --- engines and sessions ---------------------------------------------------

# One engine (and its connection pool) per URL for the life of the process:
# an engine per call would open a pool per call.
_engines: dict[str, Engine] = {}
_sessionmakers: dict[Engine, sessionmaker[Session]] = {}
_lock = threading.Lock()


def _resolve_url(url: str | None) -> str:
    if url is not None:
        return str(url)
    from openmaker.config import get_settings

    return get_settings().resolved_database_url


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets the server's readers run while a writer commits; SQLite
        # leaves foreign keys off unless asked, per connection.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def get_engine(url: str | None = None) -> Engine:
    """The engine for ``url`` (default: the ``database_url`` setting, a SQLite file in the home).

    Engines are created once per URL and shared. SQLite engines may be used
    from any thread, run in WAL mode with foreign keys enforced, and the
    folder of the database file is created if missing.
    """
    resolved = _resolve_url(url)
    with _lock:
        engine = _engines.get(resolved)
        if engine is not None:
            return engine
        parsed = make_url(resolved)
        kwargs: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            # Sessions are handed between the server's threads; the pool
            # makes sure one connection is used by one thread at a time.
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        else:
            # Drop connections the server closed while idle instead of failing a request.
            kwargs["pool_pre_ping"] = True
        engine = create_engine(resolved, **kwargs)
        if parsed.get_backend_name() == "sqlite":
            _configure_sqlite(engine)
        _engines[resolved] = engine
        return engine


def dispose_engines() -> None:
    """Close the pooled connections of every engine made by :func:`get_engine` and forget them.

    For tests that drop a database, and for a process that forked.
    """
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _sessionmakers.clear()


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session committed when the block ends, rolled back if it raises.

    Objects stay readable after the block (``expire_on_commit=False``), so a
    function can return what it loaded.
    """
    engine = get_engine(url)
    with _lock:
        factory = _sessionmakers.get(engine)
        if factory is None:
            factory = sessionmaker(bind=engine, expire_on_commit=False)
            _sessionmakers[engine] = factory
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# --- migrations -------------------------------------------------------------


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    # Built in code: users never need an alembic.ini.
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def migrate(url: str | None = None, revision: str = "head") -> str | None:
    """Bring the database at ``url`` (default: the settings' one) up to ``revision``; returns the new revision.

    Safe to run again: a database already at ``head`` is left as it is. On
    PostgreSQL, concurrent callers (a server and a CLI starting together)
    take turns on an advisory lock instead of racing to create tables.
    """
    from alembic import command

    engine = get_engine(url)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Released when this transaction ends.
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('openmaker.migrate'))"))
        command.upgrade(_alembic_config(connection), revision)
    return current_revision(url)


def head_revision() -> str:
    """The newest migration this version of openmaker ships."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(None)).get_current_head()


def current_revision(url: str | None = None) -> str | None:
    """The Alembic revision the database at ``url`` is at, or None if it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


# --- model registrations ----------------------------------------------------

REGISTRATION_FIELDS = frozenset(
    column.key for column in ModelRegistration.__table__.columns if column.key not in ("id", "created_at", "updated_at")
)


def save_registration(session: Session, **fields: Any) -> ModelRegistration:
    """Insert or update the registration of ``model_name`` / ``model_version``; returns it.

    Fields not given keep their stored value (or the column default for a new
    row); ``url`` is required for a new one. Saving one version with
    ``is_default=True`` clears the flag on the model's other versions.
    """
    unknown = set(fields) - REGISTRATION_FIELDS
    if unknown:
        raise TypeError(f"unknown registration fields: {', '.join(sorted(unknown))}")
    try:
        name, version = fields["model_name"], fields["model_version"]
    except KeyError as exc:
        raise TypeError(f"save_registration needs {exc.args[0]}") from None
    record = session.scalars(
        select(ModelRegistration).where(
            ModelRegistration.model_name == name, ModelRegistration.model_version == version
        )
    ).one_or_none()
    if record is None:
        if not fields.get("url"):
            raise TypeError(f"save_registration needs url for new model {name!r} version {version!r}")
        record = ModelRegistration(**fields)
        session.add(record)
    else:
        for key, value in fields.items():
            setattr(record, key, value)
    if fields.get("is_default"):
        others = session.scalars(
            select(ModelRegistration).where(
                ModelRegistration.model_name == name,
                ModelRegistration.model_version != version,
                ModelRegistration.is_default.is_(True),
            )
        )
        for other in others:
            other.is_default = False
    session.flush()
    return record


def delete_registration(session: Session, name: str, version: str) -> bool:
    """Remove the registration of ``name`` / ``version``; True if there was one."""
    record = session.scalars(
        select(ModelRegistration).where(
            ModelRegistration.model_name == name, ModelRegistration.model_version == version
        )
    ).one_or_none()
    if record is None:
        return False
    session.delete(record)
    session.flush()
    return True


def list_registrations(session: Session, model_name: str | None = None) -> list[ModelRegistration]:
    """The stored registrations (of one model if ``model_name`` is given), by name then registration order."""
    query = select(ModelRegistration).order_by(ModelRegistration.model_name, ModelRegistration.id)
    if model_name is not None:
        query = query.where(ModelRegistration.model_name == model_name)
    return list(session.scalars(query))
