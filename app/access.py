"""Who may call what: every handler checks the signed-in user on the server.

Hiding a tab is not access control — any event can be called over HTTP by a signed-in user —
so each handler is wrapped by `only(store, role)`, which reads the username from the request
(set by Gradio's login, never sent by the page) and refuses other roles before the handler runs.
"""

from __future__ import annotations

import functools
import inspect
import typing

import gradio as gr

from review_data.accounts import role_of
from review_data.store import ReviewStore


def signed_in(request: gr.Request | None) -> str | None:
    return getattr(request, "username", None) if request is not None else None


def only(store: ReviewStore, role: str):
    """Decorate a handler so that only users of ``role`` can run it; it receives their username.

    The wrapped handler gets the signed-in username as an extra last argument; Gradio sees a
    ``request: gr.Request`` parameter in its place and fills it in.
    """

    def decorate(fn):
        signature = inspect.signature(fn)
        *kept, username_slot = signature.parameters.values()
        # A default, so the signature stays valid after parameters that have one (gr.Progress).
        request = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request)
        hints = {k: v for k, v in typing.get_type_hints(fn).items() if k not in (username_slot.name, "return")}

        @functools.wraps(fn)
        def wrapper(*args):
            *inputs, request = args
            username = signed_in(request)
            if role_of(store, username) != role:
                raise gr.Error(f"This needs a signed-in {role} account.", print_exception=False)
            return fn(*inputs, username)

        # Gradio finds gr.Request / gr.SelectData parameters through these two.
        del wrapper.__wrapped__
        wrapper.__signature__ = signature.replace(parameters=[*kept, request], return_annotation=inspect.Signature.empty)
        wrapper.__annotations__ = {**hints, "request": gr.Request}
        return wrapper

    return decorate
