"""`fairskin lora` and `fairskin textual-inversion`: fine-tune Stable Diffusion on a manifest, fairness-aware.

One loop for both methods (`lora.Lora`, `textual_inversion.TextualInversion` say what trains)
and for a CPU, one GPU or `accelerate launch` on many. Each step draws images with the FST ×
diagnosis `BalancedCellSampler` of `fairskin train`, prompts each with its cell's text
(`prompts.py`), encodes it with the frozen VAE, noises it and trains the UNet's prediction of
the noise (or v) against its target. As in `fairskin train`, everything random in a step comes
from a generator seeded by (seed, step, process), so a run resumed from
`checkpoints/step-NNNNNN/` ends with the weights of one that never stopped.

Mixed precision is decided by the accelerator, not by our own argument: under
`accelerate launch --mixed_precision fp16` the accelerator's setting wins over the config, the
frozen UNet, VAE and text encoder are cast to that dtype and the trainable weights kept in fp32
(diffusers' LoRA script checks its own argument and leaves LoRA weights in fp16, and the
gradient scaler then fails with "Attempting to unscale FP16 gradients"). The dtypes used are
written into the output's record.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import shutil
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from diffusers.optimization import get_cosine_schedule_with_warmup
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from ..atomic import atomic_file
from ..errors import ParameterError
from ..hashing import file_sha256
from ..torch_files import usable_precision
from ..training.checkpoints import cells_drawn, checkpoint_to_resume, refuse_another_config
from ..training.data import TrainingImages, load_training_images
from ..training.sampler import BalancedCellSampler, step_seed
from .base_model import FINETUNE_FILE, BaseModel, load_base
from .config import FinetuneConfig
from .lora import Lora
from .prompts import cell_prompt
from .textual_inversion import TextualInversion, load_tokens

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, float], None]  # (step, total steps, loss)
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
VALIDATION_FIELDS = ("step", "fst", "diagnosis", "seed", "prompt", "image", "status", "ita", "measured_fst")


def _accelerator(config: FinetuneConfig) -> Accelerator:
    """The process's accelerator; its precision is the config's unless `accelerate launch` fixed another."""
    try:
        return Accelerator(mixed_precision=usable_precision(config.mixed_precision))
    except ValueError:  # accelerate fixed the precision for the whole process already: it is the setting
        return Accelerator()


def _training_cells(config: FinetuneConfig, data: TrainingImages) -> np.ndarray:
    """Which rows train: the requested skin types and diagnoses, each requested one (and cell) present."""
    keep = np.ones(len(data), dtype=bool)
    if config.fst:
        keep &= np.isin(data.fst, config.fst)
    if config.diagnoses:
        keep &= np.isin(data.diagnosis, config.diagnoses)
    present = set(zip(data.fst[keep].tolist(), data.diagnosis[keep].tolist(), strict=True))
    wanted = [(f, d) for f in config.fst or [None] for d in config.diagnoses or [None]]
    missing = [(f, d) for f, d in wanted
               if not any((f is None or f == pf) and (d is None or d == pd) for pf, pd in present)]
    if missing:
        names = ", ".join(" × ".join(x for x in (f and f"FST {f}", d) if x) for f, d in missing)
        raise ParameterError(f"{config.manifest}: no image of {names} in split {config.split!r}; "
                             "add images of it, or leave it out of {fst} / {diagnoses}", "fst", "diagnoses")
    return np.flatnonzero(keep)


def _subset(data: TrainingImages, rows: np.ndarray) -> TrainingImages:
    return TrainingImages(data.pixels[torch.from_numpy(rows)], data.fst[rows], data.diagnosis[rows], data.manifest_sha256)


def _method(config: FinetuneConfig, base: BaseModel, cells: list[tuple[int, str]]) -> Lora | TextualInversion:
    if config.method == "lora":
        return Lora(config, base.unet, base.text_encoder)
    return TextualInversion(config, base.tokenizer, base.text_encoder, cells)


def _set_precision(base: BaseModel, method: Lora | TextualInversion, dtype: torch.dtype) -> dict[str, str]:
    """Frozen weights in ``dtype`` (but the modules the method keeps whole in fp32), trainable ones in fp32; the dtypes now."""
    trainable = {id(p) for p in method.parameters()}
    for module in (base.unet, base.vae, base.text_encoder):
        whole = any(module is kept for kept in method.fp32_modules)
        for p in module.parameters():
            p.data = p.data.to(torch.float32 if whole or id(p) in trainable else dtype)
    frozen = {str(p.dtype) for m in (base.unet, base.vae, base.text_encoder) for p in m.parameters() if id(p) not in trainable}
    return {"frozen": ",".join(sorted(frozen)), "trainable": ",".join(sorted({str(p.dtype) for p in method.parameters()}))}


def _save_checkpoint(out: Path, step: int, method, optimizer, lr_schedule, drawn: Counter, config: FinetuneConfig) -> None:
    folder = out / "checkpoints" / f"step-{step:06d}"
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    save_file(method.state_dict(), staging / "trainable.safetensors")
    torch.save({"optimizer": optimizer.state_dict(), "lr_schedule": lr_schedule.state_dict()}, staging / "optimizer.pt")
    (staging / "state.json").write_text(json.dumps({"step": step, "drawn": [[f, d, n] for (f, d), n in sorted(drawn.items())],
                                                    "config": config.to_dict()}))
    staging.rename(folder)
    for old in sorted((out / "checkpoints").glob("step-??????"))[: -config.keep_checkpoints]:
        shutil.rmtree(old)


def _resume(out: Path, config: FinetuneConfig, resume: bool, method, optimizer, lr_schedule) -> tuple[int, Counter]:
    checkpoint = checkpoint_to_resume(out, resume)
    if checkpoint is None:
        return 0, Counter()
    state = json.loads((checkpoint / "state.json").read_text())
    refuse_another_config(checkpoint, config.weights_changed(state["config"]), "pass {resume=False}, or ")
    method.load_state_dict(load_file(checkpoint / "trainable.safetensors"))
    saved = torch.load(checkpoint / "optimizer.pt", weights_only=True)
    optimizer.load_state_dict(saved["optimizer"])
    lr_schedule.load_state_dict(saved["lr_schedule"])
    return state["step"], cells_drawn(state)


def _encode_prompts(base: BaseModel, text_encoder, prompts: list[str], device) -> torch.Tensor:
    ids = base.tokenizer(prompts, padding="max_length", max_length=base.tokenizer.model_max_length, truncation=True,
                         return_tensors="pt").input_ids.to(device)
    return text_encoder(ids)[0]


def _loss(config: FinetuneConfig, base: BaseModel, unet, text_encoder, data: TrainingImages, sampler: BalancedCellSampler,
          tokens: set[str], step: int, size: int, accelerator: Accelerator, dtype: torch.dtype) -> tuple[torch.Tensor, list]:
    """This process's loss at ``step``: everything random from the step's own generator, in a fixed order."""
    generator = torch.Generator().manual_seed(step_seed(config.seed, step, accelerator.process_index))
    indices = sampler.draw(size, step, accelerator.process_index)
    cells = sampler.cell_of(indices)
    images = data.pixels[indices].float() / 127.5 - 1
    if config.augment:
        flips = torch.rand(len(images), generator=generator) < 0.5
        images = torch.where(flips[:, None, None, None], images.flip(-1), images)
    with torch.no_grad():
        posterior = base.vae.encode(images.to(accelerator.device, dtype)).latent_dist
        latents = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=generator).to(posterior.mean)
        latents = latents * base.vae.config.scaling_factor
    noise = torch.randn(latents.shape, generator=generator).to(latents)
    timesteps = torch.randint(0, base.noise_scheduler.config.num_train_timesteps, (len(latents),), generator=generator)
    timesteps = timesteps.to(accelerator.device)
    noisy = base.noise_scheduler.add_noise(latents, noise, timesteps)
    prompts = [cell_prompt(f, d, config.prompt_template, tokens) for f, d in cells]
    target = base.noise_scheduler.get_velocity(latents, noise, timesteps) \
        if base.noise_scheduler.config.prediction_type == "v_prediction" else noise
    with accelerator.autocast():
        hidden = _encode_prompts(base, text_encoder, prompts, accelerator.device)
        prediction = unet(noisy, timesteps, hidden).sample
    return F.mse_loss(prediction.float(), target.float()), cells


def _validate(config: FinetuneConfig, base: BaseModel, tokens: set[str], cells: list[tuple[int, str]], step: int, out: Path,
              accelerator: Accelerator) -> None:
    """Up to six images at fixed seeds — one per skin type trained, diagnoses in turn — saved with their measured ITA and type."""
    from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline
    from PIL import Image

    from ..analysis.pipeline import analyse_image

    pipeline = StableDiffusionPipeline(vae=base.vae, text_encoder=base.text_encoder, tokenizer=base.tokenizer, unet=base.unet,
                                       scheduler=DPMSolverMultistepScheduler.from_config(base.noise_scheduler.config),
                                       safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipeline.set_progress_bar_config(disable=True)
    folder = out / "validation" / f"step-{step:06d}"
    folder.mkdir(parents=True, exist_ok=True)
    log = out / "validation" / "validation.csv"
    rows = []
    diagnoses = sorted({d for _, d in cells})
    shown = []
    for i, f in enumerate(sorted({f for f, _ in cells})[:6]):
        own = [d for g, d in cells if g == f]
        shown.append((f, diagnoses[i % len(diagnoses)] if diagnoses[i % len(diagnoses)] in own else own[0]))
    modes = {module: module.training for module in (base.unet, base.text_encoder)}
    for module in modes:
        module.eval()
    for seed, (f, d) in enumerate(shown):
        prompt = cell_prompt(f, d, config.prompt_template, tokens)
        with torch.no_grad(), accelerator.autocast():
            image = pipeline(prompt, num_inference_steps=config.validation_steps, output_type="np", height=config.resolution,
                             width=config.resolution, generator=torch.Generator().manual_seed(seed)).images[0]
        pixels = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
        name = f"fst{f}-{d}.png"
        Image.fromarray(pixels).save(folder / name)
        analysis = analyse_image(pixels)
        rows.append([step, f, d, seed, prompt, f"step-{step:06d}/{name}", analysis.status,
                     f"{analysis.ita:.1f}" if analysis.ita is not None else "", analysis.fst or ""])
    for module, training in modes.items():
        module.train(training)
    new = not log.exists()
    with open(log, "a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(VALIDATION_FIELDS)
        writer.writerows(rows)


def _publish(out: Path, config: FinetuneConfig, base: BaseModel, method, record: dict) -> None:
    """The result files, each written whole: the stock-loadable weights, the config, the record."""
    staging = out / ".result.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    record.update(method.save(staging))
    for file in sorted(staging.iterdir()):
        record.setdefault("sha256", {})[file.name] = file_sha256(file)
        file.replace(out / file.name)
    staging.rmdir()
    with atomic_file(out / "finetune_config.json") as handle:
        json.dump(config.to_dict(), handle, indent=2)
    with atomic_file(out / FINETUNE_FILE) as handle:
        json.dump(record, handle, indent=2)


def finetune(config: FinetuneConfig, *, resume: bool = True, progress: Progress | None = None) -> Path:
    """Train a LoRA or textual-inversion tokens as ``config`` says; return the output folder."""
    out = Path(config.output_dir)
    accelerator = _accelerator(config)
    dtype = DTYPES.get(accelerator.mixed_precision, torch.float32)
    data = load_training_images(config.manifest, config.resolution, config.split)
    data = _subset(data, _training_cells(config, data))
    sampler = BalancedCellSampler(data.fst, data.diagnosis, config.dark_skin_oversampling, config.seed)
    base = load_base(config.base, allow_download=config.allow_download)
    tokens = load_tokens(base.tokenizer, base.text_encoder, config.textual_inversions)
    for module in (base.unet, base.vae, base.text_encoder):
        module.requires_grad_(False)
    method = _method(config, base, sampler.cells)
    tokens |= method.tokens
    precision = _set_precision(base, method, dtype)
    if config.gradient_checkpointing:
        base.unet.enable_gradient_checkpointing()
        base.text_encoder.gradient_checkpointing_enable()
    base.vae.to(accelerator.device)
    optimizer = torch.optim.AdamW(method.parameters(), lr=config.learning_rate, weight_decay=1e-2)
    lr_schedule = get_cosine_schedule_with_warmup(optimizer, config.lr_warmup_steps, config.steps)

    out.mkdir(parents=True, exist_ok=True)
    step, drawn = _resume(out, config, resume, method, optimizer, lr_schedule)
    trained = method.modules()
    unet = accelerator.prepare(base.unet) if "unet" in trained else base.unet.to(accelerator.device)
    text_encoder = accelerator.prepare(base.text_encoder) if "text_encoder" in trained else base.text_encoder.to(accelerator.device)
    optimizer, lr_schedule = accelerator.prepare(optimizer, lr_schedule)
    per_process = math.ceil(config.batch_size / accelerator.num_processes)
    if accelerator.is_main_process:
        with atomic_file(out / "finetune_config.json") as handle:
            json.dump(config.to_dict(), handle, indent=2)

    started = time.perf_counter()
    bar = tqdm(total=config.steps, initial=step, desc=config.method, disable=not accelerator.is_local_main_process)
    for module in trained.values():
        module.train()
    loss_value = float("nan")
    while step < config.steps:
        loss, cells = _loss(config, base, unet, text_encoder, data, sampler, tokens, step, per_process, accelerator, dtype)
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(method.parameters(), 1.0)
        optimizer.step()
        lr_schedule.step()
        optimizer.zero_grad()
        method.after_step()
        drawn.update(cells)
        step += 1
        loss_value = loss.item()
        bar.update(1)
        bar.set_postfix(loss=f"{loss_value:.4f}")
        if progress:
            progress(step, config.steps, loss_value)
        if accelerator.is_main_process and (step % config.checkpoint_every == 0 or step == config.steps):
            _save_checkpoint(out, step, method, optimizer, lr_schedule, drawn, config)
        if accelerator.is_main_process and config.validation_every and (step % config.validation_every == 0 or step == config.steps):
            _validate(config, base, tokens, sampler.cells, step, out, accelerator)
    bar.close()

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        record = {"method": config.method, "base_model": config.base, "base_fingerprint": base.fingerprint,
                  "prompt_template": config.prompt_template, "steps": step, "final_loss": round(loss_value, 6),
                  "seconds": round(time.perf_counter() - started, 1), "manifest_sha256": data.manifest_sha256,
                  "precision": {"accelerator": accelerator.mixed_precision, **precision},
                  "cells": [[f, d, n] for (f, d), n in sorted(drawn.items())],
                  "textual_inversions": list(config.textual_inversions)}
        _publish(out, config, base, method, record)
    return out
