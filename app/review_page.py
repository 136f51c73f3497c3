"""The reviewer's page: a dermatologist rates a study's images one at a time, blinded, on one screen.

It is an app of its own (`app/server.py` serves it at ``/``; the admin tools live at ``/admin/``),
so a reviewer's browser never receives an admin component, a manifest path or a server folder.

Blinding in the browser: the study's stored files are never handed to Gradio. Their pixels are
re-encoded in one fixed, uncompressed format (BMP) into a cache folder under the hash of the
bytes, and served by ``/review/image/<hash>.bmp`` to signed-in reviewers only; so every served
file of a study has the same format, dimensions and byte size, no metadata, and a name that says
nothing. No download or share buttons, no feedback, no counts of real and synthetic images.

Speed: the page is told the next image's address and fetches it while the reviewer rates the
current one (`review_screen.js`), so "Save & next" draws it at once (`review_keys.js`); the form
waits, locked, until the server has stored the answer, and only then does the position move.
"""

from __future__ import annotations

import collections
import hashlib
import html
import io
import json
import os
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr
from PIL import Image

from review_data.accounts import role_of
from review_data.answers import ABCD_ANSWERS, ABCD_QUESTIONS, CERTAINTY
from review_data.session import (
    CANNOT_ASSESS,
    ReviewError,
    item_at,
    practice_item_at,
    practice_progress,
    progress,
    resume_study,
    reviewer_studies,
    save_cannot_assess,
    save_practice_rating,
    save_rating,
)
from review_data.store import ReviewStore

from .access import only
from .messages import ask_for_missing, plain

SERVED_FORMAT = "bmp"  # uncompressed: byte size depends on dimensions only, never on content
IMAGE_ROUTE = "review/image"  # relative: the page lives at the server's root (or under a proxy's prefix)
HERE = Path(__file__).parent
# one script, the screen first: the page's keys and buttons use what it sets up
HEAD = f"<script>{(HERE / 'review_screen.js').read_text()}\n{(HERE / 'review_keys.js').read_text()}</script>"
CSS = (HERE / "review_page.css").read_text()
REALISM_LABEL = "Realism (keys 1–7): 1 clearly artificial … 7 indistinguishable from real"
CERTAINTY_LABEL = "How sure? (G / L / V)"
ZOOM_TOOLBAR = """
<div id="zoom-toolbar" role="toolbar" aria-label="Zoom">
  <button type="button" data-zoom="out" title="Zoom out (−)" aria-label="Zoom out">−</button>
  <button type="button" data-zoom="in" title="Zoom in (+)" aria-label="Zoom in">+</button>
  <button type="button" data-zoom="native" title="Native pixels (X)">1:1</button>
  <button type="button" data-zoom="reset" title="Fit the frame (0)">Fit</button>
  <button type="button" data-zoom="fullscreen" title="Full screen (F)">Full screen</button>
  <label title="Keep the zoom and position for the next image (K)"><input type="checkbox" id="zoom-keep"> keep zoom</label>
  <label title="Show image pixels as sharp squares instead of smoothed (P)"><input type="checkbox" id="zoom-pixelated"> pixel-exact</label>
  <span id="zoom-level" aria-live="polite"></span>
</div>
"""
INSTRUCTIONS = """
### Before you start

You will see the study's images one at a time, in an order of your own. Some are real dermoscopic
photographs, some were made by a computer. **Nothing on the screen tells which is which**, and there is
no time limit. For each image answer:

1. **Real or synthetic?** Your best guess, even when unsure. Keys <kbd>R</kbd> / <kbd>S</kbd>. Where the study
   asks **how sure** you are: <kbd>G</kbd> a guess, <kbd>L</kbd> likely, <kbd>V</kbd> very sure.
2. **Realism, 1 to 7**: 1 = clearly artificial, 4 = could be either, 7 = indistinguishable from a real
   dermoscopic image. Keys <kbd>1</kbd> … <kbd>7</kbd>.
3. **The ABCD checklist**: would a dermatologist find each feature plausible in a real lesion of this kind?
   - **A — Asymmetry**: is the asymmetry of shape, colour and structure plausible?
   - **B — Border**: does the border look like a real lesion's (sharp, irregular, fading) rather than drawn?
   - **C — Colour**: are the colours and their variation (browns, black, blue-grey, red, white) realistic?
   - **D — Diameter**: is the size in the frame plausible for this kind of lesion?

   Answer with <kbd>Y</kbd> (yes), <kbd>N</kbd> (no), <kbd>U</kbd> (unsure): each key answers the first open
   question; <kbd>A</kbd>–<kbd>D</kbd> pick a question to change it.
4. A comment if you wish (optional; <kbd>M</kbd> goes to the comment box, <kbd>Esc</kbd> back to the image), then
   **Save & next** (<kbd>Enter</kbd>). <kbd>←</kbd> goes back to
   change an earlier answer; your answers are saved as you go, so you can stop and continue later.
5. An image you cannot judge at all (too blurred, a lesion you do not read): **Cannot assess** sets it aside, with
   the comment as the reason if you give one. It is counted apart, never as a guess.

**Looking closely**: the mouse wheel (or a pinch) zooms where you point, dragging pans,
<kbd>+</kbd> / <kbd>−</kbd> zoom, <kbd>X</kbd> shows native pixels, <kbd>0</kbd> fits the frame,
<kbd>F</kbd> is full screen, <kbd>K</kbd> keeps the zoom for the next image, <kbd>P</kbd> switches between smooth
and pixel-exact display. <kbd>H</kbd> shows these instructions again.
"""


class ShownImages:
    """Which served images each reviewer's page was given (shown, or named to fetch ahead): the only ones the image route
    hands that reviewer. The page got them from `item_at`, which shows a reviewer only images assigned to them, so a
    reviewer of one study never fetches another study's images, whatever name they try. In memory: a restart signs
    everyone out, and each page is given its images again."""

    def __init__(self) -> None:
        self._names: dict[str, set[str]] = collections.defaultdict(set)
        self._lock = threading.Lock()

    def grant(self, username: str, *names: str) -> None:
        with self._lock:
            self._names[username].update(names)

    def may_fetch(self, username: str | None, name: str) -> bool:
        with self._lock:
            return username is not None and name in self._names.get(username, ())


def served_image(study_image: Path, cache_dir: Path) -> tuple[str, int, int]:
    """(file name, width, height) of the study image's uncompressed BMP in ``cache_dir``, named by the hash of its name and bytes.

    The file appears atomically (written under a temporary name, then renamed), so a concurrent
    download never reads it half-written.
    """
    buffer = io.BytesIO()
    with Image.open(study_image) as opened:
        pixels = opened.convert("RGB")
    pixels.save(buffer, format="BMP")  # pixels only, no metadata
    data = buffer.getvalue()
    # The study file's opaque name is hashed too: a repeated image (the same pixels under another name) gets a name of its own.
    name = f"{hashlib.sha256(study_image.name.encode() + data).hexdigest()}.{SERVED_FORMAT}"
    path = cache_dir / name
    if not path.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        descriptor, partial = tempfile.mkstemp(dir=cache_dir, suffix=".partial")
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(partial, path)
    return name, *pixels.size


class ServedCopies:
    """The served copy of each study image, made once per server: study images never change."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._known: dict[Path, tuple[str, int, int]] = {}
        self._lock = threading.Lock()

    def __call__(self, study_image: Path) -> tuple[str, int, int]:
        with self._lock:
            known = self._known.get(study_image)
        if known is None:
            known = served_image(study_image, self.folder)
            with self._lock:
                self._known[study_image] = known
        return known


def control_id(answer: str) -> str:
    """The elem_id of the control of an answer ("call", "abcd_border" ...)."""
    return f"answer-{answer.replace('_', '-')}"


def _form_values(saved: dict) -> dict:
    """What the answer controls show for an image, by answer (call, realism, A, B, C, D, comment, certainty): its saved
    answers, or none yet."""
    realism, certainty = saved.get("realism"), saved.get("certainty")
    return {"call": saved.get("call"), "realism": None if realism is None else str(realism), **{k: saved.get(k) for k in ABCD_QUESTIONS},
            "comment": saved.get("comment", ""), "certainty": None if certainty is None else str(certainty)}


def _viewer_html(shown: tuple[str, int, int], following: tuple[str, int, int] | None, label: str, optimistic: bool,
                 values: dict) -> str:
    """The image frame: the picture, the address of the next one for the page to fetch ahead, and the answers the
    form is about to show for it (the page keeps the form locked until it shows them, so that nothing chosen in
    between is wiped out when Gradio draws them)."""
    name, width, height = shown
    after = f' data-next="{IMAGE_ROUTE}/{following[0]}"' if following else ""
    choices = {control_id(answer): value for answer, value in values.items() if answer != "comment"}  # the comment is typed
    return (
        f'<div id="review-viewer" tabindex="-1" aria-label="Study image: answer keys act here"'
        f' data-width="{width}" data-height="{height}" data-optimistic="{int(optimistic)}"{after}'
        f' data-answers="{html.escape(json.dumps(choices))}">'
        f'<img id="review-picture" src="{IMAGE_ROUTE}/{name}" alt="{html.escape(label)}" draggable="false"></div>'
    )


def _practice_html(position: int, total: int, truth: str | None, answered: str | None) -> str:
    """Where the reviewer is in the practice round; after an answer, what the image really was."""
    head = f'<div id="review-progress"><span>Practice image {position + 1} of {total} · <b>not counted</b></span></div>'
    if truth is None:
        return head
    verdict = "right" if truth == answered else "not this time"
    return (head + f'<p id="practice-answer" role="status">This image is <b>{truth}</b>; you answered {answered} ({verdict}). '
            f'Press Save &amp; next to go on.</p>')


def _progress_html(rated: int, total: int, position: int | None) -> str:
    shown = f"Image {position + 1} of {total} · " if position is not None and position < total else ""
    return (
        f'<div id="review-progress"><span>{shown}<b>{rated} / {total}</b> rated</span>'
        f'<progress max="{total}" value="{rated}" aria-label="images rated"></progress></div>'
    )


def build_review_page(store: ReviewStore, image_cache: Path, title: str, shown_images: ShownImages):
    """Lay out the reviewer's page and wire its events; study images are served from ``image_cache`` to the reviewers
    ``shown_images`` says were given them.

    Returns, for the page load: the signed-in line, the study picker, the function that fills it, and the function that
    chains the resume on that load."""
    reviewer = only(store, "reviewer")
    copy_of = ServedCopies(image_cache)
    state = gr.State({})  # server-side, per browser session: study, position, when the image was shown
    with gr.Row(elem_id="review-header", equal_height=True):  # one line: the image gets the screen's height
        gr.Markdown(f"**{title}** · blinded image review", elem_id="review-title")
        study = gr.Dropdown(label="Study", show_label=False, container=False, choices=[], scale=2, min_width=160,
                            elem_id="review-study")
        start = gr.Button("Start / continue", variant="primary", size="md", scale=0, min_width=150, elem_id="review-start")
        helper = gr.Button("Instructions (H)", size="md", scale=0, min_width=150, elem_id="review-help")
        account = gr.Markdown(elem_id="signed-in")
    with gr.Column(visible=False, elem_id="review-instructions") as instructions:
        gr.Markdown(INSTRUCTIONS)
        begin = gr.Button("Begin (Enter)", variant="primary", elem_id="review-begin")
    with gr.Row(visible=False, elem_id="review-form") as form:
        with gr.Column(scale=3, elem_id="review-image-column") as picture:
            gr.HTML(ZOOM_TOOLBAR, padding=False)
            image = gr.HTML(elem_id="review-image", padding=False)
        with gr.Column(scale=1, elem_id="review-controls"):
            status = gr.HTML(elem_id="review-status", padding=False)
            with gr.Column(elem_id="review-answering") as answering:  # hidden once every image is rated; Back stays
                with gr.Row(elem_id="review-call-row"):  # how sure, beside the call, where the study asks it
                    call = gr.Radio([("Real", "real"), ("Synthetic", "synthetic")], label="Real or synthetic? (R / S)",
                                    elem_id="answer-call")
                    certainty = gr.Radio([(label, str(level)) for level, label in CERTAINTY.items()], label=CERTAINTY_LABEL,
                                         visible=False, elem_id="answer-certainty")
                realism = gr.Radio([str(i) for i in range(1, 8)], label=REALISM_LABEL, elem_id="answer-realism")
                with gr.Column(elem_id="review-abcd"):
                    gr.HTML("ABCD: <kbd>Y</kbd> <kbd>N</kbd> <kbd>U</kbd> answer the marked question, <kbd>A</kbd>–<kbd>D</kbd> mark one",
                            elem_id="abcd-keys", padding=False)
                    checklist = {key: gr.Radio(list(ABCD_ANSWERS), label=question, elem_id=control_id(key))
                                 for key, question in ABCD_QUESTIONS.items()}
                comment = gr.Textbox(label="Comment (optional)", show_label=False, placeholder="Comment (optional): key M, Esc to leave",
                                     max_length=2000, lines=1, max_lines=3, elem_id="answer-comment")
            message = gr.Markdown(elem_id="review-message")
            with gr.Row(elem_id="review-buttons"):
                back = gr.Button("◀ Back (←)", elem_id="back", scale=1, min_width=90)
                unjudgeable = gr.Button("Cannot assess", elem_id="cannot-assess", scale=1, min_width=110)
                save = gr.Button("Save & next ▶ (Enter)", variant="primary", elem_id="save-next", scale=2, min_width=150)
    answers = {"call": call, "realism": realism, **checklist, "comment": comment, "certainty": certainty}
    # The message stays last, and the answers at their places: clients of the API read them by position.
    shown = [state, status, form, image, *answers.values(), answering, save, instructions, picture, message]

    def answering_image(new_state: dict, status_html: str, viewer: str, values: dict, asks_certainty: bool, first_visit: bool) -> dict:
        """An image to answer, its answers so far in the form (how sure, only where the study asks), after the instructions
        on a first visit."""
        return {state: new_state, status: status_html, form: gr.update(visible=not first_visit), image: viewer,
                **{answers[answer]: value for answer, value in values.items()},
                certainty: gr.update(value=values["certainty"], visible=asks_certainty), answering: gr.update(visible=True),
                save: gr.update(visible=True), instructions: gr.update(visible=first_visit), picture: gr.update(visible=True), message: ""}

    def show_practice(study_name: str, position: int, username: str, first_visit: bool = False, truth: str | None = None):
        """A practice image (its answer shown once given): the image stays until the reviewer goes on."""
        item = practice_item_at(store, study_name, username, position)
        saved = item.answers or {}
        values = _form_values(saved)
        served = copy_of(item.file)
        shown_images.grant(username, served[0])
        viewer = _viewer_html(served, None, f"Practice image {position + 1} of {item.total}",
                              optimistic=False, values=values)
        new_state = {"study": study_name, "position": position, "practice": True, "revealed": truth is not None,
                     "shown_at": time.monotonic()}
        return answering_image(new_state, _practice_html(position, item.total, truth, saved.get("call")), viewer, values,
                               item.asks_certainty, first_visit)

    def show(study_name: str, position: int, username: str, first_visit: bool = False):
        """Everything the page shows for one position (or the thank-you note past the end)."""
        rated, total, _ = progress(store, study_name, username)
        if position >= total:
            done = f"<p><b>Study complete. All {total} images are rated. Thank you!</b> You can go back to change an answer.</p>"
            blank = _form_values({})  # no image, no answers, an empty comment
            return {state: {"study": study_name, "position": total}, status: _progress_html(rated, total, None) + done,
                    form: gr.update(visible=True), image: "", **{answers[answer]: value for answer, value in blank.items()},
                    **{hidden: gr.update(visible=False) for hidden in (answering, save, instructions, picture)}, message: ""}
        item = item_at(store, study_name, username, position)
        values = _form_values(item.answers or {})
        served, following = copy_of(item.file), item.following and copy_of(item.following)
        shown_images.grant(username, served[0], *([following[0]] if following else []))
        viewer = _viewer_html(served, following, f"Study image {position + 1} of {total}", optimistic=True, values=values)
        new_state = {"study": study_name, "position": position, "image_id": item.image_id, "total": total, "shown_at": time.monotonic()}
        status_html = _progress_html(rated, total, position)
        if item.answers and item.answers.get(CANNOT_ASSESS):
            status_html += ('<p id="set-aside" role="status">You set this image aside: <b>cannot assess</b>. Answer it and Save '
                            '&amp; next to rate it after all.</p>')
        return answering_image(new_state, status_html, viewer, values, item.asks_certainty, first_visit)

    def open_study(study_name: str, username: str):
        ask_for_missing((study_name, "Choose a study first."))
        rated, _, first_open = progress(store, study_name, username)
        practised, practice_total = practice_progress(store, study_name, username)
        if rated == 0 and practised < practice_total:  # the practice round comes first, the instructions before it
            return show_practice(study_name, practised, username, first_visit=practised == 0)
        return show(study_name, first_open, username, first_visit=rated == 0 and practice_total == 0)

    @reviewer
    def on_start(study_name: str, request: gr.Request):
        return open_study(study_name, request.username)

    def on_page_load(study_name: str | None, request: gr.Request):
        """A page just signed in or reloaded goes straight back to work: the study `resume_study` picked opens at the
        reviewer's first unrated image (or the instructions, for a first visit); nothing for anyone else."""
        username = request.username
        if not study_name or role_of(store, username) != "reviewer":
            return gr.skip()  # every output as it is
        return open_study(study_name, username)

    @reviewer
    def on_begin(current: dict, request: gr.Request):
        """Leave the instructions: the image's time starts now."""
        if "study" not in current:
            raise gr.Error("Press Start / continue first.", print_exception=False)
        return {state: {**current, "shown_at": time.monotonic()}, instructions: gr.update(visible=False), form: gr.update(visible=True)}

    @reviewer
    def on_help(current: dict, request: gr.Request):
        return {instructions: gr.update(visible=True), form: gr.update(visible=False)}

    def on_practice_save(current: dict, values: dict, username: str):
        """A practice answer: saved apart from the study, then the truth; once seen, on to the next image."""
        study_name, position = current["study"], current["position"]
        if current.get("revealed"):
            practised, practice_total = practice_progress(store, study_name, username)
            if position + 1 < practice_total:
                return show_practice(study_name, position + 1, username)
            return {**show(study_name, progress(store, study_name, username)[2], username),
                    message: "**Practice over.** The study's images begin now; they are counted and no answer is shown."}
        item = practice_item_at(store, study_name, username, position)
        try:
            truth = save_practice_rating(store, study_name, username, item.image_id, values, time.monotonic() - current["shown_at"])
        except ReviewError as exc:
            return {message: f"**Not saved:** {plain(exc)}"}
        return show_practice(study_name, position, username, truth=truth)

    @reviewer
    def on_save(current: dict, call: str, realism: str, a: str, b: str, c: str, d: str, comment: str, certainty: str | None,
                request: gr.Request):
        username = request.username
        values = dict(zip(("call", "realism", *ABCD_QUESTIONS, "comment", "certainty"), (call, realism, a, b, c, d, comment, certainty),
                          strict=True))
        if current.get("practice"):
            return on_practice_save(current, values, username)
        if "image_id" not in current:  # no study started, or every image already rated
            raise gr.Error("Nothing to save here: press Start / continue.", print_exception=False)
        # the image shown is in the server-side state: the browser cannot name another
        return answered(current, username, "Not saved", lambda: save_rating(
            store, current["study"], username, current["image_id"], values, time.monotonic() - current["shown_at"]))

    def answered(current: dict, username: str, refused_as: str, store_answer) -> dict:
        """Store the answer to the image on screen (``store_answer``), then show the next image; after the last, any image
        still open (skipped by going back). A refusal keeps this image, and says why after ``refused_as``."""
        try:
            store_answer()
        except ReviewError as exc:
            return {message: f"**{refused_as}:** {plain(exc)}"}
        following = current["position"] + 1
        return show(current["study"], following if following < current["total"] else progress(store, current["study"], username)[2],
                    username)

    @reviewer
    def on_cannot_assess(current: dict, comment: str, request: gr.Request):
        """Set the image aside as one the reviewer cannot judge (the comment is the reason), and go on."""
        username = request.username
        if current.get("practice"):
            return {message: "**Not set aside:** practice images are for practising the answers."}
        if "image_id" not in current:
            raise gr.Error("Nothing to set aside here: press Start / continue.", print_exception=False)
        return answered(current, username, "Not set aside", lambda: save_cannot_assess(
            store, current["study"], username, current["image_id"], comment, time.monotonic() - current["shown_at"]))

    @reviewer
    def on_back(current: dict, request: gr.Request):
        if "study" not in current:
            raise gr.Error("Press Start / continue first.", print_exception=False)
        if current.get("practice"):
            return show_practice(current["study"], max(current["position"] - 1, 0), request.username)
        return show(current["study"], max(current["position"] - 1, 0), request.username)

    def studies(username: str):
        """The study picker for a signed-in reviewer (called by the page load, which checks the role), at the study to resume."""
        names = reviewer_studies(store, username)
        return {study: gr.update(choices=names, value=resume_study(store, username) or (names[0] if len(names) == 1 else None))}

    hidden = {"api_visibility": "undocumented"}
    refresh = {"fn": None, "js": "() => window.fairskinReview.refresh()"}  # focus, sizes and the image fetched ahead
    start.click(on_start, study, shown, api_name="review_start", **hidden).then(**refresh)
    begin.click(on_begin, state, [state, instructions, form], api_name="review_begin", **hidden).then(**refresh)
    helper.click(on_help, state, [instructions, form], api_name="review_help", **hidden).then(**refresh)
    # No progress animation on the 15 outputs: the page shows the next image itself, and the animation held the
    # browser's main thread for ~50 ms right when that image should be painted.
    save.click(on_save, [state, *answers.values()], shown, api_name="review_save", show_progress="hidden", **hidden).then(
        None, js="() => window.fairskinReview.settle()"
    )
    back.click(on_back, state, shown, api_name="review_back", **hidden).then(**refresh)
    unjudgeable.click(on_cannot_assess, [state, comment], shown, api_name="review_cannot_assess", **hidden).then(**refresh)

    def resume_after(page_load) -> None:
        """Chain the resume on the page load that fills the study picker (see `on_page_load`)."""
        page_load.then(on_page_load, study, shown, api_name="review_resume", show_progress="hidden", **hidden).then(**refresh)

    return account, study, studies, resume_after
