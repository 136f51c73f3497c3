"""What the app says to the person at the screen: what they typed shown as typed, and what is missing asked for.

gr.Markdown renders HTML as well as Markdown, so every value a person typed goes through `plain`
(`fairskin_core.markdown_text`, where the libraries' Markdown views use it too).
"""

from __future__ import annotations

import html

import gradio as gr

from fairskin_core.errors import ParameterError
from fairskin_core.markdown_text import plain as plain  # the app's one `plain`, re-exported


def missing_input(*inputs: tuple[object, str]) -> str | None:
    """The request of the first (value, request) pair whose value is empty or blank, else None.

    Checked before the library is called, whose messages about missing values are written for the
    command line (``--name``) or show Python's None."""
    for value, request in inputs:
        if value is None or (isinstance(value, str) and not value.strip()):
            return request
    return None


def ask_for_missing(*inputs: tuple[object, str]) -> None:
    """Stop the event with a pop-up asking for the first missing input (see `missing_input`)."""
    request = missing_input(*inputs)
    if request:
        raise gr.Error(request, print_exception=False)


def toast(text: object) -> str:
    """``text`` for a gr.Error pop-up, which renders HTML: shown as written, its line breaks kept."""
    return html.escape(str(text), quote=False).replace("\n", "<br>")


# The field in which a person sets each library parameter a refusal may name (fairskin_core.errors.ParameterError).
FIELDS = {"fst": "Fitzpatrick skin type", "diagnosis": "Diagnosis", "n": "Images", "seed": "Seed", "steps": "Steps",
          "guidance": "Guidance", "scheduler": "Scheduler", "size": "Image size", "strength": "Strength",
          "stable_diffusion": "Stable Diffusion model", "loras": "LoRAs", "textual_inversions": "Learned tokens",
          "source_manifest": "Source images", "source_ids": "Source images"}


def said(exc: Exception) -> str:
    """A library's refusal in the page's words: each parameter it names called by its field's label."""
    return exc.say(lambda parameter: f"“{FIELDS.get(parameter, parameter)}”") if isinstance(exc, ParameterError) else str(exc)
