"""What the app says to the person at the screen: what they typed shown as typed, and what is missing asked for.

gr.Markdown renders HTML as well as Markdown (and $$…$$ as LaTeX), so a username like
``Dr Smith <b>x</b>`` or a path with ``**`` in it would be rendered instead of shown: every
value a person typed (names, paths, manifest values, errors that quote them) goes through `plain`.
"""

from __future__ import annotations

import html
import re

import gradio as gr

from fairskin_core.errors import ParameterError

# What Markdown gives a meaning to within a line (Gradio's: GFM, $$ LaTeX). An underscore between
# two letters or digits never starts or ends emphasis, so names like image_id are left as they are.
_MARKUP = re.compile(r"[\\`*~\[\]#$]|(?<![^\W_])_|_(?![^\W_])")


def plain(text: object) -> str:
    """``text`` as Markdown that shows it literally, on one line (its line breaks as <br>), to put inside a sentence."""
    escaped = _MARKUP.sub(lambda match: "\\" + match.group(), html.escape(str(text), quote=False))
    return escaped.replace("\n", "<br>")


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
