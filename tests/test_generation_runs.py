"""Generation runs as the Generate tab makes them: checked requests, folders with their command, resume, history, zip, jobs."""

from __future__ import annotations

import math
import shlex
import zipfile

import numpy as np
import pytest

from app.cli import main
from app.cli_generate import request_command
from app.generate_form import MODES, request_from_form
from app.generate_jobs import GenerationQueue
from app.generate_tab import keep, run_gallery
from app.messages import GENERATE_FIELDS, said
from fairskin_core.errors import ParameterError
from fairskin_core.generation.backends import FSTModelBackend
from fairskin_core.generation.planned_set import SEED_STRIDE
from fairskin_core.generation.run_folders import GenerationRequest, new_run, read_run, recent_runs, run_request, zip_run
from fairskin_core.images import read_rgb
from fairskin_core.manifest import read_manifest

from .handlers import by_id, run_event
from .test_generation import tiny_model  # noqa: F401  (the module fixture: a tiny trained fairskin model)


def form(trained, **changes) -> dict:
    """The Generate tab's form for 3 images of a tiny fairskin model, with ``changes``."""
    return {"mode": MODES[0], "model": str(trained), "stable_diffusion": "", "loras": "", "inversions": "", "allow_download": False,
            "fst_label": "VI", "diagnosis": "nevus", "count": 3, "seed": 10, "steps": 2, "guidance": 3.0, "scheduler": "ddim",
            "size": None, "source_manifest": "", "source_ids": None, "strength": 0.6, **changes}


@pytest.mark.parametrize(("field", "value", "shown"), [
    ("count", 0, "not 0"), ("count", -3, "not -3"), ("count", 2.5, "not 2.5"), ("count", 200_000, "not 200000"),
    ("count", None, "not an empty box"), ("count", math.nan, "not nan"), ("seed", 1.5, "not 1.5"), ("steps", 0, "not 0"),
])
def test_a_count_that_is_not_whole_or_out_of_range_is_refused_never_changed(tiny_model, field, value, shown):  # noqa: F811
    with pytest.raises(ValueError, match=rf"must be a whole number from .* {shown}$"):
        request_from_form(**form(tiny_model, **{field: value}))
    assert request_from_form(**form(tiny_model, count=16.0)).n == 16  # a whole number typed as 16.0 is 16


def test_requests_that_cannot_run_are_refused_in_words(tiny_model):  # noqa: F811
    with pytest.raises(ValueError, match="give a Stable Diffusion model"):
        request_from_form(**form(tiny_model, mode=MODES[1]))
    with pytest.raises(ValueError, match="choose the source images"):
        request_from_form(**form(tiny_model, mode=MODES[2], stable_diffusion="sd", source_manifest="m.csv"))
    with pytest.raises(ValueError, match="an image size can be chosen for Stable Diffusion only"):
        GenerationRequest(fst=6, diagnosis="nevus", size=128).check()
    with pytest.raises(ValueError, match="LoRA line 'a:b'"):
        request_from_form(**form(tiny_model, mode=MODES[1], stable_diffusion="sd", loras="a:b"))
    with pytest.raises(ParameterError) as too_weak:  # the library names its parameters; the page, its fields
        request_from_form(**form(tiny_model, mode=MODES[3], stable_diffusion="sd", source_manifest="m.csv", source_ids=["a"],
                                 strength=0.01))
    assert str(too_weak.value) == "strength 0.01 of 2 steps runs no denoising step: raise strength or steps"
    assert said(too_weak.value, GENERATE_FIELDS) == "“Strength” 0.01 of 2 steps runs no denoising step: raise “Strength” or “Steps”"


def test_a_run_holds_the_images_of_its_own_command_resumes_and_zips_whole(tiny_model, tmp_path):  # noqa: F811
    request = request_from_form(**form(tiny_model))
    folder = new_run(request, tmp_path / "runs")
    run_request(request, folder, FSTModelBackend(tiny_model))
    record = read_run(folder)
    assert record.made == 3 and record.status == "queued"  # the status is the job runner's to set
    table = read_manifest(record.manifest, check_files="decode").table
    assert table["seed"].tolist() == [10 * SEED_STRIDE + k for k in range(3)] and set(table["fst"]) == {6}

    words = shlex.split(request_command(record.request, folder))  # the command it shows makes the same images
    assert words[:2] == ["fairskin", "generate"] and words[-2:] == ["--out", str(folder)]
    assert main([*words[1:-1], str(tmp_path / "cli")]) == 0
    for path in table["image_path"]:
        assert np.array_equal(read_rgb(tmp_path / "cli" / path), read_rgb(folder / path))

    made = {path: (folder / path).read_bytes() for path in table["image_path"]}  # an interrupted run: one image missing
    (folder / table["image_path"][1]).unlink()
    run_request(request, folder, FSTModelBackend(tiny_model))
    assert {path: (folder / path).read_bytes() for path in table["image_path"]} == made

    captions = [caption for _, caption in run_gallery(folder)]
    assert [c.split(" · ")[:3] for c in captions] == [[f"#{k + 1}", f"seed {10 * SEED_STRIDE + k}", "asked VI"] for k in range(3)]
    assert all("measured" in c or "not measurable" in c for c in captions)

    message = keep("kept", [1, 3], str(folder), tmp_path / "home" / "synthetic")
    kept = read_manifest(tmp_path / "home" / "synthetic" / "kept" / "manifest.csv", check_files="decode").table
    assert "Added 2 image(s)" in message and kept["seed"].tolist() == [table["seed"][0], table["seed"][2]]
    assert np.array_equal(read_rgb(tmp_path / "home" / "synthetic" / "kept" / kept["image_path"][1]),
                          read_rgb(folder / table["image_path"][2]))

    archive = zip_run(folder, tmp_path / "run.zip")
    with zipfile.ZipFile(archive) as opened:
        names = set(opened.namelist())
        opened.extractall(tmp_path / "unzipped")
    assert names == {f"{folder.name}/{name}" for name in ("manifest.csv", "run.json", *table["image_path"])}
    assert len(read_manifest(tmp_path / "unzipped" / folder.name / "manifest.csv", check_files="decode").table) == 3


def test_jobs_run_one_at_a_time_record_their_status_and_say_why_one_failed(tiny_model, tmp_path):  # noqa: F811
    jobs, runs = GenerationQueue(), tmp_path / "runs"
    good = request_from_form(**form(tiny_model, count=2))
    bad = request_from_form(**form(tiny_model, model=str(tmp_path / "no-model"), count=2))
    first, second = (jobs.submit(r, new_run(r, runs)) for r in (good, bad))
    assert first.finished.wait(120) and second.finished.wait(120)
    assert (first.state, first.done) == ("finished", 2) and second.state == "failed" and "no-model" in second.error
    history = {r.folder: r for r in recent_runs(runs)}
    assert history[first.folder].status == "finished" and history[first.folder].made == 2
    assert history[second.folder].status == "failed" and "no-model" in history[second.folder].error
    assert jobs.busy() is None


def test_a_job_is_estimated_from_measured_speed_and_cancelled_keeping_what_is_saved_then_resumed(tiny_model, tmp_path):  # noqa: F811
    jobs, runs = GenerationQueue(), tmp_path / "runs"
    request = request_from_form(**form(tiny_model, count=64))  # 4 batches of 16
    assert jobs.estimate_seconds(request) is None  # this model has not run here yet
    job = jobs.submit(request, folder := new_run(request, runs))
    waiting = request_from_form(**form(tiny_model, count=16, seed=99))
    queued = jobs.submit(waiting, new_run(waiting, runs))
    jobs.cancel(queued.folder)  # cancelled while it waits: it never starts
    while job.done < 16:
        assert not job.finished.wait(0.02), job.error
    jobs.cancel(folder)
    assert job.finished.wait(120) and queued.finished.wait(120)
    assert job.state == "cancelled" and 16 <= job.done < 64 and "Resume" in job.describe()
    made = read_manifest(folder / "manifest.csv", check_files="decode").table
    assert len(made) == job.done and read_run(folder).status == "cancelled"  # every saved batch kept, readable
    assert queued.state == "cancelled" and not (queued.folder / "manifest.csv").exists()

    seconds, rate = jobs.estimate_seconds(request)
    assert rate == pytest.approx(job.rate) and seconds == pytest.approx(64 / job.rate)
    slower = request_from_form(**form(tiny_model, count=64, steps=4))
    assert jobs.estimate_seconds(slower)[1] == pytest.approx(job.rate / 2)  # twice the sampling steps: half the speed
    before = {path: (folder / path).read_bytes() for path in made["image_path"]}
    resumed = jobs.submit(request, folder)
    assert resumed.finished.wait(300) and resumed.state == "finished"
    assert len(read_manifest(folder / "manifest.csv", check_files="decode").table) == 64
    assert all((folder / path).read_bytes() == data for path, data in before.items())


def test_a_long_background_request_waits_for_a_second_press_and_makes_nothing_before(tiny_model, tmp_path):  # noqa: F811
    """Generate with 100,000 images: the time it would take (here: not measured yet) and a second press, never a silent 70 h job."""
    import gradio as gr

    from app.generate_tab import build_generate_tab
    from app.settings import AppSettings
    from fairskin_core.workspace import Workspace
    from review_data.accounts import create_account
    from review_data.store import ReviewStore

    store = ReviewStore(tmp_path / "review.db")
    create_account(store, "chief", "password-chief", "admin")
    with gr.Blocks() as blocks:
        build_generate_tab(AppSettings.for_workspace(Workspace(tmp_path / "home"), downloads=tmp_path / "served"), store, [tmp_path], "")
    values = form(tiny_model, count=100_000)
    values["size"] = "the model's own"
    outputs = run_event([blocks], "generate_run", *values.values(), {}, user="chief")
    state = next(value for component, value in outputs.items() if isinstance(component, gr.State))
    message = by_id(outputs)["generate-message"]
    assert message.startswith("**Not started yet:** 100,000 images would take an unknown time") and "Press Generate again" in message
    assert "confirm" in state and not list((tmp_path / "home").rglob("run.json"))  # no run folder, no job
    other = by_id(run_event([blocks], "generate_run", *{**values, "count": 99_999}.values(), state, user="chief"))
    assert other["generate-message"].startswith("**Not started yet:** 99,999 images")  # another request: asked again
