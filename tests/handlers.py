"""An event's handler run in this process as Gradio runs it for a signed-in user, and what it shows read by elem_id."""

from __future__ import annotations

import gradio as gr


def run_event(apps: list[gr.Blocks], api_name: str, *inputs, user: str) -> dict:
    """What the handler of the event ``api_name`` shows ({component: value}) when ``user`` triggers it with ``inputs``."""
    handler = next(f.fn for blocks in apps for f in blocks.fns.values() if f.api_name == api_name)
    return handler(*inputs, gr.Request(username=user))


def by_id(shown: dict) -> dict:
    """What a handler shows, by the elem_id of each component that has one."""
    return {component.elem_id: value for component, value in shown.items() if component.elem_id}
