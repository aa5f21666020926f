"""The AWS front end's tables: access keys (hashed) and the SageMaker control plane's resources.

Created by the Alembic revision ``0006``.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Boolean, DateTime, String, Text, UniqueConstraint, false, func
from sqlalchemy.orm import Mapped, mapped_column

from openmaker.db import Base


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class AccessKey(Base):
    """An access key openmaker issued: its id, the SHA-256 of its secret, the services it may call."""

    __tablename__ = "aws_access_key"
    __table_args__ = (UniqueConstraint("access_key_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    access_key_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(128))
    secret_hash: Mapped[str] = mapped_column(String(64))
    services: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON list; NULL: every service
    revoked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_utcnow, server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Resource(Base):
    """A control-plane resource (a model, an endpoint config, an endpoint, a transform job...) as JSON."""

    __tablename__ = "aws_resource"
    __table_args__ = (UniqueConstraint("kind", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_utcnow, server_default=func.now())
