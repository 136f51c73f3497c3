"""Gradio's sign-ins, checked against the review database on every request.

Gradio keeps one token → username dict per mounted app and trusts a token until the server stops.
A reviewer whose password was changed, or whose account was disabled (in the Studies tab or with
`fairskin study`, from any process), must not stay signed in in a browser left open, so each app's
dict is replaced by this one: it remembers when each token was issued and forgets it once the
account's sign-ins have ended since (`review_data.accounts.session_is_current`).
"""

from __future__ import annotations

import time

from review_data.accounts import session_is_current
from review_data.store import ReviewStore


class SignedInSessions(dict):
    """token → username, as Gradio reads and writes it, with each token's sign-in time kept beside it."""

    def __init__(self, store: ReviewStore):
        super().__init__()
        self._store = store
        self._signed_in_at: dict[str, float] = {}

    def __setitem__(self, token: str, username: str) -> None:  # Gradio's sign-in, right after the password was checked
        self._signed_in_at[token] = time.time()
        super().__setitem__(token, username)

    def __delitem__(self, token: str) -> None:  # Gradio's sign-out
        self._signed_in_at.pop(token, None)
        super().__delitem__(token)

    def get(self, token, default=None):
        """The signed-in username of ``token``, or ``default`` (and the token forgotten) once its sign-in has ended."""
        username = super().get(token)
        if username is None:
            return default
        if not session_is_current(self._store, username, self._signed_in_at.get(token, 0.0)):
            self._signed_in_at.pop(token, None)  # pop, not del: two requests of one browser may both get here
            super().pop(token, None)
            return default
        return username
