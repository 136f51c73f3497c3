"""Training the FST-conditioned model: sampler statistics, save/load/generate, exact resume, bad input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DModel
from scipy.stats import chisquare

from fairskin_core.diffusion.conditioned_unet import FSTConditionedUNet
from fairskin_core.diffusion.model_folder import ModelFolderError
from fairskin_core.diffusion.model_loading import load_model
from fairskin_core.hashing import file_sha256
from fairskin_core.manifest import read_manifest, write_manifest
from fairskin_core.phantoms.dataset import write_phantom_dataset
from fairskin_core.phantoms.workspace_sets import phantom_set
from fairskin_core.training.config import TrainConfig
from fairskin_core.training.latents import load_vae
from fairskin_core.training.sampler import BalancedCellSampler
from fairskin_core.training.train import _clean_estimate, _min_snr_weight, _target, train

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


def test_a_trained_model_folder_is_a_stock_diffusers_pipeline(trained, tmp_path):
    from fairskin_core.diffusion.pipeline import FSTDiffusionPipeline

    index = json.loads((trained / "model_index.json").read_text())
    assert index["_class_name"] == "FSTDiffusionPipeline"
    assert index["unet"] == ["fairskin_core.diffusion.conditioned_unet", "FSTConditionedUNet"] and index["vae"] == [None, None]
    stock = FSTDiffusionPipeline.from_pretrained(trained)  # diffusers' loader, without fairskin's checks
    request = ([1, 6], ["nevus", "melanoma"], [0, 1])
    assert np.array_equal(stock(*request, steps=3), load_model(trained)(*request, steps=3))
    stock.save_pretrained(tmp_path / "again")  # and diffusers writes it back in the same layout (plus where it was loaded from)
    again = json.loads((tmp_path / "again" / "model_index.json").read_text())
    assert {k: v for k, v in again.items() if k != "_name_or_path"} == index


def test_a_model_folder_saved_before_the_model_moved_to_fairskin_core_diffusion_still_loads(trained, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(trained, old, ignore=shutil.ignore_patterns("checkpoints"))
    index = json.loads((old / "model_index.json").read_text())
    former = ["fairskin_core.generation.conditioned_unet", "FSTConditionedUNet"]  # where save_pretrained recorded it then
    (old / "model_index.json").write_text(json.dumps({**index, "unet": former}))
    request = ([1, 6], ["nevus", "melanoma"], [0, 1])
    assert np.array_equal(load_model(old)(*request, steps=3), load_model(trained)(*request, steps=3))


def test_a_config_naming_phantoms_trains_on_that_set_rendered_into_the_workspace(tmp_path):
    config = tiny_config("", tmp_path / "on-phantoms", phantoms={"n": 60, "preset": "balanced", "size": 32, "seed": 3}, steps=1)
    model = train(config, phantoms=tmp_path / "home" / "phantoms")
    rendered = phantom_set(tmp_path / "home" / "phantoms", config.phantoms)  # the set `train` rendered, found again without rendering
    assert json.loads((model / "fairskin_model.json").read_text())["manifest_sha256"] == file_sha256(rendered)


def test_resume_continues_from_the_exact_step(phantoms, trained, tmp_path):
    config = tiny_config(phantoms, tmp_path / "resumed")

    def crash_after_step_3(step, total, loss):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, progress=crash_after_step_3)
    assert [p.name for p in (tmp_path / "resumed" / "checkpoints").iterdir()] == ["step-000002"]
    train(tiny_config(phantoms, tmp_path / "resumed", keep_checkpoints=5))  # book-keeping may change; the weights may not
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
    with pytest.raises(ValueError, match="snr_gamma must be ≥ 0"):
        tiny_config(phantoms, tmp_path / "m", snr_gamma=-1.0)
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
    UNet2DModel(sample_size=8, block_out_channels=(32, 32), down_block_types=("DownBlock2D",) * 2,
                up_block_types=("UpBlock2D",) * 2).save_pretrained(other)
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


def test_min_snr_weighting_caps_easy_timesteps_only():
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
    timesteps = torch.arange(1000)
    weight = _min_snr_weight(scheduler, timesteps, gamma=5.0)
    snr = scheduler.alphas_cumprod / (1 - scheduler.alphas_cumprod)
    noisy = snr <= 5
    assert 50 < int(noisy.sum()) < 950  # both regimes occur on this schedule
    assert torch.all(weight[noisy] == 1)  # noisy steps keep the plain ε loss
    assert torch.allclose(weight[~noisy] * snr[~noisy], torch.tensor(5.0), rtol=1e-4)  # easy steps count as if SNR were γ
    assert torch.all(weight[1:] >= weight[:-1])  # more noise, never less weight


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_each_prediction_type_implies_the_clean_image_and_its_min_snr_weight(prediction_type):
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type=prediction_type)
    generator = torch.Generator().manual_seed(0)
    images, noise = torch.rand(6, 3, 8, 8, generator=generator) * 2 - 1, torch.randn(6, 3, 8, 8, generator=generator)
    timesteps = torch.tensor([0, 10, 200, 500, 900, 990])
    noisy = scheduler.add_noise(images, noise, timesteps)
    # A perfect prediction of the target gives back the clean image at every noise level.
    assert torch.allclose(_clean_estimate(scheduler, noisy, _target(scheduler, images, noise, timesteps), timesteps), images, atol=2e-3)
    # Weighted loss = min(SNR, 5) × the x₀ error, whichever target the model learns.
    x0_error = torch.full((6, 3, 8, 8), 0.1)
    alpha = scheduler.alphas_cumprod[timesteps].view(-1, 1, 1, 1)
    predicted = _target(scheduler, images, noise, timesteps)
    predicted = predicted - x0_error * (1 / (1 - alpha).sqrt() if prediction_type == "v_prediction" else (alpha / (1 - alpha)).sqrt())
    assert torch.allclose(_clean_estimate(scheduler, noisy, predicted, timesteps), images + x0_error, atol=2e-3)
    loss = ((predicted - _target(scheduler, images, noise, timesteps)) ** 2).mean(dim=(1, 2, 3))
    snr = (alpha / (1 - alpha)).flatten()
    assert torch.allclose(loss * _min_snr_weight(scheduler, timesteps, 5.0), 0.01 * snr.clamp(max=5), rtol=1e-3)


def test_patch_size_two_is_a_lossless_fold_of_pixels_into_channels():
    torch.manual_seed(0)
    model = FSTConditionedUNet(sample_size=32, block_out_channels=(16, 32), attention_levels=(False, True), patch_size=2).eval()
    assert model.unet.config.sample_size == 16 and model.unet.config.in_channels == 12  # 32 × 32 × 3 seen as 16 × 16 × 12
    sample = torch.randn(2, 3, 32, 32)
    fst, diagnosis = model.label_indices([1, 6], ["nevus", "melanoma"])
    with torch.no_grad():
        predicted = model(sample, torch.tensor([10, 900]), fst, diagnosis)
        inner = model.unet(torch.nn.functional.pixel_unshuffle(sample, 2), torch.tensor([10, 900]),
                           class_labels=model.fst_embedding(fst) + model.diagnosis_embedding(diagnosis)).sample
    assert predicted.shape == sample.shape
    # Output pixel (2i + a, 2j + b) of channel c is the inner UNet's channel 4c + 2a + b at (i, j).
    assert torch.equal(predicted[:, 1, 5::2, 2::2], inner[:, 4 * 1 + 2 * 1 + 0, 2:, 1:])
    with pytest.raises(ValueError, match="patch_size 3 must be ≥ 1 and divide sample_size 32"):
        FSTConditionedUNet(sample_size=32, block_out_channels=(16, 32), attention_levels=(False, True), patch_size=3)


def test_patched_v_prediction_model_trains_saves_and_generates(phantoms, tmp_path):
    model = train(tiny_config(phantoms, tmp_path / "patched", patch_size=2, prediction_type="v_prediction", snr_gamma=5.0))
    pipeline = load_model(model)
    assert pipeline.unet.config.patch_size == 2 and pipeline.scheduler.config.prediction_type == "v_prediction"
    assert np.isfinite(pd.read_csv(model / "training_log.csv")["loss"]).all()
    assert "2 × 2 pixel blocks as channels, predicting v, min-SNR-5 loss weighting, fp32" in (model / "model_card.md").read_text()
    for scheduler in ("ddim", "dpm-solver", "euler", "ddpm"):  # every sampler reads the prediction type from the training schedule
        images = pipeline([1, 6], ["nevus", "melanoma"], seeds=[0, 1], steps=4, scheduler=scheduler)
        assert images.shape == (2, 32, 32, 3) and len(np.unique(images)) > 10
    with pytest.raises(ValueError, match="image_size 34 must be ≥ 16 and divisible by 4 \\(patch_size"):
        tiny_config(phantoms, tmp_path / "m", patch_size=2, image_size=34)
    with pytest.raises(ValueError, match="prediction_type must be one of epsilon, v_prediction, not 'sample'"):
        tiny_config(phantoms, tmp_path / "m", prediction_type="sample")


def test_bf16_training_with_min_snr_weighting_runs_on_the_cpu(phantoms, trained, tmp_path):
    # accelerate fixes mixed precision once per process (this one trained in fp32): the CLI runs in its own.
    config = tmp_path / "bf16.json"
    config.write_text(json.dumps({**tiny_config(phantoms, tmp_path / "bf16").to_dict(), "mixed_precision": "bf16", "snr_gamma": 5.0}))
    run = subprocess.run([sys.executable, "-m", "app.cli", "train", "--config", str(config)], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "FAIRSKIN_HOME": str(tmp_path / "home")})
    assert run.returncode == 0, run.stderr[-2000:]
    model = tmp_path / "bf16"
    logged = pd.read_csv(model / "training_log.csv")
    assert np.isfinite(logged["loss"]).all() and len(logged) == 4
    plain, weighted = load_model(trained).unet.state_dict(), load_model(model).unet.state_dict()
    assert any(not torch.equal(plain[k], weighted[k]) for k in plain)  # the same draws, another loss and precision: other weights
    assert load_model(model)([6], ["melanoma"], seeds=[0], steps=3).shape == (1, 32, 32, 3)
    with pytest.raises(ValueError, match="mixed_precision 'bf16': this process already trained with another precision"):
        train(TrainConfig.from_file(config, output_dir=str(tmp_path / "again")))


def tiny_vae() -> AutoencoderKL:
    torch.manual_seed(0)
    return AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                         block_out_channels=(8, 16), latent_channels=4, norm_num_groups=8, sample_size=32)


def test_latent_space_training_round_trip(phantoms, tmp_path):
    vae_folder = tmp_path / "sd-like" / "vae"  # a Stable Diffusion folder: its vae/ is found
    tiny_vae().save_pretrained(vae_folder)
    model = train(tiny_config(phantoms, tmp_path / "latent", vae=str(vae_folder.parent), steps=2))
    index = json.loads((model / "fairskin_model.json").read_text())
    assert index["latent"] is True and index["image_size"] == 32 and index["vae_source"] == str(vae_folder.parent)
    assert "latent space" in (model / "model_card.md").read_text()
    pipeline = load_model(model)
    assert pipeline.unet.config.in_channels == 4 and pipeline.unet.config.sample_size == 16  # the denoiser works on 16 × 16 latents
    original, shipped = tiny_vae().state_dict(), pipeline.vae.state_dict()
    assert all(torch.equal(original[k], shipped[k]) for k in original)  # the VAE travels with the model, unchanged
    images = pipeline([2, 5], ["nevus", "melanoma"], seeds=[0, 1], steps=3)
    assert images.shape == (2, 32, 32, 3) and images.dtype == np.uint8

    with pytest.raises(ValueError, match="image_size 34 must be divisible by 4"):
        train(tiny_config(phantoms, tmp_path / "odd", vae=str(vae_folder), image_size=34))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no config.json .*hub id such as stabilityai/sd-vae-ft-mse"):
        load_vae(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="vae 'nobody/no-such-vae': not a folder here, and not loadable from the hub"):
        load_vae("nobody/no-such-vae", allow_download=False)
