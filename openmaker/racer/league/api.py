"""The league's Python API: racers and their keys, races, submissions, the queue's bookkeeping, leaderboards.

::

    from openmaker.racer.league import League, LeagueWorker

    league = League()                                    # the settings' database and home
    admin_key = league.add_racer("marshal", admin=True)  # printed once; only its SHA-256 is stored
    key = league.add_racer("ana")
    league.create_race("may-sprint", track="reinvent_base", opens="2026-05-01", closes="2026-06-01",
                       timing="AVG_LAP_TIME", laps=3, penalty=5, min_laps=1)
    ana = league.authenticate(key)
    league.submit("may-sprint", "models/ana-1", racer=ana)        # a model directory, or archive bytes
    LeagueWorker(league).run(once=True)                           # races the queued submissions in order
    league.leaderboard("may-sprint")["rows"]                      # AWS-style rows, best first
    league.season()["rows"]                                       # F1-style points across the season's races

Accounts: racers are made by the operator (``openmaker race league racer add``), each with a random
API key (256 bits, ``omr_...``). Keys and web session tokens are stored as SHA-256: a high-entropy random
token cannot be guessed from its hash, so the slow, salted hashes that passwords need add nothing.
The CLI works on the database directly and is the operator's tool; over HTTP only admin racers'
keys create or close races. Submissions that fail evaluation do not count against the per-race limit.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openmaker import db
from openmaker.racer.league import archive, standings
from openmaker.racer.league.errors import Conflict, Forbidden, LeagueError, NotFound, Unauthorized
from openmaker.racer.league.tables import (
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    TIMING_METHODS,
    Race,
    Racer,
    RacerSession,
    Submission,
    aware,
    utcnow,
)

KEY_PREFIX = "omr_"
SESSION_HOURS = 12
_ALIAS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_RACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_SEASON = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_. -]{0,31}$")
_TRACK = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")

_migrated: set[str] = set()
_lock = threading.Lock()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Viewer:
    """A signed-in racer as the league's access rules see them."""

    id: int
    alias: str
    is_admin: bool


def parse_time(value: str | datetime | date, what: str) -> datetime:
    """An ISO 8601 date or date-time; one without an offset is UTC."""
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, date):
        when = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        try:
            when = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise LeagueError(f"{what} {value!r} is not an ISO 8601 date or time (e.g. 2026-05-01T12:00Z)") from None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def _iso(when: datetime | None) -> str | None:
    return None if when is None else aware(when).astimezone(timezone.utc).isoformat()


def race_status(race: Race, now: datetime | None = None) -> str:
    now = now or utcnow()
    if now < aware(race.opens_at):
        return "upcoming"
    if now >= aware(race.closes_at):
        return "closed"
    return "open"


def race_dict(race: Race, now: datetime | None = None) -> dict:
    return {
        "name": race.name,
        "track": race.track,
        "season": race.season,
        "opens": _iso(race.opens_at),
        "closes": _iso(race.closes_at),
        "timing": race.timing,
        "laps": race.laps,
        "penalty": race.penalty,
        "min_laps": race.min_laps,
        "max_submissions": race.max_submissions,
        "status": race_status(race, now),
    }


def submission_dict(sub: Submission, race: str, alias: str) -> dict:
    return {
        "id": sub.id,
        "race": race,
        "racer": alias,
        "status": sub.status,
        "reason": sub.reason,
        "submitted_at": _iso(sub.submitted_at),
        "started_at": _iso(sub.started_at),
        "finished_at": _iso(sub.finished_at),
        "completed_laps": sub.completed_laps,
        "total_time": sub.total_time,
        "avg_lap_time": sub.avg_lap_time,
        "best_lap_time": sub.best_lap_time,
        "off_track": sub.off_track,
        "files": json.loads(sub.files or "[]"),
        "result": json.loads(sub.result) if sub.result else None,
    }


def summarise(result: Any) -> dict:
    """The numbers the league keeps from an evaluation result (``evaluate()``'s JSON); bad data → LeagueError.

    Completed laps are the first ``completed_laps`` entries of ``laps`` (an entry with ``"completed": false``
    never counts); times include penalties.
    """
    if not isinstance(result, dict) or not isinstance(result.get("laps"), list):
        raise LeagueError("the evaluation returned no lap list")
    laps = [lap for lap in result["laps"] if isinstance(lap, dict) and lap.get("completed", True) is not False]
    try:
        completed = int(result.get("completed_laps", len(laps)))
        times = [float(lap["time"]) for lap in laps[:completed]]
        off_track = int(result.get("off_track", sum(int(lap.get("off_track", 0)) for lap in result["laps"] if isinstance(lap, dict))))
    except (KeyError, TypeError, ValueError):
        raise LeagueError("the evaluation's lap data is malformed (each lap needs a time in seconds)") from None
    if completed < 0 or completed > len(laps) or any(not math.isfinite(t) or t <= 0 for t in times):
        raise LeagueError("the evaluation's lap data is inconsistent (completed laps or lap times out of range)")
    return {
        "completed_laps": completed,
        "total_time": sum(times) if times else None,
        "avg_lap_time": sum(times) / len(times) if times else None,
        "best_lap_time": min(times) if times else None,
        "off_track": off_track,
    }


class League:
    """The league over one database (default: the settings') and one home (submissions are stored there)."""

    def __init__(
        self,
        database_url: str | None = None,
        home: Path | None = None,
        *,
        max_archive_bytes: int = archive.MAX_ARCHIVE_BYTES,
        max_unpacked_bytes: int = archive.MAX_UNPACKED_BYTES,
    ):
        from openmaker.config import get_settings

        settings = get_settings()
        self.url = database_url or settings.resolved_database_url
        self.home = Path(home or settings.home)
        self.submissions_dir = self.home / "racer" / "league" / "submissions"
        self.max_archive_bytes = max_archive_bytes
        self.max_unpacked_bytes = max_unpacked_bytes
        with _lock:
            if self.url not in _migrated:
                db.migrate(self.url)
                _migrated.add(self.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with db.session_scope(self.url) as session:
            yield session

    # --- racers and keys ------------------------------------------------------------------

    @staticmethod
    def _racer(s: Session, alias: str) -> Racer:
        racer = s.scalars(select(Racer).where(Racer.alias == alias)).one_or_none()
        if racer is None:
            raise NotFound(f"no racer {alias!r}")
        return racer

    def add_racer(self, alias: str, *, admin: bool = False) -> str:
        """Create a racer; returns their API key (shown once: only its hash is kept)."""
        if not _ALIAS.match(alias or ""):
            raise LeagueError(f"alias {alias!r}: use 1–32 letters, digits, '_', '.' or '-', starting with a letter or digit")
        key = new_key()
        try:
            with self.session() as s:
                if s.scalars(select(Racer.id).where(Racer.alias == alias)).first() is not None:
                    raise Conflict(f"racer {alias!r} already exists")
                s.add(Racer(alias=alias, key_hash=hash_token(key), is_admin=admin, active=True))
        except IntegrityError:
            raise Conflict(f"racer {alias!r} already exists") from None
        return key

    def new_key(self, alias: str) -> str:
        """Replace ``alias``'s key (the old one stops working, their web sessions end) and reactivate them."""
        key = new_key()
        with self.session() as s:
            racer = self._racer(s, alias)
            racer.key_hash = hash_token(key)
            racer.active = True
            s.execute(delete(RacerSession).where(RacerSession.racer_id == racer.id))
        return key

    def revoke_racer(self, alias: str) -> None:
        """Stop ``alias``'s key and end their web sessions; their results stay on the leaderboards."""
        with self.session() as s:
            racer = self._racer(s, alias)
            racer.active = False
            s.execute(delete(RacerSession).where(RacerSession.racer_id == racer.id))

    def racers(self) -> list[dict]:
        with self.session() as s:
            rows = s.scalars(select(Racer).order_by(Racer.alias))
            return [
                {"alias": r.alias, "admin": r.is_admin, "active": r.active, "created_at": _iso(r.created_at)} for r in rows
            ]

    def authenticate(self, key: str | None, alias: str | None = None) -> Viewer:
        """The racer holding ``key`` (and called ``alias``, when given); refused with :class:`Unauthorized`."""
        if not key:
            raise Unauthorized("no API key given: pass the racer's key (Authorization: Bearer <key>, --key or OPENMAKER_RACER_KEY)")
        with self.session() as s:
            racer = s.scalars(select(Racer).where(Racer.key_hash == hash_token(key.strip()))).one_or_none()
            if racer is None or (alias is not None and racer.alias != alias):
                raise Unauthorized("the racer alias or API key is wrong" if alias is not None else "the API key is not valid")
            if not racer.active:
                raise Unauthorized(f"racer {racer.alias!r}'s key was revoked; ask the league's operator for a new one")
            return Viewer(racer.id, racer.alias, racer.is_admin)

    # --- web sessions ---------------------------------------------------------------------

    def start_session(self, viewer: Viewer) -> tuple[str, str]:
        """A new web session for ``viewer``: (token for the cookie, CSRF token)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        with self.session() as s:
            now = utcnow()
            s.execute(delete(RacerSession).where(RacerSession.expires_at < now))
            s.add(
                RacerSession(
                    token_hash=hash_token(token), csrf=csrf, racer_id=viewer.id, expires_at=now + timedelta(hours=SESSION_HOURS)
                )
            )
        return token, csrf

    def session_viewer(self, token: str | None) -> tuple[Viewer, str] | None:
        """The racer and CSRF token of a live web session, or None."""
        if not token:
            return None
        with self.session() as s:
            found = s.execute(
                select(RacerSession, Racer)
                .join(Racer, Racer.id == RacerSession.racer_id)
                .where(RacerSession.token_hash == hash_token(token))
            ).one_or_none()
            if found is None:
                return None
            record, racer = found
            if aware(record.expires_at) <= utcnow() or not racer.active:
                s.delete(record)
                return None
            return Viewer(racer.id, racer.alias, racer.is_admin), record.csrf

    def end_session(self, token: str | None) -> None:
        if token:
            with self.session() as s:
                s.execute(delete(RacerSession).where(RacerSession.token_hash == hash_token(token)))

    # --- races ----------------------------------------------------------------------------

    @staticmethod
    def _race(s: Session, name: str) -> Race:
        race = s.scalars(select(Race).where(Race.name == name)).one_or_none()
        if race is None:
            raise NotFound(f"no race {name!r}")
        return race

    @staticmethod
    def _require_admin(by: Viewer | None, what: str) -> None:
        if by is not None and not by.is_admin:
            raise Forbidden(f"only league admins {what}; {by.alias!r} is not one")

    def create_race(
        self,
        name: str,
        *,
        track: str,
        opens: str | datetime | date,
        closes: str | datetime | date,
        timing: str = "TOTAL_TIME",
        laps: int = 3,
        penalty: float = 5.0,
        min_laps: int = 1,
        max_submissions: int = 10,
        season: str | None = None,
        by: Viewer | None = None,
    ) -> dict:
        """A new race. ``by`` is the racer asking (must be an admin); None is the operator (CLI, Python)."""
        self._require_admin(by, "create races")
        if not _RACE.match(name or ""):
            raise LeagueError(f"race name {name!r}: use 1–64 letters, digits, '_' or '-', starting with a letter or digit")
        track_name = self._check_track(track)
        opens_at, closes_at = parse_time(opens, "--opens"), parse_time(closes, "--closes")
        if closes_at <= opens_at:
            raise LeagueError(f"the race must close after it opens (opens {_iso(opens_at)}, closes {_iso(closes_at)})")
        timing = str(timing or "").upper()
        if timing not in TIMING_METHODS:
            raise LeagueError(f"timing method {timing!r}: use one of {', '.join(TIMING_METHODS)}")
        laps, min_laps, max_submissions = _whole(laps, "laps"), _whole(min_laps, "minimum laps"), _whole(max_submissions, "max submissions")
        if not 1 <= laps <= 100:
            raise LeagueError(f"laps must be 1 to 100, not {laps}")
        if not 1 <= min_laps <= laps:
            raise LeagueError(f"minimum laps must be 1 to the race's {laps} laps, not {min_laps}")
        if max_submissions < 1:
            raise LeagueError(f"max submissions must be at least 1, not {max_submissions}")
        try:
            penalty = float(penalty)
        except (TypeError, ValueError):
            raise LeagueError(f"the off-track penalty must be a number of seconds, not {penalty!r}") from None
        if not (math.isfinite(penalty) and 0 <= penalty <= 600):
            raise LeagueError(f"the off-track penalty must be 0 to 600 seconds, not {penalty}")
        season = str(season).strip() if season else str(opens_at.year)
        if not _SEASON.match(season):
            raise LeagueError(f"season {season!r}: use 1–32 letters, digits, space, '_', '.' or '-'")
        try:
            with self.session() as s:
                if s.scalars(select(Race.id).where(Race.name == name)).first() is not None:
                    raise Conflict(f"race {name!r} already exists")
                race = Race(
                    name=name,
                    track=track_name,
                    season=season,
                    opens_at=opens_at,
                    closes_at=closes_at,
                    timing=timing,
                    laps=laps,
                    penalty=penalty,
                    min_laps=min_laps,
                    max_submissions=max_submissions,
                )
                s.add(race)
                s.flush()
                return race_dict(race)
        except IntegrityError:
            raise Conflict(f"race {name!r} already exists") from None

    @staticmethod
    def _check_track(track: str) -> str:
        if not _TRACK.match(track or "") or track.endswith(".npy"):
            raise LeagueError(f"track {track!r}: give a track name (see openmaker race tracks), not a path")
        from openmaker.racer.tracks import load_track

        return load_track(track).name  # unknown → RacerError listing close names

    def races(self, season: str | None = None) -> list[dict]:
        """All races (of ``season``), the newest first."""
        with self.session() as s:
            query = select(Race).order_by(Race.opens_at.desc(), Race.name)
            if season is not None:
                query = query.where(Race.season == season)
            now = utcnow()
            return [race_dict(r, now) for r in s.scalars(query)]

    def race(self, name: str) -> dict:
        with self.session() as s:
            return race_dict(self._race(s, name))

    def close_race(self, name: str, *, by: Viewer | None = None) -> dict:
        """Close ``name`` now (no more submissions; queued ones are still raced)."""
        self._require_admin(by, "close races")
        with self.session() as s:
            race = self._race(s, name)
            now = utcnow()
            if aware(race.closes_at) > now:
                if aware(race.opens_at) > now:  # closed before it opened: it never takes a submission
                    race.opens_at = now
                race.closes_at = now
            return race_dict(race, now)

    # --- submissions ----------------------------------------------------------------------

    def submit(self, race: str, model: str | Path | bytes, *, racer: Viewer, archive_name: str = "the archive") -> dict:
        """Queue ``model`` (a model directory, a .tar.gz/.zip of one, or that archive's bytes) for ``race``.

        Refused while the race is not open, past the race's submissions per racer, and for archives that are
        too large, unsafe (absolute paths, ``..``, links) or lack the model files.
        """
        if not isinstance(model, bytes) and Path(model).is_file():  # an archive on disk
            path = Path(model)
            if path.stat().st_size > self.max_archive_bytes:
                from openmaker.racer.league.errors import TooLarge

                raise TooLarge(f"{path} is {path.stat().st_size} bytes; the limit is {self.max_archive_bytes}")
            model, archive_name = path.read_bytes(), str(path)
        if isinstance(model, bytes) and len(model) > self.max_archive_bytes:
            from openmaker.racer.league.errors import TooLarge

            raise TooLarge(f"{archive_name} is {len(model)} bytes; the limit is {self.max_archive_bytes}")
        self._check_can_submit(race, racer)
        self.submissions_dir.mkdir(parents=True, exist_ok=True)
        staging = self.submissions_dir / f".incoming-{secrets.token_hex(8)}"
        target: Path | None = None
        try:
            if isinstance(model, bytes):
                files, ignored = archive.extract(model, staging, archive=archive_name, max_unpacked=self.max_unpacked_bytes)
            else:
                files, ignored = archive.copy_directory(Path(model), staging, max_unpacked=self.max_unpacked_bytes)
            with self.session() as s:
                record = self._check_can_submit(race, racer, s)
                sub = Submission(race_id=record.id, racer_id=racer.id, status=QUEUED, files=json.dumps(files))
                s.add(sub)
                s.flush()
                target = self.submissions_dir / str(sub.id)
                if target.exists():
                    shutil.rmtree(target)
                staging.rename(target)
                out = submission_dict(sub, record.name, racer.alias)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if target is not None and not staging.exists():
                shutil.rmtree(target, ignore_errors=True)
            raise
        out["ignored"] = ignored
        return out

    def _check_can_submit(self, race: str, racer: Viewer, s: Session | None = None) -> Race:
        if s is None:
            with self.session() as session:
                return self._check_can_submit(race, racer, session)
        record = self._race(s, race)
        active = s.scalars(select(Racer.active).where(Racer.id == racer.id)).one_or_none()
        if not active:
            raise Unauthorized(f"racer {racer.alias!r}'s key was revoked")
        status = race_status(record)
        if status == "upcoming":
            raise LeagueError(f"race {race!r} opens at {_iso(record.opens_at)}; submissions are not open yet")
        if status == "closed":
            raise LeagueError(f"race {race!r} closed at {_iso(record.closes_at)}; it takes no more submissions")
        made = s.scalar(
            select(func.count(Submission.id)).where(
                Submission.race_id == record.id, Submission.racer_id == racer.id, Submission.status != FAILED
            )
        )
        if made >= record.max_submissions:
            raise LeagueError(
                f"{racer.alias!r} has made {made} submissions to race {race!r}, the most it allows (failed ones do not count)"
            )
        return record

    def submissions(self, race: str | None = None, *, racer: Viewer, everyone: bool = False) -> list[dict]:
        """``racer``'s submissions (of ``race``), newest first; ``everyone=True`` (admins only) lists all racers'."""
        if everyone:
            self._require_admin(racer, "see every racer's submissions")
        with self.session() as s:
            query = (
                select(Submission, Race.name, Racer.alias)
                .join(Race, Race.id == Submission.race_id)
                .join(Racer, Racer.id == Submission.racer_id)
                .order_by(Submission.id.desc())
            )
            if race is not None:
                query = query.where(Submission.race_id == self._race(s, race).id)
            if not everyone:
                query = query.where(Submission.racer_id == racer.id)
            return [submission_dict(sub, name, alias) for sub, name, alias in s.execute(query)]

    def submission(self, submission_id: int, *, viewer: Viewer | None) -> dict:
        """One submission, for its racer or an admin (``viewer=None`` is the operator)."""
        with self.session() as s:
            found = s.execute(
                select(Submission, Race.name, Racer.alias)
                .join(Race, Race.id == Submission.race_id)
                .join(Racer, Racer.id == Submission.racer_id)
                .where(Submission.id == submission_id)
            ).one_or_none()
            if found is None:
                raise NotFound(f"no submission {submission_id}")
            sub, name, alias = found
            if viewer is not None and not viewer.is_admin and sub.racer_id != viewer.id:
                raise Forbidden(f"submission {submission_id} is another racer's")
            return submission_dict(sub, name, alias)

    def submission_dir(self, submission_id: int) -> Path:
        return self.submissions_dir / str(int(submission_id))

    # --- the queue's bookkeeping (see queue.LeagueWorker) ----------------------------------

    def claim_next(self) -> dict | None:
        """Take the oldest queued submission (any race) for evaluation: it becomes ``running``. None if none.

        Safe with several workers, in threads or processes: the claim is a conditional UPDATE.
        """
        while True:
            with self.session() as s:
                next_id = s.scalar(select(Submission.id).where(Submission.status == QUEUED).order_by(Submission.id).limit(1))
                if next_id is None:
                    return None
                claimed = s.execute(
                    update(Submission)
                    .where(Submission.id == next_id, Submission.status == QUEUED)
                    .values(status=RUNNING, started_at=utcnow())
                ).rowcount
                if not claimed:
                    continue
                sub, race = s.execute(
                    select(Submission, Race).join(Race, Race.id == Submission.race_id).where(Submission.id == next_id)
                ).one()
                return {"id": sub.id, "race": race_dict(race), "dir": self.submission_dir(sub.id)}

    def record_result(self, submission_id: int, result: dict) -> dict:
        """Store an evaluation result: ``done`` (with a note when it completed too few laps to rank)."""
        numbers = summarise(result)
        with self.session() as s:
            sub = s.get(Submission, submission_id)
            if sub is None:
                raise NotFound(f"no submission {submission_id}")
            race = s.get(Race, sub.race_id)
            sub.status, sub.finished_at = DONE, utcnow()
            for key, value in numbers.items():
                setattr(sub, key, value)
            sub.result = json.dumps(result, default=_json_default)
            needed = max(1, race.min_laps)
            sub.reason = (
                None
                if numbers["completed_laps"] >= needed
                else f"completed {numbers['completed_laps']} of the {needed} laps needed to rank; not on the leaderboard"
            )
            return {"id": sub.id, "status": sub.status, "reason": sub.reason, **numbers}

    def record_failure(self, submission_id: int, reason: str) -> None:
        with self.session() as s:
            sub = s.get(Submission, submission_id)
            if sub is None:
                raise NotFound(f"no submission {submission_id}")
            sub.status, sub.reason, sub.finished_at = FAILED, reason[:2000], utcnow()

    def requeue_stale(self, older_than: timedelta = timedelta(hours=1)) -> int:
        """Put back in the queue the submissions left ``running`` longer than ``older_than`` (a worker died)."""
        with self.session() as s:
            return s.execute(
                update(Submission)
                .where(Submission.status == RUNNING, Submission.started_at < utcnow() - older_than)
                .values(status=QUEUED, started_at=None)
            ).rowcount

    def queue_length(self) -> int:
        with self.session() as s:
            return s.scalar(select(func.count(Submission.id)).where(Submission.status.in_((QUEUED, RUNNING)))) or 0

    # --- leaderboards -----------------------------------------------------------------------

    def _board(self, s: Session, race: Race) -> list[dict]:
        rows = s.execute(
            select(Submission, Racer.alias)
            .join(Racer, Racer.id == Submission.racer_id)
            .where(Submission.race_id == race.id, Submission.status == DONE, Submission.completed_laps > 0)
        )
        entries = [
            standings.Entry(
                submission_id=sub.id,
                alias=alias,
                submitted_at=aware(sub.submitted_at),
                completed_laps=sub.completed_laps,
                total_time=sub.total_time,
                avg_lap_time=sub.avg_lap_time,
                best_lap_time=sub.best_lap_time,
                off_track=sub.off_track or 0,
            )
            for sub, alias in rows
        ]
        counts = dict(
            s.execute(
                select(Racer.alias, func.count(Submission.id))
                .join(Racer, Racer.id == Submission.racer_id)
                .where(Submission.race_id == race.id)
                .group_by(Racer.alias)
            ).all()
        )
        return standings.rank(entries, timing=race.timing, min_laps=race.min_laps, submission_counts=counts)

    def leaderboard(self, name: str) -> dict:
        """``{"race": {...}, "rows": [...]}``: the race and its ranked rows (see :mod:`standings`)."""
        with self.session() as s:
            race = self._race(s, name)
            return {"race": race_dict(race), "rows": self._board(s, race)}

    def seasons(self) -> list[str]:
        with self.session() as s:
            found = s.execute(select(Race.season, func.max(Race.opens_at)).group_by(Race.season)).all()
            return [season for season, _ in sorted(found, key=lambda row: aware(row[1]), reverse=True)]

    def season(self, season: str | None = None) -> dict:
        """The points table of ``season`` (default: the season of the latest race to open)."""
        with self.session() as s:
            if season is None:
                latest = s.scalars(select(Race).order_by(Race.opens_at.desc(), Race.id.desc()).limit(1)).first()
                season = latest.season if latest is not None else None
            if season is None:
                return {"season": None, "races": [], "rows": [], "points": list(standings.POINTS)}
            races = list(s.scalars(select(Race).where(Race.season == season).order_by(Race.opens_at, Race.name)))
            if not races:
                raise NotFound(f"no season {season!r}")
            now = utcnow()
            boards = [(race.name, self._board(s, race)) for race in races]
            return {
                "season": season,
                "races": [race_dict(race, now) for race in races],
                "rows": standings.season_table(boards),
                "points": list(standings.POINTS),
            }


def _whole(value: Any, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise LeagueError(f"{what} must be a whole number, not {value!r}") from None
    if number != value and not isinstance(value, str):
        raise LeagueError(f"{what} must be a whole number, not {value!r}")
    return number


def _json_default(value: Any) -> Any:
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, (Path, datetime)):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
