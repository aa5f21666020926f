"""The league's errors: bad input (400) and the access, lookup and conflict refusals, each with its HTTP status."""

from __future__ import annotations

from openmaker.racer.errors import RacerError


class LeagueError(RacerError):
    """Bad input to the league: a bad race spec, a closed race, a malformed archive."""

    status = 400


class Unauthorized(LeagueError):
    """No key, a wrong key, a revoked racer, an expired session."""

    status = 401


class Forbidden(LeagueError):
    """Signed in, but not allowed (a racer creating a race, reading another racer's submission)."""

    status = 403


class NotFound(LeagueError):
    status = 404


class Conflict(LeagueError):
    """An alias or race name that exists already."""

    status = 409


class TooLarge(LeagueError):
    status = 413
