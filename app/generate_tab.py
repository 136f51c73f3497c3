"""The Generate tab (admins): ask a model for a skin type and diagnosis, check what came back, keep the good ones."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import gradio as gr
import numpy as np

from fairskin_core.analysis.pipeline import analyse_image
from fairskin_core.fst import FST_TYPES, ROMAN
from fairskin_core.generation.backends import DEFAULT_MODEL, FSTModelBackend
from fairskin_core.generation.batch import PlannedImage, add_to_set, provenance_row
from fairskin_core.generation.model_folder import INDEX_FILE, ModelFolderError, read_index
from fairskin_core.generation.schedulers import SCHEDULERS
from fairskin_core.workspace import workspace_dir
from review_data.store import ReviewStore

from .access import only
from .messages import ask_for_missing, plain

DEFAULT_CHOICE = "default (shipped with fairskin)"
MAX_IMAGES = 16


def model_choices() -> list[str]:
    """The default model and every model folder under the workspace's ``models/``."""
    trained = sorted(str(p.parent) for p in workspace_dir("models").glob(f"*/{INDEX_FILE}"))
    return [DEFAULT_CHOICE, *trained]


def _default_diagnoses() -> list[str]:
    """The shipped model's diagnoses, from its index (no weights loaded); none if it is missing."""
    try:
        return list(read_index(DEFAULT_MODEL)["diagnoses"])
    except ModelFolderError:
        return []


@lru_cache(maxsize=2)
def _backend(model: str) -> FSTModelBackend:
    if model != DEFAULT_CHOICE and not Path(model).is_dir():  # the library's message here is the CLI's (--model)
        raise ModelFolderError(f"{model}: no such folder on the server; choose a model from the list")
    return FSTModelBackend(None if model == DEFAULT_CHOICE else Path(model))


def _caption(index: int, requested: int, seed: int, image: np.ndarray) -> str:
    analysis = analyse_image(image)
    head = f"#{index + 1} · seed {seed} · asked {ROMAN[requested]}"
    if analysis.fst is None:
        return f"{head} · ITA not measurable ({analysis.status}) ⚠"
    miss = " ⚠ misses the requested type" if abs(analysis.fst - requested) > 1 else ""
    return f"{head} · measured {ROMAN[analysis.fst]} (ITA {round(analysis.ita) + 0}°){miss}"


def generate(model: str, fst_label: str, diagnosis: str, count: float, seed: float, steps: float, guidance: float, scheduler: str,
             progress=None):
    """Images for one request, captioned with their measured skin type; also what `keep` needs."""
    backend = _backend(model)
    fst = {v: k for k, v in ROMAN.items()}[fst_label]
    count, seed, steps = int(count), int(seed), int(steps)
    seeds = [seed + i for i in range(count)]
    images = backend.generate([fst] * count, [diagnosis] * count, seeds, steps=steps, guidance=guidance, scheduler=scheduler,
                              progress=(lambda done, total: progress(done / total, desc=f"denoising step {done} of {total}"))
                              if progress else None)
    rows = [provenance_row(PlannedImage(i, fst, diagnosis, s), backend, steps, guidance, scheduler) for i, s in enumerate(seeds)]
    gallery = [(image, _caption(i, fst, s, image)) for i, (image, s) in enumerate(zip(images, seeds, strict=True))]
    return gallery, {"images": list(images), "rows": rows}


def keep(set_name: str, selected: list[str], generated: dict) -> str:
    """Add the ticked images to the named synthetic set in the workspace; returns a message."""
    name = set_name.strip()
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        return "**Not saved:** name the set with letters, digits, - or _ (it becomes a folder in the workspace's `synthetic/`)."
    if not generated or not selected:
        return "**Not saved:** generate images and tick the ones to keep first."
    picked = [int(label.split()[0].lstrip("#")) - 1 for label in selected]
    manifest = add_to_set(workspace_dir("synthetic") / name, [generated["images"][i] for i in picked],
                          [generated["rows"][i] for i in picked])
    return f"Added {len(picked)} image(s) to {plain(manifest)}."


def build_generate_tab(store: ReviewStore):
    """Lay out the Generate tab and wire its events."""
    admin = only(store, "admin")
    generated = gr.State({})
    with gr.Row():
        with gr.Column(scale=1):
            model = gr.Dropdown(model_choices(), value=DEFAULT_CHOICE, label="Model", allow_custom_value=True, elem_id="generate-model")
            fst = gr.Radio([ROMAN[t] for t in FST_TYPES], value="VI", label="Fitzpatrick skin type", elem_id="generate-fst")
            known = _default_diagnoses()
            diagnosis = gr.Dropdown(known, value="melanoma" if "melanoma" in known else (known or [None])[0], label="Diagnosis",
                                    allow_custom_value=True, elem_id="generate-diagnosis")
            count = gr.Slider(1, MAX_IMAGES, value=8, step=1, label="Images")
            seed = gr.Number(value=0, precision=0, label="Seed (image i uses seed + i)")
            with gr.Accordion("Sampler", open=False):
                steps = gr.Slider(5, 100, value=25, step=1, label="Steps")
                guidance = gr.Slider(0, 10, value=3.0, step=0.5, label="Guidance (0 = ignore the labels, 1 = plain conditional)")
                scheduler = gr.Dropdown(list(SCHEDULERS), value="ddim", label="Scheduler")
            run = gr.Button("Generate", variant="primary", elem_id="generate-run")
        with gr.Column(scale=3):
            message = gr.Markdown(elem_id="generate-message")
            gallery = gr.Gallery(label="Generated (measured skin type under each image)", columns=4, format="png", buttons=[],
                                 elem_id="generate-gallery")
            with gr.Row():
                selected = gr.CheckboxGroup(label="Keep", elem_id="generate-keep", scale=3)
                set_name = gr.Textbox(value="my-synthetic-set", label="Synthetic set", scale=2)
                add = gr.Button("Add selected to the set", elem_id="generate-add", scale=1)

    @admin
    def on_model(model_name: str, user: str):
        ask_for_missing((model_name, "Choose a model."))
        try:
            names = list(_backend(model_name).diagnoses)
        except ModelFolderError as exc:
            return gr.update(), f"**Model not loaded:** {plain(exc)}"
        return gr.update(choices=names, value=names[0] if names else None), ""

    @admin
    def on_generate(model_name, fst_label, diagnosis_name, n, first_seed, n_steps, weight, sampler, progress=gr.Progress(), user: str = ""):
        ask_for_missing((model_name, "Choose a model."), (diagnosis_name, "Choose a diagnosis."),
                        (first_seed, "Give a seed (any whole number)."))
        try:
            images, state = generate(model_name, fst_label, diagnosis_name, n, first_seed, n_steps, weight, sampler, progress)
        except (ModelFolderError, ValueError) as exc:
            return gr.update(), gr.update(), {}, f"**Not generated:** {plain(exc)}"
        labels = [caption for _, caption in images]
        return images, gr.update(choices=labels, value=[]), state, ""

    @admin
    def on_add(name: str, ticked: list[str], state: dict, user: str):
        return keep(name, ticked, state)

    model.change(on_model, model, [diagnosis, message], api_name="generate_model", api_visibility="private")
    run.click(on_generate, [model, fst, diagnosis, count, seed, steps, guidance, scheduler], [gallery, selected, generated, message],
              api_name="generate_run", api_visibility="private", concurrency_limit=1, concurrency_id="gpu")
    add.click(on_add, [set_name, selected, generated], message, api_name="generate_add", api_visibility="private")
