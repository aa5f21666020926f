"""Alembic revisions, applied in order by ``openmaker.db.migrate()``."""
