"""`fairskin train`: an FST × diagnosis conditioned diffusion model, trained fairness-aware through accelerate.

One loop for a CPU, one GPU, or `accelerate launch` on many GPUs and nodes (accelerate does the
distribution; each process draws its own share of every batch from the sampler). Each step:
draw images with `BalancedCellSampler`, augment, noise them at random timesteps, drop each label
with probability ``conditioning_dropout`` (classifier-free guidance), let the UNet predict the
noise (or the velocity v, with ``prediction_type="v_prediction"``): its output, the
``model_output``, against that target is the mean squared error — optionally min-SNR-γ weighted, weighted per cell and with a
within-cell diversity term. Weights are averaged into an EMA copy, which is what gets saved.
With ``vae`` set the same loop runs on the VAE's latents (`latents.py`) and the VAE is saved
with the model.

Everything random in a step (images, flips, timesteps, noise, dropped labels) comes from a
generator seeded by (seed, step, process), so a run resumed from a checkpoint continues exactly
as if it had never stopped: `checkpoints/step-NNNNNN/` holds model, optimiser, learning-rate
schedule, EMA and the counts of what was drawn. `train` reads top to bottom: set up, resume,
then per step draw a batch, take an optimiser step, log and checkpoint; at the end save the EMA
weights as a model folder (`diffusion/model_folder.py`).
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
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL
from diffusers.optimization import get_cosine_schedule_with_warmup
from diffusers.schedulers.scheduling_ddpm import DDPMScheduler
from diffusers.training_utils import EMAModel
from tqdm.auto import tqdm

from ..diffusion.conditioned_unet import UNCONDITIONED, FSTConditionedUNet
from ..diffusion.model_loading import save_model
from ..diffusion.pipeline import FSTDiffusionPipeline, vae_scale_factor
from ..phantoms.workspace_sets import phantom_set
from ..torch_files import usable_precision
from .checkpoints import cells_drawn, checkpoint_to_resume, refuse_another_config
from .config import BOOK_KEEPING, TrainConfig
from .data import TrainingImages, load_training_images
from .latents import encode_images, load_vae
from .model_card import write_model_card
from .sampler import BalancedCellSampler, step_seed

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, float], None]  # (step, total steps, loss)
LOG_FIELDS = ("step", "loss", "learning_rate", "images_per_second", "elapsed_s")


def _augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flips and quarter turns, per image (dermoscopy has no up or left)."""
    flips = torch.rand(len(images), generator=generator) < 0.5
    turns = torch.randint(0, 4, (len(images),), generator=generator)
    images = torch.where(flips[:, None, None, None], images.flip(-1), images)
    return torch.stack([torch.rot90(image, int(k), dims=(-2, -1)) for image, k in zip(images, turns, strict=True)])


def _diversity_penalty(x0: torch.Tensor, cells: list[tuple[int, str]]) -> torch.Tensor:
    """Mean similarity exp(−‖x̂₀ᵢ − x̂₀ⱼ‖² / d) over pairs of the batch from one cell (0 when none).

    Penalises predicting the same clean image for different images of a cell — a guard against
    a sparse cell collapsing onto its few training images. fairskin's own formulation.
    """
    flat = x0.flatten(1)
    same = torch.tensor([[a == b for b in cells] for a in cells], device=x0.device)
    same.fill_diagonal_(False)
    if not same.any():
        return x0.new_zeros(())
    similarity = torch.exp(-torch.cdist(flat, flat) ** 2 / flat.shape[1])
    return similarity[same].mean()


def _min_snr_weight(noise_scheduler: DDPMScheduler, timesteps: torch.Tensor, gamma: float) -> torch.Tensor:
    """Per-image loss weight so that each timestep counts as x₀-error × min(SNR, γ) (Hang et al. 2023).

    The plain ε loss is x₀-error × SNR, the v loss x₀-error × (SNR + 1): dividing by that and
    multiplying by min(SNR, γ) stops the many easy low-noise steps from dominating.
    """
    alpha = noise_scheduler.alphas_cumprod.to(timesteps.device)[timesteps]
    snr = (alpha / (1 - alpha)).clamp(min=1e-12)
    implied = snr + 1 if noise_scheduler.config.prediction_type == "v_prediction" else snr
    return torch.clamp(snr, max=gamma) / implied


def _target(noise_scheduler: DDPMScheduler, images: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
    """What the UNet learns to predict: the noise, or the velocity v = √ᾱ·ε − √(1−ᾱ)·x₀."""
    if noise_scheduler.config.prediction_type == "v_prediction":
        return noise_scheduler.get_velocity(images, noise, timesteps)
    return noise


def _clean_estimate(noise_scheduler: DDPMScheduler, noisy: torch.Tensor, model_output: torch.Tensor,
                    timesteps: torch.Tensor) -> torch.Tensor:
    """x̂₀: the clean image the model output (noise or v) implies."""
    alpha = noise_scheduler.alphas_cumprod.to(noisy.device)[timesteps].view(-1, 1, 1, 1)
    if noise_scheduler.config.prediction_type == "v_prediction":
        return alpha.sqrt() * noisy - (1 - alpha).sqrt() * model_output
    return (noisy - (1 - alpha).sqrt() * model_output) / alpha.sqrt()


def _accelerator(mixed_precision: str) -> Accelerator:
    """The process's accelerator, refused by name when an earlier run here fixed another precision."""
    try:
        return Accelerator(mixed_precision=usable_precision(mixed_precision))
    except ValueError as exc:  # accelerate fixes the precision for the whole process at the first run
        raise ValueError(f"mixed_precision {mixed_precision!r}: this process already trained with another precision, "
                         f"and accelerate allows one per process; run `fairskin train` in a new process ({exc})") from None


def _latent_space(config: TrainConfig, data: TrainingImages, device: torch.device,
                  allow_download: bool) -> tuple[AutoencoderKL | None, torch.Tensor | None]:
    """With ``config.vae``: the VAE and the training images encoded by it, once; in pixel space (None, None)."""
    if not config.vae:
        return None, None
    vae = load_vae(config.vae, allow_download=allow_download)
    scale = vae_scale_factor(vae)
    divisor = scale * config.patch_size * 2 ** (len(config.block_out_channels) - 1)
    if config.image_size % divisor:
        raise ValueError(f"training config: image_size {config.image_size} must be divisible by {divisor} "
                         f"(the VAE's {scale}× times patch_size times one halving per UNet level)")
    return vae, encode_images(vae, data.pixels, device)


@dataclass
class _Denoiser:
    """The UNet being trained and what updates it (as `accelerator.prepare` wrapped them), with its EMA copy."""

    model: FSTConditionedUNet
    optimizer: torch.optim.Optimizer
    lr_schedule: torch.optim.lr_scheduler.LRScheduler
    ema: EMAModel


def _new_denoiser(config: TrainConfig, diagnoses: tuple[str, ...], vae: AutoencoderKL | None, accelerator: Accelerator) -> _Denoiser:
    """Fresh weights (seeded by ``config.seed``), AdamW with a cosine schedule, and the EMA accelerate checkpoints too."""
    torch.manual_seed(config.seed)  # the initial weights
    model = FSTConditionedUNet(
        sample_size=config.image_size // vae_scale_factor(vae),
        in_channels=vae.config.latent_channels if vae is not None else 3,
        block_out_channels=tuple(config.block_out_channels),
        layers_per_block=config.layers_per_block,
        attention_levels=tuple(config.attention_levels),
        diagnoses=diagnoses,
        patch_size=config.patch_size,
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=1e-2)
    lr_schedule = get_cosine_schedule_with_warmup(optimizer, config.lr_warmup_steps, config.steps)
    ema = EMAModel(model.parameters(), decay=config.ema_decay, model_cls=FSTConditionedUNet, model_config=model.config)
    model, optimizer, lr_schedule = accelerator.prepare(model, optimizer, lr_schedule)
    accelerator.register_for_checkpointing(ema)
    ema.to(accelerator.device)
    return _Denoiser(model, optimizer, lr_schedule, ema)


def _resume(accelerator: Accelerator, out: Path, config: TrainConfig, resume: bool) -> tuple[int, Counter]:
    """The step to start from and the cells drawn so far: restored from the latest checkpoint, or (0, nothing).

    A checkpoint of a run with another config (book-keeping fields aside) is refused; without
    ``resume`` old checkpoints are deleted.
    """
    checkpoint = checkpoint_to_resume(out, resume, accelerator.is_main_process)
    if checkpoint is None:
        return 0, Counter()
    accelerator.load_state(checkpoint)
    state = json.loads((checkpoint / "fairskin_state.json").read_text())
    refuse_another_config(checkpoint, sorted(k for k in {*state["config"], *config.to_dict()}
                                             if k not in BOOK_KEEPING and state["config"].get(k) != config.to_dict().get(k)), "or ")
    return state["step"], cells_drawn(state)


@dataclass
class _Batch:
    """One process's draw for one step: clean inputs, noise, timesteps, noised inputs, labels given (0 = dropped), cells."""

    images: torch.Tensor
    noise: torch.Tensor
    timesteps: torch.Tensor
    noisy: torch.Tensor
    fst: torch.Tensor
    diagnosis: torch.Tensor
    cells: list[tuple[int, str]]


def _draw_batch(config: TrainConfig, sampler: BalancedCellSampler, data: TrainingImages, latents: torch.Tensor | None,
                diagnosis_index: dict[str, int], noise_scheduler: DDPMScheduler, step: int, size: int,
                accelerator: Accelerator) -> _Batch:
    """Everything random in the step, from its own generator in a fixed order (what makes resume exact)."""
    generator = torch.Generator().manual_seed(step_seed(config.seed, step, accelerator.process_index))
    indices = sampler.draw(size, step, accelerator.process_index)
    cells = sampler.cell_of(indices)
    images = data.pixels[indices].float() / 127.5 - 1 if latents is None else latents[indices]
    if config.augment:
        images = _augment(images, generator)
    noise = torch.randn(images.shape, generator=generator)
    timesteps = torch.randint(0, config.noise_steps, (len(images),), generator=generator)
    keep_fst = torch.rand(len(images), generator=generator) >= config.conditioning_dropout
    keep_diagnosis = torch.rand(len(images), generator=generator) >= config.conditioning_dropout
    fst = torch.where(keep_fst, torch.tensor([c[0] for c in cells]), UNCONDITIONED)
    diagnosis = torch.where(keep_diagnosis, torch.tensor([diagnosis_index[c[1]] for c in cells]), UNCONDITIONED)
    images, noise, timesteps, fst, diagnosis = (t.to(accelerator.device) for t in (images, noise, timesteps, fst, diagnosis))
    return _Batch(images, noise, timesteps, noise_scheduler.add_noise(images, noise, timesteps), fst, diagnosis, cells)


def _loss(config: TrainConfig, model: FSTConditionedUNet, noise_scheduler: DDPMScheduler, batch: _Batch,
          cell_sizes: Counter) -> torch.Tensor:
    """Mean squared error of the model output against its target, with the weightings and diversity term ``config`` asks for."""
    model_output = model(batch.noisy, batch.timesteps, batch.fst, batch.diagnosis)
    target = _target(noise_scheduler, batch.images, batch.noise, batch.timesteps)
    per_image = F.mse_loss(model_output.float(), target, reduction="none").mean(dim=(1, 2, 3))
    if config.snr_gamma:
        per_image = per_image * _min_snr_weight(noise_scheduler, batch.timesteps, config.snr_gamma)
    if config.cell_loss_weighting == "inverse-frequency":
        weights = torch.tensor([1 / cell_sizes[c] for c in batch.cells], device=per_image.device)
        per_image = per_image * weights / weights.mean()
    loss = per_image.mean()
    if config.diversity_weight:
        x0 = _clean_estimate(noise_scheduler, batch.noisy, model_output.float(), batch.timesteps)
        loss = loss + config.diversity_weight * _diversity_penalty(x0, batch.cells)
    return loss


def _optimiser_step(accelerator: Accelerator, denoiser: _Denoiser, loss: torch.Tensor) -> None:
    """Backward, clipped gradients, AdamW and learning-rate steps, then the EMA update."""
    accelerator.backward(loss)
    accelerator.clip_grad_norm_(denoiser.model.parameters(), 1.0)
    denoiser.optimizer.step()
    denoiser.lr_schedule.step()
    denoiser.optimizer.zero_grad()
    denoiser.ema.step(accelerator.unwrap_model(denoiser.model).parameters())


class _TrainingLog:
    """``training_log.csv``: loss, learning rate and images per second since the line before (main process only)."""

    def __init__(self, path: Path, step: int, images_per_step: int):
        self.path, self.images_per_step = path, images_per_step
        if step == 0 or not path.exists():
            with open(path, "w", newline="") as handle:
                csv.writer(handle).writerow(LOG_FIELDS)
        else:  # drop lines logged after the checkpoint we resume from
            with open(path, newline="") as handle:
                rows = list(csv.reader(handle))
            with open(path, "w", newline="") as handle:
                csv.writer(handle).writerows([rows[0], *(r for r in rows[1:] if int(r[0]) <= step)])
        self.started = self.window_start = time.perf_counter()
        self.window_step = step

    def write(self, step: int, loss: float, learning_rate: float) -> None:
        now = time.perf_counter()
        images = (step - self.window_step) * self.images_per_step
        with open(self.path, "a", newline="") as handle:
            csv.writer(handle).writerow([step, f"{loss:.6f}", f"{learning_rate:.3e}", f"{images / (now - self.window_start):.2f}",
                                         f"{now - self.started:.1f}"])
        self.window_start, self.window_step = now, step


def _checkpoint(accelerator: Accelerator, out: Path, step: int, drawn: Counter, config: TrainConfig) -> None:
    """Everything resuming needs at ``step``; only the newest ``keep_checkpoints`` are kept."""
    folder = out / "checkpoints" / f"step-{step:06d}"
    accelerator.save_state(folder)
    if accelerator.is_main_process:
        state = {"step": step, "drawn": [[f, d, n] for (f, d), n in sorted(drawn.items())], "config": config.to_dict()}
        (folder / "fairskin_state.json").write_text(json.dumps(state))
        for old in sorted((out / "checkpoints").glob("step-*"))[: -config.keep_checkpoints]:
            shutil.rmtree(old)


def _write_mix(out: Path, sampler: BalancedCellSampler, drawn: Counter, available: Counter) -> None:
    """What the model saw: per (skin type, diagnosis) cell, images available, target share, draws."""
    total = sum(drawn.values())
    rows = [
        {"fst": f, "diagnosis": d, "training_images": available[(f, d)], "target_share": round(share, 6),
         "drawn": drawn[(f, d)], "drawn_share": round(drawn[(f, d)] / total, 6) if total else 0.0}
        for (f, d), share in sorted(sampler.target_mix().items())
    ]
    (out / "mix.json").write_text(json.dumps(rows, indent=2))


def train(config: TrainConfig, *, resume: bool = True, progress: Progress | None = None, phantoms: Path | None = None,
          allow_download: bool = True) -> Path:
    """Train as ``config`` says; return the model folder (``config.output_dir``).

    ``phantoms``: the folder a config's phantom set is rendered into once (the workspace's); ``allow_download``: a hub VAE
    may be fetched."""
    out = Path(config.output_dir)
    accelerator = _accelerator(config.mixed_precision)
    if not config.manifest and phantoms is None:
        raise ValueError("training config: it names a phantom set, and no folder was given to render it in")
    manifest = Path(config.manifest) if config.manifest else phantom_set(phantoms, config.phantoms)  # rendered there once
    data = load_training_images(manifest, config.image_size, config.split)
    vae, latents = _latent_space(config, data, accelerator.device, allow_download)
    diagnoses = tuple(sorted(set(data.diagnosis)))
    diagnosis_index = {name: i + 1 for i, name in enumerate(diagnoses)}
    sampler = BalancedCellSampler(data.fst, data.diagnosis, config.dark_skin_oversampling, config.seed)
    cell_sizes = Counter(zip(data.fst.tolist(), data.diagnosis.tolist(), strict=True))
    denoiser = _new_denoiser(config, diagnoses, vae, accelerator)
    noise_scheduler = DDPMScheduler(num_train_timesteps=config.noise_steps, beta_schedule=config.beta_schedule,
                                    prediction_type=config.prediction_type)

    step, drawn = _resume(accelerator, out, config, resume)
    per_process = math.ceil(config.batch_size / accelerator.num_processes)
    log = None
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_config.json").write_text(json.dumps(config.to_dict(), indent=2))
        log = _TrainingLog(out / "training_log.csv", step, per_process * accelerator.num_processes)

    bar = tqdm(total=config.steps, initial=step, desc="training", disable=not accelerator.is_local_main_process)
    denoiser.model.train()
    while step < config.steps:
        batch = _draw_batch(config, sampler, data, latents, diagnosis_index, noise_scheduler, step, per_process, accelerator)
        with accelerator.autocast():
            loss = _loss(config, denoiser.model, noise_scheduler, batch, cell_sizes)
        _optimiser_step(accelerator, denoiser, loss)
        drawn.update(batch.cells)
        step += 1
        loss_value = loss.item()
        bar.update(1)
        bar.set_postfix(loss=f"{loss_value:.4f}")
        if progress:
            progress(step, config.steps, loss_value)
        if log and (step % config.log_every == 0 or step == config.steps):
            log.write(step, loss_value, denoiser.lr_schedule.get_last_lr()[0])
        if step % config.checkpoint_every == 0 or step == config.steps:
            _checkpoint(accelerator, out, step, drawn, config)
    bar.close()

    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        final = accelerator.unwrap_model(denoiser.model)
        denoiser.ema.copy_to(final.parameters())
        save_model(FSTDiffusionPipeline(final, noise_scheduler, vae), out, manifest_sha256=data.manifest_sha256, steps=step,
                   **({"vae_source": config.vae} if vae is not None else {}))
        _write_mix(out, sampler, drawn, cell_sizes)
        write_model_card(out)
    return out
