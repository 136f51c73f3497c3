"""Who may call what: every handler checks the signed-in user on the server, and says no in the user's words.

Hiding a tab is not access control — any event can be called over HTTP by a signed-in user —
so each handler is wrapped by `only(store, role)`, which reads the username from the request
(set by Gradio's login, never sent by the page) and refuses other roles before the handler runs.

The same wrapper keeps the server log readable: a user's mistake (what the libraries refuse with a
message, see `USER_MISTAKES`) is logged as one line with its reason and shown as that message,
while any other exception — a fault in the code — reaches Gradio unchanged, which logs its traceback.
"""

from __future__ import annotations

import functools
import inspect
import logging
import textwrap
import typing

import gradio as gr

from review_data.accounts import role_of
from review_data.store import ReviewStore

from .messages import toast

logger = logging.getLogger(__name__)

# What fairskin_core and review_data raise for input they refuse (ManifestError, ModelFolderError, StudyError,
# ReviewError, AccountError, SamplingError, ImageFileError... are all ValueErrors), with a message for the
# person; the command line treats the same exceptions as one-line errors (app/cli.py).
USER_MISTAKES = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError)


def signed_in(request: gr.Request | None) -> str | None:
    return getattr(request, "username", None) if request is not None else None


def refused(action: str, username: str | None, reason: object) -> None:
    """Log a user's mistake as one line with its reason: no traceback, that is kept for faults in the code."""
    logger.info("%s refused for %s: %s", action, username or "no signed-in user", textwrap.shorten(str(reason), 400, placeholder=" …"))


def only(store: ReviewStore, role: str):
    """Decorate a handler so that only users of ``role`` can run it; it receives their username.

    The wrapped handler gets the signed-in username as an extra last argument; Gradio sees a
    ``request: gr.Request`` parameter in its place and fills it in. A `gr.Error` or one of
    `USER_MISTAKES` it raises is logged in one line and shown as a pop-up with its message.
    """

    def decorate(fn):
        signature = inspect.signature(fn)
        *kept, username_slot = signature.parameters.values()
        # A default, so the signature stays valid after parameters that have one (gr.Progress).
        request = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request)
        hints = {k: v for k, v in typing.get_type_hints(fn).items() if k not in (username_slot.name, "return")}
        action = f"{fn.__module__.rpartition('.')[2]}.{fn.__name__}"

        @functools.wraps(fn)
        def wrapper(*args):
            *inputs, request = args
            username = signed_in(request)
            if role_of(store, username) != role:
                refused(action, username, f"needs a signed-in {role} account")
                raise gr.Error(f"This needs a signed-in {role} account.", print_exception=False)
            try:
                return fn(*inputs, username)
            except gr.Error as exc:
                refused(action, username, exc.message)
                exc.print_exception = False
                raise
            except USER_MISTAKES as exc:
                refused(action, username, exc)
                raise gr.Error(toast(exc), print_exception=False) from None

        # Gradio finds gr.Request / gr.SelectData parameters through these two.
        del wrapper.__wrapped__
        wrapper.__signature__ = signature.replace(parameters=[*kept, request], return_annotation=inspect.Signature.empty)
        wrapper.__annotations__ = {**hints, "request": gr.Request}
        return wrapper

    return decorate
