"""The Review tab: a dermatologist rates a study's images one at a time, blinded.

Blinding in the browser: the study's stored files are never handed to Gradio (they would be
served under their own paths); their pixels are re-encoded in one fixed, uncompressed format
(BMP) into Gradio's cache under the hash of the bytes, so every served file of a study has the
same format, dimensions and byte size, no metadata, and a name that says nothing. No
download or share buttons, no feedback, no counts of real and synthetic images.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import time
from pathlib import Path

import gradio as gr
from PIL import Image

from review_data.answers import ABCD_ANSWERS, ABCD_QUESTIONS
from review_data.session import ReviewError, item_at, progress, reviewer_studies, save_rating
from review_data.store import ReviewStore

from .access import only
from .messages import ask_for_missing, plain

SERVED_FORMAT = "bmp"  # uncompressed: byte size depends on dimensions only, never on content
REALISM_LABEL = "Realism — 1: clearly artificial … 7: indistinguishable from a real dermoscopic image (keys 1–7)"
SHORTCUTS = """
<script>
document.addEventListener("keydown", (event) => {
  const form = document.querySelector("#review-form");
  if (!form || form.offsetParent === null || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target && (target.tagName === "TEXTAREA" || (target.tagName === "INPUT" && target.type === "text"))) return;
  const click = (selector) => {
    const element = document.querySelector(selector);
    if (element && element.offsetParent !== null) { element.click(); event.preventDefault(); }  // hidden controls do nothing
  };
  const key = event.key.toLowerCase();
  // Enter on a focused button is that button's own press (the browser's): pressing Save & next too would act twice.
  const onButton = target && target.closest && target.closest("button");
  if (key === "r") click('#answer-call input[value="real"]');
  else if (key === "s") click('#answer-call input[value="synthetic"]');
  else if (/^[1-7]$/.test(key)) click(`#answer-realism input[value="${key}"]`);
  else if (key === "enter" && !onButton) click("#save-next");
  else if (key === "arrowleft") click("#back");
});
</script>
"""


def served_file(study_image: Path, cache_dir: str) -> str:
    """The study image as an uncompressed BMP in Gradio's cache, named by the hash of its bytes.

    Written by us rather than by gr.Image: Gradio rewrites a cached file in place when two
    sessions show the same image at once, so a concurrent download could read it truncated.
    Here the file appears atomically (written under a temporary name, then renamed).
    """
    buffer = io.BytesIO()
    Image.open(study_image).convert("RGB").save(buffer, format="BMP")  # pixels only, no metadata
    data = buffer.getvalue()
    path = Path(cache_dir) / hashlib.sha256(data).hexdigest() / f"image.{SERVED_FORMAT}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, partial = tempfile.mkstemp(dir=path.parent, suffix=".partial")
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(partial, path)
    return str(path)


# Study images are small (at most 512 px, often 64-128): show them filling the frame.
CSS = "#review-image img { width: 100%; height: 100%; object-fit: contain; }"


def _progress_html(rated: int, total: int, position: int | None) -> str:
    shown = f"Image {position + 1} of {total} · " if position is not None and position < total else ""
    return (
        f'<div id="review-progress"><div>{shown}<b>{rated} / {total}</b> rated</div>'
        f'<progress max="{total}" value="{rated}" style="width:100%"></progress></div>'
    )


def build_review_tab(store: ReviewStore):
    """Lay out the Review tab and wire its events.

    Returns the study picker and the function that fills it for a reviewer, for the page load."""
    reviewer = only(store, "reviewer")
    state = gr.State({})  # server-side, per browser session: study, position, when the image was shown
    with gr.Row():
        study = gr.Dropdown(label="Study", choices=[], scale=4, elem_id="review-study")
        start = gr.Button("Start / continue", variant="primary", scale=1, elem_id="review-start")
    status = gr.HTML(elem_id="review-status")
    with gr.Column(visible=False, elem_id="review-form") as form:
        with gr.Column(elem_id="review-answering") as answering:  # hidden once every image is rated; Back stays
            image = gr.Image(
                interactive=False,
                show_label=False,
                buttons=["fullscreen"],
                height=560,
                elem_id="review-image",
            )
            call = gr.Radio([("Real", "real"), ("Synthetic", "synthetic")], label="Real or synthetic? (keys R / S)", elem_id="answer-call")
            realism = gr.Radio([str(i) for i in range(1, 8)], label=REALISM_LABEL, elem_id="answer-realism")
            with gr.Row():
                checklist = [
                    gr.Radio(list(ABCD_ANSWERS), label=question, elem_id=f"answer-{key.replace('_', '-')}")
                    for key, question in ABCD_QUESTIONS.items()
                ]
            comment = gr.Textbox(label="Comment (optional)", max_length=2000, lines=2, elem_id="answer-comment")
        message = gr.Markdown(elem_id="review-message")
        with gr.Row():
            back = gr.Button("◀ Back (←)", elem_id="back")
            save = gr.Button("Save & next ▶ (Enter)", variant="primary", elem_id="save-next")
    answers = [call, realism, *checklist, comment]
    # The message stays last, and the answers at their places: clients of the API read them by position.
    shown = [state, status, form, image, *answers, answering, save, message]

    def show(study_name: str, position: int, username: str):
        """Everything the page shows for one position (or the thank-you note past the end)."""
        rated, total, _ = progress(store, study_name, username)
        if position >= total:
            done = f"<p><b>Study complete. All {total} images are rated. Thank you!</b> You can go back to change an answer.</p>"
            blank = [None] * (len(answers) - 1) + [""]  # no image, no answers, an empty comment
            return [{"study": study_name, "position": total}, _progress_html(rated, total, None) + done, gr.update(visible=True),
                    None, *blank, gr.update(visible=False), gr.update(visible=False), ""]
        item = item_at(store, study_name, username, position)
        pixels = served_file(item.file, image.GRADIO_CACHE)
        saved = item.answers or {}
        values = [
            saved.get("call"), str(saved["realism"]) if saved else None, *[saved.get(k) for k in ABCD_QUESTIONS], saved.get("comment", "")
        ]
        new_state = {"study": study_name, "position": position, "shown_at": time.monotonic()}
        return [new_state, _progress_html(rated, total, position), gr.update(visible=True), pixels, *values,
                gr.update(visible=True), gr.update(visible=True), ""]

    @reviewer
    def on_start(study_name: str, username: str):
        ask_for_missing((study_name, "Choose a study first."))
        _, _, first_open = progress(store, study_name, username)
        return show(study_name, first_open, username)

    @reviewer
    def on_save(current: dict, call: str, realism: str, a: str, b: str, c: str, d: str, comment: str, username: str):
        if "study" not in current or current["position"] >= progress(store, current["study"], username)[1]:
            raise gr.Error("Nothing to save here: press Start / continue.", print_exception=False)
        item = item_at(store, current["study"], username, current["position"])
        values = dict(zip(("call", "realism", *ABCD_QUESTIONS, "comment"), (call, realism, a, b, c, d, comment), strict=True))
        try:
            save_rating(store, current["study"], username, item.image_id, values, time.monotonic() - current["shown_at"])
        except ReviewError as exc:
            return [gr.skip()] * (len(shown) - 1) + [f"**Not saved:** {plain(exc)}"]
        _, total, first_open = progress(store, current["study"], username)
        following = current["position"] + 1
        # After the last image, go back to any image still unrated (skipped by going back).
        return show(current["study"], following if following < total else first_open, username)

    @reviewer
    def on_back(current: dict, username: str):
        if "study" not in current:
            raise gr.Error("Press Start / continue first.", print_exception=False)
        return show(current["study"], max(current["position"] - 1, 0), username)

    def studies(username: str):
        """The study picker for a signed-in reviewer (called by the page load, which checks the role)."""
        names = reviewer_studies(store, username)
        return gr.update(choices=names, value=names[0] if len(names) == 1 else None)

    start.click(on_start, study, shown, api_name="review_start", api_visibility="undocumented")
    save.click(on_save, [state, *answers], shown, api_name="review_save", api_visibility="undocumented")
    back.click(on_back, state, shown, api_name="review_back", api_visibility="undocumented")
    return study, studies
