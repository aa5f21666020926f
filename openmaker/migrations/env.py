"""Alembic environment for openmaker's shared schema.

:func:`openmaker.db.migrate` hands over an open connection through
``config.attributes["connection"]``. Run by hand (``alembic -c <ini>`` while
writing a new revision), it connects to ``-x url=...``, else to
``sqlalchemy.url`` of the ini, else to the ``database_url`` setting.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import openmaker.awsapi.tables  # noqa: F401  (the AWS front end's tables join Base.metadata)
import openmaker.labeling.tables  # noqa: F401  (the labeling tables join Base.metadata)
import openmaker.racer.league.tables  # noqa: F401  (the racer league tables join Base.metadata)
import openmaker.training.records  # noqa: F401  (the training tables join Base.metadata)
from openmaker.db import Base, get_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str | None:
    return context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Write the SQL to stdout instead of running it (``alembic upgrade --sql``)."""
    from openmaker.config import get_settings

    context.configure(
        url=_url() or get_settings().resolved_database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    with get_engine(_url()).connect() as connection:
        _run(connection)
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
