"""Who may call what: every handler checks the signed-in user on the server, and says no in the user's words.

Hiding a tab is not access control — any event can be called over HTTP by a signed-in user —
so each handler is wrapped by `only(store, role)`, which reads the username from the request
(set by our sign-in, `app.sign_in`, never sent by the page) and refuses other roles before the
handler runs. Each handler takes the request as Gradio documents it, a ``request: gr.Request``
parameter, and finds the signed-in username in ``request.username``.

The same wrapper keeps the server log readable: a user's mistake (what the libraries refuse with a
message, `fairskin_core.errors.USER_MISTAKES`) is logged as one line with its reason and shown as that message,
while any other exception — a fault in the code — reaches Gradio unchanged, which logs its traceback.
"""

from __future__ import annotations

import functools
import inspect
import logging
import textwrap
from collections.abc import Mapping

import gradio as gr

from fairskin_core.errors import USER_MISTAKES
from review_data.accounts import role_of
from review_data.store import ReviewStore

from .messages import said, toast

logger = logging.getLogger(__name__)

def refused(action: str, username: str | None, reason: object) -> None:
    """Log a user's mistake as one line with its reason: no traceback, that is kept for faults in the code."""
    logger.info("%s refused for %s: %s", action, username or "no signed-in user", textwrap.shorten(str(reason), 400, placeholder=" …"))


def only(store: ReviewStore, role: str, fields: Mapping[str, str] | None = None):
    """Decorate a handler so that only users of ``role`` can run it.

    The handler has a ``request: gr.Request`` parameter, which Gradio fills in (it sees the handler's own signature
    through `functools.wraps`). A `gr.Error` or one of the libraries' `USER_MISTAKES` it raises is logged in one line and shown as a
    pop-up with its message, the parameters it names called by their labels in ``fields`` (the tab's, see `said`).
    """

    def decorate(fn):
        parameters = list(inspect.signature(fn).parameters)
        if "request" not in parameters:
            raise TypeError(f"{fn.__qualname__} needs a `request: gr.Request` parameter for `only` to check its user")
        position = parameters.index("request")
        action = f"{fn.__module__.rpartition('.')[2]}.{fn.__name__}"

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            request = args[position] if position < len(args) else kwargs.get("request")
            username = getattr(request, "username", None)
            if role_of(store, username) != role:
                refused(action, username, f"needs a signed-in {role} account")
                raise gr.Error(f"This needs a signed-in {role} account.", print_exception=False)
            try:
                return fn(*args, **kwargs)
            except gr.Error as exc:
                refused(action, username, exc.message)
                exc.print_exception = False
                raise
            except USER_MISTAKES as exc:
                refused(action, username, exc)
                raise gr.Error(toast(said(exc, fields)), print_exception=False) from None

        return wrapper

    return decorate
