"""serving_endpoint: inference pipeline endpoints, served again after a restart.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``serving_endpoint``."""
    op.create_table(
        "serving_endpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("stages", sa.Text(), nullable=False),
        sa.Column("accepts", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serving_endpoint")),
        sa.UniqueConstraint("name", name=op.f("uq_serving_endpoint_name")),
    )


def downgrade() -> None:
    """Drop ``serving_endpoint``."""
    op.drop_table("serving_endpoint")
