"""The league's HTML: small server-rendered pages, every value escaped, no inline script or style.

``static/league.js`` refreshes the parts marked ``data-live`` (the leaderboard, your submissions) while a
race is open or a submission of yours is waiting, by fetching the same page again.
"""

from __future__ import annotations

from urllib.parse import quote

from openmaker.webhtml import csrf_field, e, message

STYLESHEET = "/static/league.css"
SCRIPT = "/static/league.js"
TIMING_LABELS = {"TOTAL_TIME": "total time", "AVG_LAP_TIME": "average lap time", "BEST_LAP_TIME": "best lap time"}
ME = ' class="me"'
STATUS_LABELS = {"queued": "queued", "running": "racing", "done": "done", "failed": "failed"}


def u(value: str) -> str:
    return quote(str(value), safe="")


def lap_time(seconds) -> str:
    """Seconds as AWS's leaderboards show them: ``mm:ss.mmm``."""
    if seconds is None:
        return "–"
    millis = int(round(float(seconds) * 1000))
    minutes, millis = divmod(millis, 60_000)
    return f"{minutes:02d}:{millis // 1000:02d}.{millis % 1000:03d}"


def when(iso: str | None) -> str:
    """An ISO time as ``2026-05-01 12:00 UTC``."""
    if not iso:
        return "–"
    return f"{iso[:10]} {iso[11:16]} UTC"


def layout(title: str, body: str, *, viewer=None, csrf: str = "", refresh: int = 0) -> str:
    if viewer is not None:
        who = (
            f'<span class="who">{e(viewer.alias)}{" (admin)" if viewer.is_admin else ""}</span>'
            f'<form method="post" action="/signout" class="inline">{csrf_field(csrf)}'
            '<button type="submit" class="link">Sign out</button></form>'
        )
    else:
        who = '<a href="/signin">Sign in</a>'
    live = f' data-refresh="{int(refresh)}"' if refresh else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} · openmaker league</title>"
        f'<link rel="stylesheet" href="{STYLESHEET}"><script src="{SCRIPT}" defer></script></head>'
        f'<body{live}><header><a class="brand" href="/">openmaker league</a>'
        f'<nav><a href="/">Races</a><a href="/season">Season</a>{who}</nav></header>'
        f"<main>{body}</main></body></html>"
    )


def signin(error: str = "", csrf: str = "", alias: str = "") -> str:
    body = (
        "<h1>Sign in</h1>"
        + (message("error", error) if error else "")
        + '<form method="post" action="/signin" class="card narrow">'
        + csrf_field(csrf)
        + f'<label>Racer alias <input name="alias" autocomplete="username" required value="{e(alias)}"></label>'
        + '<label>API key <input type="password" name="key" autocomplete="current-password" required></label>'
        + '<button type="submit">Sign in</button></form>'
        + "<p class=\"hint\">Your key came from the league's operator (<code>openmaker race league racer add</code>).</p>"
    )
    return layout("Sign in", body)


def _race_facts(race: dict) -> str:
    return (
        f'<span class="status {e(race["status"])}">{e(race["status"])}</span> '
        f'track <b>{e(race["track"])}</b> · {race["laps"]} lap(s), ranked by {e(TIMING_LABELS.get(race["timing"], race["timing"]))} '
        f'· off-track penalty {race["penalty"]:g} s · at least {race["min_laps"]} lap(s) to rank '
        f'· {when(race["opens"])} to {when(race["closes"])}'
    )


def index(races: list[dict], viewer=None, csrf: str = "") -> str:
    items = "".join(
        f'<li class="card"><h2><a href="/races/{u(r["name"])}">{e(r["name"])}</a> <small>season {e(r["season"])}</small></h2>'
        f"<p>{_race_facts(r)}</p></li>"
        for r in races
    )
    body = "<h1>Races</h1>" + (f'<ul class="races">{items}</ul>' if items else "<p>No race yet.</p>")
    return layout("Races", body, viewer=viewer, csrf=csrf)


def leaderboard_table(rows: list[dict], me: str | None = None) -> str:
    if not rows:
        return '<p class="empty">No ranked lap yet.</p>'
    head = (
        "<thead><tr><th>Rank</th><th>Racer</th><th>Laps</th><th>Avg lap</th><th>Best lap</th><th>Total</th>"
        "<th>Off track</th><th>Submissions</th><th>Submitted</th></tr></thead>"
    )
    body = "".join(
        f'<tr{ME if row["Alias"] == me else ""} data-alias="{e(row["Alias"])}">'
        f'<td>{row["Rank"]}</td><td class="alias">{e(row["Alias"])}</td><td>{row["LapCount"]}</td>'
        f'<td>{lap_time(row["AvgLapTime"])}</td><td>{lap_time(row["BestLapTime"])}</td><td>{lap_time(row["TotalLapTime"])}</td>'
        f'<td>{row["OffTrackCount"]}</td><td>{row["SubmissionCount"]}</td><td>{when(row["SubmissionTime"])}</td></tr>'
        for row in rows
    )
    return f'<table class="board">{head}<tbody>{body}</tbody></table>'


def submissions_table(subs: list[dict]) -> str:
    if not subs:
        return '<p class="empty">You have not submitted a model to this race.</p>'
    rows = []
    for sub in subs:
        laps = "–" if sub["completed_laps"] is None else str(sub["completed_laps"])
        rows.append(
            f'<tr data-submission="{sub["id"]}"><td>{sub["id"]}</td><td>{when(sub["submitted_at"])}</td>'
            f'<td><span class="status {e(sub["status"])}">{e(STATUS_LABELS.get(sub["status"], sub["status"]))}</span></td>'
            f'<td>{laps}</td><td>{lap_time(sub["avg_lap_time"])}</td><td>{lap_time(sub["best_lap_time"])}</td>'
            f'<td>{lap_time(sub["total_time"])}</td><td>{"–" if sub["off_track"] is None else sub["off_track"]}</td>'
            f'<td class="reason">{e(sub["reason"] or "")}</td></tr>'
        )
    head = (
        "<thead><tr><th>#</th><th>Submitted</th><th>Status</th><th>Laps</th><th>Avg lap</th><th>Best lap</th>"
        "<th>Total</th><th>Off track</th><th>Note</th></tr></thead>"
    )
    return f'<table class="mine">{head}<tbody>{"".join(rows)}</tbody></table>'


def race_page(
    race: dict,
    rows: list[dict],
    *,
    viewer=None,
    csrf: str = "",
    mine: list[dict] | None = None,
    notice: str = "",
    error: str = "",
) -> str:
    name = race["name"]
    parts = [f"<h1>{e(name)}</h1>", f'<p class="facts">{_race_facts(race)}</p>']
    if notice:
        parts.append(message("info", notice))
    if error:
        parts.append(message("error", error))
    me = viewer.alias if viewer is not None else None
    parts.append(f'<section id="leaderboard" data-live><h2>Leaderboard</h2>{leaderboard_table(rows, me)}</section>')
    if viewer is None:
        parts.append(f'<p class="card"><a href="/signin">Sign in</a> to submit a model to {e(name)}.</p>')
    else:
        if race["status"] == "open":
            parts.append(
                f'<form method="post" action="/races/{u(name)}/submit" enctype="multipart/form-data" class="card row" id="submit">'
                + csrf_field(csrf)
                + '<label>Model (a .tar.gz or .zip of the model folder) '
                '<input type="file" name="model" accept=".tar.gz,.tgz,.tar,.zip" required></label>'
                + '<button type="submit">Submit to the race</button></form>'
            )
        else:
            parts.append(f'<p class="card">This race is {e(race["status"])}: it takes no submissions now.</p>')
        parts.append(f'<section id="mine" data-live><h2>Your submissions</h2>{submissions_table(mine or [])}</section>')
    pending = any(sub["status"] in ("queued", "running") for sub in mine or [])
    refresh = 2 if pending else (10 if race["status"] == "open" else 0)
    return layout(name, "".join(parts), viewer=viewer, csrf=csrf, refresh=refresh)


def season_page(season: dict, seasons: list[str], *, viewer=None, csrf: str = "") -> str:
    title = f"Season {season['season']}" if season["season"] else "Season"
    parts = [f"<h1>{e(title)}</h1>"]
    if len(seasons) > 1:
        links = " · ".join(f'<a href="/season?season={u(s)}">{e(s)}</a>' for s in seasons)
        parts.append(f'<p class="seasons">Seasons: {links}</p>')
    points = ", ".join(str(p) for p in season["points"])
    parts.append(f'<p class="hint">Points per race by rank: {points} (ranks 1 to {len(season["points"])}); open races count provisionally.</p>')
    races = season["races"]
    if not season["rows"]:
        parts.append('<p class="empty">No ranked racer yet.</p>')
    else:
        head = "".join(
            f'<th><a href="/races/{u(r["name"])}">{e(r["name"])}</a>{"*" if r["status"] != "closed" else ""}</th>' for r in races
        )
        body = "".join(
            f'<tr data-alias="{e(row["Alias"])}"><td>{row["Rank"]}</td><td class="alias">{e(row["Alias"])}</td>'
            f'<td class="points">{row["Points"]}</td><td>{row["Wins"]}</td>'
            + "".join(f'<td>{row["Races"].get(r["name"], "")}</td>' for r in races)
            + "</tr>"
            for row in season["rows"]
        )
        parts.append(
            f'<table class="board season"><thead><tr><th>Rank</th><th>Racer</th><th>Points</th><th>Wins</th>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>"
        )
        if any(r["status"] != "closed" for r in races):
            parts.append('<p class="hint">* still open or upcoming: provisional.</p>')
    return layout(title, "".join(parts), viewer=viewer, csrf=csrf)


def error_page(status: int, text: str, viewer=None, csrf: str = "") -> str:
    return layout("Error", f"<h1>{status}</h1>{message('error', text)}<p><a href=\"/\">Back to the races</a></p>", viewer=viewer, csrf=csrf)
