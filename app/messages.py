"""What the app says to the person at the screen: what they typed shown as typed, and what is missing asked for.

gr.Markdown renders HTML as well as Markdown, so every value a person typed goes through `plain`
(`fairskin_core.markdown_text`, where the libraries' Markdown views use it too).
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import gradio as gr

from fairskin_core.errors import worded
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


# The field in which a person sets each library parameter a refusal may name (fairskin_core.errors.NamesParameters), tab by
# tab: one parameter may have different labels in two tabs (steps: the Generate tab's "Steps", the Fairness tab's "Steps
# per classifier").
GENERATE_FIELDS = {"fst": "Fitzpatrick skin type", "diagnosis": "Diagnosis", "n": "Images", "seed": "Seed", "steps": "Steps",
                   "guidance": "Guidance", "scheduler": "Scheduler", "size": "Image size", "strength": "Strength",
                   "stable_diffusion": "Stable Diffusion model", "loras": "LoRAs", "textual_inversions": "Learned tokens",
                   "source_manifest": "Source images", "source_ids": "Source images", "model": "Model",
                   "allow_download": "fetch the model from the Hugging Face hub if it is not here"}
FAIRNESS_FIELDS = {"train": "Real training manifest", "test": "Test manifest", "synthetic": "Synthetic manifest",
                   "oracle": "Oracle manifest", "seeds": "Seeds", "steps": "Steps per classifier", "tone_audit": "Tone audit",
                   "drop_overlapping_test_images": "Leave out test images seen in training"}
STUDY_FIELDS = {"accept_tone_difference": "Create even if the skin tones of the arms differ strongly"}


def said(exc: Exception, fields: Mapping[str, str] | None = None) -> str:
    """A library's refusal in the page's words: each parameter it names called by its field's label in ``fields`` (the
    tab's ``*_FIELDS``), in quotes; a parameter without a field by its own name."""
    labels = fields or {}
    return worded(exc, lambda parameter: f"“{labels.get(parameter, parameter)}”")
