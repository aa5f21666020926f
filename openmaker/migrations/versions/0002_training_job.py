"""training_job, training_job_metric: training jobs and the metrics parsed from their logs.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``training_job`` and ``training_job_metric``."""
    op.create_table(
        "training_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("algorithm", sa.String(length=255), nullable=True),
        sa.Column("entry_point", sa.String(length=1024), nullable=True),
        sa.Column("source_dir", sa.Text(), nullable=True),
        sa.Column("engine", sa.String(length=32), server_default="local", nullable=False),
        sa.Column("hyperparameters", sa.Text(), server_default="{}", nullable=False),
        sa.Column("channels", sa.Text(), server_default="{}", nullable=False),
        sa.Column("metric_definitions", sa.Text(), server_default="[]", nullable=False),
        sa.Column("model_artifacts", sa.Text(), nullable=True),
        sa.Column("output_path", sa.Text(), nullable=True),
        sa.Column("job_dir", sa.Text(), nullable=True),
        sa.Column("log_path", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("billable_seconds", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_job")),
        sa.UniqueConstraint("name", name=op.f("uq_training_job_name")),
    )
    op.create_table(
        "training_job_metric",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["training_job.id"], name=op.f("fk_training_job_metric_job_id_training_job"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_job_metric")),
    )
    op.create_index(op.f("ix_training_job_metric_job_id"), "training_job_metric", ["job_id"], unique=False)


def downgrade() -> None:
    """Drop ``training_job_metric`` and ``training_job``."""
    op.drop_index(op.f("ix_training_job_metric_job_id"), table_name="training_job_metric")
    op.drop_table("training_job_metric")
    op.drop_table("training_job")
