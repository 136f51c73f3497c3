"""Sign-in sessions of our own: a random token in an HttpOnly cookie, checked against the review database on every request.

Each app (the reviewers' at ``/``, the admins' at ``/admin/``) keeps its own sessions under its own
cookie, so signing in or out of one leaves the other as it is. A token names a sign-in: who, and
when. A reviewer whose password was changed, or whose account was disabled (in the Studies tab or
with `fairskin study`, from any process), must not stay signed in in a browser left open, so every
lookup asks the database whether the account's sign-ins have ended since
(`review_data.accounts.session_is_current`). Kept in memory, by the token's hash: a restart signs
everyone out, and nothing in memory is a cookie that would work.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.responses import Response

from review_data.accounts import session_is_current
from review_data.store import ReviewStore

MAX_SESSIONS = 100_000  # per app; the oldest are forgotten first (sign-ins a script repeats cannot exhaust memory)


@dataclass(frozen=True)
class _SignIn:
    username: str
    signed_in_at: float  # Unix seconds, compared with the account's sessions_ended_at


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    """One app's signed-in browsers: token (in the cookie named ``cookie``) → who signed in, and when; thread-safe."""

    def __init__(self, store: ReviewStore, cookie: str):
        self.store = store
        self.cookie = cookie
        self._sign_ins: dict[str, _SignIn] = {}
        self._lock = threading.Lock()

    def username(self, request: HTTPConnection) -> str | None:
        """Who the request's cookie signed in, or None: no cookie, an unknown token, or a sign-in that has ended."""
        token = request.cookies.get(self.cookie)
        if not token:
            return None
        key = _digest(token)
        with self._lock:
            sign_in = self._sign_ins.get(key)
        if sign_in is None:
            return None
        if not session_is_current(self.store, sign_in.username, sign_in.signed_in_at):
            with self._lock:
                self._sign_ins.pop(key, None)  # pop: two requests of one browser may both get here
            return None
        return sign_in.username

    def sign_in(self, username: str, response: Response, secure: bool) -> None:
        """Open a session for ``username`` (whose password was just checked) and give the browser its cookie."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._sign_ins[_digest(token)] = _SignIn(username, time.time())
            while len(self._sign_ins) > MAX_SESSIONS:
                self._sign_ins.pop(next(iter(self._sign_ins)))
        response.set_cookie(self.cookie, token, path="/", httponly=True, samesite="lax", secure=secure)

    def sign_out(self, request: HTTPConnection, response: Response) -> None:
        """End every session of the request's user in this app (signing out anywhere signs out everywhere), and drop the
        browser's cookie."""
        username = self.username(request)
        with self._lock:
            for key in [k for k, sign_in in self._sign_ins.items() if sign_in.username == username]:
                del self._sign_ins[key]
        response.delete_cookie(self.cookie, path="/", httponly=True, samesite="lax")
