"""The racer league: races, submissions from signed-in racers, an evaluation queue, leaderboards, season points.

See :class:`openmaker.racer.league.api.League` (Python API), :class:`openmaker.racer.league.queue.LeagueWorker`
(the evaluation queue), :func:`openmaker.racer.league.app.create_league_app` (leaderboard pages and the JSON
API) and ``openmaker race league --help`` (the CLI).
"""

from __future__ import annotations

from openmaker.rooms import lazy_exports

__all__ = [
    "Conflict",
    "Forbidden",
    "League",
    "LeagueError",
    "LeagueWorker",
    "NotFound",
    "Unauthorized",
    "Viewer",
    "create_league_app",
    "run_league",
]

_EXPORTS = {
    "League": "openmaker.racer.league.api",
    "Viewer": "openmaker.racer.league.api",
    "LeagueWorker": "openmaker.racer.league.queue",
    "LeagueError": "openmaker.racer.league.errors",
    "Unauthorized": "openmaker.racer.league.errors",
    "Forbidden": "openmaker.racer.league.errors",
    "NotFound": "openmaker.racer.league.errors",
    "Conflict": "openmaker.racer.league.errors",
    "create_league_app": "openmaker.racer.league.app",
    "run_league": "openmaker.racer.league.app",
}

__getattr__ = lazy_exports("openmaker.racer.league", _EXPORTS)
