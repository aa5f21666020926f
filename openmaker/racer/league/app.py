"""The league's web app: public leaderboard pages, sign-in for racers, submissions, and the JSON API.

Pages (public): ``/`` (races), ``/races/{name}`` (race and leaderboard; signed-in racers also submit
there and see their own submissions), ``/season`` (points table). Sign-in takes the racer's alias and
API key and sets an HttpOnly, SameSite=Strict session cookie (a random token, stored hashed); every POST
from a page carries the session's CSRF token (the sign-in form uses a double-submit cookie). Pages send
a strict Content-Security-Policy: the league's own script and stylesheet only.

JSON API (public): ``GET /api/races``, ``/api/races/{name}``, ``/api/races/{name}/leaderboard``,
``/api/season``. With ``Authorization: Bearer <key>``: ``POST /api/races/{name}/submissions`` (the body is
the .tar.gz or .zip of a model folder, raw or as the multipart field ``model``), ``GET
/api/races/{name}/submissions`` and ``GET /api/submissions/{id}`` (your own; a web session works too),
and for admins ``POST /api/races`` (JSON: name, track, opens, closes, timing, laps, penalty, min_laps,
max_submissions, season) and ``POST /api/races/{name}/close``. Errors are ``{"error": "..."}`` with
400/401/403/404/409/413.
"""

from __future__ import annotations

import secrets
from importlib.resources import files
from typing import Any, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from openmaker.racer.errors import RacerError
from openmaker.racer.league import pages
from openmaker.racer.league.api import League, Viewer
from openmaker.racer.league.errors import Forbidden, LeagueError, NotFound, TooLarge, Unauthorized

SESSION_COOKIE = "omr_session"
FORM_COOKIE = "omr_form"
_STATIC = {"league.css": "text/css", "league.js": "text/javascript"}
_BASE_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_MULTIPART_SLACK = 64 * 1024  # multipart framing around the archive


def _html(body: str, status: int = 200) -> HTMLResponse:
    headers = {**_BASE_HEADERS, "Content-Security-Policy": _CSP, "Cache-Control": "no-store"}
    return HTMLResponse(body, status_code=status, headers=headers)


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers={**_BASE_HEADERS, "Cache-Control": "no-store"})


def _error(exc: RacerError) -> JSONResponse:
    response = _json({"error": str(exc)}, getattr(exc, "status", 400))
    if isinstance(exc, Unauthorized):
        response.headers["WWW-Authenticate"] = 'Bearer realm="openmaker league"'
    return response


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=_BASE_HEADERS)


def create_league_app(league: League | None = None, *, worker: Any = None) -> Starlette:
    """The web app over ``league`` (default: the settings' database). ``worker`` (a LeagueWorker) is woken on submissions."""
    lg = league or League()

    async def call(fn: Callable[..., Any], *args, **kwargs) -> Any:
        return await run_in_threadpool(fn, *args, **kwargs)

    def secure(request: Request) -> bool:
        return request.url.scheme == "https"

    async def page_viewer(request: Request) -> tuple[Viewer | None, str]:
        found = await call(lg.session_viewer, request.cookies.get(SESSION_COOKIE))
        return found if found is not None else (None, "")

    async def api_viewer(request: Request, *, session_ok: bool = False) -> Viewer:
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, key = header.partition(" ")
            if scheme.lower() != "bearer" or not key.strip():
                raise Unauthorized("the Authorization header must be 'Bearer <API key>'")
            return await call(lg.authenticate, key.strip())
        if session_ok:
            viewer, _ = await page_viewer(request)
            if viewer is not None:
                return viewer
        raise Unauthorized("no API key given: send 'Authorization: Bearer <API key>'")

    def form_cookie(response: Response, value: str, request: Request) -> Response:
        response.set_cookie(FORM_COOKIE, value, httponly=True, samesite="strict", secure=secure(request), max_age=3600)
        return response

    async def bounded_body(request: Request) -> bytes:
        limit = lg.max_archive_bytes + _MULTIPART_SLACK
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise TooLarge(f"the upload is {int(declared)} bytes; the limit is {lg.max_archive_bytes}")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"the upload is larger than the limit of {lg.max_archive_bytes} bytes")
            chunks.append(chunk)
        body = b"".join(chunks)
        request._body = body  # request.form() parses what was read
        return body

    async def upload(request: Request) -> tuple[bytes, str]:
        """The archive of a submission: a multipart field ``model``, or the raw body."""
        body = await bounded_body(request)
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form(max_files=1, max_fields=10)
            item = form.get("model")
            if item is None or isinstance(item, str):
                raise LeagueError("the form has no file field 'model' (the .tar.gz or .zip of the model folder)")
            data = await item.read()
            name = item.filename or "the archive"
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            await form.close()
            request.state.fields = fields
            return data, name
        request.state.fields = {}
        if not body:
            raise LeagueError("the request has no body: send the .tar.gz or .zip of the model folder")
        return body, "the archive"

    def after_submit() -> None:
        if worker is not None:
            worker.wake()

    # --- pages ----------------------------------------------------------------------------

    async def index(request: Request) -> Response:
        viewer, csrf = await page_viewer(request)
        return _html(pages.index(await call(lg.races), viewer, csrf))

    async def race_page(request: Request, *, notice: str = "", error: str = "", status: int = 200) -> Response:
        name = request.path_params["name"]
        viewer, csrf = await page_viewer(request)
        try:
            board = await call(lg.leaderboard, name)
            mine = await call(lg.submissions, name, racer=viewer) if viewer is not None else None
        except LeagueError as exc:
            return _html(pages.error_page(exc.status, str(exc), viewer, csrf), exc.status)
        submitted = request.query_params.get("submitted", "")
        if not notice and submitted.isdigit() and mine is not None and any(s["id"] == int(submitted) for s in mine):
            notice = f"Submission {submitted} is in the queue; this page updates when it has been raced."
        body = pages.race_page(board["race"], board["rows"], viewer=viewer, csrf=csrf, mine=mine, notice=notice, error=error)
        return _html(body, status)

    async def submit_page(request: Request) -> Response:
        name = request.path_params["name"]
        viewer, csrf = await page_viewer(request)
        if viewer is None:
            return _redirect("/signin")
        try:
            data, filename = await upload(request)
            if not secrets.compare_digest(str(request.state.fields.get("csrf", "")), csrf):
                raise Forbidden("the form expired or did not come from this site; reload the page and try again")
            sub = await call(lg.submit, name, data, racer=viewer, archive_name=filename)
        except LeagueError as exc:
            return await race_page(request, error=str(exc), status=exc.status)
        after_submit()
        return _redirect(f"/races/{pages.u(name)}?submitted={sub['id']}")

    async def season_page(request: Request) -> Response:
        viewer, csrf = await page_viewer(request)
        try:
            season = await call(lg.season, request.query_params.get("season") or None)
        except LeagueError as exc:
            return _html(pages.error_page(exc.status, str(exc), viewer, csrf), exc.status)
        return _html(pages.season_page(season, await call(lg.seasons), viewer=viewer, csrf=csrf))

    async def signin_page(request: Request) -> Response:
        value = secrets.token_urlsafe(24)
        return form_cookie(_html(pages.signin(csrf=value)), value, request)

    async def signin(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=10)
        alias, key = str(form.get("alias", "")).strip(), str(form.get("key", ""))
        expected = request.cookies.get(FORM_COOKIE)
        value = secrets.token_urlsafe(24)
        if not expected or not secrets.compare_digest(str(form.get("csrf", "")), expected):
            message = "the form expired or did not come from this site; try again"
            return form_cookie(_html(pages.signin(message, value, alias), 403), value, request)
        try:
            viewer = await call(lg.authenticate, key, alias)
            token, _ = await call(lg.start_session, viewer)
        except LeagueError as exc:
            return form_cookie(_html(pages.signin(str(exc), value, alias), exc.status), value, request)
        response = _redirect("/")
        response.set_cookie(
            SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure(request), max_age=12 * 3600
        )
        response.delete_cookie(FORM_COOKIE)
        return response

    async def signout(request: Request) -> Response:
        viewer, csrf = await page_viewer(request)
        if viewer is not None:
            form = await request.form(max_files=0, max_fields=10)
            if not secrets.compare_digest(str(form.get("csrf", "")), csrf):
                return _html(pages.error_page(403, "the form expired; reload the page and try again", viewer, csrf), 403)
            await call(lg.end_session, request.cookies.get(SESSION_COOKIE))
        response = _redirect("/")
        response.delete_cookie(SESSION_COOKIE)
        return response

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _STATIC:
            return Response(f"no static file {name!r}", status_code=404, media_type="text/plain", headers=_BASE_HEADERS)
        data = files("openmaker.racer").joinpath("static", name).read_bytes()
        return Response(data, media_type=_STATIC[name], headers={**_BASE_HEADERS, "Cache-Control": "public, max-age=300"})

    # --- JSON API ---------------------------------------------------------------------------

    def api(handler):
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except RacerError as exc:  # LeagueError and the track loader's RacerError
                return _error(exc)

        return endpoint

    @api
    async def api_races(request: Request) -> Response:
        return _json({"races": await call(lg.races, request.query_params.get("season") or None)})

    @api
    async def api_create_race(request: Request) -> Response:
        viewer = await api_viewer(request)
        if not viewer.is_admin:
            raise Forbidden(f"only league admins create races; {viewer.alias!r} is not one")
        try:
            spec = await request.json()
        except (ValueError, UnicodeDecodeError):
            raise LeagueError("the request body is not JSON") from None
        if not isinstance(spec, dict):
            raise LeagueError("the request body must be a JSON object")
        allowed = {"track", "opens", "closes", "timing", "laps", "penalty", "min_laps", "max_submissions", "season"}
        unknown = sorted(set(spec) - allowed - {"name"})
        if unknown:
            raise LeagueError(f"unknown race fields: {', '.join(unknown)}")
        missing = [k for k in ("name", "track", "opens", "closes") if k not in spec]
        if missing:
            raise LeagueError(f"a race needs {', '.join(missing)}")
        kwargs = {k: v for k, v in spec.items() if k in allowed}
        race = await call(lambda: lg.create_race(str(spec["name"]), by=viewer, **kwargs))
        return _json(race, 201)

    @api
    async def api_race(request: Request) -> Response:
        return _json(await call(lg.race, request.path_params["name"]))

    @api
    async def api_close(request: Request) -> Response:
        viewer = await api_viewer(request)
        return _json(await call(lambda: lg.close_race(request.path_params["name"], by=viewer)))

    @api
    async def api_leaderboard(request: Request) -> Response:
        return _json(await call(lg.leaderboard, request.path_params["name"]))

    @api
    async def api_season(request: Request) -> Response:
        season = await call(lg.season, request.query_params.get("season") or None)
        return _json({**season, "seasons": await call(lg.seasons)})

    @api
    async def api_submit(request: Request) -> Response:
        viewer = await api_viewer(request)
        name = request.path_params["name"]
        await call(lg.race, name)  # an unknown race is a 404 before the upload is read
        data, filename = await upload(request)
        sub = await call(lambda: lg.submit(name, data, racer=viewer, archive_name=filename))
        after_submit()
        return _json(sub, 201)

    @api
    async def api_my_submissions(request: Request) -> Response:
        viewer = await api_viewer(request, session_ok=True)
        everyone = request.query_params.get("all") in ("1", "true")
        subs = await call(lambda: lg.submissions(request.path_params["name"], racer=viewer, everyone=everyone))
        return _json({"submissions": subs})

    @api
    async def api_submission(request: Request) -> Response:
        viewer = await api_viewer(request, session_ok=True)
        raw = request.path_params["id"]
        if not raw.isdigit():
            raise NotFound(f"no submission {raw!r}")
        return _json(await call(lg.submission, int(raw), viewer=viewer))

    async def api_not_found(request: Request) -> Response:
        return _json({"error": f"no API endpoint {request.url.path}"}, 404)

    routes = [
        Route("/", index),
        Route("/races/{name}", race_page),
        Route("/races/{name}/submit", submit_page, methods=["POST"]),
        Route("/season", season_page),
        Route("/signin", signin_page, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
        Route("/static/{name}", static),
        Route("/api/races", api_races, methods=["GET"]),
        Route("/api/races", api_create_race, methods=["POST"]),
        Route("/api/races/{name}", api_race, methods=["GET"]),
        Route("/api/races/{name}/close", api_close, methods=["POST"]),
        Route("/api/races/{name}/leaderboard", api_leaderboard, methods=["GET"]),
        Route("/api/races/{name}/submissions", api_submit, methods=["POST"]),
        Route("/api/races/{name}/submissions", api_my_submissions, methods=["GET"]),
        Route("/api/submissions/{id}", api_submission, methods=["GET"]),
        Route("/api/season", api_season, methods=["GET"]),
        Route("/api/{rest:path}", api_not_found, methods=["GET", "POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.league = lg
    app.state.worker = worker
    return app


def run_league(
    host: str = "127.0.0.1",
    port: int = 8092,
    *,
    league: League | None = None,
    worker: bool = True,
    evaluator: Callable[..., dict] | None = None,
) -> None:
    """Serve the league (and, with ``worker``, race queued submissions in a thread) until Ctrl-C.

    A port in use is an ``OSError`` naming it.
    """
    import socket

    import uvicorn

    from openmaker.racer.league.queue import LeagueWorker

    lg = league or League()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}; is another league server running there? Use --port") from None
    runner = LeagueWorker(lg, evaluator) if worker else None
    server = uvicorn.Server(uvicorn.Config(create_league_app(lg, worker=runner), log_level="warning", lifespan="off"))
    if runner is not None:
        runner.start()
    try:
        server.run(sockets=[sock])
    finally:
        if runner is not None:
            runner.stop()
        sock.close()
