"""Stable Diffusion generation with LoRAs, learned tokens and the fast path, and skin-tone transfer, on a tiny random pipeline."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from app.cli import main
from fairskin_core.finetune.base_model import FINETUNE_FILE, BaseModelError
from fairskin_core.finetune.random_pipeline import build_random_stable_diffusion
from fairskin_core.generation.backends import StableDiffusionBackend
from fairskin_core.generation.sd_tone_transfer import tone_transfer
from fairskin_core.generation.tone_transfer import compare_tone
from fairskin_core.images import read_rgb
from fairskin_core.manifest import read_manifest
from fairskin_core.phantoms.dataset import write_phantom_dataset

STEPS = 3


def make_lora(base, folder, seed):
    """A UNet LoRA saved as `fairskin lora` and stock diffusers save it, with random (non-zero) A and B matrices."""
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = UNet2DConditionModel.from_pretrained(base, subfolder="unet")
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"], init_lora_weights="gaussian"))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in unet.named_parameters():
            if "lora_" in name:  # peft starts B at zero: a LoRA that changes nothing
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.1)
    StableDiffusionPipeline.save_lora_weights(folder, unet_lora_layers=convert_state_dict_to_diffusers(get_peft_model_state_dict(unet)),
                                              safe_serialization=True)
    return folder


def write_record(folder, **record):
    (folder / FINETUNE_FILE).write_text(json.dumps(record))


@pytest.fixture(scope="module")
def sd(tmp_path_factory):
    """One tiny random pipeline, two LoRAs and a token file, shared by the module's tests."""
    root = tmp_path_factory.mktemp("sd")
    model = build_random_stable_diffusion(root / "sd", "tiny")
    save_file({"<fairskin-melanoma>": torch.randn(32, generator=torch.Generator().manual_seed(3))}, root / "fairskin-melanoma.safetensors")
    return {"model": str(model), "lora_a": make_lora(model, root / "lora_a", 1), "lora_b": make_lora(model, root / "lora_b", 2),
            "token": root / "fairskin-melanoma.safetensors"}


@pytest.fixture(scope="module")
def base(sd):
    return StableDiffusionBackend(sd["model"])


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    """Three phantom images with skin and a lesion: sources for tone transfer."""
    return write_phantom_dataset(tmp_path_factory.mktemp("phantoms") / "set", n=3, preset="balanced", size=64, seed=1)


def image(backend, diagnosis="melanoma"):
    """One image of a skin type VI request, always the same seed."""
    return backend.generate([6], [diagnosis], [0], steps=STEPS, guidance=7.5, scheduler="dpm-solver++")[0].astype(int)


def test_a_lora_changes_the_image_and_weight_zero_gives_the_base_image(sd, base):
    with_lora = StableDiffusionBackend(sd["model"], loras=[(sd["lora_a"], 1.0)])
    assert np.abs(image(with_lora) - image(base)).max() > 10
    assert with_lora.model_id == f"stable-diffusion:{sd['model']}+lora:{sd['lora_a']}@1" and with_lora.model_hash != base.model_hash
    off = StableDiffusionBackend(sd["model"], loras=[(sd["lora_a"], 0.0)])
    assert np.array_equal(image(off), image(base))
    assert base.model_hash == base.base_fingerprint
    assert base.prompt(6, "nevus") == "dermoscopy image of nevus on Fitzpatrick type VI (six) skin"


def test_two_loras_load_together_with_their_weights(sd):
    both = StableDiffusionBackend(sd["model"], loras=[(sd["lora_a"], 0.5), (sd["lora_b"], 1.0)])
    assert both.pipeline.get_list_adapters() == {"unet": ["lora0", "lora1"]}
    assert both.model_id.endswith(f"+lora:{sd['lora_a']}@0.5+lora:{sd['lora_b']}@1")
    only_a = StableDiffusionBackend(sd["model"], loras=[(sd["lora_a"], 0.5)])
    assert np.abs(image(both) - image(only_a)).max() > 10


def test_a_fairskin_lora_of_another_base_is_refused_naming_both_bases(sd, base, tmp_path):
    theirs = shutil.copytree(sd["lora_a"], tmp_path / "theirs")
    write_record(theirs, method="lora", base_model="someone/other-sd", base_fingerprint="0123456789abcdef", prompt_template="x {diagnosis}",
                 tokens=[])
    with pytest.raises(BaseModelError, match=r"someone/other-sd.*0123456789abcdef.*not on .*sd.*fingerprint"):
        StableDiffusionBackend(sd["model"], loras=[(theirs, 1.0)])
    ours = shutil.copytree(sd["lora_a"], tmp_path / "ours")
    write_record(ours, method="lora", base_model=sd["model"], base_fingerprint=base.base_fingerprint,
                 prompt_template="close-up of {diagnosis}, type {fst} skin", tokens=[])
    assert StableDiffusionBackend(sd["model"], loras=[(ours, 1.0)]).prompt(5, "melanoma") == "close-up of melanoma, type V skin"


def test_a_lora_that_does_not_fit_is_refused_naming_its_folder(sd, tmp_path):
    wrong = tmp_path / "wrong-shapes"
    wrong.mkdir()
    weights = load_file(sd["lora_a"] / "pytorch_lora_weights.safetensors")
    save_file({k: torch.zeros(v.shape[0], v.shape[1] + 3) if "lora.down" in k else v for k, v in weights.items()},
              wrong / "pytorch_lora_weights.safetensors")
    with pytest.raises(ValueError, match=f"LoRA {wrong} does not fit .*size mismatch"):
        StableDiffusionBackend(sd["model"], loras=[(wrong, 1.0)])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=f"LoRA {tmp_path / 'empty'}: no pytorch_lora_weights.safetensors"):
        StableDiffusionBackend(sd["model"], loras=[(tmp_path / "empty", 1.0)])


def test_a_learned_token_changes_the_images_whose_prompt_has_it(sd, base, tmp_path):
    folder = tmp_path / "tokens"
    folder.mkdir()
    shutil.copy(sd["token"], folder)
    write_record(folder, method="textual-inversion", base_model=sd["model"], base_fingerprint=base.base_fingerprint,
                 prompt_template="dermoscopy image of {diagnosis} on Fitzpatrick type {fst} ({fst_word}) skin",
                 tokens={"<fairskin-melanoma>": "fairskin-melanoma.safetensors"})
    for given in (sd["token"], folder):  # a token file, or the folder `fairskin textual-inversion` writes
        tokens = StableDiffusionBackend(sd["model"], textual_inversions=[given])
        assert tokens.tokens == {"<fairskin-melanoma>"} and "+textual-inversion:" in tokens.model_id
    assert tokens.prompt(6, "melanoma") == "dermoscopy image of <fairskin-melanoma> melanoma on Fitzpatrick type VI (six) skin"
    assert np.abs(image(tokens) - image(base)).max() > 10
    assert np.array_equal(image(tokens, diagnosis="nevus"), image(base, diagnosis="nevus"))  # no token in its prompt


def test_a_token_already_in_the_vocabulary_is_refused_naming_it_and_its_file(sd, tmp_path):
    again = shutil.copy(sd["token"], tmp_path / "again.safetensors")
    with pytest.raises(ValueError, match=f"{again}: its token <fairskin-melanoma> is already in the vocabulary"):
        StableDiffusionBackend(sd["model"], textual_inversions=[sd["token"], again])


def test_fast_on_a_cpu_gives_the_same_image_within_rounding(sd):
    from diffusers.models.attention_processor import AttnProcessor2_0, FusedAttnProcessor2_0

    plain = StableDiffusionBackend(sd["model"], loras=[(sd["lora_a"], 0.7)])
    fast = StableDiffusionBackend(sd["model"], loras=[(sd["lora_a"], 0.7)], fast=True)
    assert {type(p) for p in plain.pipeline.unet.attn_processors.values()} == {AttnProcessor2_0}  # SDPA, diffusers' default
    assert {type(p) for p in fast.pipeline.unet.attn_processors.values()} == {FusedAttnProcessor2_0}
    assert fast.pipeline.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    assert fast.pipeline.get_list_adapters() == {} and fast.model_hash == plain.model_hash  # merged into the weights
    assert np.abs(image(fast) - image(plain)).max() <= 2


def test_tone_transfer_keeps_the_size_and_follows_the_skin_type(base):
    source = np.random.default_rng(0).integers(0, 256, (1, 100, 80, 3), dtype=np.uint8)
    results = tone_transfer(base, np.concatenate([source, source]), [1, 6], ["melanoma", "melanoma"], [7, 7], steps=4)
    assert results.shape == (2, 100, 80, 3) and results.dtype == np.uint8
    assert np.abs(results[0].astype(int) - results[1]).max() > 10
    with pytest.raises(ValueError, match="^strength 0: give a number above 0 and at most 1"):  # the library names its parameter
        tone_transfer(base, source, [6], ["melanoma"], [0], strength=0)


def test_compare_tone_measures_both_images_and_the_lesion_overlap(phantoms):
    source = read_rgb(phantoms.parent / read_manifest(phantoms).table["image_path"].iat[0])
    compared = compare_tone(source, (source * 0.6).astype(np.uint8))  # the same lesion on darker skin
    assert compared["source"]["status"] == compared["result"]["status"] == "ok"
    assert compared["source"]["fst"] == 1 and compared["result"]["fst"] == 6 and compared["result"]["ita"] < compared["source"]["ita"]
    assert compared["source"]["mask"].shape == source.shape[:2] and compared["source"]["mask"].dtype == bool
    assert compared["lesion_iou"] > 0.8 and compare_tone(source, source)["lesion_iou"] == 1.0


def tone_cli(sd, manifest, out, *extra):
    return main(["tone-transfer", "--manifest", str(manifest), "--fst", "6", "--stable-diffusion", sd["model"], "--out", str(out),
                 "--steps", str(STEPS * 2), "--strength", "0.5", *map(str, extra)])


def test_tone_transfer_command_records_its_sources_and_resumes(sd, phantoms, tmp_path):
    out = tmp_path / "toned"
    assert tone_cli(sd, phantoms, out, "--limit", 2, "--lora", f"{sd['lora_a']}:0.5") == 0
    table = read_manifest(out / "manifest.csv", check_files="decode").table
    sources = read_manifest(phantoms).table.iloc[:2]
    assert len(table) == 2 and set(table["fst"]) == {6} and set(table["fst_source"]) == {"requested"}
    assert list(table["diagnosis"]) == list(sources["diagnosis"]) and set(table["source"]) == {"synthetic"}
    assert table["prompt"].str.contains("Fitzpatrick type VI").all() and set(table["scheduler"]) == {"dpm-solver++"}
    strength, digest, image_id, manifest = table["source_image"].iat[1].split(";", 3)
    assert (strength, image_id, manifest) == ("strength=0.5", f"image_id={sources['image_id'].iat[1]}", f"manifest={phantoms.resolve()}")
    for row, source in zip(table.itertuples(), sources.itertuples(), strict=True):
        assert read_rgb(out / row.image_path).shape == read_rgb(phantoms.parent / source.image_path).shape
    first = (out / table["image_path"].iat[0]).stat().st_mtime_ns
    assert tone_cli(sd, phantoms, out, "--limit", 3, "--lora", f"{sd['lora_a']}:0.5") == 0  # resumes: one new image
    assert len(read_manifest(out / "manifest.csv").table) == 3 and (out / table["image_path"].iat[0]).stat().st_mtime_ns == first
    assert tone_cli(sd, phantoms, out, "--limit", 3, "--strength", 0.9) == 1  # other settings into the same folder


def test_tone_transfer_refuses_bad_requests_and_writes_nothing(sd, phantoms, tmp_path, capsys):
    out = tmp_path / "never"
    assert tone_cli(sd, phantoms, out, "--strength", 1.5) == 1
    assert "--strength 1.5: give a number above 0 and at most 1" in capsys.readouterr().err
    assert main(["tone-transfer", "--manifest", str(phantoms), "--fst", "7", "--stable-diffusion", sd["model"], "--out", str(out)]) == 1
    assert "--fst 7: a Fitzpatrick skin type is 1-6" in capsys.readouterr().err
    assert tone_cli(sd, tmp_path / "missing.csv", out) == 1
    assert "missing.csv: manifest not found" in capsys.readouterr().err
    broken = shutil.copytree(phantoms.parent, tmp_path / "broken")
    bad_file = broken / read_manifest(broken / "manifest.csv").table["image_path"].iat[1]
    bad_file.write_bytes(b"not an image")
    assert tone_cli(sd, broken / "manifest.csv", out) == 1
    assert f"{bad_file}: not a readable image" in capsys.readouterr().err
    assert not out.exists()


def test_generate_command_with_stable_diffusion_and_a_weighted_lora(sd, tmp_path, capsys):
    out = tmp_path / "generated"
    assert main(["generate", "--stable-diffusion", sd["model"], "--lora", f"{sd['lora_a']}:0.5", "--fst", "6", "--diagnosis", "melanoma",
                 "--n", "2", "--steps", str(STEPS), "--scheduler", "unipc", "--out", str(out)]) == 0
    table = read_manifest(out / "manifest.csv", check_files="decode").table
    assert len(table) == 2 and set(table["model_id"]) == {f"stable-diffusion:{sd['model']}+lora:{sd['lora_a']}@0.5"}
    assert set(table["guidance"]) == {7.5} and set(table["scheduler"]) == {"unipc"}
    with pytest.raises(SystemExit):
        main(["generate", "--stable-diffusion", sd["model"], "--lora", f"{sd['lora_a']}:half", "--out", str(out)])
    assert f"'{sd['lora_a']}:half': the weight after ':' must be a number" in capsys.readouterr().err
    assert main(["generate", "--lora", str(sd["lora_a"]), "--fst", "6", "--diagnosis", "melanoma", "--n", "1", "--out", str(out)]) == 1
    assert "give --stable-diffusion MODEL with them" in capsys.readouterr().err
