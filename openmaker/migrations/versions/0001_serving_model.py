"""serving_model: models registered on the model server, restored when it restarts.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``serving_model``."""
    op.create_table(
        "serving_model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=255), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("handler", sa.String(length=255), nullable=True),
        sa.Column("batch_size", sa.Integer(), server_default="1", nullable=False),
        sa.Column("max_batch_delay_ms", sa.Float(), server_default="100.0", nullable=False),
        sa.Column("min_workers", sa.Integer(), server_default="1", nullable=False),
        sa.Column("max_workers", sa.Integer(), server_default="1", nullable=False),
        sa.Column("response_timeout", sa.Float(), server_default="120.0", nullable=False),
        sa.Column("threads_per_worker", sa.Integer(), server_default="1", nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serving_model")),
        sa.UniqueConstraint(
            "model_name", "model_version", name=op.f("uq_serving_model_model_name_model_version")
        ),
    )


def downgrade() -> None:
    """Drop ``serving_model``."""
    op.drop_table("serving_model")
