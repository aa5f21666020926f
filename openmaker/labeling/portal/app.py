"""The worker portal: sign in, "Start working", the task page, submit, next; admin pages.

A Starlette app over :class:`openmaker.labeling.api.Labeling`. Database work runs in the thread
pool. Sessions are an HttpOnly, SameSite=Strict cookie; every POST carries the session's CSRF token
(a form field, or the ``X-CSRF-Token`` header for the crowd form's JSON submit); the sign-in and
invitation forms use a double-submit cookie. Pages send a Content-Security-Policy: the portal's own
scripts only (task pages also allow the template's inline styles and scripts: templates are written
by admins, and everything a template prints from task data is autoescaped).
"""

from __future__ import annotations

import mimetypes
import secrets
from importlib.resources import files
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from openmaker import storage
from openmaker.labeling import jobs as jobs_module
from openmaker.labeling import work, workforce
from openmaker.labeling.api import Labeling
from openmaker.labeling.errors import Forbidden, LabelingError
from openmaker.labeling.portal import pages
from openmaker.labeling.signing import Signer, load_key
from openmaker.labeling.tables import ADMIN
from openmaker.labeling.templates import TemplateRenderer

SESSION_COOKIE = "om_session"
FORM_COOKIE = "om_form"
_STATIC = {"crowd-html-elements.js": "text/javascript", "portal.css": "text/css"}
_BASE_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_TASK_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


class Viewer:
    """The signed-in user as the pages see them."""

    def __init__(self, user, csrf: str, administered: set[int]):
        self.id, self.email, self.role = user.id, user.email, user.role
        self.user = user
        self.csrf = csrf
        self.administered = administered
        self.can_admin = user.role == ADMIN or bool(administered)


def _html(body: str, status: int = 200, csp: str = _CSP) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers={**_BASE_HEADERS, "Content-Security-Policy": csp, "Cache-Control": "no-store"})


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=_BASE_HEADERS)


def create_portal_app(labeling: Labeling | None = None, *, base_url: str | None = None, signer: Signer | None = None) -> Starlette:
    lab = labeling or Labeling()
    signer = signer or Signer(load_key(lab.home))
    renderer = TemplateRenderer(signer.url)
    secure = bool(base_url and base_url.startswith("https://"))

    async def db(fn: Callable[..., Any], *args):
        def run():
            with lab.session() as s:
                return fn(s, *args)

        return await run_in_threadpool(run)

    def viewer_of(s, request: Request) -> Viewer | None:
        found = workforce.session_user(s, request.cookies.get(SESSION_COOKIE))
        if found is None:
            return None
        user, csrf = found
        administered = workforce.administered_team_ids(s, user) if user.role != ADMIN else set()
        return Viewer(user, csrf, administered)

    async def require_viewer(request: Request) -> Viewer | Response:
        viewer = await db(viewer_of, request)
        if viewer is None:
            return _redirect("/signin")
        return viewer

    async def require_admin(request: Request) -> Viewer | Response:
        viewer = await require_viewer(request)
        if isinstance(viewer, Response):
            return viewer
        if not viewer.can_admin:
            return failure(Forbidden("this page is for admins"), viewer)
        return viewer

    def signed_in(handler=None, *, admin: bool = False):
        """An endpoint for signed-in users (admins with ``admin=True``), called as ``handler(request, viewer)``."""

        def wrap(handler):
            async def endpoint(request: Request) -> Response:
                viewer = await (require_admin if admin else require_viewer)(request)
                if isinstance(viewer, Response):
                    return viewer
                return await handler(request, viewer)

            return endpoint

        return wrap(handler) if handler is not None else wrap

    def set_session(response: Response, token: str) -> None:
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure, max_age=workforce.SESSION_HOURS * 3600)

    def form_cookie(response: Response, value: str) -> Response:
        response.set_cookie(FORM_COOKIE, value, httponly=True, samesite="strict", secure=secure, max_age=3600)
        return response

    async def checked_form(request: Request, viewer: Viewer | None) -> dict:
        form = dict(await request.form())
        expected = viewer.csrf if viewer is not None else request.cookies.get(FORM_COOKIE)
        if not expected or not secrets.compare_digest(str(form.get("csrf", "")), expected):
            raise Forbidden("the form expired or did not come from this portal; reload the page and try again")
        return form

    def failure(exc: LabelingError, viewer: Viewer | None = None) -> Response:
        return _html(pages.error_page(exc.status, str(exc), viewer, viewer.csrf if viewer else ""), exc.status)

    # --- sign in / out, invitations -------------------------------------------------------

    async def signin_page(request: Request) -> Response:
        value = secrets.token_urlsafe(24)
        return form_cookie(_html(pages.signin(csrf=value)), value)

    async def signin(request: Request) -> Response:
        try:
            form = await checked_form(request, None)
        except LabelingError as exc:
            value = secrets.token_urlsafe(24)
            return form_cookie(_html(pages.signin(str(exc), value), exc.status), value)

        def run(s):
            user = workforce.authenticate(s, form.get("email", ""), form.get("password", ""))
            return workforce.start_session(s, user).token

        try:
            token = await db(run)
        except LabelingError as exc:
            value = secrets.token_urlsafe(24)
            return form_cookie(_html(pages.signin(str(exc), value, form.get("email", "")), exc.status), value)
        response = _redirect("/")
        set_session(response, token)
        response.delete_cookie(FORM_COOKIE)
        return response

    async def signout(request: Request) -> Response:
        viewer = await db(viewer_of, request)
        if viewer is not None:
            try:
                await checked_form(request, viewer)
            except LabelingError as exc:
                return failure(exc, viewer)
            await db(workforce.end_session, request.cookies.get(SESSION_COOKIE))
        response = _redirect("/signin")
        response.delete_cookie(SESSION_COOKIE)
        return response

    async def invitation_page(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            email = await db(lambda s: workforce.invitation_user(s, token).email)
        except LabelingError as exc:
            return failure(exc)
        value = secrets.token_urlsafe(24)
        return form_cookie(_html(pages.set_password(email, token, value)), value)

    async def accept_invitation(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            form = await checked_form(request, None)
            if form.get("password") != form.get("again"):
                raise LabelingError("the two passwords differ")

            def run(s):
                user = workforce.accept_invitation(s, token, form.get("password", ""))
                return workforce.start_session(s, user).token

            session_token = await db(run)
        except LabelingError as exc:
            try:
                email = await db(lambda s: workforce.invitation_user(s, token).email)
            except LabelingError as gone:
                return failure(gone)
            value = secrets.token_urlsafe(24)
            return form_cookie(_html(pages.set_password(email, token, value, str(exc)), exc.status), value)
        response = _redirect("/")
        set_session(response, session_token)
        return response

    # --- worker pages -----------------------------------------------------------------------

    @signed_in
    async def home(request: Request, viewer: Viewer) -> Response:

        def run(s):
            visible = workforce.visible_job_ids(s, viewer.user)
            return [lab._job_summary(s, job) for job in jobs_module.list_jobs(s, visible)]

        return _html(pages.home(viewer, await db(run), viewer.csrf, request.query_params.get("notice", "")))

    @signed_in
    async def start_working(request: Request, viewer: Viewer) -> Response:
        name = request.path_params["name"]

        def run(s):
            job = jobs_module.get_job(s, name)
            lease = work.next_task(s, job, viewer.user)
            return None if lease is None else lease.assignment.token

        try:
            token = await db(run)
        except LabelingError as exc:
            return failure(exc, viewer)
        if token is None:
            return _html(pages.done(viewer, name, viewer.csrf))
        return _redirect(f"/task/{token}")

    @signed_in
    async def task(request: Request, viewer: Viewer) -> Response:
        token = request.path_params["token"]

        def run(s):
            lease = work.get_lease(s, token, viewer.user)
            return lease.job.name, lease.job.template, lease.task_input, lease.assignment, lease.task.seq

        try:
            name, template, task_input, assignment, seq = await db(run)
            if assignment.state != "leased":
                return _redirect(f"/jobs/{name}/work")
            task_html = renderer.render(template, task_input, f"template of job {name}")
        except LabelingError as exc:
            return failure(exc, viewer)
        expires = workforce._aware(assignment.expires_at).strftime("%H:%M:%S")
        page = pages.task_page(viewer, name, task_html, token=token, csrf=viewer.csrf, expires=expires, seq=seq)
        return _html(page, csp=_TASK_CSP)

    async def submit(request: Request) -> Response:
        viewer = await db(viewer_of, request)
        if viewer is None:
            return JSONResponse({"error": "your session ended; sign in again (the answer was not recorded)"}, 401)
        if not secrets.compare_digest(request.headers.get("x-csrf-token", ""), viewer.csrf):
            return JSONResponse({"error": "the page's CSRF token does not match; reload it"}, 403)
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return JSONResponse({"error": "the request body is not JSON"}, 400)
        if not isinstance(body, dict) or "answer" not in body:
            return JSONResponse({"error": "the request body needs an 'answer' object"}, 400)
        token = request.path_params["token"]

        def run(s):
            result = work.submit(s, token, viewer.user, body["answer"])
            return result.duplicate, work.get_lease(s, token, viewer.user).job.name

        try:
            duplicate, name = await db(run)
        except LabelingError as exc:
            return JSONResponse({"error": str(exc)}, exc.status)
        return JSONResponse({"recorded": True, "duplicate": duplicate, "next": f"/jobs/{name}/work"})

    @signed_in
    async def release(request: Request, viewer: Viewer) -> Response:
        try:
            await checked_form(request, viewer)
            await db(work.release, request.path_params["token"], viewer.user)
        except LabelingError as exc:
            return failure(exc, viewer)
        return _redirect("/?notice=The+task+went+back+to+the+pool.")

    async def image(request: Request) -> Response:
        q = request.query_params
        uri = q.get("uri", "")
        try:
            signer.verify(uri, q.get("expires", ""), q.get("signature", ""))
            data = await run_in_threadpool(storage.read_bytes, uri)
        except LabelingError as exc:
            return Response(str(exc), status_code=exc.status, media_type="text/plain", headers=_BASE_HEADERS)
        except (FileNotFoundError, IsADirectoryError):
            return Response("the image is gone from the store", status_code=404, media_type="text/plain", headers=_BASE_HEADERS)
        kind = mimetypes.guess_type(uri.split("?", 1)[0])[0] or "application/octet-stream"
        return Response(data, media_type=kind, headers={**_BASE_HEADERS, "Cache-Control": "private, max-age=600"})

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _STATIC:
            return Response(f"no static file {name!r}", status_code=404, media_type="text/plain")
        data = files("openmaker.labeling").joinpath("static", name).read_bytes()
        return Response(data, media_type=_STATIC[name], headers={**_BASE_HEADERS, "Cache-Control": "public, max-age=300"})

    # --- admin ------------------------------------------------------------------------------

    def admin_data(s, viewer: Viewer):
        teams = [t for t in lab.teams() if viewer.role == ADMIN or t["name"] in _team_names(s, viewer.administered)]
        visible = workforce.visible_job_ids(s, viewer.user)
        job_list = [lab._job_summary(s, job) for job in jobs_module.list_jobs(s, visible)]
        return teams, job_list

    async def admin_page(viewer: Viewer, notice: str = "", link: str = "", status: int = 200) -> Response:
        teams, job_list = await db(admin_data, viewer)
        body = pages.admin(viewer, teams, job_list, viewer.csrf, can_create=viewer.role == ADMIN, notice=notice, link=link)
        return _html(body, status)

    @signed_in(admin=True)
    async def admin_home(request: Request, viewer: Viewer) -> Response:
        return await admin_page(viewer)

    @signed_in(admin=True)
    async def create_team(request: Request, viewer: Viewer) -> Response:
        try:
            if viewer.role != ADMIN:
                raise Forbidden("only platform admins create teams")
            form = await checked_form(request, viewer)
            admins = [form["admin"]] if form.get("admin") else []
            await db(
                lambda s: workforce.create_team(
                    s, form.get("name", "").strip(), kind="vendor" if form.get("vendor") else "private", admins=admins
                )
            )
        except LabelingError as exc:
            return await admin_page(viewer, notice=str(exc), status=exc.status)
        return await admin_page(viewer, notice=f"team {form['name'].strip()} created")

    @signed_in(admin=True)
    async def invite(request: Request, viewer: Viewer) -> Response:
        team_name = request.path_params["team"]
        try:
            form = await checked_form(request, viewer)

            def run(s):
                team = workforce.get_team(s, team_name)
                workforce.require_team_admin(s, viewer.user, team)
                return workforce.invite(s, team, form.get("email", ""))

            link = await db(run)
        except LabelingError as exc:
            return await admin_page(viewer, notice=str(exc), status=exc.status)
        url = link.url(base_url or str(request.base_url))
        from openmaker.labeling.mail import send_invitation

        try:
            sent = await run_in_threadpool(send_invitation, link.email, url, team_name)
        except LabelingError as exc:
            return await admin_page(viewer, notice=f"invited {link.email}, but the email failed: {exc}", link=url)
        note = f"invited {link.email}" + (" (email sent)" if sent else "")
        return await admin_page(viewer, notice=note, link=url)

    @signed_in(admin=True)
    async def create_job(request: Request, viewer: Viewer) -> Response:
        try:
            if viewer.role != ADMIN:
                raise Forbidden("only platform admins create jobs")
            form = await checked_form(request, viewer)
            try:
                spec = jobs_module.JobSpec(
                    name=form.get("name", "").strip(),
                    input=form.get("input", "").strip(),
                    teams=[form.get("team", "").strip()],
                    reviewers=int(form.get("reviewers") or 1),
                    batch_size=int(form.get("batch_size") or 25),
                    min_confidence=float(form.get("min_confidence") or 80),
                )
            except ValueError:
                raise LabelingError("reviewers and batch size are whole numbers, the minimum confidence a number") from None
            await run_in_threadpool(lab.create_job, spec)
        except LabelingError as exc:
            return await admin_page(viewer, notice=str(exc), status=exc.status)
        return _redirect(f"/admin/jobs/{spec.name}")

    async def job_page(request: Request, viewer: Viewer, notice: str = "") -> Response:
        name = request.path_params["name"]

        def run(s):
            job = jobs_module.get_job(s, name)
            workforce.require_job_access(s, viewer.user, job.id)
            return lab._job_summary(s, job)

        try:
            summary = await db(run)
            report_html = _report_fragment(await run_in_threadpool(lab.report, name), name)
        except LabelingError as exc:
            return failure(exc, viewer)
        body = pages.admin_job(viewer, summary, report_html, viewer.csrf, can_consolidate=viewer.role == ADMIN, notice=notice)
        return _html(body)

    @signed_in(admin=True)
    async def consolidate(request: Request, viewer: Viewer) -> Response:
        try:
            if viewer.role != ADMIN:
                raise Forbidden("only platform admins consolidate jobs")
            await checked_form(request, viewer)
            outcome = await run_in_threadpool(lab.consolidate, request.path_params["name"])
        except LabelingError as exc:
            return failure(exc, viewer)
        return await job_page(request, viewer, notice=f"consolidated: {outcome['items_with_answers']} items have answers")

    @signed_in(admin=True)
    async def download(request: Request, viewer: Viewer) -> Response:
        name, kind = request.path_params["name"], request.path_params["kind"]
        try:
            await db(lambda s: workforce.require_job_access(s, viewer.user, jobs_module.get_job(s, name).id))
            data, media = await run_in_threadpool(_download, lab, name, kind)
        except LabelingError as exc:
            return failure(exc, viewer)
        disposition = "inline" if kind.endswith((".png", ".html")) else f'attachment; filename="{name}-{kind}"'
        return Response(data, media_type=media, headers={**_BASE_HEADERS, "Content-Disposition": disposition, "Cache-Control": "no-store"})

    routes = [
        Route("/", home),
        Route("/signin", signin_page, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
        Route("/invite/{token}", invitation_page, methods=["GET"]),
        Route("/invite/{token}", accept_invitation, methods=["POST"]),
        Route("/jobs/{name}/work", start_working),
        Route("/task/{token}", task),
        Route("/task/{token}/submit", submit, methods=["POST"]),
        Route("/task/{token}/release", release, methods=["POST"]),
        Route("/image", image),
        Route("/static/{name}", static),
        Route("/admin", admin_home),
        Route("/admin/teams", create_team, methods=["POST"]),
        Route("/admin/teams/{team}/invite", invite, methods=["POST"]),
        Route("/admin/jobs", create_job, methods=["POST"]),
        Route("/admin/jobs/{name}", signed_in(job_page, admin=True)),
        Route("/admin/jobs/{name}/consolidate", consolidate, methods=["POST"]),
        Route("/admin/jobs/{name}/download/{kind}", download),
    ]
    app = Starlette(routes=routes)
    app.state.labeling = lab
    app.state.signer = signer
    return app


def _team_names(s, ids: set[int]) -> set[str]:
    from sqlalchemy import select

    from openmaker.labeling.tables import Team

    return set(s.scalars(select(Team.name).where(Team.id.in_(ids or {-1}))))


def _report_fragment(report, name: str) -> str:
    """The report's tables for the job page (the standalone HTML report's body)."""
    from openmaker.labeling.report_render import render

    html = render(report, "html", title=name)
    start, end = html.find("<body>"), html.rfind("</body>")
    return html[start + len("<body>") : end] if start >= 0 and end > start else ""


def _download(lab: Labeling, name: str, kind: str) -> tuple[bytes, str]:
    if kind == "results.csv":
        return lab.export(name, "results").encode(), "text/csv; charset=utf-8"
    if kind == "labels.csv":
        return lab.export(name, "labels").encode(), "text/csv; charset=utf-8"
    if kind == "output.manifest":
        return lab.export(name, "manifest").encode(), "application/jsonlines; charset=utf-8"
    if kind.startswith("report."):
        fmt = kind.split(".", 1)[1]
        media = {"md": "text/markdown", "csv": "text/csv", "json": "application/json", "html": "text/html"}.get(fmt)
        if media is None:
            raise LabelingError(f"no download {kind!r}")
        return lab.report_text(name, fmt).encode(), f"{media}; charset=utf-8"
    if kind == "chart.png":
        import tempfile
        from pathlib import Path

        from openmaker.labeling.report_render import chart_png

        with tempfile.TemporaryDirectory() as tmp:
            path = chart_png(lab.report(name), Path(tmp) / "chart.png", title=name)
            return path.read_bytes(), "image/png"
    raise LabelingError(f"no download {kind!r}")
