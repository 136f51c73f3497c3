"""Sampling from an `FSTConditionedUNet`: classifier-free guidance, a choice of scheduler, one seed per image.

Every image has its own seed: its starting noise (and any noise a stochastic scheduler adds)
comes from a generator seeded with it alone, so an image is the same whether it was made alone
or in a batch of 64, on any number of processes — what makes batch generation resumable and
shardable. Guidance: ε = ε(∅) + w · (ε(fst, diagnosis) − ε(∅)); w = 1 is the plain conditional
model, w = 0 ignores the labels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from diffusers import AutoencoderKL, DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from .conditioned_unet import UNCONDITIONED, FSTConditionedUNet

SCHEDULERS: dict[str, type[SchedulerMixin]] = {
    "ddim": DDIMScheduler,
    "dpm-solver": DPMSolverMultistepScheduler,
    "euler": EulerDiscreteScheduler,
    "ddpm": DDPMScheduler,
}
MAX_STEPS = 1000


def make_scheduler(name: str, training_scheduler: SchedulerMixin) -> SchedulerMixin:
    """A sampling scheduler of kind ``name`` on the noise schedule the model was trained with."""
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}")
    return SCHEDULERS[name].from_config(training_scheduler.config)


class FSTDiffusionPipeline:
    """An `FSTConditionedUNet`, the noise schedule it was trained on and, in latent space, its VAE."""

    def __init__(self, unet: FSTConditionedUNet, scheduler: SchedulerMixin, vae: AutoencoderKL | None = None):
        self.unet, self.scheduler, self.vae = unet.eval(), scheduler, vae.eval() if vae is not None else None

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    @property
    def image_size(self) -> int:
        size = self.unet.config.sample_size
        return size * self.vae_scale if self.vae is not None else size

    @property
    def vae_scale(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1) if self.vae is not None else 1

    def to(self, device: str | torch.device) -> FSTDiffusionPipeline:
        self.unet.to(device)
        if self.vae is not None:
            self.vae.to(device)
        return self

    @torch.inference_mode()
    def __call__(
        self,
        fst: Sequence[int],
        diagnosis: Sequence[str],
        seeds: Sequence[int],
        *,
        steps: int = 25,
        guidance: float = 3.0,
        scheduler: str = "ddim",
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Images (N × H × W × 3, uint8) for the N (skin type, diagnosis, seed) triples."""
        if not len(fst) == len(diagnosis) == len(seeds):
            raise ValueError(f"one skin type, diagnosis and seed per image: got {len(fst)}, {len(diagnosis)} and {len(seeds)}")
        if not 1 <= steps <= MAX_STEPS:
            raise ValueError(f"steps must be between 1 and {MAX_STEPS}, not {steps}")
        if len(fst) == 0:
            return np.zeros((0, self.image_size, self.image_size, 3), dtype=np.uint8)
        device = self.device
        fst_index, diagnosis_index = self.unet.label_indices(list(fst), list(diagnosis), device)
        sampler = make_scheduler(scheduler, self.scheduler)
        sampler.set_timesteps(steps, device=device)
        generators = [torch.Generator("cpu").manual_seed(int(seed)) for seed in seeds]
        config = self.unet.config
        shape = (config.in_channels, config.sample_size, config.sample_size)
        sample = torch.stack([torch.randn(shape, generator=g) for g in generators]).to(device) * sampler.init_noise_sigma
        unconditioned = torch.full_like(fst_index, UNCONDITIONED)
        for done, timestep in enumerate(sampler.timesteps):
            model_input = sampler.scale_model_input(sample, timestep)
            if guidance == 1.0:
                noise = self.unet(model_input, timestep, fst_index, diagnosis_index)
            else:
                both = self.unet(torch.cat([model_input, model_input]), timestep,
                                 torch.cat([fst_index, unconditioned]), torch.cat([diagnosis_index, unconditioned]))
                conditioned, free = both.chunk(2)
                noise = free + guidance * (conditioned - free)
            sample = sampler.step(noise, timestep, sample, generator=generators).prev_sample
            if progress:
                progress(done + 1, steps)
        if self.vae is not None:
            sample = self.vae.decode(sample / self.vae.config.scaling_factor).sample
        images = ((sample.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return images.permute(0, 2, 3, 1).cpu().numpy()
