"""The league's tables (on the shared :class:`openmaker.db.Base`; created by migration 0005).

- ``racer_account``: a racer (alias, SHA-256 of the API key, admin flag, active flag).
- ``racer_session``: a web sign-in (random token stored as SHA-256, a CSRF token, an expiry).
- ``racer_race``: a race (track, open/close times, timing method, laps, off-track penalty, minimum laps,
  submissions allowed per racer, season).
- ``racer_submission``: one model raced in one race by one racer: the queue state (queued, running, done,
  failed), the reason of a failure, the evaluation's numbers and its full JSON.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, false, func, true
from sqlalchemy.orm import Mapped, mapped_column

from openmaker.db import Base

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATUSES = (QUEUED, RUNNING, DONE, FAILED)
TIMING_METHODS = ("TOTAL_TIME", "AVG_LAP_TIME", "BEST_LAP_TIME")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def aware(when: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive (they were stored as UTC)."""
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _created():
    return mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())


class Racer(Base):
    __tablename__ = "racer_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alias: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = _created()


class RacerSession(Base):
    __tablename__ = "racer_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf: Mapped[str] = mapped_column(String(64))
    racer_id: Mapped[int] = mapped_column(ForeignKey("racer_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Race(Base):
    __tablename__ = "racer_race"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    track: Mapped[str] = mapped_column(String(128))
    season: Mapped[str] = mapped_column(String(32), index=True)
    opens_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    timing: Mapped[str] = mapped_column(String(16), default="TOTAL_TIME", server_default="TOTAL_TIME")
    laps: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    penalty: Mapped[float] = mapped_column(Float, default=5.0, server_default="5.0")
    min_laps: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    max_submissions: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    created_at: Mapped[datetime] = _created()


class Submission(Base):
    __tablename__ = "racer_submission"
    __table_args__ = (Index("ix_racer_submission_race_racer", "race_id", "racer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    race_id: Mapped[int] = mapped_column(ForeignKey("racer_race.id", ondelete="CASCADE"))
    racer_id: Mapped[int] = mapped_column(ForeignKey("racer_account.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED, server_default=QUEUED, index=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    files: Mapped[str] = mapped_column(Text)  # JSON list of the stored file names
    submitted_at: Mapped[datetime] = _created()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    completed_laps: Mapped[int | None] = mapped_column(Integer, nullable=True)
    total_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    avg_lap_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    best_lap_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    off_track: Mapped[int | None] = mapped_column(Integer, nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)  # the evaluation's JSON
