"""The labeling room's tables (on the shared :class:`openmaker.db.Base`; created by migration 0004).

- Workforce: ``label_team`` (private or vendor), ``label_user`` (email, argon2 hash, role admin/worker),
  ``label_membership`` (who is in which team, and who administers a vendor team),
  ``label_invitation`` (one-time tokens, stored hashed), ``label_session`` (sign-in sessions, hashed, with a CSRF token).
- Jobs: ``label_job`` and the teams it is shared with (``label_job_team``); ``label_task`` (one manifest
  line: its data object and the task input the template sees); ``label_item`` (one (image, label) of a task:
  the model's confidence and, after consolidation, ``WorkerConfirmCount``/``WorkerDisconfirmCount``/verdict).
- Work: ``label_assignment`` (a task leased to one worker; at most one per task and worker; its answer) and
  ``label_vote`` (one worker's verdict on one item, parsed from the answer at submission).
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from openmaker.db import Base

# Task states a worker's assignment goes through.
LEASED, SUBMITTED, RELEASED = "leased", "submitted", "released"
ADMIN, WORKER = "admin", "worker"
PRIVATE, VENDOR = "private", "vendor"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _created():
    return mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now())


class Team(Base):
    __tablename__ = "label_team"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default=PRIVATE, server_default=PRIVATE)
    created_at: Mapped[datetime] = _created()


class User(Base):
    __tablename__ = "label_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    role: Mapped[str] = mapped_column(String(16), default=WORKER, server_default=WORKER)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = _created()


class Membership(Base):
    __tablename__ = "label_membership"

    team_id: Mapped[int] = mapped_column(ForeignKey("label_team.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("label_user.id", ondelete="CASCADE"), primary_key=True, index=True)
    is_team_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Invitation(Base):
    __tablename__ = "label_invitation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("label_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SessionRecord(Base):
    __tablename__ = "label_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("label_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Job(Base):
    __tablename__ = "label_job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    input_uri: Mapped[str] = mapped_column(Text)
    output_uri: Mapped[str] = mapped_column(Text)  # the job's folder in the artifact store
    manifest_uri: Mapped[str] = mapped_column(Text)
    template: Mapped[str] = mapped_column(Text)
    pre_hook: Mapped[str | None] = mapped_column(Text, nullable=True)
    post_hook: Mapped[str | None] = mapped_column(Text, nullable=True)
    label_attribute_name: Mapped[str] = mapped_column(String(127))
    reviewers: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    batch_size: Mapped[int] = mapped_column(Integer, default=25, server_default="25")
    min_confidence: Mapped[float] = mapped_column(Float, default=80.0, server_default="80")
    lease_seconds: Mapped[int] = mapped_column(Integer, default=1800, server_default="1800")
    policy: Mapped[str] = mapped_column(String(16), default="unanimous", server_default="unanimous")
    created_at: Mapped[datetime] = _created()
    consolidated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class JobTeam(Base):
    __tablename__ = "label_job_team"

    job_id: Mapped[int] = mapped_column(ForeignKey("label_job.id", ondelete="CASCADE"), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("label_team.id", ondelete="CASCADE"), primary_key=True, index=True)


class Task(Base):
    __tablename__ = "label_task"
    __table_args__ = (UniqueConstraint("job_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("label_job.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)  # the line of the manifest, from 0
    data_object: Mapped[str] = mapped_column(Text)  # JSON: the manifest line
    task_input: Mapped[str] = mapped_column(Text)  # JSON: what the template sees as task.input
    human_required: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    consolidated: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON: the post hook's content


class Item(Base):
    __tablename__ = "label_item"
    __table_args__ = (
        UniqueConstraint("job_id", "image", "label"),
        Index("ix_label_item_job_label", "job_id", "label"),
        Index("ix_label_item_task_position", "task_id", "position"),
        # Consolidation rewrites every item's counts: free room on each page lets PostgreSQL update in place (HOT).
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("label_job.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(ForeignKey("label_task.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # the i of "<label>-<i>" in the task
    image: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(255))
    confidence: Mapped[float] = mapped_column(Float)
    confirm_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    disconfirm_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    verdict: Mapped[str | None] = mapped_column(String(16), nullable=True)


class Assignment(Base):
    __tablename__ = "label_assignment"
    __table_args__ = (UniqueConstraint("task_id", "worker_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)  # the submission key the task page carries
    job_id: Mapped[int] = mapped_column(ForeignKey("label_job.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("label_task.id", ondelete="CASCADE"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("label_user.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default=LEASED)
    leased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON: the crowd form's output


class Vote(Base):
    __tablename__ = "label_vote"

    assignment_id: Mapped[int] = mapped_column(ForeignKey("label_assignment.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("label_item.id", ondelete="CASCADE"), primary_key=True, index=True)
    job_id: Mapped[int] = mapped_column(Integer, index=True)
    confirmed: Mapped[bool] = mapped_column(Boolean)
