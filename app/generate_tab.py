"""The Generate tab (admins): images of a skin type and diagnosis from fairskin's model or Stable Diffusion, or real
images moved to another skin type (physically based, or img2img); every run kept as a folder, re-openable, resumable and
downloadable.

Every request goes through the same calls as `fairskin generate` / `fairskin tone-transfer`
(`fairskin_core.generation.run_folders`), one at a time (`generate_jobs.GenerationQueue`). Up to
`AppSettings.interactive` images the page waits with a progress bar; more run in the background while the page
shows their progress. Each image is captioned with its measured skin tone, so a researcher sees
at once whether the model gave the type asked for.
"""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd

from fairskin_core.analysis.pipeline import analyse_image
from fairskin_core.diffusion.model_folder import ModelFolderError
from fairskin_core.diffusion.sampling_settings import (
    DEFAULT_SCHEDULER,
    DEFAULT_STEPS,
    FST_GUIDANCE,
    SCHEDULER_NAMES,
    SD_GUIDANCE,
    TONE_TRANSFER,
)
from fairskin_core.errors import USER_MISTAKES
from fairskin_core.fst import FST_TYPES, ROMAN
from fairskin_core.generation.planned_set import add_to_set
from fairskin_core.generation.run_folders import (
    GenerationRequest,
    RunRecord,
    new_run,
    read_run,
    recent_runs,
    zip_run,
)
from fairskin_core.generation.tone_transfer import compare_tone, parse_source_image
from fairskin_core.images import read_rgb
from fairskin_core.manifest import read_manifest
from review_data.store import ReviewStore

from .access import only, refused
from .cli_generate import request_command
from .downloads import download_folder
from .generate_form import (
    DEFAULT_CHOICE,
    MODES,
    OWN_SIZE,
    SD_MODES,
    TONE_MODES,
    model_choices,
    model_diagnoses,
    request_from_form,
    size_choices,
)
from .generate_jobs import GenerationQueue, duration
from .messages import GENERATE_FIELDS, plain, said
from .outline import outlined
from .settings import AppSettings

# run, started, with, model, skin type, diagnosis, images, seed, status: each wide enough for its header's longest word
HISTORY_WIDTHS = ["16%", "12%", "10%", "14%", "8%", "11%", "8%", "6%", "15%"]


def _label(number: int) -> str:
    """How an image of the run on screen is called under it and beside its keep box: its number in the run, from 1."""
    return f"#{number}"


def _caption(number: int, row: dict, image: np.ndarray) -> str:
    analysis = analyse_image(image)
    head = f"{_label(number)} · seed {row['seed']} · asked {ROMAN[int(row['fst'])]}"
    if analysis.fst is None:
        return f"{head} · ITA not measurable ({analysis.status}) ⚠"
    miss = " · ⚠ misses the type asked for" if abs(analysis.fst - int(row["fst"])) > 1 else ""
    return f"{head} · measured {ROMAN[analysis.fst]} (ITA {round(analysis.ita) + 0}°){miss}"


def _measured(side: dict) -> str:
    if side["learned_fst"] is None:
        learned = f"type not measured ({side['learned_status']})"
    else:
        learned = f"type {ROMAN[side['learned_fst']]} (p {side['learned_confidence']:.2f})"
    ita = f"ITA not measurable ({side['status']})" if side["ita"] is None else f"ITA {round(side['ita']) + 0}°"
    return f"{learned}, {ita}"


def _side_by_side(number: int, row: dict, source: np.ndarray, result: np.ndarray) -> tuple[np.ndarray, str]:
    """Source and tone transfer next to each other, lesions outlined, with what was measured on each."""
    measured = compare_tone(source, result)
    before, after = outlined(source, measured["source"]["mask"]), outlined(result, measured["result"]["mask"])
    gap = np.full((before.shape[0], max(4, before.shape[1] // 32), 3), 255, np.uint8)
    pair = np.concatenate([before, gap, after], axis=1)
    iou = measured["lesion_iou"]
    kept = "lesion overlap not measurable" if iou is None else f"lesion overlap {iou:.2f}"
    source_id = parse_source_image(row["source_image"])["image_id"]
    return pair, (f"{_label(number)} · {source_id}: {_measured(measured['source'])} → asked {ROMAN[int(row['fst'])]}, "
                  f"got {_measured(measured['result'])} · {kept}")


def run_gallery(folder: str | Path, roots: list[Path] | None = None, limit: int = AppSettings.shown) -> list[tuple[np.ndarray, str]]:
    """The first ``limit`` images of a run, captioned with what was measured; a tone transfer beside its source."""
    record = read_run(folder)
    if not record.made:
        return []
    rows = read_manifest(record.manifest, check_files="exists").table.head(limit).to_dict("records")
    if record.request.kind != "tone-transfer":
        return [(image, _caption(number, row, image))
                for number, row in enumerate(rows, start=1) for image in [read_rgb(record.folder / row["image_path"])]]
    sources = read_manifest(record.request.source_manifest, check_files="exists", allowed_roots=roots)
    by_id = sources.table.set_index("image_id")
    shown = []
    for number, row in enumerate(rows, start=1):
        source = by_id.loc[parse_source_image(row["source_image"])["image_id"]]
        shown.append(_side_by_side(number, row, read_rgb(sources.image_file(source["image_path"], source["image_root"])),
                                   read_rgb(record.folder / row["image_path"])))
    return shown


def keep(set_name: str, selected: list[int], run: str | None, synthetic: Path) -> str:
    """Add the ticked images of the run on screen (their numbers in the run's manifest, from 1, as under each image) to the named
    set in ``synthetic`` (the workspace's); returns a message."""
    name = set_name.strip()
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        return "**Not saved:** name the set with letters, digits, - or _ (it becomes a folder in the workspace's `synthetic/`)."
    if not run or not selected:
        return "**Not saved:** generate images and tick the ones to keep first."
    rows = read_manifest(Path(run) / "manifest.csv", check_files="exists").table.to_dict("records")
    picked = [rows[number - 1] for number in selected]
    manifest = add_to_set(synthetic / name, [read_rgb(Path(run) / row["image_path"]) for row in picked], picked)
    return f"Added {len(picked)} image(s) to {plain(manifest)}."


def _status(record: RunRecord, jobs: GenerationQueue) -> str:
    """A run's status as this server knows it: a run left 'running' by a stopped server can be resumed."""
    job = jobs.job(record.folder)
    if job is not None and not job.finished.is_set():
        return jobs.describe(job)
    if record.status in ("queued", "running"):
        return f"stopped at {record.made} of {record.request.count}: resumable"
    if record.status == "cancelled":
        return f"cancelled at {record.made} of {record.request.count}: resumable"
    return "finished" if record.status == "finished" else f"failed: {record.error}"


def history(runs: Path, jobs: GenerationQueue) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """The recent runs as a table, and as choices for the run picker."""
    records = recent_runs(runs)
    table = pd.DataFrame([{
        "run": r.folder.name, "started": r.created, "with": r.request.kind,
        "model": r.request.stable_diffusion or r.request.model or ("physically based" if r.request.kind == "tone-transfer" else "default"),
        "skin type": ROMAN[r.request.fst], "diagnosis": r.request.diagnosis or "of each source image",
        "images": f"{r.made} / {r.request.count}", "seed": r.request.seed, "status": _status(r, jobs),
    } for r in records], columns=["run", "started", "with", "model", "skin type", "diagnosis", "images", "seed", "status"])
    choices = [(f"{r.created} · {r.request.count} × {ROMAN[r.request.fst]} {r.request.diagnosis or 'tone transfer'}", r.folder.name)
               for r in records]
    return table, choices


def _download(folder: Path, settings: AppSettings) -> str | None:
    """A zip of the run for the browser (in ``settings.downloads``, Gradio's temp folder, which it may serve), or None for a run
    too large to zip here."""
    made = read_run(folder).made
    if not made or made > settings.max_zipped:
        return None
    return str(zip_run(folder, download_folder(settings, "generate") / f"fairskin-{folder.name}.zip"))


def build_generate_tab(settings: AppSettings, store: ReviewStore, roots: list[Path], default_manifest: str):
    """Lay out the Generate tab and wire its events; tone transfer reads source images only inside ``roots``, runs are kept in
    the workspace's ``generated/``, their zips written into ``settings.downloads`` (Gradio's temp folder).

    Returns the function that fills the history (and follows a background run) on page load, and its outputs."""
    admin = only(store, "admin", GENERATE_FIELDS)
    jobs, runs = GenerationQueue(roots), settings.workspace.folder("generated")
    on_screen = gr.State({})  # {"run": the run folder shown, "watching": a background run followed}
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            mode = gr.Radio(list(MODES), value=MODES[0], label="Generate with", elem_id="generate-mode")
            with gr.Group(visible=True) as fairskin_box:
                model = gr.Dropdown(model_choices(settings.workspace.folder("models")), value=DEFAULT_CHOICE, label="Model",
                                    allow_custom_value=True, elem_id="generate-model")
            with gr.Group(visible=False) as sd_box:
                sd_model = gr.Textbox(label="Stable Diffusion model: a hub id or a diffusers folder",
                                      placeholder="stable-diffusion-v1-5/stable-diffusion-v1-5", elem_id="generate-sd-model")
                loras = gr.Textbox(label="LoRAs, one per line: FOLDER or FOLDER:WEIGHT", lines=2, elem_id="generate-loras")
                inversions = gr.Textbox(label="Learned tokens (textual inversion): one file or folder per line", lines=1,
                                        elem_id="generate-inversions")
                allow_download = gr.Checkbox(label="fetch the model from the Hugging Face hub if it is not here", elem_id="generate-fetch")
            with gr.Group(visible=False) as tone_box:
                source_manifest = gr.Textbox(value=default_manifest, label="Source images: a manifest (press Enter to list them)",
                                             elem_id="generate-source-manifest")
                source_ids = gr.Dropdown([], multiselect=True, label="Source images", elem_id="generate-source-ids")
                strength = gr.Slider(0.1, 1.0, value=TONE_TRANSFER["strength"], step=0.05,
                                     label=f"Strength: {TONE_TRANSFER['strength']:g} keeps the lesion, 1 redraws everything",
                                     elem_id="generate-strength", visible=False)
                gr.Markdown("Without Stable Diffusion the transfer is physically based: melanin added in optical density up to "
                            "the skin of a real annotated photograph of the chosen type, on the CPU, offline (docs/generation.md).",
                            elem_id="generate-tone-note")
            fst = gr.Radio([ROMAN[t] for t in FST_TYPES], value="VI", label="Fitzpatrick skin type", elem_id="generate-fst")
            known = model_diagnoses(DEFAULT_CHOICE)
            diagnosis = gr.Dropdown(known, value="melanoma" if "melanoma" in known else known[0], label="Diagnosis",
                                    allow_custom_value=True, elem_id="generate-diagnosis")
            with gr.Row():
                count = gr.Number(value=8, label=f"Images (over {settings.interactive}: in the background)", elem_id="generate-count",
                                  min_width=120)
                seed = gr.Number(value=0, label="Seed", elem_id="generate-seed", min_width=80)
            size = gr.Dropdown([OWN_SIZE], value=OWN_SIZE, label="Image size (px)", visible=False, elem_id="generate-size")
            with gr.Accordion("Sampler", open=False) as sampler_box:
                steps = gr.Number(value=DEFAULT_STEPS, label="Steps", elem_id="generate-steps")
                guidance = gr.Slider(0, 15, value=FST_GUIDANCE, step=0.5, label="Guidance (0 = ignore the labels, 1 = plain conditional)",
                                     elem_id="generate-guidance")
                scheduler = gr.Dropdown(list(SCHEDULER_NAMES), value=DEFAULT_SCHEDULER, label="Scheduler")
            run = gr.Button("Generate", variant="primary", elem_id="generate-run")
        with gr.Column(scale=3):
            message = gr.Markdown(elem_id="generate-message")
            with gr.Row(equal_height=True):
                with gr.Column(scale=4):
                    background = gr.Markdown(elem_id="generate-job")
                cancel = gr.Button("Cancel (keeps the images made)", visible=False, variant="stop", scale=1, min_width=160,
                                   elem_id="generate-cancel")
            gallery = gr.Gallery(label="Generated (what was measured under each image)", columns=4, format="png", buttons=[],
                                 object_fit="contain", height="auto", elem_id="generate-gallery",
                                 elem_classes=["whole-captions"])
            with gr.Row():
                selected = gr.CheckboxGroup(label="Keep (the numbers under the images)", elem_id="generate-keep", scale=3)
                with gr.Column(scale=2, min_width=200):
                    set_name = gr.Textbox(value="my-synthetic-set", label="Synthetic set")
                    add = gr.Button("Add selected to the set", elem_id="generate-add")
            download = gr.DownloadButton("Download these images and their manifest (zip)", visible=False, elem_id="generate-download")
            with gr.Accordion("History: recent runs", open=False, elem_id="generate-history-box"):
                table = gr.Dataframe(interactive=False, wrap=True, column_widths=HISTORY_WIDTHS, elem_id="generate-history")
                with gr.Row():
                    picked = gr.Dropdown([], label="Run", elem_id="generate-history-run", scale=3)
                    reopen = gr.Button("Open", elem_id="generate-reopen", scale=1, min_width=80)
                    resume = gr.Button("Resume", elem_id="generate-resume", scale=1, min_width=80)
    follow = gr.Timer(1.0, active=False)
    form = [mode, model, sd_model, loras, inversions, allow_download, fst, diagnosis, count, seed, steps, guidance, scheduler, size,
            source_manifest, source_ids, strength]
    shown = [gallery, selected, on_screen, download, message]
    panel = [background, cancel, follow]
    listed = [table, picked]

    def listed_now() -> dict:
        """The history, and the run picker at the newest run."""
        rows, choices = history(runs, jobs)
        return {table: rows, picked: gr.update(choices=choices, value=choices[0][1] if choices else None)}

    def showing(folder: Path, note: str = "") -> dict:
        """The run on screen: its images, their keep boxes, its zip, and what it was."""
        record = read_run(folder)
        images = run_gallery(folder, roots, settings.shown)
        more = (f" The gallery shows the first {settings.shown} of {record.made}; the zip holds them all." if record.made > settings.shown
                else "")
        zipped = _download(folder, settings)
        if zipped is None and record.made:
            more += f" Too many images to zip here: they are in `{plain(folder)}` on the server."
        text = (f"{note}{record.made} image(s) in `{plain(folder)}`.{more}<br>The same from the command line: "
                f"`{plain(request_command(record.request, folder))}`")
        return {gallery: gr.update(value=images, columns=2 if record.request.kind == "tone-transfer" else 4),
                selected: gr.update(choices=[(_label(number), number) for number in range(1, len(images) + 1)], value=[]),
                on_screen: {"run": str(folder)},
                download: gr.update(value=zipped, visible=zipped is not None), message: text}

    def cleared(text: str) -> dict:
        """Nothing on screen but the reason: never the previous images as if they were the new result."""
        return {gallery: [], selected: gr.update(choices=[], value=[]), on_screen: {}, download: gr.update(value=None, visible=False),
                message: text}

    def watching(job) -> dict:
        """A background run followed by the page: its line, its Cancel button, and the timer that checks it."""
        return {on_screen: {"watching": str(job.folder)}, background: f"Background generation: {jobs.describe(job)}",
                cancel: gr.update(visible=True), follow: gr.Timer(active=True)}

    def followed(job, text: str) -> dict:
        """Nothing on screen but ``text``, and the background run followed."""
        return {**cleared(text), **watching(job)}

    def mode_view(chosen: str) -> dict:
        """What the form shows for a way of generating, and its sampler's defaults."""
        sd, tone = chosen in SD_MODES, chosen in TONE_MODES
        physical = chosen == MODES[2]  # the physically based transfer: no model, nothing to sample
        return {fairskin_box: gr.update(visible=not sd and not physical), sd_box: gr.update(visible=sd), tone_box: gr.update(visible=tone),
                diagnosis: gr.update(visible=not tone), count: gr.update(visible=not tone), size: gr.update(visible=chosen == MODES[1]),
                guidance: gr.update(value=SD_GUIDANCE if sd else FST_GUIDANCE),
                scheduler: gr.update(value=TONE_TRANSFER["scheduler"] if tone else DEFAULT_SCHEDULER),
                strength: gr.update(visible=chosen == MODES[3]), sampler_box: gr.update(visible=not physical)}

    def request_view(request: GenerationRequest) -> dict:
        """The form as it was for ``request`` (a reopened run): its way of generating, model, labels, counts and sampler."""
        tone, sd = request.kind == "tone-transfer", bool(request.stable_diffusion)
        chosen = MODES[3] if tone and sd else MODES[2] if tone else MODES[1] if sd else MODES[0]
        model_name = request.model or DEFAULT_CHOICE
        values = {
            mode: chosen, model: model_name, sd_model: request.stable_diffusion or "",
            loras: "\n".join(f"{folder}:{weight:g}" for folder, weight in request.loras), inversions: "\n".join(request.textual_inversions),
            allow_download: request.allow_download, fst: ROMAN[request.fst], count: request.n, seed: request.seed, steps: request.steps,
            guidance: request.guidance if request.guidance is not None else (SD_GUIDANCE if sd else FST_GUIDANCE),
            scheduler: request.scheduler,
            size: str(request.size) if request.size else OWN_SIZE, source_manifest: request.source_manifest or "",
            source_ids: list(request.source_ids), strength: request.strength,
        }
        view = {**mode_view(chosen), **{component: gr.update(value=value) for component, value in values.items()}}
        for component, shown_now in mode_view(chosen).items():  # a value and a visibility for the same component
            view[component] = gr.update(**{**shown_now, **view[component]})
        view[source_ids] = gr.update(choices=list(request.source_ids), value=list(request.source_ids))
        if not tone:
            try:
                names = model_diagnoses(model_name)
            except ModelFolderError:  # the model is gone since: its labels as they were
                names = [request.diagnosis]
            view[diagnosis] = gr.update(**{**view[diagnosis], "choices": names, "value": request.diagnosis})
        return view

    @admin
    def on_mode(chosen: str, request: gr.Request):
        return mode_view(chosen)

    @admin
    def on_model(model_name: str, request: gr.Request):
        try:
            names = model_diagnoses(model_name or DEFAULT_CHOICE)
        except ModelFolderError as exc:
            return {message: f"**Model not loaded:** {plain(said(exc, GENERATE_FIELDS))}"}
        return {diagnosis: gr.update(choices=names, value=names[0] if names else None), message: ""}

    @admin
    def on_stable_diffusion(name: str, request: gr.Request):
        return {size: gr.update(choices=size_choices(name.strip()) if name and name.strip() else [OWN_SIZE], value=OWN_SIZE)}

    @admin
    def on_sources(path: str, request: gr.Request):
        try:
            manifest = read_manifest((path or "").strip(), check_files="none", allowed_roots=roots)
        except USER_MISTAKES as exc:
            refused("generate_tab.on_sources", request.username, exc)
            return {source_ids: gr.update(choices=[], value=[]), message: f"**No source images:** {plain(exc)}"}
        rows = manifest.table.head(settings.source_choices)
        choices = [(f"{r.image_id} · {r.diagnosis} · type {ROMAN[int(r.fst)] if pd.notna(r.fst) else 'unknown'}", r.image_id)
                   for r in rows.itertuples()]
        total = len(manifest.table)
        more = f" (the first {settings.source_choices} of {total}; type an id to find one)" if total > settings.source_choices else ""
        return {source_ids: gr.update(choices=choices, value=[]), message: f"{len(rows)} source images listed{more}."}

    def long_run_unconfirmed(request, current: dict) -> str | None:
        """Why a large request waits for a second press (its time at the speed measured here, or an unmeasured speed), else None."""
        if request.count <= settings.interactive:
            return None
        key = json.dumps(request.to_json(), sort_keys=True)
        estimate = jobs.estimate_seconds(request)
        long = estimate[0] > settings.long_run_seconds if estimate else request.count > settings.unmeasured_confirm
        if not long or current.get("confirm") == key:
            return None
        current["confirm"] = key
        took = (f"would take about **{duration(estimate[0])}** at the {estimate[1]:.2f} images/s measured on this server"
                if estimate else "would take an unknown time: this model has not run on this server yet")
        return (f"**Not started yet:** {request.count:,} images {took}. Press Generate again to start; Cancel stops it at any "
                "time and keeps the images made (Resume, under History, makes the rest).")

    @admin
    def on_generate(chosen_mode, model_name, sd_name, lora_lines, inversion_lines, fetch, fst_label, diagnosis_name, n, first_seed,
                    n_steps, weight, sampler, side, sources, ids, power, current: dict, request: gr.Request, progress=gr.Progress()):
        try:
            wanted = request_from_form(chosen_mode, model_name, sd_name, lora_lines, inversion_lines, fetch, fst_label, diagnosis_name, n,
                                        first_seed, n_steps, weight, sampler, side, sources, ids, power)
            current = dict(current)
            unconfirmed = long_run_unconfirmed(wanted, current)
            if unconfirmed:
                return {on_screen: current, message: unconfirmed, **listed_now()}
            folder = new_run(wanted, runs)
        except USER_MISTAKES as exc:
            refused("generate_tab.on_generate", request.username, exc)
            return {**cleared(f"**Not generated:** {plain(said(exc, GENERATE_FIELDS))}"), **listed_now()}
        job = jobs.submit(wanted, folder)
        if wanted.count > settings.interactive:
            estimate = jobs.estimate_seconds(wanted)
            took = f", about {duration(estimate[0])} at the speed measured here" if estimate else ""
            text = (f"**{wanted.count:,} images are being made in the background**{took} into `{plain(folder)}`; they appear here "
                    "when done.")
            return {**followed(job, text), **listed_now()}
        while not job.finished.wait(0.25):
            progress(job.done / job.total if job.state == "running" else 0, desc=jobs.describe(job))
        if job.state == "failed":
            return {**cleared(f"**Not generated:** {plain(job.error)}"), **listed_now()}
        return {**showing(folder), **listed_now()}

    @admin
    def on_cancel(current: dict, request: gr.Request):
        """Stop the followed background run after the batch being made is saved; what is made stays, resumable."""
        job = jobs.cancel(current["watching"]) if current.get("watching") else None
        text = "Nothing is running in the background." if job is None else f"Background generation: {jobs.describe(job)}"
        return {background: text, cancel: gr.update(visible=False)}

    @admin
    def on_follow(current: dict, request: gr.Request):
        """While a background run is going: where it is; once done, its images.

        A page whose state lost the run it watched (its first load answered after Generate was pressed, on a busy
        server) follows the run the queue is busy with, rather than going blank."""
        job = jobs.job(current["watching"]) if current.get("watching") else jobs.busy()
        done = {background: "", cancel: gr.update(visible=False), follow: gr.Timer(active=False)}
        if job is None:
            return done
        if not job.finished.is_set():
            return {background: f"Background generation: {jobs.describe(job)}", cancel: gr.update(visible=not job.cancel_asked.is_set())}
        if job.state == "failed":
            return {**cleared(f"**Background generation failed:** {plain(job.error)}"), **done, **listed_now()}
        note = f"**Background generation {jobs.describe(job)}.** " if job.state == "cancelled" else "**Background generation finished.** "
        return {**showing(job.folder, note), **done, **listed_now()}

    @admin
    def on_reopen(name: str | None, current: dict, request: gr.Request):
        if not name:
            return {message: "Choose a run first."}
        folder = runs / Path(name).name
        job = jobs.job(folder)
        form_now = request_view(read_run(folder).request)  # the form as it was for this run, not as it was left
        if job is not None and not job.finished.is_set():
            return {**followed(job, "This run is still going; its images appear here when it is done."), **form_now}
        return {**showing(folder), background: "", cancel: gr.update(visible=False), **form_now}

    @admin
    def on_resume(name: str | None, request: gr.Request):
        if not name:
            return {message: "Choose a run first.", **listed_now()}
        record = read_run(runs / Path(name).name)
        job = jobs.job(record.folder)
        if record.status == "finished" or (job is not None and not job.finished.is_set()):
            note = "This run is finished: nothing to resume." if record.status == "finished" else "This run is still going."
            return {message: note, **listed_now()}
        job = jobs.submit(record.request, record.folder)
        text = f"**Resuming** `{plain(record.folder)}`: {record.made} of {record.request.count} images were made before."
        return {**followed(job, text), **listed_now()}

    @admin
    def on_add(name: str, ticked: list[int], current: dict, request: gr.Request):
        return {message: keep(name, ticked, current.get("run"), settings.workspace.folder("synthetic"))}

    def page_load() -> dict:
        """The history, and the background run if one is going (for an admin who reloads the page)."""
        busy = jobs.busy()  # none: the panel is left as it is (a Generate pressed before this answer came fills it)
        return {**listed_now(), **(watching(busy) if busy is not None else {})}

    hidden = {"api_visibility": "undocumented"}
    # .input, not .change: a reopened run sets the mode and the model with its own sampler and diagnosis, which must stay.
    mode.input(on_mode, mode, [fairskin_box, sd_box, tone_box, diagnosis, count, size, guidance, scheduler, strength, sampler_box],
               api_name="generate_mode", **hidden)
    model.input(on_model, model, [diagnosis, message], api_name="generate_model", **hidden)
    gr.on([sd_model.submit, sd_model.blur], on_stable_diffusion, sd_model, size, api_name="generate_sizes", **hidden)
    source_manifest.submit(on_sources, source_manifest, [source_ids, message], api_name="generate_sources", **hidden)
    run.click(on_generate, [*form, on_screen], [*shown, *panel, *listed], api_name="generate_run", **hidden)
    follow.tick(on_follow, on_screen, [*shown, *panel, *listed], api_name="generate_follow", show_progress="hidden", **hidden)
    reopen.click(on_reopen, [picked, on_screen], [*shown, *panel, *form, fairskin_box, sd_box, tone_box, sampler_box],
                 api_name="generate_reopen", **hidden)
    resume.click(on_resume, picked, [*shown, *panel, *listed], api_name="generate_resume", **hidden)
    cancel.click(on_cancel, on_screen, [background, cancel], api_name="generate_cancel", **hidden)
    add.click(on_add, [set_name, selected, on_screen], message, api_name="generate_add", **hidden)
    return page_load, [*listed, on_screen, background, cancel, follow]
