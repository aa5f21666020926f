"""``openmaker label``: admins, teams, review jobs, answers, consolidation, the QA report, exports, the portal.

Every command is a thin layer over :class:`openmaker.labeling.api.Labeling`. Bad input (an unknown
job or team, a malformed CSV, a replayed answer, bad report options) exits with code 2 and one line
``error: <message>`` on stderr, never a traceback.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

import typer
from rich.console import Console
from rich.markup import escape

from openmaker.clitools import err, one_line as _one_line
from openmaker.clitools import bad_input as _bad_input

FORMATS = ("md", "csv", "json", "html")
EXPORTS = ("results", "manifest", "labels")
ROLES = ("worker", "admin")


def _warn(message: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {escape(message)}", soft_wrap=True)


@contextmanager
def _errors() -> Iterator[None]:
    """Bad input of any layer becomes ``error: <message>`` and exit code 2."""
    from sqlalchemy.exc import ArgumentError, OperationalError

    try:
        yield
    except ModuleNotFoundError as exc:  # an optional extra (python-liquid, argon2, matplotlib, s3fs) is missing
        name = f" ({exc.name})" if exc.name and exc.name not in str(exc) else ""
        hint = "" if "pip install" in str(exc) else "; install it with: pip install 'openmaker[labeling]'"
        _bad_input(f"{_one_line(exc)}{name}{hint}")
    except ValueError as exc:  # LabelingError, NotFound, Forbidden, Conflict, ReportError, storage's bad schemes
        _bad_input(_one_line(exc))
    except (OperationalError, ArgumentError) as exc:  # the database cannot be reached or its URL is wrong
        _bad_input(f"database: {str(exc).splitlines()[0]}")


def _out() -> Console:
    out = Console(highlight=False)
    if not out.is_terminal:
        out.width = max(out.width, 160)  # tables in a pipe or a file: never cut emails or names
    return out


def _lab():
    from openmaker.labeling.api import Labeling

    return Labeling()


def _local_uri(uri: Optional[str]) -> Optional[str]:
    """A plain local path made absolute (jobs outlive the current directory); URIs stay as they are."""
    if uri is None or "://" in uri:
        return uri
    return os.path.abspath(os.path.expanduser(uri))


def _portal_url(option: Optional[str]) -> str:
    from openmaker.config import get_settings

    settings = get_settings()
    url = option or settings.portal_url or f"http://127.0.0.1:{settings.portal_port}"
    if not url.startswith(("http://", "https://")):
        _bad_input(f"--portal-url must start with http:// or https://, not {url!r}")
    return url.rstrip("/")


def _write_file(path: Path, text: str) -> None:
    try:
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        _bad_input(f"cannot write {path}: {exc.strerror or exc}")


def _echo_json(value) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


label_app = typer.Typer(
    no_args_is_help=True,
    help="Human review jobs (bulk label QA): teams, jobs, answers, consolidation, the QA report, the worker portal.",
    pretty_exceptions_enable=False,
)
admin_app = typer.Typer(no_args_is_help=True, help="Platform admins (they sign in to the portal and see every job).", pretty_exceptions_enable=False)
team_app = typer.Typer(no_args_is_help=True, help="Reviewer teams and their invitations.", pretty_exceptions_enable=False)
job_app = typer.Typer(no_args_is_help=True, help="Review jobs: create, list, show, share, tasks.", pretty_exceptions_enable=False)
label_app.add_typer(admin_app, name="admin")
label_app.add_typer(team_app, name="team")
label_app.add_typer(job_app, name="job")


# --- openmaker label admin ----------------------------------------------------------------------


@admin_app.command("create")
def admin_create(
    email: str = typer.Argument(..., help="The admin's email (their sign-in name)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin instead of generating one."),
) -> None:
    """Create a platform admin (or make an existing user one) with a password."""
    generated = not password_stdin
    if password_stdin:
        password = sys.stdin.read().rstrip("\r\n")
        if not password:
            _bad_input("--password-stdin: nothing was read from stdin")
    else:
        password = secrets.token_urlsafe(12)
    with _errors():
        user = _lab().create_admin(email, password)
    typer.echo(f"admin {user.email} created")
    if generated:
        typer.echo(f"password: {password}")
        err.print("(shown once: keep it somewhere safe)")


# --- openmaker label team -----------------------------------------------------------------------

_PORTAL_URL = typer.Option(None, "--portal-url", help="Where reviewers reach the portal (default: the portal_url setting, else http://127.0.0.1:<portal_port>).")


def _send_links(team: Optional[str], links: list[tuple[str, str]]) -> None:
    """Print each invitation link and email it when SMTP is configured."""
    from openmaker.labeling.errors import LabelingError
    from openmaker.labeling.mail import configured, send_invitation

    if not links:
        return
    mail = configured()
    typer.echo("invitation links (each works once, for 7 days):")
    for email, url in links:
        note = ""
        if mail:
            try:
                note = "  (emailed)" if send_invitation(email, url, team) else ""
            except LabelingError as exc:
                note = "  (not emailed)"
                _warn(str(exc))
        typer.echo(f"  {email}: {url}{note}")


def _members_table(team: dict, links: dict[str, str]):
    from rich.table import Table

    table = Table("Email", "Role", "Signed up", "Invitation", title=f"team {team['name']} ({team['kind']})")
    table.columns[0].no_wrap = True
    for member in team["members"]:
        table.add_row(
            member["email"],
            "team admin" if member["team_admin"] else "worker",
            "yes" if member["signed_up"] else "no",
            "link below" if member["email"] in links else "",
        )
    return table


def _team(name: str) -> dict:
    for team in _lab().teams():
        if team["name"] == name:
            return team
    from openmaker.labeling.errors import NotFound

    raise NotFound(f"no team {name!r}")


@team_app.command("create")
def team_create(
    team: str = typer.Argument(..., help="The team's name."),
    member: List[str] = typer.Option([], "--member", help="A reviewer's email (repeatable); accounts are made as needed."),
    vendor: bool = typer.Option(False, "--vendor", help="An external (vendor) workforce with its own team admins."),
    admin: List[str] = typer.Option([], "--admin", help="A vendor team admin's email (repeatable; --vendor only)."),
    portal_url: Optional[str] = _PORTAL_URL,
) -> None:
    """Create a team and its members' accounts; print (and email) invitation links for those without a password."""
    from openmaker.labeling.workforce import normalise_email

    url = _portal_url(portal_url)
    lab = _lab()
    with _errors():
        for email in [*member, *admin]:
            normalise_email(email)  # every address checked before anything is created
        lab.create_team(team, members=member, vendor=vendor, admins=admin)
        record = _team(team)
        links: dict[str, str] = {}
        for entry in record["members"]:
            if not entry["signed_up"]:
                links[entry["email"]] = lab.invite(team, entry["email"]).url(url)
    typer.echo(f"team {team} created ({record['kind']}, {len(record['members'])} member(s))")
    if record["members"]:
        _out().print(_members_table(record, links))
    _send_links(team, list(links.items()))


@team_app.command("invite")
def team_invite(
    team: str = typer.Argument(..., help="The team's name."),
    emails: List[str] = typer.Argument(..., help="Emails to invite (new or existing members)."),
    portal_url: Optional[str] = _PORTAL_URL,
    role: str = typer.Option("worker", "--role", help="worker, or admin (a platform admin)."),
) -> None:
    """Invitation links for new or existing members (they are added to the team); earlier links stop working."""
    from openmaker.labeling.workforce import normalise_email

    if role not in ROLES:
        _bad_input(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    url = _portal_url(portal_url)
    lab = _lab()
    with _errors():
        for email in emails:
            normalise_email(email)
        _team(team)
        links = [(link.email, link.url(url)) for link in (lab.invite(team, email, role=role) for email in emails)]
    _send_links(team, links)


@team_app.command("list")
def team_list(as_json: bool = typer.Option(False, "--json", help="JSON instead of a table.")) -> None:
    """The teams and their members."""
    from rich.table import Table

    with _errors():
        teams = _lab().teams()
    if as_json:
        _echo_json(teams)
        return
    table = Table("Team", "Kind", "Members", "Signed up", "Team admins")
    table.columns[0].no_wrap = True
    for team in teams:
        members = team["members"]
        table.add_row(
            team["name"],
            team["kind"],
            str(len(members)),
            str(sum(1 for m in members if m["signed_up"])),
            ", ".join(m["email"] for m in members if m["team_admin"]),
        )
    _out().print(table)


# --- openmaker label job ------------------------------------------------------------------------


@job_app.command("create")
def job_create(
    name: str = typer.Argument(..., help="The job's name: letters, digits and hyphens."),
    input: str = typer.Option(..., "--input", help="The model's labels: a CSV (image_local_path,label,confidence) or an input manifest."),
    team: List[str] = typer.Option([], "--team", help="A team whose members review the job (repeatable; at least one)."),
    min_confidence: float = typer.Option(80.0, "--min-confidence", help="Review the items whose confidence is at least this (0-100)."),
    batch_size: int = typer.Option(25, "--batch-size", help="Items per task (one label per task)."),
    reviewers: int = typer.Option(1, "--reviewers", help="Workers who answer each task."),
    template: Optional[str] = typer.Option(None, "--template", help="A Liquid task template (default: the bulk-QA template)."),
    pre_hook: Optional[str] = typer.Option(None, "--pre-hook", help="Pre-labeling hook: module:function or an http(s):// URL."),
    post_hook: Optional[str] = typer.Option(None, "--post-hook", help="Post-labeling (consolidation) hook: module:function or a URL."),
    lease_seconds: int = typer.Option(1800, "--lease-seconds", help="How long a worker holds a task before it goes back to the pool."),
    policy: str = typer.Option("unanimous", "--policy", help="Verdict of an item: unanimous or majority."),
    output: Optional[str] = typer.Option(None, "--output", help="Where the manifests and results go (default: $OPENMAKER_HOME/artifacts/labeling/NAME)."),
    label_attribute_name: Optional[str] = typer.Option(None, "--label-attribute-name", help="The output manifest's label key (default: the job name)."),
    check_images: bool = typer.Option(True, "--check-images/--no-check-images", help="Check that every image exists and can be read."),
) -> None:
    """Create a review job: batch the model's labels into tasks, write the manifest, record the tasks."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from openmaker.labeling.jobs import JobSpec

    spec = JobSpec(
        name=name, input=_local_uri(input), teams=list(team), min_confidence=min_confidence, batch_size=batch_size,
        reviewers=reviewers, template=_local_uri(template), pre_hook=pre_hook, post_hook=post_hook,
        lease_seconds=lease_seconds, policy=policy, output=_local_uri(output), label_attribute_name=label_attribute_name,
        check_images=check_images,
    )  # fmt: skip
    lab = _lab()
    with _errors():
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as progress:  # fmt: skip
            bars: dict[str, int] = {}

            def tick(stage: str, done: int, total: int) -> None:
                if stage not in bars:
                    bars[stage] = progress.add_task(stage, total=total if total >= 0 else None)
                progress.update(bars[stage], completed=done, total=total if total >= 0 else None)

            job = lab.create_job(spec, progress=tick)
        summary = lab.job(job.name)
    counts = summary["progress"]
    with lab.session() as s:
        from openmaker.labeling.jobs import get_job, task_count

        tasks = task_count(s, get_job(s, job.name))
    typer.echo(f"job {job.name} created")
    typer.echo(f"tasks: {tasks}")
    typer.echo(f"items: {counts['items']}")
    typer.echo(f"reviewers per task: {job.reviewers} (teams: {', '.join(summary['teams'])})")
    typer.echo(f"manifest: {job.manifest_uri}")


@job_app.command("list")
def job_list(as_json: bool = typer.Option(False, "--json", help="JSON instead of a table.")) -> None:
    """The review jobs, newest first, with their progress."""
    from rich.table import Table

    with _errors():
        found = _lab().jobs()
    if as_json:
        _echo_json(found)
        return
    table = Table("Job", "Status", "Tasks", "Items", "Answers", "Done", "Teams", "Consolidated")
    table.columns[0].no_wrap = True
    for job in found:
        p = job["progress"]
        table.add_row(
            job["name"], job["status"], str(p["tasks"]), str(p["items"]), f"{p['answers']}/{p['answers_needed']}",
            f"{p['percent']:g}%", ", ".join(job["teams"]), (job["consolidated_at"] or "")[:19],
        )  # fmt: skip
    _out().print(table)


@job_app.command("show")
def job_show(
    name: str = typer.Argument(..., help="The job's name."),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of text."),
) -> None:
    """One job: its settings and progress."""
    with _errors():
        job = _lab().job(name)
    if as_json:
        _echo_json(job)
        return
    p = job["progress"]
    for key in ("name", "status", "input", "output", "manifest"):
        typer.echo(f"{key}: {job[key]}")
    typer.echo(f"teams: {', '.join(job['teams'])}")
    typer.echo(f"reviewers per task: {job['reviewers']}, batch size {job['batch_size']}, min confidence {job['min_confidence']:g}")
    typer.echo(f"policy: {job['policy']}, lease {job['lease_seconds']} s")
    if job["pre_hook"] or job["post_hook"]:
        typer.echo(f"hooks: pre {job['pre_hook'] or 'default'}, post {job['post_hook'] or 'default'}")
    typer.echo(f"tasks: {p['tasks']} ({p['tasks_complete']} complete), items: {p['items']}")
    typer.echo(f"answers: {p['answers']} of {p['answers_needed']} ({p['percent']:g}%), {p['leased']} leased now, {p['workers']} worker(s)")
    typer.echo(f"consolidated: {job['consolidated_at'] or 'not yet'}")


@job_app.command("share")
def job_share(
    name: str = typer.Argument(..., help="The job's name."),
    team: str = typer.Argument(..., help="The team that may also review it."),
) -> None:
    """Let another team's members review the job."""
    with _errors():
        _lab().share_job(name, team)
    typer.echo(f"job {name} shared with team {team}")


@job_app.command("tasks")
def job_tasks(
    name: str = typer.Argument(..., help="The job's name."),
    as_json: bool = typer.Option(False, "--json", help="The tasks as JSON: id, seq, data object, input, items in order."),
) -> None:
    """The job's tasks (with --json: each task's id and its items in order, as the template sees them)."""
    from rich.table import Table

    with _errors():
        tasks = _lab().tasks(name)
    if as_json:
        _echo_json(tasks)
        return
    table = Table("Id", "Seq", "Items", "Label", "Human review")
    for task in tasks:
        labels = list(dict.fromkeys(str(item.get("label", "")) for item in task["items"] if isinstance(item, dict)))
        table.add_row(str(task["id"]), str(task["seq"]), str(len(task["items"])), ", ".join(labels), "yes" if task["humanAnnotationRequired"] else "no")
    _out().print(table)


# --- answers, consolidation, results --------------------------------------------------------------


@label_app.command("submit")
def submit(
    name: str = typer.Argument(..., help="The job's name."),
    task: int = typer.Option(..., "--task", help="The task's id (see `openmaker label job tasks NAME`)."),
    worker: str = typer.Option(..., "--worker", help="The worker's email (a member of a team the job is shared with)."),
    answers: str = typer.Option(..., "--answers", help="The crowd form's answer as a JSON file ('-': stdin)."),
) -> None:
    """Record one worker's crowd-form answer to a task, as the portal would."""
    where = "stdin" if answers == "-" else answers
    try:
        text = sys.stdin.read() if answers == "-" else Path(answers).read_text(encoding="utf-8")
    except FileNotFoundError:
        _bad_input(f"--answers {answers}: no such file")
    except (OSError, UnicodeDecodeError) as exc:
        _bad_input(f"--answers {answers}: cannot read it ({getattr(exc, 'strerror', None) or exc})")
    try:
        answer = json.loads(text)
    except json.JSONDecodeError as exc:
        _bad_input(f"--answers {where}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})")
    with _errors():
        submission = _lab().submit_answer(name, task, worker, answer)
    typer.echo("already recorded (same answer)" if submission.duplicate else "recorded")


@label_app.command("consolidate")
def consolidate(name: str = typer.Argument(..., help="The job's name.")) -> None:
    """Recount every item's confirm/disconfirm votes and verdict (run it again at will: same result)."""
    lab = _lab()
    with _errors():
        result = lab.consolidate(name)
        items = lab.job(name)["progress"]["items"]
    typer.echo(f"{result['items_with_answers']} of {items} item(s) have answers")
    if result.get("tasks_consolidated_by_hook"):
        typer.echo(f"{result['tasks_consolidated_by_hook']} task(s) consolidated by the post-labeling hook")


@label_app.command("report")
def report(
    name: str = typer.Argument(..., help="The job's name."),
    buckets: str = typer.Option("80,85,90,95,100", "--buckets", help="Confidence bucket edges, ascending, within 0..100."),
    cost_ratio: float = typer.Option(10.0, "--cost-ratio", help="How many times a wrong auto-accepted label costs more than a needless review."),
    policy: Optional[str] = typer.Option(None, "--policy", help="unanimous or majority (default: the job's)."),
    fmt: str = typer.Option("md", "--format", help="md, csv, json or html."),
    output: Optional[Path] = typer.Option(None, "--output", help="Write the report here instead of stdout."),
    chart: Optional[Path] = typer.Option(None, "--chart", help="Also draw %Correct per bucket and class as a PNG here."),
) -> None:
    """The bulk-QA report: per class and per confidence bucket, %Correct and a threshold to auto-accept above."""
    from openmaker.labeling.report_render import chart_png, render

    if fmt not in FORMATS:
        _bad_input(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    with _errors():
        result = _lab().report(name, buckets=buckets, cost_ratio=cost_ratio, policy=policy)
        text = render(result, fmt, title=name)
        if chart is not None:
            try:
                chart.parent.mkdir(parents=True, exist_ok=True)
                chart_png(result, chart, title=name)
            except OSError as exc:
                _bad_input(f"cannot write {chart}: {exc.strerror or exc}")
    if output is not None:
        _write_file(output, text)
        err.print(f"report written to {escape(str(output))}", soft_wrap=True)
    else:
        typer.echo(text, nl=not text.endswith("\n"))
    if chart is not None:
        err.print(f"chart written to {escape(str(chart))}", soft_wrap=True)


@label_app.command("export")
def export(
    name: str = typer.Argument(..., help="The job's name."),
    fmt: str = typer.Option("results", "--format", help="results (CSV of every item), manifest (output manifest) or labels (CSV for retraining)."),
    include_rejected: bool = typer.Option(False, "--include-rejected", help="labels: also the disconfirmed and split items."),
    output: Optional[Path] = typer.Option(None, "--output", help="Write here instead of stdout."),
) -> None:
    """The job's results: the results table, Ground Truth's output manifest, or labels for retraining."""
    if fmt not in EXPORTS:
        _bad_input(f"--format must be one of {', '.join(EXPORTS)}, not {fmt!r}")
    with _errors():
        text = _lab().export(name, fmt, include_rejected=include_rejected)
    if output is not None:
        _write_file(output, text)
        err.print(f"{fmt} written to {escape(str(output))}", soft_wrap=True)
    else:
        typer.echo(text, nl=False)


@label_app.command("portal")
def portal(
    host: str = typer.Option("127.0.0.1", "--host", help="The address to listen on."),
    port: Optional[int] = typer.Option(None, "--port", help="Default: the portal_port setting (8091)."),
    portal_url: Optional[str] = typer.Option(None, "--portal-url", help="How reviewers reach it, for links (default: the portal_url setting, else http://HOST:PORT)."),
) -> None:
    """Run only the worker portal (`openmaker up` runs it with the rest of the platform)."""
    from openmaker.config import get_settings

    settings = get_settings()
    port = settings.portal_port if port is None else port
    if not 0 <= port < 65536:
        _bad_input(f"--port must be within 0..65535, not {port}")
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base_url = portal_url or settings.portal_url or f"http://{shown}:{port}"
    if not base_url.startswith(("http://", "https://")):
        _bad_input(f"--portal-url must start with http:// or https://, not {base_url!r}")
    with _errors():
        from openmaker.labeling.portal import run_portal

        try:
            run_portal(host=host, port=port, base_url=base_url.rstrip("/"))
        except OSError as exc:  # the port is taken, the address is not ours
            _bad_input(f"cannot serve the portal on {host}:{port}: {exc.strerror or exc}")


def commands() -> list:
    """``(name, typer_app)`` pairs the platform CLI mounts."""
    return [("label", label_app)]
