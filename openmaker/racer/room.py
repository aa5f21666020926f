"""The racer room as the platform sees it: its commands (``openmaker race``) and the league (a listener of ``openmaker up``)."""

from __future__ import annotations

from openmaker.rooms import LazyCommands, Page, Room


def pages(server) -> list[Page]:
    if "league" not in {listener.name for listener in server.listeners}:
        return []
    return [Page("Racer league", server.url("league"), "DeepRacer-style races: leaderboards, season points, submissions")]


def league_app(server):
    """The league's pages and API, with its evaluation queue racing submissions in a background thread."""
    from openmaker.racer.league.app import create_league_app
    from openmaker.racer.league.api import League
    from openmaker.racer.league.queue import LeagueWorker

    league = League(home=server.settings.home)
    worker = LeagueWorker(league)
    worker.start()
    return create_league_app(league, worker=worker)


SAMPLE_RACE = "reinvent-time-trial"


async def samples(server) -> list[str]:
    """A league race on re:Invent 2018 (total time over 3 laps, 5 s off-track penalty), open for 30 days."""
    import asyncio

    try:
        await asyncio.to_thread(_ensure_race, server.settings.home)
    except Exception as exc:  # the rest of the platform still comes up
        return [f"racer league sample skipped: {exc}"]
    return []


def _ensure_race(home) -> None:
    from datetime import datetime, timedelta, timezone

    from openmaker.racer.league.api import League

    league = League(home=home)
    if any(race["name"] == SAMPLE_RACE for race in league.races()):
        return
    now = datetime.now(timezone.utc)
    league.create_race(
        SAMPLE_RACE, track="reinvent_base", opens=now - timedelta(minutes=1), closes=now + timedelta(days=30),
        timing="TOTAL_TIME", laps=3, penalty=5.0, min_laps=1,
    )  # fmt: skip


room = Room(
    name="racer",
    title="Racer",
    description="DeepRacer-compatible racing: tracks, reward functions, a fast simulator, PPO training, evaluation and a league.",
    commands=LazyCommands("openmaker.racer.cli"),
    pages=pages,
    samples=samples,
    apps=[("league", league_app, "league_port")],
)
