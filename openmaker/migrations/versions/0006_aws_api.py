"""aws_*: the AWS-compatible front end's access keys (secrets stored as SHA-256) and control-plane resources.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 12:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('aws_access_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('access_key_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('services', sa.Text(), nullable=True),
    sa.Column('revoked', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aws_access_key')),
    sa.UniqueConstraint('access_key_id', name=op.f('uq_aws_access_key_access_key_id'))
    )
    op.create_table('aws_resource',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aws_resource')),
    sa.UniqueConstraint('kind', 'name', name=op.f('uq_aws_resource_kind_name'))
    )


def downgrade() -> None:
    op.drop_table('aws_resource')
    op.drop_table('aws_access_key')
