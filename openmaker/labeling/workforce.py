"""Teams, reviewers, invitations, passwords and sign-in sessions.

- Roles: ``admin`` (everything) and ``worker``. A vendor team (``kind="vendor"``) is an external
  workforce with its own team admins: they invite members to their team and follow the jobs shared
  with it, nothing else.
- Invitations are one-time links (the token is stored hashed, valid 7 days); accepting one sets the
  password. Passwords are hashed with argon2id (argon2-cffi).
- Sessions are random tokens (stored hashed) with a CSRF token each; they last 12 hours.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from openmaker.labeling.errors import Conflict, Forbidden, LabelingError, NotFound
from openmaker.labeling.signing import new_token, token_hash
from openmaker.labeling.tables import (
    ADMIN,
    PRIVATE,
    VENDOR,
    WORKER,
    Invitation,
    JobTeam,
    Membership,
    SessionRecord,
    Team,
    User,
    utcnow,
)

INVITATION_DAYS = 7
SESSION_HOURS = 12
MIN_PASSWORD = 10
_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+$")
_TEAM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,127}$")


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise LabelingError(f"{email!r} is not an email address")
    return email


def _aware(when: datetime) -> datetime:
    # SQLite hands datetimes back naive (they were stored as UTC).
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


# --- users and teams -------------------------------------------------------------------


def get_user(session: Session, email: str) -> User:
    user = session.scalars(select(User).where(User.email == normalise_email(email))).one_or_none()
    if user is None:
        raise NotFound(f"no user {email!r}")
    return user


def ensure_user(session: Session, email: str, role: str = WORKER) -> User:
    """The user with ``email``, created (without a password) if new."""
    if role not in (ADMIN, WORKER):
        raise LabelingError(f"role must be {ADMIN} or {WORKER}, not {role!r}")
    email = normalise_email(email)
    user = session.scalars(select(User).where(User.email == email)).one_or_none()
    if user is None:
        user = User(email=email, role=role, active=True)
        session.add(user)
        session.flush()
    elif role == ADMIN and user.role != ADMIN:
        user.role = ADMIN
    return user


def check_password_strength(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise LabelingError(f"a password needs at least {MIN_PASSWORD} characters")


def set_password(user: User, password: str) -> None:
    check_password_strength(password)
    user.password_hash = _hasher().hash(password)


def create_admin(session: Session, email: str, password: str) -> User:
    user = ensure_user(session, email, ADMIN)
    set_password(user, password)
    return user


def get_team(session: Session, name: str) -> Team:
    team = session.scalars(select(Team).where(Team.name == name)).one_or_none()
    if team is None:
        raise NotFound(f"no team {name!r}")
    return team


def create_team(session: Session, name: str, *, kind: str = PRIVATE, members=(), admins=()) -> Team:
    """A new team with ``members`` (worker accounts made as needed) and, for vendor teams, ``admins``."""
    if not _TEAM.match(name or ""):
        raise LabelingError(f"team name {name!r}: use letters, digits, space, '.', '_' or '-' (1–128)")
    if kind not in (PRIVATE, VENDOR):
        raise LabelingError(f"team kind must be {PRIVATE} or {VENDOR}, not {kind!r}")
    if admins and kind != VENDOR:
        raise LabelingError("team admins are for vendor teams (--vendor); platform admins manage private teams")
    if session.scalars(select(Team.id).where(Team.name == name)).first() is not None:
        raise Conflict(f"team {name!r} already exists")
    team = Team(name=name, kind=kind)
    session.add(team)
    session.flush()
    for email in members:
        add_member(session, team, email)
    for email in admins:
        add_member(session, team, email, team_admin=True)
    return team


def add_member(session: Session, team: Team, email: str, *, team_admin: bool = False) -> User:
    user = ensure_user(session, email)
    membership = session.get(Membership, (team.id, user.id))
    if membership is None:
        session.add(Membership(team_id=team.id, user_id=user.id, is_team_admin=team_admin))
    elif team_admin:
        membership.is_team_admin = True
    session.flush()
    return user


def remove_member(session: Session, team: Team, email: str) -> None:
    user = get_user(session, email)
    session.execute(delete(Membership).where(Membership.team_id == team.id, Membership.user_id == user.id))


def set_active(session: Session, email: str, active: bool) -> User:
    """Disable (or re-enable) a user; disabling also ends their sessions."""
    user = get_user(session, email)
    user.active = active
    if not active:
        session.execute(delete(SessionRecord).where(SessionRecord.user_id == user.id))
    return user


def team_ids(session: Session, user: User) -> set[int]:
    return set(session.scalars(select(Membership.team_id).where(Membership.user_id == user.id)))


def administered_team_ids(session: Session, user: User) -> set[int]:
    """Teams ``user`` may manage: every team for an admin, their vendor teams for a vendor admin."""
    if user.role == ADMIN:
        return set(session.scalars(select(Team.id)))
    return set(
        session.scalars(
            select(Membership.team_id).where(Membership.user_id == user.id, Membership.is_team_admin.is_(True))
        )
    )


def require_team_admin(session: Session, user: User, team: Team) -> None:
    if team.id not in administered_team_ids(session, user):
        raise Forbidden(f"{user.email} may not manage team {team.name!r}")


def visible_job_ids(session: Session, user: User) -> set[int] | None:
    """Jobs ``user`` may see (None: all, for admins): the jobs shared with their teams."""
    if user.role == ADMIN:
        return None
    teams = team_ids(session, user)
    if not teams:
        return set()
    return set(session.scalars(select(JobTeam.job_id).where(JobTeam.team_id.in_(teams))))


def require_job_access(session: Session, user: User, job_id: int) -> None:
    visible = visible_job_ids(session, user)
    if visible is not None and job_id not in visible:
        raise Forbidden(f"{user.email} is not in a team this job is shared with")


# --- invitations ---------------------------------------------------------------------


@dataclass
class InvitationLink:
    email: str
    token: str
    expires_at: datetime

    def url(self, portal_url: str) -> str:
        return f"{portal_url.rstrip('/')}/invite/{self.token}"


def invite(session: Session, team: Team | None, email: str, *, role: str = WORKER, now: datetime | None = None) -> InvitationLink:
    """A one-time link for ``email`` to set a password (joining ``team``); earlier links stop working."""
    user = ensure_user(session, email, role)
    if team is not None:
        add_member(session, team, email)
    now = now or utcnow()
    session.execute(delete(Invitation).where(Invitation.user_id == user.id, Invitation.used_at.is_(None)))
    token = new_token()
    expires = now + timedelta(days=INVITATION_DAYS)
    session.add(Invitation(token_hash=token_hash(token), user_id=user.id, created_at=now, expires_at=expires))
    session.flush()
    return InvitationLink(user.email, token, expires)


def invitation_user(session: Session, token: str, now: datetime | None = None) -> User:
    """The user an unused, unexpired invitation is for; raises otherwise."""
    record = session.scalars(select(Invitation).where(Invitation.token_hash == token_hash(token or ""))).one_or_none()
    now = now or utcnow()
    if record is None:
        raise NotFound("this invitation link is not valid; ask your admin for a new one")
    if record.used_at is not None:
        raise Conflict("this invitation link was already used; sign in instead")
    if _aware(record.expires_at) < now:
        raise Conflict("this invitation link has expired; ask your admin for a new one")
    return session.get(User, record.user_id)


def accept_invitation(session: Session, token: str, password: str, now: datetime | None = None) -> User:
    user = invitation_user(session, token, now)
    set_password(user, password)
    user.active = True
    session.execute(
        Invitation.__table__.update().where(Invitation.token_hash == token_hash(token)).values(used_at=now or utcnow())
    )
    return user


# --- sign-in and sessions ---------------------------------------------------------------------


@dataclass
class SignIn:
    user: User
    token: str  # the cookie's value
    csrf: str


def authenticate(session: Session, email: str, password: str) -> User:
    """The user whose email and password these are; one message for every failure (no account probing)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    failure = Forbidden("wrong email or password")
    try:
        email = normalise_email(email)
    except LabelingError:
        raise failure from None
    user = session.scalars(select(User).where(User.email == email)).one_or_none()
    if user is None or not user.password_hash or not user.active:
        _hasher().hash(password or "x")  # spend the same time as a real check
        raise failure
    hasher = _hasher()
    try:
        hasher.verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        raise failure from None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return user


def start_session(session: Session, user: User, now: datetime | None = None) -> SignIn:
    now = now or utcnow()
    token, csrf = new_token(), secrets.token_urlsafe(24)
    session.add(
        SessionRecord(
            token_hash=token_hash(token), csrf=csrf, user_id=user.id, created_at=now,
            expires_at=now + timedelta(hours=SESSION_HOURS),
        )
    )  # fmt: skip
    session.execute(delete(SessionRecord).where(SessionRecord.expires_at < now))
    return SignIn(user, token, csrf)


def session_user(session: Session, token: str | None, now: datetime | None = None) -> tuple[User, str] | None:
    """``(user, csrf)`` of a live session, or None."""
    if not token:
        return None
    record = session.scalars(select(SessionRecord).where(SessionRecord.token_hash == token_hash(token))).one_or_none()
    if record is None or _aware(record.expires_at) < (now or utcnow()):
        return None
    user = session.get(User, record.user_id)
    if user is None or not user.active:
        return None
    return user, record.csrf


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(SessionRecord).where(SessionRecord.token_hash == token_hash(token)))
