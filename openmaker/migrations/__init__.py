"""Alembic migrations of openmaker's shared schema; run them with ``openmaker.db.migrate()``."""
