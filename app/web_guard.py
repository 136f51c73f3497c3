"""The web surface's own rules, applied to every request before either Gradio app sees it.

Gradio's defaults suit a public demo, not a study whose export holds the answer key: it echoes
any ``Origin`` with credentials allowed once the host is not localhost, has a route that hands its
own sign-in's token to any page (``/gradio_api/token``), and serves or accepts files on every
mount. `WebGuard` (pure ASGI, outermost) owns the policy instead:

- **No foreign origin.** A request whose ``Origin`` is not this server's own (its ``Host``, or
  the ``X-Forwarded-Host`` a reverse proxy sets) is refused before Gradio sees it, and no
  ``Access-Control-Allow-*`` header ever leaves: the server needs none, its pages call their own
  origin. (Starlette's CORS middleware on the parent app, which Gradio documents as switching its
  own CORS headers off, would do the second half too, but made "Save & next" under 20 reviewers
  about 20% slower at the median here, 241 vs 203 ms: measured in docs/benchmarks.md.)
- **Cookies** ``SameSite=Lax`` (never sent by another site's forms or scripts), ``Secure`` when the
  request came over HTTPS (directly, or ``X-Forwarded-Proto`` from a trusted proxy): the session
  cookie (`app.sessions`) is set so, and any other cookie is made so.
- **Every page** ``X-Frame-Options: DENY``, ``frame-ancestors 'none'``, ``nosniff``, ``Referrer-Policy: same-origin``.
- **Closed routes**: ``/gradio_api/token`` and ``openapi.json`` on both mounts; uploads on both (no
  component takes one); on the reviewers' mount every Gradio file route (their page shows images
  through the server's own ``/review/image`` route only). ``GET /logout`` only from the app's own pages.
- **Bodies capped** (the reviewers' answers are a few kilobytes), and ``queue/join`` for an event
  the app does not have is a 404, not a logged KeyError.

The sign-in itself, with its back-off, is `app.sign_in`.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
FRAME_ANCESTORS = "frame-ancestors 'none'"
CLOSED_EVERYWHERE = re.compile(r"/(gradio_api/)?(token|openapi\.json|upload|upload_progress)/?$")
GRADIO_FILES = re.compile(r"/(gradio_api/)?(file=|stream/|proxy=)")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


@dataclass
class GuardedMount:
    """One Gradio app's place on the server and what it may receive."""

    prefix: str  # "" for the app at the root, "/admin" for the admins'
    max_body: int  # bytes
    serves_files: bool  # whether Gradio's file routes are open on it
    events: frozenset[int] = frozenset()  # the ids of the events its queue runs


def _host(netloc: str, scheme: str) -> str:
    """``host[:port]`` lower-cased, without the scheme's default port."""
    netloc = netloc.lower()
    host, colon, port = netloc.rpartition(":")
    if not colon or "]" in port:  # no port (an IPv6 address's last colon is inside its brackets)
        return netloc
    return host if port == _DEFAULT_PORTS.get(scheme) else netloc


def same_origin(origin: str, headers: Headers) -> bool:
    """Whether the browser's ``Origin`` is the address this request was sent to (directly, or through a proxy)."""
    parts = urlsplit(origin)
    if parts.scheme not in _DEFAULT_PORTS or not parts.netloc:
        return False  # "null" (sandboxed frames, files) and anything odd
    origin_host = _host(parts.netloc, parts.scheme)
    served_as = [headers.get("host", ""), *headers.get("x-forwarded-host", "").split(",")[:1]]
    return any(origin_host == _host(value.strip(), parts.scheme) for value in served_as if value.strip())


def route_path(scope: Scope) -> str:
    """The request's path on this server: without the prefix a reverse proxy serves it under (uvicorn's ``--root-path``,
    which it puts in front of ``path``)."""
    path, root = scope["path"], scope.get("root_path", "")
    return (path[len(root):] or "/") if root and path.startswith(root) else path


def _plain(status: int, text: str, headers: dict | None = None) -> PlainTextResponse:
    return PlainTextResponse(text, status_code=status, headers=headers)


class WebGuard:
    """ASGI middleware: the rules in the module docstring, for the server's mounts (longest prefix first)."""

    def __init__(self, app: ASGIApp, mounts: list[GuardedMount]):
        self.app = app
        self.mounts = sorted(mounts, key=lambda m: -len(m.prefix))

    def _mount(self, path: str) -> tuple[GuardedMount, str]:
        for mount in self.mounts:
            if path == mount.prefix or path.startswith(mount.prefix + "/"):
                return mount, path[len(mount.prefix):] or "/"
        return self.mounts[-1], path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        secure = scope.get("scheme") == "https"
        send = self._hardened(send, secure)
        mount, path = self._mount(route_path(scope))
        refusal = self._refusal(scope, headers, mount, path)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        body = await self._body(receive, mount.max_body, headers)
        if body is None:
            await _plain(413, f"Request body over {mount.max_body:,} bytes refused.")(scope, receive, send)
            return
        if re.fullmatch(r"/(gradio_api/)?queue/join/?", path) and not self._known_event(body, mount):
            await JSONResponse({"detail": "No such event in this app."}, status_code=404)(scope, _replay(body), send)
            return
        await self.app(scope, _replay(body, receive), send)

    def _refusal(self, scope: Scope, headers: Headers, mount: GuardedMount, path: str) -> PlainTextResponse | None:
        """A response that refuses the request outright, or None."""
        origin = headers.get("origin")
        if origin is not None and not same_origin(origin, headers):
            logger.warning("refused a %s %s from another origin (%s)", scope["method"], scope["path"], origin[:100])
            return _plain(403, "Requests from other sites are refused.")
        if CLOSED_EVERYWHERE.fullmatch(path) or (not mount.serves_files and GRADIO_FILES.match(path)):
            return _plain(404, "Not found.")
        if re.fullmatch(r"/logout/?", path) and not self._from_own_page(headers):
            logger.warning("refused a sign-out link followed from another site (%s)", headers.get("referer", "")[:100])
            return _plain(403, "Sign out with the link on the app's own page.")
        return None

    @staticmethod
    def _from_own_page(headers: Headers) -> bool:
        """A navigation the app's own page started (or the address typed in), never one from another site."""
        site = headers.get("sec-fetch-site")
        if site is not None:
            return site in ("same-origin", "none")
        referer = headers.get("referer")
        return referer is None or same_origin(referer, headers)

    @staticmethod
    async def _body(receive: Receive, limit: int, headers: Headers) -> bytes | None:
        """The whole request body, or None once it is over ``limit`` bytes (said by Content-Length, or counted)."""
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    @staticmethod
    def _known_event(body: bytes, mount: GuardedMount) -> bool:
        try:
            fn_index = json.loads(body).get("fn_index")
        except (ValueError, AttributeError):
            return True  # not JSON, or not an object: Gradio's own validation answers 422
        return not isinstance(fn_index, int) or fn_index in mount.events

    @staticmethod
    def _hardened(send: Send, secure: bool) -> Send:
        """``send``, with the security headers added, CORS headers removed and cookies made SameSite=Lax (Secure on HTTPS)."""

        async def hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name in [k for k in headers if k.startswith("access-control-")]:
                    del headers[name]
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                policy = headers.get("content-security-policy")
                headers["content-security-policy"] = f"{policy}; {FRAME_ANCESTORS}" if policy else FRAME_ANCESTORS
                cookies = headers.getlist("set-cookie")
                if cookies:
                    del headers["set-cookie"]
                    for cookie in cookies:
                        headers.append("set-cookie", _lax_cookie(cookie, secure))
            await send(message)

        return hardened


def _lax_cookie(cookie: str, secure: bool) -> str:
    parts = [p.strip() for p in cookie.split(";") if p.strip() and p.strip().split("=")[0].lower() != "samesite"]
    if secure and not any(p.lower() == "secure" for p in parts):
        parts.append("Secure")
    return "; ".join([*parts, "SameSite=Lax"])


def _replay(body: bytes, then: Receive | None = None) -> Receive:
    """A ``receive`` that hands the buffered body on once, then the server's own (which waits for the client to go)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await then() if then is not None else {"type": "http.disconnect"}

    return receive
