"""`fairskin lora` and `fairskin textual-inversion` on a tiny Stable Diffusion of the real classes.

The base is `build_random_stable_diffusion(..., "tiny")`: real diffusers/transformers classes,
random weights, CLIP's real tokenizer. Each fine-tune trains a few steps on phantoms (and once
on real HAM10000 JPEGs), is loaded back by **stock** diffusers — `load_lora_weights`,
`load_textual_inversion` — and must change the image for a fixed seed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionPipeline
from safetensors.torch import load_file

from app.cli import main
from fairskin_core.finetune.base_model import BaseModelError, base_fingerprint, check_base, load_base
from fairskin_core.finetune.clip_vocabulary import write_clip_tokenizer
from fairskin_core.finetune.prompts import cell_prompt
from fairskin_core.finetune.random_pipeline import build_random_stable_diffusion
from fairskin_core.manifest import read_manifest
from fairskin_core.phantoms.dataset import write_phantom_dataset
from tests.conftest import REPO, real_sample

QUICK = ["--resolution", "64", "--steps", "6", "--batch-size", "2", "--split", "", "--learning-rate", "1e-3", "--checkpoint-every", "3"]
# What a fine-tune in this process records of its precision (accelerate's default, "no"; bf16 runs in a process of its own):
# every weight in fp32.
FP32_PRECISION = {"accelerator": "no", "trainable": "torch.float32", "frozen": "torch.float32"}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return build_random_stable_diffusion(tmp_path_factory.mktemp("sd") / "tiny-sd", "tiny")


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    return write_phantom_dataset(tmp_path_factory.mktemp("finetune") / "phantoms", n=24, preset="balanced", size=64, seed=5)


def stock_pipeline(base) -> StableDiffusionPipeline:
    pipeline = StableDiffusionPipeline.from_pretrained(base, local_files_only=True)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def image(pipeline, prompt: str, seed: int = 0) -> np.ndarray:
    generator = torch.Generator().manual_seed(seed)
    return pipeline(prompt, num_inference_steps=3, guidance_scale=4.0, output_type="np", generator=generator).images[0]


def test_the_clip_tokenizer_built_offline_gives_the_standard_ids(tmp_path):
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(write_clip_tokenizer(tmp_path / "tokenizer"))
    assert len(tokenizer) == 49408
    assert tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]


def test_a_lora_trains_saves_and_changes_the_image_in_stock_diffusers(base, phantoms, tmp_path):
    out = tmp_path / "lora"
    assert main(["lora", "--base", str(base), "--manifest", str(phantoms), "--out", str(out), *QUICK,
                 "--validation-every", "6", "--validation-steps", "2"]) == 0
    record = json.loads((out / "fairskin_finetune.json").read_text())
    assert record["method"] == "lora" and record["steps"] == 6 and np.isfinite(record["final_loss"])
    assert record["precision"] == FP32_PRECISION
    assert record["base_fingerprint"] == base_fingerprint(load_base(str(base)).unet)
    assert sum(n for _, _, n in record["cells"]) == 12  # 6 steps of 2 images
    assert json.loads((out / "finetune_config.json").read_text())["rank"] == 8
    validation = (out / "validation" / "validation.csv").read_text().splitlines()
    assert validation[0].startswith("step,fst,diagnosis") and len(validation) == 1 + 6  # one image per skin type
    prompt = cell_prompt(6, "melanoma")
    pipeline = stock_pipeline(base)
    before = image(pipeline, prompt)
    pipeline.load_lora_weights(out, adapter_name="fst")
    after = image(pipeline, prompt)
    assert np.abs(after - before).max() > 1e-3
    pipeline.set_adapters(["fst"], adapter_weights=[0.0])
    assert np.abs(image(pipeline, prompt) - before).max() < 1e-5  # weight 0 is the base model again


def test_one_lora_per_skin_type_and_both_load_together(base, phantoms, tmp_path):
    for fst in (1, 6):
        assert main(["lora", "--base", str(base), "--manifest", str(phantoms), "--out", str(tmp_path / f"fst{fst}"), *QUICK,
                     "--fst", str(fst), "--rank", "4"]) == 0
        cells = json.loads((tmp_path / f"fst{fst}" / "fairskin_finetune.json").read_text())["cells"]
        assert {f for f, _, _ in cells} == {fst}
    pipeline = stock_pipeline(base)
    pipeline.load_lora_weights(tmp_path / "fst1", adapter_name="fst1")
    pipeline.load_lora_weights(tmp_path / "fst6", adapter_name="fst6")
    pipeline.set_adapters(["fst1", "fst6"], adapter_weights=[0.5, 1.0])
    mixed = image(pipeline, cell_prompt(6, "nevus"))
    pipeline.set_adapters(["fst6"], adapter_weights=[1.0])
    assert np.abs(mixed - image(pipeline, cell_prompt(6, "nevus"))).max() > 1e-4


def test_textual_inversion_saves_one_stock_loadable_file_per_token(base, phantoms, tmp_path):
    out = tmp_path / "tokens"
    assert main(["textual-inversion", "--base", str(base), "--manifest", str(phantoms), "--out", str(out), *QUICK,
                 "--diagnoses", "melanoma,nevus", "--skin-type-tokens"]) == 0
    record = json.loads((out / "fairskin_finetune.json").read_text())
    assert record["precision"] == FP32_PRECISION
    rows = read_manifest(phantoms).table
    skin_types = set(rows.loc[rows["diagnosis"].isin(["melanoma", "nevus"]), "fst"].astype(int))
    assert len(skin_types) >= 3
    assert set(record["tokens"]) == {"<fairskin-melanoma>", "<fairskin-nevus>"} | {f"<fairskin-fst{f}>" for f in skin_types}
    initial = load_base(str(base))
    word = initial.tokenizer("melanoma", add_special_tokens=False).input_ids
    start = initial.text_encoder.get_input_embeddings().weight[word].mean(0)
    learned = load_file(out / "fairskin-melanoma.safetensors")
    assert list(learned) == ["<fairskin-melanoma>"] and not torch.allclose(learned["<fairskin-melanoma>"], start)
    pipeline = stock_pipeline(base)
    plain = image(pipeline, cell_prompt(6, "melanoma"))
    pipeline.load_textual_inversion([str(out / name) for name in record["tokens"].values()])
    tokens = set(record["tokens"])
    with_tokens = image(pipeline, cell_prompt(6, "melanoma", tokens=tokens))
    assert "<fairskin-melanoma> melanoma" in cell_prompt(6, "melanoma", tokens=tokens)
    assert np.abs(with_tokens - plain).max() > 1e-3
    # The base's own vocabulary is untouched: only the new rows were trained.
    assert torch.equal(pipeline.text_encoder.get_input_embeddings().weight[:49408], initial.text_encoder.get_input_embeddings().weight)


def test_a_lora_on_learned_tokens_and_a_token_already_in_the_vocabulary(base, phantoms, tmp_path):
    tokens = tmp_path / "tokens"
    assert main(["textual-inversion", "--base", str(base), "--manifest", str(phantoms), "--out", str(tokens), *QUICK,
                 "--diagnoses", "nevus"]) == 0
    lora = tmp_path / "lora"
    assert main(["lora", "--base", str(base), "--manifest", str(phantoms), "--out", str(lora), *QUICK, "--diagnoses", "nevus",
                 "--textual-inversion", str(tokens)]) == 0
    assert json.loads((lora / "fairskin_finetune.json").read_text())["textual_inversions"] == [str(tokens)]
    again = tmp_path / "again"
    with pytest.raises(ValueError, match="<fairskin-nevus> already in the tokenizer's vocabulary"):
        from fairskin_core.finetune.config import FinetuneConfig
        from fairskin_core.finetune.train import finetune

        finetune(FinetuneConfig(method="textual-inversion", base=str(base), manifest=str(phantoms), output_dir=str(again), split="",
                                resolution=64, steps=2, diagnoses=["nevus"], textual_inversions=[str(tokens)]))
    assert not again.exists()


def test_resume_from_a_checkpoint_ends_with_the_weights_of_an_uninterrupted_run(base, phantoms, tmp_path):
    args = ["--base", str(base), "--manifest", str(phantoms), *QUICK]
    assert main(["lora", *args, "--out", str(tmp_path / "straight")]) == 0
    interrupted = tmp_path / "interrupted"
    assert main(["lora", *args, "--out", str(interrupted)]) == 0
    shutil.rmtree(interrupted / "checkpoints" / "step-000006")  # as if stopped after step 3
    (interrupted / "pytorch_lora_weights.safetensors").unlink()
    assert main(["lora", *args, "--out", str(interrupted)]) == 0
    straight, resumed = (load_file(tmp_path / n / "pytorch_lora_weights.safetensors") for n in ("straight", "interrupted"))
    assert straight.keys() == resumed.keys() and all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert main(["lora", *args, "--out", str(interrupted), "--rank", "4"]) == 1  # another config may not resume


BF16_PROCESS = """
import sys
from app.cli import main
base, manifest, out, *quick = sys.argv[1:]
for method in ("lora", "textual-inversion"):
    if main([method, "--base", base, "--manifest", manifest, "--out", f"{out}/{method}", *quick, "--steps", "2",
             "--mixed-precision", "bf16"]):
        sys.exit(1)
"""


def test_frozen_weights_follow_the_accelerators_precision_and_trainable_ones_stay_fp32(base, phantoms, tmp_path):
    """In bf16, in a process of its own: accelerate fixes the precision for the whole process (this one's, fp32, is
    `FP32_PRECISION`, checked where its fine-tunes are made)."""
    command = [sys.executable, "-c", BF16_PROCESS, str(base), str(phantoms), str(tmp_path), *QUICK]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for method, frozen in (("lora", "torch.bfloat16"), ("textual-inversion", "torch.bfloat16,torch.float32")):
        used = json.loads((tmp_path / method / "fairskin_finetune.json").read_text())["precision"]
        # Textual inversion keeps the text encoder around its embedding in fp32, as diffusers' script does.
        assert used == {"accelerator": "bf16", "trainable": "torch.float32", "frozen": frozen}


def test_bad_input_is_refused_by_name_and_nothing_is_written(base, phantoms, tmp_path, capsys):
    def refused(*args: str) -> str:
        out = tmp_path / "out"
        assert main([*args, "--out", str(out)]) == 1
        assert not out.exists()
        return capsys.readouterr().err

    common = ["--manifest", str(phantoms), *QUICK]
    rows = read_manifest(phantoms).table
    present = set(zip(rows["fst"].astype(int), rows["diagnosis"], strict=True))
    absent = next((f, d) for f in range(1, 7) for d in ("melanoma", "nevus", "dermatofibroma") if (f, d) not in present)
    other = next(d for f, d in present if f == absent[0])
    message = refused("lora", "--base", str(base), *common, "--fst", str(absent[0]), "--diagnoses", f"{absent[1]},{other}")
    assert f"no image of FST {absent[0]} × {absent[1]}" in message and other not in message
    message = refused("lora", "--base", "someone/not-downloaded-sd", *common)
    assert "huggingface-cli download someone/not-downloaded-sd" in message and "local diffusers folder" in message
    assert "not a diffusers Stable Diffusion folder" in refused("lora", "--base", str(phantoms.parent), *common)
    assert "prompt template" in refused("lora", "--base", str(base), *common, "--prompt-template", "skin of {colour}")
    assert "Fitzpatrick types are 1 to 6" in refused("textual-inversion", "--base", str(base), *common, "--fst", "7")
    assert "give --base" in refused("lora", "--manifest", str(phantoms))


def test_a_lora_from_another_base_is_refused_with_both_names(base, tmp_path):
    other = build_random_stable_diffusion(tmp_path / "other-sd", "tiny", seed=1)
    lora = tmp_path / "lora"
    lora.mkdir()
    record = {"method": "lora", "base_model": str(base), "base_fingerprint": base_fingerprint(load_base(str(base)).unet)}
    (lora / "fairskin_finetune.json").write_text(json.dumps(record))
    other_fingerprint = base_fingerprint(load_base(str(other)).unet)
    assert other_fingerprint != record["base_fingerprint"]
    with pytest.raises(BaseModelError, match=f"trained on the base model '{base}'.*not on '{other}'"):
        check_base(lora, str(other), other_fingerprint)
    check_base(lora, str(base), record["base_fingerprint"])


def test_real_jpegs_without_skin_types_are_refused_then_train_once_types_are_estimated(base, tmp_path, capsys):
    ham = real_sample("ham10000_sample70")
    manifest = tmp_path / "ham.csv"
    assert main(["import", "ham10000", str(ham / "HAM10000_metadata_sample.csv"), "--images", str(ham / "images"),
                 "--out", str(manifest)]) == 0
    assert main(["lora", "--base", str(base), "--manifest", str(manifest), "--out", str(tmp_path / "none"), *QUICK]) == 1
    assert "no exact Fitzpatrick type" in capsys.readouterr().err and not (tmp_path / "none").exists()
    estimated = tmp_path / "ham-ita.csv"
    assert main(["ita", "measure", str(manifest), "--out", str(tmp_path / "ita.csv"), "--estimated-manifest", str(estimated)]) == 0
    import pandas as pd

    table = pd.read_csv(estimated, keep_default_na=False, dtype=str)
    table[table["fst"] != ""].to_csv(estimated, index=False)  # the measurable ones
    out = tmp_path / "lora"
    assert main(["lora", "--base", str(base), "--manifest", str(estimated), "--out", str(out), *QUICK]) == 0
    assert (out / "pytorch_lora_weights.safetensors").stat().st_size > 0
