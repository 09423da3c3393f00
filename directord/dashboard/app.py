"""The dashboard's web application (aiohttp): one page, a JSON API and a stream of changes.

It talks to the server only through the user API (the CLI's unix socket), in
worker threads, so it adds nothing to the server's loop but the requests it
makes, and runs beside an active or a standby server alike.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import web

from directord import orchestration
from directord.dashboard import views
from directord.dashboard.feed import Feed
from directord.exceptions import DirectordError, NotFound
from directord.user import UserClient

LOG = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")
COOKIE = "directord_token"
EVENT_KEEPALIVE_S = 15.0
SUBMIT_HEADER = "X-Directord-Submit"  # a header no cross-site form can send: submissions need it
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
FEED = web.AppKey("feed", Feed)
SETTINGS = web.AppKey("settings", dict)


def create_app(user: UserClient, interval: float, token: str = "", allow_submit: bool = False,
               secure_cookie: bool = False) -> web.Application:
    """The application; ``token`` (when set) is required on every request but the login page."""
    app = web.Application(middlewares=[_headers, _authenticated])
    app[FEED] = Feed(user)
    app[SETTINGS] = {"token": token, "allow_submit": allow_submit, "interval": interval,
                     "secure_cookie": secure_cookie, "user": user}
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    app.router.add_static("/static/", STATIC)
    app.on_startup.append(_start_feed)
    app.on_cleanup.append(_stop_feed)
    return app


# -- middlewares -------------------------------------------------------------
@web.middleware
async def _headers(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects and errors carry them too
        exc.headers.update(HEADERS)
        raise
    if not response.prepared:  # a stream (events) sent its own before its first byte
        response.headers.update(HEADERS)
    return response


@web.middleware
async def _authenticated(request: web.Request, handler: Any) -> web.StreamResponse:
    token = request.app[SETTINGS]["token"]
    if not token or request.path == "/login" or _presented(request, token):
        return await handler(request)
    if request.path.startswith("/api/"):
        return web.json_response({"error": "a token is required"}, status=401,
                                 headers={"WWW-Authenticate": "Bearer"})
    raise web.HTTPFound("/login")


def _presented(request: web.Request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    given = header[7:] if header.startswith("Bearer ") else request.cookies.get(COOKIE, "")
    return hmac.compare_digest(given.encode(), token.encode())


# -- pages -------------------------------------------------------------------
async def _index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def _login_page(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "login.html")


async def _login(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    form = await request.post()
    if not settings["token"] or not hmac.compare_digest(str(form.get("token", "")).encode(),
                                                        settings["token"].encode()):
        raise web.HTTPFound("/login?failed=1")
    response = web.HTTPFound("/")
    response.set_cookie(COOKIE, settings["token"], httponly=True, samesite="Strict",
                        secure=settings["secure_cookie"])
    raise response


# -- the API -----------------------------------------------------------------
def _ask(request: web.Request, name: str, default: int) -> int:
    try:
        return int(request.query.get(name, default))
    except ValueError:
        raise _error(web.HTTPBadRequest, f"{name} must be an integer") from None


def _summary(app: web.Application) -> dict[str, Any]:
    feed = app[FEED]
    return {"version": feed.version, "error": feed.error, "nodes": len(feed.nodes), "jobs": len(feed.jobs),
            "allow_submit": app[SETTINGS]["allow_submit"]}


async def _state(request: web.Request) -> web.Response:
    return web.json_response(_summary(request.app))


async def _nodes(request: web.Request) -> web.Response:
    feed = request.app[FEED]
    every = [*feed.nodes, *feed.gone.values()]
    rows = views.node_rows(every, request.query.get("filter", ""), request.app[SETTINGS]["interval"])
    return web.json_response({"error": feed.error, "version": feed.version,
                              **views.page(rows, _ask(request, "offset", 0), _ask(request, "limit", views.MAX_PAGE))})


async def _jobs(request: web.Request) -> web.Response:
    feed = request.app[FEED]
    status = request.query.get("status", "")
    if status and status not in views.STATUSES:
        raise _error(web.HTTPBadRequest, f"status must be one of {', '.join(views.STATUSES)}")
    rows = views.job_rows(feed.jobs.values(), status, request.query.get("filter", ""))
    parent = request.query.get("parent", "")
    if parent:
        rows = [row for row in rows if row["parent_id"] == parent]
    return web.json_response({"error": feed.error, "version": feed.version,
                              **views.page(rows, _ask(request, "offset", 0), _ask(request, "limit", views.PAGE))})


async def _orchestrations(request: web.Request) -> web.Response:
    feed = request.app[FEED]
    rows = views.orchestration_rows(feed.jobs.values(), request.query.get("filter", ""))
    return web.json_response({"error": feed.error, "version": feed.version,
                              **views.page(rows, _ask(request, "offset", 0), _ask(request, "limit", views.PAGE))})


async def _call(request: web.Request, op: str, **fields: Any) -> Any:
    """One user-API request from a worker thread; its error as a JSON HTTP error."""
    user: UserClient = request.app[SETTINGS]["user"]
    try:
        return await asyncio.to_thread(user.call, op, **fields)
    except NotFound as exc:
        raise _error(web.HTTPNotFound, str(exc)) from None
    except DirectordError as exc:
        raise _error(web.HTTPBadGateway, str(exc)) from None


def _error(kind: type[web.HTTPException], message: str) -> web.HTTPException:
    """An HTTP error whose body is ``{"error": message}``."""
    return kind(text=json.dumps({"error": message}), content_type="application/json")


async def _job(request: web.Request) -> web.Response:
    return web.json_response(await _call(request, "job_info", job_id=request.match_info["job_id"]))


async def _timeline(request: web.Request) -> web.Response:
    parent = request.match_info["parent_id"]
    jobs = await _call(request, "timeline", parent_id=parent)
    analysis = await _call(request, "analyze", parent_id=parent)
    return web.json_response({"parent_id": parent, "jobs": jobs, "analysis": analysis})


async def _events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: ``change`` (with what ``/api/state`` answers) whenever the feed sees one."""
    feed = request.app[FEED]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
    await response.prepare(request)
    version = -1
    try:
        while True:
            seen = await feed.changed(version, EVENT_KEEPALIVE_S)
            if seen != version:
                version = seen
                await response.write(f"event: change\ndata: {json.dumps(_summary(request.app))}\n\n".encode())
            else:
                await response.write(b": keep-alive\n\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return response


async def _submit(request: web.Request) -> web.Response:
    """``{"verb", "text", "targets"}`` for one job, or ``{"orchestration": YAML}``; the job ids."""
    if not request.app[SETTINGS]["allow_submit"]:
        return web.json_response({"error": "this dashboard is read-only (start it with --allow-submit)"}, status=403)
    if request.headers.get(SUBMIT_HEADER) != "1":
        return web.json_response({"error": f"missing the {SUBMIT_HEADER} header"}, status=400)
    try:
        body = await request.json()
        jobs = _jobs_of(body if isinstance(body, dict) else {})
    except (ValueError, DirectordError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(await _call(request, "submit", jobs=[job.to_dict() for job in jobs]))


def _jobs_of(body: dict[str, Any]) -> list[Any]:
    if body.get("orchestration"):
        return orchestration.orchestration_jobs(orchestration.parse_orchestrations(str(body["orchestration"]),
                                                                                  "the submitted orchestration"))
    targets = [t for t in str(body.get("targets", "")).replace(",", " ").split() if t]
    if not body.get("verb"):
        raise ValueError("a job needs a verb")
    return [orchestration.build_job(str(body["verb"]), str(body.get("text", "")),
                                    extra={"targets": targets} if targets else None)]


ROUTES = (
    ("GET", "/", _index), ("GET", "/login", _login_page), ("POST", "/login", _login),
    ("GET", "/api/state", _state), ("GET", "/api/nodes", _nodes), ("GET", "/api/jobs", _jobs),
    ("GET", "/api/orchestrations", _orchestrations), ("GET", "/api/job/{job_id}", _job),
    ("GET", "/api/timeline/{parent_id}", _timeline), ("GET", "/api/events", _events),
    ("POST", "/api/submit", _submit),
)


# -- lifecycle ---------------------------------------------------------------
async def _start_feed(app: web.Application) -> None:
    app["feed_task"] = asyncio.create_task(app[FEED].run())


async def _stop_feed(app: web.Application) -> None:
    app["feed_task"].cancel()
