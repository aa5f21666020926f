"""``openmaker race league``: racers and keys, races, submissions, the evaluation queue, leaderboards, the web app.

The commands work on the league's database directly (the settings' ``database_url``): they are the
league operator's tools, so ``race create`` and ``racer add`` need no key. ``submit`` needs the racer's
key (``--key`` or ``OPENMAKER_RACER_KEY``); with ``--server URL`` it uploads to a league web app instead.
Bad input exits with code 2 and one line ``error: <message>`` on stderr.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer

from rich.console import Console
from rich.markup import escape

from openmaker.clitools import err, one_line as _one_line
from openmaker.clitools import bad_input as _bad_input


league_app = typer.Typer(
    no_args_is_help=True,
    help="The league: races, submissions from racers, the evaluation queue, leaderboards, season points, the web app.",
    pretty_exceptions_enable=False,
    add_completion=False,
)
racer_app = typer.Typer(no_args_is_help=True, help="Racers and their API keys.", pretty_exceptions_enable=False)
race_app = typer.Typer(no_args_is_help=True, help="Races: create, list, close.", pretty_exceptions_enable=False)
league_app.add_typer(racer_app, name="racer")
league_app.add_typer(race_app, name="race")




@contextmanager
def _errors() -> Iterator[None]:
    from sqlalchemy.exc import ArgumentError, OperationalError

    try:
        yield
    except ValueError as exc:  # LeagueError and RacerError (unknown track, ...)
        _bad_input(_one_line(exc))
    except (OperationalError, ArgumentError) as exc:
        _bad_input(f"database: {str(exc).splitlines()[0]}")
    except OSError as exc:
        _bad_input(_one_line(exc))


def _league():
    from openmaker.racer.league.api import League

    return League()


def _out() -> Console:
    out = Console(highlight=False)
    if not out.is_terminal:
        out.width = max(out.width, 160)
    return out


def _echo_json(value) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _key(key: Optional[str]) -> str:
    key = key or os.environ.get("OPENMAKER_RACER_KEY")
    if not key:
        _bad_input("no API key: pass --key or set OPENMAKER_RACER_KEY")
    return key


# --- racers -------------------------------------------------------------------------------------


@racer_app.command("add")
def racer_add(
    alias: str = typer.Argument(..., help="The racer's alias (shown on the leaderboards)."),
    admin: bool = typer.Option(False, "--admin", help="A league admin: may create and close races over the API."),
) -> None:
    """Create a racer and print their API key (shown once; only its SHA-256 is stored)."""
    with _errors():
        key = _league().add_racer(alias, admin=admin)
    typer.echo(f"racer {alias} created{' (admin)' if admin else ''}")
    typer.echo(f"key: {key}")
    err.print("(shown once: hand it to the racer; `openmaker race league racer new-key` replaces a lost one)")


@racer_app.command("list")
def racer_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The racers."""
    with _errors():
        racers = _league().racers()
    if as_json:
        _echo_json(racers)
        return
    from rich.table import Table

    table = Table("Alias", "Admin", "Active", "Created")
    for r in racers:
        table.add_row(r["alias"], "yes" if r["admin"] else "", "yes" if r["active"] else "revoked", r["created_at"] or "")
    _out().print(table)


@racer_app.command("revoke")
def racer_revoke(alias: str = typer.Argument(..., help="The racer whose key stops working.")) -> None:
    """Revoke a racer's key and end their web sessions (their results stay)."""
    with _errors():
        _league().revoke_racer(alias)
    typer.echo(f"racer {alias}: key revoked")


@racer_app.command("new-key")
def racer_new_key(alias: str = typer.Argument(..., help="The racer.")) -> None:
    """Give a racer a new key (the old one stops working; a revoked racer is active again)."""
    with _errors():
        key = _league().new_key(alias)
    typer.echo(f"key: {key}")
    err.print("(shown once)")


# --- races --------------------------------------------------------------------------------------


@race_app.command("create")
def race_create(
    name: str = typer.Argument(..., help="The race's name (letters, digits, '_' or '-')."),
    track: str = typer.Option(..., "--track", help="The track (see openmaker race tracks)."),
    opens: str = typer.Option(..., "--opens", help="When submissions open: ISO 8601 (UTC unless an offset is given)."),
    closes: str = typer.Option(..., "--closes", help="When submissions close: ISO 8601."),
    timing: str = typer.Option("TOTAL_TIME", "--timing", help="TOTAL_TIME, AVG_LAP_TIME or BEST_LAP_TIME."),
    laps: int = typer.Option(3, "--laps", help="Laps raced per submission."),
    penalty: float = typer.Option(5.0, "--penalty", help="Off-track penalty in seconds (the car is reset, the clock runs)."),
    min_laps: int = typer.Option(1, "--min-laps", help="Laps a submission must complete to rank."),
    max_submissions: int = typer.Option(10, "--max-submissions", help="Submissions per racer (failed ones do not count)."),
    season: Optional[str] = typer.Option(None, "--season", help="The season it scores points in (default: the opening year)."),
    as_json: bool = typer.Option(False, "--json", help="Print the race as JSON."),
) -> None:
    """Create a race."""
    with _errors():
        race = _league().create_race(
            name,
            track=track,
            opens=opens,
            closes=closes,
            timing=timing,
            laps=laps,
            penalty=penalty,
            min_laps=min_laps,
            max_submissions=max_submissions,
            season=season,
        )
    if as_json:
        _echo_json(race)
    else:
        typer.echo(f"race {race['name']} on {race['track']}: {race['status']}, {race['opens']} to {race['closes']}")


@race_app.command("list")
def race_list(
    season: Optional[str] = typer.Option(None, "--season", help="Only this season's races."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The races, newest first."""
    with _errors():
        races = _league().races(season)
    if as_json:
        _echo_json(races)
        return
    from rich.table import Table

    table = Table("Race", "Season", "Track", "Status", "Opens", "Closes", "Timing", "Laps", "Penalty s", "Min laps")
    for r in races:
        table.add_row(
            r["name"], r["season"], r["track"], r["status"], r["opens"], r["closes"], r["timing"], str(r["laps"]),
            f"{r['penalty']:g}", str(r["min_laps"]),
        )
    _out().print(table)


@race_app.command("close")
def race_close(name: str = typer.Argument(..., help="The race.")) -> None:
    """Close a race now: no more submissions (queued ones are still raced)."""
    with _errors():
        race = _league().close_race(name)
    typer.echo(f"race {name}: {race['status']} at {race['closes']}")


# --- leaderboards -------------------------------------------------------------------------------


def _seconds(value) -> str:
    return "" if value is None else f"{value:.3f}"


@league_app.command("leaderboard")
def leaderboard(
    race: str = typer.Argument(..., help="The race."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (AWS-style rows)."),
) -> None:
    """A race's leaderboard (times in seconds)."""
    with _errors():
        board = _league().leaderboard(race)
    if as_json:
        _echo_json(board)
        return
    from rich.table import Table

    info = board["race"]
    table = Table(
        "Rank", "Alias", "Laps", "Avg lap", "Best lap", "Total", "Off track", "Submissions", "Submitted",
        title=f"{info['name']} on {info['track']} ({info['timing']}, {info['status']})",
    )
    for row in board["rows"]:
        table.add_row(
            str(row["Rank"]), row["Alias"], str(row["LapCount"]), _seconds(row["AvgLapTime"]), _seconds(row["BestLapTime"]),
            _seconds(row["TotalLapTime"]), str(row["OffTrackCount"]), str(row["SubmissionCount"]), row["SubmissionTime"],
        )
    _out().print(table)


@league_app.command("season")
def season(
    name: Optional[str] = typer.Option(None, "--season", help="The season (default: the latest race's)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The season's points table (25, 18, 15, 12, 10, 8, 6, 4, 2, 1 for ranks 1 to 10 of each race)."""
    with _errors():
        table_data = _league().season(name)
    if as_json:
        _echo_json(table_data)
        return
    from rich.table import Table

    races = [r["name"] for r in table_data["races"]]
    table = Table("Rank", "Alias", "Points", "Wins", *races, title=f"season {table_data['season'] or '(no race yet)'}")
    for row in table_data["rows"]:
        table.add_row(
            str(row["Rank"]), row["Alias"], str(row["Points"]), str(row["Wins"]), *(str(row["Races"].get(r, "")) for r in races)
        )
    _out().print(table)


# --- submissions --------------------------------------------------------------------------------


@league_app.command("submit")
def submit(
    race: str = typer.Argument(..., help="The race."),
    model_dir: Path = typer.Argument(..., help="The model directory (openmaker race train --out), or a .tar.gz/.zip of it."),
    racer: str = typer.Option(..., "--racer", help="Your racer alias."),
    key: Optional[str] = typer.Option(None, "--key", help="Your API key (default: $OPENMAKER_RACER_KEY)."),
    server: Optional[str] = typer.Option(None, "--server", help="Upload to this league web app (e.g. http://127.0.0.1:8092) instead of the local database."),
    as_json: bool = typer.Option(False, "--json", help="Print the submission as JSON."),
) -> None:
    """Submit a model to a race; the evaluation queue races it (see `work` and `serve`)."""
    api_key = _key(key)
    with _errors():
        if server:
            sub = _submit_remote(server, race, model_dir, racer, api_key)
        else:
            league = _league()
            viewer = league.authenticate(api_key, racer)
            sub = league.submit(race, model_dir, racer=viewer)
    if as_json:
        _echo_json(sub)
        return
    typer.echo(f"submission {sub['id']} to race {sub['race']}: {sub['status']}")
    if sub.get("ignored"):
        err.print(f"ignored (not part of a model): {escape(', '.join(sub['ignored']))}", soft_wrap=True)


def _submit_remote(server: str, race: str, model_dir: Path, racer: str, key: str) -> dict:
    import httpx

    from openmaker.racer.league.archive import pack_directory
    from openmaker.racer.league.errors import LeagueError

    if not server.startswith(("http://", "https://")):
        raise LeagueError(f"--server must start with http:// or https://, not {server!r}")
    data = Path(model_dir).read_bytes() if Path(model_dir).is_file() else pack_directory(model_dir)
    url = f"{server.rstrip('/')}/api/races/{race}/submissions"
    try:
        response = httpx.post(
            url, content=data, headers={"Authorization": f"Bearer {key}", "Content-Type": "application/gzip"}, timeout=120
        )
    except httpx.HTTPError as exc:
        raise LeagueError(f"{url}: {exc}") from None
    try:
        body = response.json()
    except ValueError:
        body = {"error": response.text[:200]}
    if response.status_code >= 400:
        raise LeagueError(f"{server}: {body.get('error', response.reason_phrase)} (HTTP {response.status_code})")
    if body.get("racer") != racer:
        raise LeagueError(f"{server}: the key belongs to racer {body.get('racer')!r}, not {racer!r} (the submission was made)")
    return body


@league_app.command("submissions")
def submissions(
    race: Optional[str] = typer.Argument(None, help="Only this race."),
    racer: str = typer.Option(..., "--racer", help="Your racer alias."),
    key: Optional[str] = typer.Option(None, "--key", help="Your API key (default: $OPENMAKER_RACER_KEY)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Your submissions and their status (queued, running, done, failed with the reason)."""
    api_key = _key(key)
    with _errors():
        league = _league()
        subs = league.submissions(race, racer=league.authenticate(api_key, racer))
    if as_json:
        _echo_json(subs)
        return
    from rich.table import Table

    table = Table("#", "Race", "Submitted", "Status", "Laps", "Avg lap", "Best lap", "Total", "Off track", "Note")
    for s in subs:
        table.add_row(
            str(s["id"]), s["race"], s["submitted_at"] or "", s["status"], "" if s["completed_laps"] is None else str(s["completed_laps"]),
            _seconds(s["avg_lap_time"]), _seconds(s["best_lap_time"]), _seconds(s["total_time"]),
            "" if s["off_track"] is None else str(s["off_track"]), s["reason"] or "",
        )
    _out().print(table)


# --- the queue and the web app --------------------------------------------------------------------


@league_app.command("work")
def work(
    once: bool = typer.Option(False, "--once", help="Race what is queued, then stop."),
    poll: float = typer.Option(2.0, "--poll", help="Seconds between looks at an empty queue."),
) -> None:
    """Run the evaluation queue: race each queued submission in order (Ctrl-C stops after the current one)."""
    from openmaker.racer.league.queue import LeagueWorker

    with _errors():
        worker = LeagueWorker(_league(), poll=poll)

    def report(outcome: dict) -> None:
        note = f": {outcome['reason']}" if outcome.get("reason") else ""
        laps = f", {outcome['completed_laps']} lap(s)" if outcome.get("completed_laps") is not None else ""
        typer.echo(f"submission {outcome['id']}: {outcome['status']}{laps}{note}")

    if not once:
        err.print("racing queued submissions; Ctrl-C stops")
    try:
        with _errors():
            count = worker.run(once=once, on_done=report)
    except KeyboardInterrupt:
        worker.stop(timeout=0)
        raise typer.Exit(130) from None
    if once:
        typer.echo(f"{count} submission(s) raced")


@league_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (loopback by default)."),
    port: int = typer.Option(8092, "--port", help="Port."),
    no_worker: bool = typer.Option(False, "--no-worker", help="Do not race submissions in this process (run `work` elsewhere)."),
) -> None:
    """Serve the leaderboard pages and the JSON API, and race queued submissions in a thread."""
    from openmaker.racer.league.app import run_league

    with _errors():
        league = _league()
    err.print(f"league on http://{host}:{port} (Ctrl-C stops)")
    with _errors():
        run_league(host, port, league=league, worker=not no_worker)
