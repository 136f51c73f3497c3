"""Batch generation with a tiny trained model: plans, provenance, resume after a crash, sharding, the CLI."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from app.cli import main
from fairskin_core.generation.backends import FSTModelBackend
from fairskin_core.generation.planned_set import generate_set, merge_parts, plan_images, plan_per_cell
from fairskin_core.images import read_rgb
from fairskin_core.manifest import read_manifest
from fairskin_core.mix import parse_mix
from fairskin_core.phantoms.dataset import write_phantom_dataset
from fairskin_core.training.config import TrainConfig
from fairskin_core.training.train import train


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("generation")
    phantoms = write_phantom_dataset(root / "phantoms", n=36, preset="balanced", size=32, seed=4)
    config = TrainConfig(manifest=str(phantoms), output_dir=str(root / "model"), image_size=32, block_out_channels=[16, 32],
                         attention_levels=[False, False], steps=2, batch_size=4, lr_warmup_steps=1, checkpoint_every=2)
    return train(config)


@pytest.fixture(scope="module")
def backend(tiny_model):
    return FSTModelBackend(tiny_model)


def test_plans_hit_their_mix_exactly_and_refuse_bad_mixes():
    plan = plan_images(60, parse_mix("1:1,5:2,6:2", range(1, 7), "fst_mix"),
                       parse_mix("melanoma:1,nevus:2", ("melanoma", "nevus"), "diagnosis_mix"), seed=3)
    assert Counter(p.fst for p in plan) == {1: 12, 5: 24, 6: 24} and Counter(p.diagnosis for p in plan) == {"melanoma": 20, "nevus": 40}
    assert len({p.seed for p in plan}) == 60 and [p.index for p in plan] == list(range(60))
    assert plan == plan_images(60, {1: 1, 5: 2, 6: 2}, {"melanoma": 1, "nevus": 2}, seed=3)  # a plan is a function of its inputs
    per_cell = Counter((p.fst, p.diagnosis) for p in plan_per_cell(3, [1, 6], ["melanoma", "nevus"], seed=0))
    assert per_cell == {(1, "melanoma"): 3, (1, "nevus"): 3, (6, "melanoma"): 3, (6, "nevus"): 3}
    with pytest.raises(ValueError, match="'7:1'.*one of 1, 2, 3, 4, 5, 6"):
        parse_mix("1:1,7:1", tuple(range(1, 7)), "fst_mix")
    with pytest.raises(ValueError, match="'pizza:1'"):
        parse_mix("pizza:1", ("melanoma",), "diagnosis_mix")
    with pytest.raises(ValueError, match="not a number"):
        parse_mix("1:x", tuple(range(1, 7)), "fst_mix")


def test_a_crash_keeps_a_valid_manifest_and_a_rerun_finishes_the_same_set(backend, tmp_path):
    plan = plan_images(10, {1: 1, 6: 1}, {"nevus": 1, "melanoma": 1}, seed=0)
    kwargs = {"steps": 3, "batch_size": 4}
    generate_set(backend, plan, tmp_path / "straight", **kwargs)

    def crash_after_first_batch(done, total, rate):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_set(backend, plan, tmp_path / "crashed", progress=crash_after_first_batch, **kwargs)
    partial = read_manifest(tmp_path / "crashed" / "manifest.csv", check_files="decode")
    assert len(partial.table) == 4  # the first batch, complete and valid
    generate_set(backend, plan, tmp_path / "crashed", **kwargs)
    done = read_manifest(tmp_path / "crashed" / "manifest.csv", check_files="decode").table
    assert sorted(done["image_id"]) == sorted(p.image_id for p in plan)
    for row in done.itertuples():
        assert (tmp_path / "crashed" / row.image_path).read_bytes() == (tmp_path / "straight" / row.image_path).read_bytes()
    row = done.set_index("image_id").loc[plan[0].image_id]
    assert (row["source"], row["fst"], row["diagnosis"], row["seed"], row["steps"], row["scheduler"]) == (
        "synthetic", plan[0].fst, plan[0].diagnosis, plan[0].seed, 3, "ddim")
    assert row["model_hash"] == backend.model_hash and row["fst_source"] == "requested"


def test_shards_of_two_processes_merge_into_the_single_process_set(backend, tmp_path):
    plan = plan_images(7, {2: 1, 5: 1}, {"nevus": 1}, seed=1)
    generate_set(backend, plan, tmp_path / "one", steps=3, batch_size=3)
    for process in (0, 1):
        generate_set(backend, plan, tmp_path / "two", steps=3, batch_size=3, process_index=process, num_processes=2)
    merged = merge_parts(tmp_path / "two").parent
    assert not list(merged.glob("manifest.part-*.csv"))
    one, two = (read_manifest(tmp_path / d / "manifest.csv").table for d in ("one", "two"))
    assert one["image_id"].tolist() == two["image_id"].tolist()
    for path in one["image_path"]:  # other batch companions: equal up to float rounding
        assert np.abs(read_rgb(tmp_path / "one" / path).astype(int) - read_rgb(tmp_path / "two" / path)).max() <= 1


def fairskin(*args) -> int:
    """`fairskin ARGS` run in this process (its messages on stderr): its exit status."""
    return main([str(arg) for arg in args])


def test_generate_command_and_its_errors(tiny_model, tmp_path, capsys):
    assert fairskin("generate", "--model", tiny_model, "--fst", 6, "--diagnosis", "melanoma", "--n", 3, "--steps", 2,
                    "--out", tmp_path / "a") == 0, capsys.readouterr().err
    table = read_manifest(tmp_path / "a" / "manifest.csv", check_files="decode").table
    assert len(table) == 3 and set(table["fst"]) == {6} and set(table["diagnosis"]) == {"melanoma"}
    for args, message in [
        (("--fst", 7, "--diagnosis", "melanoma", "--n", 1), "'7:1'"),
        (("--fst", 1, "--diagnosis", "pizza", "--n", 1), "'pizza:1'"),
        (("--fst", 1, "--n", 1), "--fst and --diagnosis go together"),
    ]:
        assert fairskin("generate", "--model", tiny_model, *args, "--out", tmp_path / "b") == 1
        assert message in (refused := capsys.readouterr().err), refused
    assert fairskin("generate", "--model", tmp_path / "nowhere", "--fst", 1, "--diagnosis", "nevus", "--n", 1, "--out", tmp_path / "c") == 1
    assert "no such model folder" in capsys.readouterr().err


def test_the_stable_diffusion_backend_shares_the_interface(tmp_path):
    from fairskin_core.finetune.random_pipeline import build_random_stable_diffusion
    from fairskin_core.generation.backends import StableDiffusionBackend

    backend = StableDiffusionBackend(str(build_random_stable_diffusion(tmp_path / "sd")))
    assert backend.prompt(6, "basal_cell_carcinoma") == "dermoscopy image of basal cell carcinoma on Fitzpatrick type VI (six) skin"
    plan = plan_images(3, {1: 1, 6: 1}, {"melanoma": 1}, seed=0)
    manifest = generate_set(backend, plan, tmp_path / "out", steps=2, guidance=2.0, batch_size=2)
    table = read_manifest(manifest, check_files="decode").table
    assert len(table) == 3 and table["prompt"].str.startswith("dermoscopy image of melanoma").all()
    assert set(table["model_id"]) == {f"stable-diffusion:{tmp_path / 'sd'}"} and len(table["model_hash"].iat[0]) == 16
    again = backend.generate([plan[1].fst], ["melanoma"], [plan[1].seed], steps=2, guidance=2.0, scheduler="ddim")
    saved = read_rgb(tmp_path / "out" / table.set_index("image_id").loc[plan[1].image_id, "image_path"])
    assert np.abs(again[0].astype(int) - saved).max() <= 1
    with pytest.raises(ValueError, match="could not be loaded.*huggingface-cli download"):
        StableDiffusionBackend("someone/not-cached-model")


def test_every_scheduler_name_the_front_ends_offer_builds_that_scheduler():
    from diffusers import DDPMScheduler

    from fairskin_core.diffusion.sampling_settings import DEFAULT_SCHEDULER, SCHEDULER_NAMES, TONE_TRANSFER
    from fairskin_core.diffusion.schedulers import SCHEDULERS, make_scheduler

    assert tuple(SCHEDULERS) == SCHEDULER_NAMES and {DEFAULT_SCHEDULER, TONE_TRANSFER["scheduler"]} <= set(SCHEDULER_NAMES)
    for name in SCHEDULER_NAMES:
        assert isinstance(make_scheduler(name, DDPMScheduler()), SCHEDULERS[name][0])
