"""The portal's HTML: small server-rendered pages, every value escaped, no inline script.

The task page is the job's template as Liquid renders it (autoescaped, like Ground Truth) inside
the portal's frame; the crowd elements script in ``static/`` does the rest.
"""

from __future__ import annotations

from typing import Iterable

from openmaker.webhtml import csrf_field, e, message

STYLESHEET = "/static/portal.css"


def layout(title: str, body: str, *, user=None, csrf: str = "", head: str = "", body_attrs: str = "") -> str:
    nav = ""
    if user is not None:
        admin = '<a href="/admin">Admin</a>' if getattr(user, "can_admin", False) else ""
        nav = (
            f'<nav><a href="/">Jobs</a>{admin}<span class="who">{e(user.email)}</span>'
            f'<form method="post" action="/signout" class="inline">{csrf_field(csrf)}'
            '<button type="submit" class="link">Sign out</button></form></nav>'
        )
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} · openmaker labeling</title>"
        f'<link rel="stylesheet" href="{STYLESHEET}">{head}</head>'
        f"<body {body_attrs}><header><a class=\"brand\" href=\"/\">openmaker labeling</a>{nav}</header>"
        f"<main>{body}</main></body></html>"
    )


def signin(error: str = "", csrf: str = "", email: str = "") -> str:
    body = (
        "<h1>Sign in</h1>"
        + (message("error", error) if error else "")
        + '<form method="post" action="/signin" class="card narrow">'
        + csrf_field(csrf)
        + f'<label>Email <input type="email" name="email" autocomplete="username" required value="{e(email)}"></label>'
        + '<label>Password <input type="password" name="password" autocomplete="current-password" required></label>'
        + '<button type="submit">Sign in</button></form>'
    )
    return layout("Sign in", body)


def set_password(email: str, token: str, csrf: str, error: str = "") -> str:
    body = (
        f"<h1>Welcome, {e(email)}</h1><p>Choose a password (at least 10 characters) to start reviewing.</p>"
        + (message("error", error) if error else "")
        + f'<form method="post" action="/invite/{e(token)}" class="card narrow">'
        + csrf_field(csrf)
        + '<label>Password <input type="password" name="password" autocomplete="new-password" minlength="10" required></label>'
        + '<label>Again <input type="password" name="again" autocomplete="new-password" minlength="10" required></label>'
        + '<button type="submit">Set password</button></form>'
    )
    return layout("Set your password", body)


def progress_bar(p: dict) -> str:
    return (
        f'<progress max="100" value="{min(100.0, p["percent"])}">{p["percent"]}%</progress>'
        f'<small>{p["answers"]} of {p["answers_needed"]} answers · {p["tasks_complete"]} of {p["tasks"]} tasks complete'
        f' · {p["leased"]} in progress</small>'
    )


def home(user, jobs: Iterable[dict], csrf: str, notice: str = "") -> str:
    rows = []
    for job in jobs:
        p = job["progress"]
        action = (
            f'<a class="button" href="/jobs/{e(job["name"])}/work">Start working</a>' if job["status"] == "active" else e(job["status"])
        )
        rows.append(
            f'<li class="card job"><h2>{e(job["name"])}</h2>'
            f'<p>{p["tasks"]} tasks · {p["items"]} items · {job["reviewers"]} reviewer(s) per task</p>'
            f"{progress_bar(p)}{action}</li>"
        )
    body = "<h1>Your jobs</h1>" + (message("info", notice) if notice else "")
    body += f'<ul class="jobs">{"".join(rows)}</ul>' if rows else "<p>No job is shared with your teams yet.</p>"
    return layout("Jobs", body, user=user, csrf=csrf)


def task_page(user, job_name: str, task_html: str, *, token: str, csrf: str, expires: str, seq: int) -> str:
    frame = (
        f'<div class="taskbar"><span>Job <b>{e(job_name)}</b> · task {seq + 1}</span>'
        f'<span>lease until {e(expires)} UTC</span>'
        f'<form method="post" action="/task/{e(token)}/release" class="inline">{csrf_field(csrf)}'
        '<button type="submit" class="link">Skip this task</button></form></div>'
    )
    attrs = f'data-submit-url="/task/{e(token)}/submit" data-csrf="{e(csrf)}" data-submission="{e(token)}"'
    return layout(f"{job_name} task {seq + 1}", frame + f'<section class="task">{task_html}</section>', user=user, csrf=csrf, body_attrs=attrs)


def done(user, job_name: str, csrf: str) -> str:
    body = f"<h1>All done</h1><p>No task of <b>{e(job_name)}</b> is waiting for you. Thank you!</p><p><a href=\"/\">Back to your jobs</a></p>"
    return layout("All done", body, user=user, csrf=csrf)


def error_page(status: int, text: str, user=None, csrf: str = "") -> str:
    return layout("Error", f"<h1>{status}</h1>{message('error', text)}<p><a href=\"/\">Back</a></p>", user=user, csrf=csrf)


# --- admin -------------------------------------------------------------------------------------


def admin(user, teams: list[dict], jobs: list[dict], csrf: str, *, can_create: bool, notice: str = "", link: str = "") -> str:
    parts = ["<h1>Admin</h1>"]
    if notice:
        parts.append(message("info", notice))
    if link:
        parts.append(f'<p class="card">Invitation link (also shown once here): <code id="invite-link">{e(link)}</code></p>')
    parts.append("<h2>Teams</h2>")
    for team in teams:
        members = "".join(
            f"<li>{e(m['email'])}{' (team admin)' if m['team_admin'] else ''}{'' if m['signed_up'] else ' · invited'}</li>"
            for m in team["members"]
        )
        parts.append(
            f'<div class="card team"><h3>{e(team["name"])} <small>{e(team["kind"])}</small></h3><ul>{members}</ul>'
            f'<form method="post" action="/admin/teams/{e(team["name"])}/invite" class="row">{csrf_field(csrf)}'
            f'<label>Invite by email <input type="email" name="email" required></label><button type="submit">Invite</button></form></div>'
        )
    if can_create:
        parts.append(
            '<form method="post" action="/admin/teams" class="card row">'
            + csrf_field(csrf)
            + '<label>New team <input name="name" required pattern="[A-Za-z0-9][A-Za-z0-9 ._\\-]{0,127}"></label>'
            + '<label><input type="checkbox" name="vendor" value="1"> vendor team</label>'
            + '<label>Vendor admin email <input type="email" name="admin"></label>'
            + '<button type="submit">Create team</button></form>'
        )
    parts.append("<h2>Jobs</h2>")
    for job in jobs:
        parts.append(
            f'<div class="card"><h3><a href="/admin/jobs/{e(job["name"])}">{e(job["name"])}</a></h3>'
            f'<p>teams: {e(", ".join(job["teams"]))}</p>{progress_bar(job["progress"])}</div>'
        )
    if can_create:
        parts.append(
            '<form method="post" action="/admin/jobs" class="card grid">'
            + csrf_field(csrf)
            + "<h3>New job</h3>"
            + '<label>Name <input name="name" required pattern="[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"></label>'
            + '<label>Input (CSV or manifest: a path on the server or s3:// URI) <input name="input" required></label>'
            + '<label>Team <input name="team" required></label>'
            + '<label>Reviewers per task <input type="number" name="reviewers" value="1" min="1" max="100"></label>'
            + '<label>Batch size <input type="number" name="batch_size" value="25" min="1" max="1000"></label>'
            + '<label>Minimum confidence <input type="number" name="min_confidence" value="80" min="0" max="100" step="any"></label>'
            + '<button type="submit">Create job</button></form>'
        )
    return layout("Admin", "".join(parts), user=user, csrf=csrf)


def admin_job(user, job: dict, report_html: str, csrf: str, *, can_consolidate: bool, notice: str = "") -> str:
    name = e(job["name"])
    downloads = " · ".join(
        f'<a href="/admin/jobs/{name}/download/{kind}">{label}</a>'
        for kind, label in (
            ("results.csv", "results CSV"),
            ("output.manifest", "output manifest"),
            ("labels.csv", "confirmed labels"),
            ("report.md", "report (md)"),
            ("report.csv", "report (csv)"),
            ("report.json", "report (json)"),
            ("report.html", "report (html)"),
            ("chart.png", "chart (PNG)"),
        )
    )
    consolidate = (
        f'<form method="post" action="/admin/jobs/{name}/consolidate" class="inline">{csrf_field(csrf)}'
        '<button type="submit">Consolidate answers</button></form>'
        if can_consolidate
        else ""
    )
    body = (
        f"<h1>Job {name}</h1>"
        + (message("info", notice) if notice else "")
        + f'<div class="card"><p>teams: {e(", ".join(job["teams"]))} · {job["reviewers"]} reviewer(s) per task · '
        f'policy {e(job["policy"])} · consolidated: {e(job["consolidated_at"] or "not yet")}</p>'
        f'{progress_bar(job["progress"])}{consolidate}<p class="downloads">{downloads}</p></div>'
        f'<section class="report">{report_html}</section>'
        f'<img class="chart" alt="%correct per confidence bucket per class" src="/admin/jobs/{name}/download/chart.png">'
    )
    return layout(f"Job {job['name']}", body, user=user, csrf=csrf)
