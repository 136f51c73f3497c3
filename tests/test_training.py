"""Training the FST-conditioned model: sampler statistics, save/load/generate, exact resume, bad input."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch
from diffusers import UNet2DModel
from scipy.stats import chisquare

from fairskin_core.generation.model_folder import ModelFolderError, load_model
from fairskin_core.manifest import read_manifest, write_manifest
from fairskin_core.phantoms.dataset import write_phantom_dataset
from fairskin_core.training.config import TrainConfig
from fairskin_core.training.sampler import BalancedCellSampler
from fairskin_core.training.train import train

TINY = {"image_size": 32, "block_out_channels": [16, 32], "attention_levels": [False, True], "batch_size": 6,
        "lr_warmup_steps": 1, "log_every": 1, "checkpoint_every": 2}


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    return write_phantom_dataset(tmp_path_factory.mktemp("train") / "phantoms", n=60, preset="balanced", size=32, seed=3)


def tiny_config(manifest, out, **changes) -> TrainConfig:
    return TrainConfig(manifest=str(manifest), output_dir=str(out), **{**TINY, "steps": 4, **changes})


@pytest.fixture(scope="module")
def trained(phantoms, tmp_path_factory):
    return train(tiny_config(phantoms, tmp_path_factory.mktemp("model") / "tiny"))


def test_the_sampler_realises_its_target_mix():
    # An imbalanced set like HAM10000: few dark-skin images, one tiny cell.
    counts = {(1, "nevus"): 400, (2, "nevus"): 300, (2, "melanoma"): 80, (3, "melanoma"): 40, (5, "nevus"): 12, (6, "melanoma"): 3}
    fst = np.repeat([c[0] for c in counts], list(counts.values()))
    diagnosis = np.repeat([c[1] for c in counts], list(counts.values()))
    sampler = BalancedCellSampler(fst, diagnosis, dark_skin_oversampling=3.0, seed=1)
    target = sampler.target_mix()
    assert target[(5, "nevus")] == pytest.approx(3 * target[(1, "nevus")]) and sum(target.values()) == pytest.approx(1)
    draws = Counter(sampler.cell_of(torch.cat([sampler.draw(64, step) for step in range(200)])))
    cells = sorted(counts)
    observed = np.array([draws[c] for c in cells])
    expected = np.array([target[c] for c in cells]) * observed.sum()
    assert chisquare(observed, expected).pvalue > 1e-3  # the realised mix is the target mix
    assert observed[cells.index((6, "melanoma"))] > 5 * observed.sum() * 3 / sum(counts.values())  # far above its share of the data
    assert torch.equal(sampler.draw(64, 7), sampler.draw(64, 7)) and not torch.equal(sampler.draw(64, 7), sampler.draw(64, 7, process=1))


def test_train_save_load_generate_round_trip(trained):
    pipeline = load_model(trained)
    index = json.loads((trained / "fairskin_model.json").read_text())
    assert index["kind"] == "fairskin-fst-diffusion" and index["steps"] == 4 and index["image_size"] == 32
    card = (trained / "model_card.md").read_text()
    assert index["manifest_sha256"] in card and "FST V–VI cells × 2.0" in card
    mix = json.loads((trained / "mix.json").read_text())
    assert sum(row["drawn"] for row in mix) == 4 * 6
    images = pipeline([1, 6, 6], ["nevus", "melanoma", "nevus"], seeds=[0, 1, 2], steps=5)
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.uint8
    again = pipeline([6], ["melanoma"], seeds=[1], steps=5)  # alone, not in a batch: the same image
    assert np.abs(again[0].astype(int) - images[1]).max() <= 1
    assert not np.array_equal(images[1], images[2])
    # Guidance 0 ignores the labels: only the seed matters.
    free = pipeline([1, 6], ["nevus", "melanoma"], seeds=[5, 5], steps=5, guidance=0.0)
    assert np.abs(free[0].astype(int) - free[1]).max() <= 1
    with pytest.raises(ValueError, match="1–6"):
        pipeline([7], ["nevus"], seeds=[0])
    with pytest.raises(ValueError, match="cannot generate 'pizza'"):
        pipeline([1], ["pizza"], seeds=[0])
    with pytest.raises(ValueError, match="unknown scheduler"):
        pipeline([1], ["nevus"], seeds=[0], scheduler="warp")


def test_resume_continues_from_the_exact_step(phantoms, trained, tmp_path):
    config = tiny_config(phantoms, tmp_path / "resumed")

    def crash_after_step_3(step, total, loss):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, progress=crash_after_step_3)
    assert [p.name for p in (tmp_path / "resumed" / "checkpoints").iterdir()] == ["step-000002"]
    train(config)
    straight, resumed = load_model(trained).unet.state_dict(), load_model(tmp_path / "resumed").unet.state_dict()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    logged = pd.read_csv(tmp_path / "resumed" / "training_log.csv")
    assert logged["step"].tolist() == [1, 2, 3, 4]  # step 3 of the crashed run was logged, dropped on resume, logged again
    assert json.loads((tmp_path / "resumed" / "mix.json").read_text()) == json.loads((trained / "mix.json").read_text())
    with pytest.raises(ValueError, match="another config .*learning_rate"):
        train(tiny_config(phantoms, tmp_path / "resumed", steps=6, learning_rate=1e-3))


def test_bad_configs_and_data_are_refused_by_name(phantoms, tmp_path):
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps({"manifest": str(phantoms), "output_dir": str(tmp_path / "m"), "learnig_rate": 1e-3}))
    with pytest.raises(ValueError, match="unknown field.*learnig_rate"):
        TrainConfig.from_file(config_file)
    with pytest.raises(ValueError, match="image_size 31 must be"):
        tiny_config(phantoms, tmp_path / "m", image_size=31)
    with pytest.raises(ValueError, match="conditioning_dropout"):
        tiny_config(phantoms, tmp_path / "m", conditioning_dropout=1.0)
    table = read_manifest(phantoms).table.copy()
    table["fst"] = table["fst"].astype("Int64")
    table.loc[4, "fst"] = pd.NA
    table.loc[4, "fst_group"] = "I-II"
    table.loc[4, "fst_source"] = "grouped"
    grouped = write_manifest(table, phantoms.parent / "grouped.csv")
    with pytest.raises(ValueError, match="no exact Fitzpatrick type .*CSV line 6"):
        train(tiny_config(grouped, tmp_path / "m", split=""))


def test_model_folders_that_cannot_be_loaded_say_why(trained, tmp_path):
    with pytest.raises(ModelFolderError, match="no such model folder"):
        load_model(tmp_path / "nothing")
    other = tmp_path / "plain-unet"
    UNet2DModel(sample_size=8, block_out_channels=(32, 32), down_block_types=("DownBlock2D",) * 2, up_block_types=("UpBlock2D",) * 2).save_pretrained(other)
    with pytest.raises(ModelFolderError, match="not a fairskin model folder"):
        load_model(other)
    (tmp_path / "sd").mkdir()
    (tmp_path / "sd" / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    with pytest.raises(ModelFolderError, match="StableDiffusionPipeline.*Stable Diffusion backend"):
        load_model(tmp_path / "sd")
    damaged = tmp_path / "damaged"
    shutil.copytree(trained, damaged, ignore=shutil.ignore_patterns("checkpoints"))
    weights = damaged / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelFolderError, match="damaged"):
        load_model(damaged)
    weights.unlink()
    with pytest.raises(ModelFolderError, match="missing"):
        load_model(damaged)
    index = json.loads((damaged / "fairskin_model.json").read_text())
    (damaged / "fairskin_model.json").write_text(json.dumps({**index, "kind": "something-else"}))
    with pytest.raises(ModelFolderError, match="kind 'something-else'"):
        load_model(damaged)
