"""Each app's sign-in, sign-out and session check: our own routes, in front of the Gradio apps.

The apps are mounted with Gradio's documented ``auth_dependency`` (a callable that takes the request and
returns the username, or None): `app.sessions.Sessions.username`, which reads our own session cookie.
Gradio then answers 401 to every route of an app the browser is not signed in to, and fills
``gr.Request.username`` for every handler. The routes here, registered before the mounts, hand out
and take back that cookie, for the reviewers' app at ``/`` and the admins' at ``/admin/``:

- ``GET login``: a plain HTML form. ``POST login`` checks the password behind the back-off
  (`review_data.sign_in_throttle`), logs every failure with its address, opens a session and sends
  the browser on to the app; a script (no ``text/html`` in its ``Accept``) gets ``{"success": true}``,
  or a 400 with ``{"detail": why}``.
- ``GET logout``: ends the user's sessions in that app (from the app's own pages only: `app.web_guard`).
- ``GET session``: 204 while the browser is signed in, else 401; the reviewer's page asks, and says
  when it has been signed out (a new password, a disabled account, a restart).

`SignInFirst` sends a browser that opens an app's page without a session to that app's sign-in form.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass

import fastapi
from fastapi import Form
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from review_data.accounts import authenticate
from review_data.sign_in_throttle import SignInThrottle
from review_data.store import ReviewStore

from .sessions import Sessions
from .web_guard import route_path

logger = logging.getLogger(__name__)

WRONG = "Incorrect username or password."
FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · sign in</title>
<style>
  body {{ font-family: system-ui, sans-serif; max-width: 26rem; margin: 12vh auto; padding: 0 1rem; color: #1f2937; }}
  label {{ display: block; margin: 1rem 0 .25rem; font-weight: 600; }}
  input {{ width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem; }}
  button {{ margin-top: 1.25rem; padding: .55rem 1.5rem; font-size: 1rem; font-weight: 600; color: #fff; background: #ea580c;
           border: 0; border-radius: .4rem; cursor: pointer; }}
  button:hover, button:focus-visible {{ background: #c2410c; }}
  .refused {{ color: #b91c1c; }}
</style></head>
<body><h1>{title}</h1><p>{message}</p>{refusal}
<form method="post" action="login">
  <label for="username">Username</label><input id="username" name="username" autocomplete="username" required autofocus>
  <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Login</button>
</form></body></html>
"""


@dataclass
class SignInApp:
    """One app's sign-in: where it is mounted, its sessions, who may sign in to it and what its form says."""

    prefix: str  # "" for the reviewers' app, "/admin" for the admins'
    sessions: Sessions
    roles: tuple[str, ...]  # the account roles it signs in
    title: str
    message: str


def add_sign_in(server: fastapi.FastAPI, store: ReviewStore, app: SignInApp, throttle: SignInThrottle) -> None:
    """Register ``app``'s login, logout and session routes on ``server`` (before the app is mounted, so they come first)."""

    def form(refusal: str = "", status_code: int = 200, headers: dict | None = None) -> HTMLResponse:
        said = f'<p class="refused" role="alert">{html.escape(refusal)}</p>' if refusal else ""
        page = FORM.format(title=html.escape(app.title), message=html.escape(app.message), refusal=said)
        return HTMLResponse(page, status_code=status_code, headers={"cache-control": "no-store", **(headers or {})})

    def refused(request: fastapi.Request, why: str, headers: dict | None = None) -> Response:
        if _from_browser(request):
            return form(why, 400, headers)
        return JSONResponse({"detail": why}, status_code=400, headers=headers)

    @server.get(f"{app.prefix}/login", response_class=HTMLResponse)
    def login_form():
        return form()

    @server.post(f"{app.prefix}/login")
    def login(request: fastapi.Request, username: str = Form(""), password: str = Form("")):
        """The password checked behind the back-off; a session opened, or the refusal logged with the client's address."""
        username, address = username.strip(), request.client.host if request.client else "unknown"
        wait = throttle.wait(username, address)
        if wait > 0:
            logger.warning("sign-in refused for %r from %s: too many wrong passwords, next try in %.0f s", username[:64], address, wait)
            seconds = max(1, round(wait))
            return refused(request, f"Too many failed sign-ins: try again in {seconds} s.", {"retry-after": str(seconds)})
        if authenticate(store, username, password) not in app.roles:  # a wrong password, a disabled account, another role
            count = throttle.failed(username, address)
            logger.warning("sign-in failed for %r from %s (%d in a row)", username[:64], address, count)
            return refused(request, WRONG)
        throttle.succeeded(username, address)
        response = RedirectResponse("./", status_code=303) if _from_browser(request) else JSONResponse({"success": True})
        app.sessions.sign_in(username, response, secure=request.url.scheme == "https")
        return response

    @server.get(f"{app.prefix}/logout")
    def logout(request: fastapi.Request):
        response = RedirectResponse("./", status_code=302)
        app.sessions.sign_out(request, response)
        return response

    @server.get(f"{app.prefix}/session")
    def session(request: fastapi.Request):
        signed_in = app.sessions.username(request) is not None
        return Response(status_code=204 if signed_in else 401, headers={"cache-control": "no-store"})


def _from_browser(request: fastapi.Request) -> bool:
    """A browser's form (it asks for a page back), not a script."""
    return "text/html" in request.headers.get("accept", "")


class SignInFirst:
    """ASGI middleware: a browser opening an app's page without a session goes to that app's sign-in form (Gradio would
    answer 401). ``pages``: each app's page path ("/", "/admin/") → its sessions."""

    def __init__(self, app: ASGIApp, pages: dict[str, Sessions]):
        self.app = app
        self.pages = pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path = route_path(scope)
            sessions = self.pages.get(path if path.endswith("/") else f"{path}/")
            if sessions is not None and sessions.username(HTTPConnection(scope)) is None:
                # relative, so that it also works under a reverse proxy's prefix: "/admin" → "admin/login"
                location = "login" if path.endswith("/") else f"{path.rsplit('/', 1)[1]}/login"
                await RedirectResponse(location, status_code=303)(scope, receive, send)
                return
        await self.app(scope, receive, send)
