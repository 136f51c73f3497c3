"""Sampling from an `FSTConditionedUNet`: classifier-free guidance, a choice of scheduler, one seed per image.

Every image has its own seed: its starting noise (and any noise a stochastic scheduler adds)
comes from a generator seeded with it alone, so an image is the same whether it was made alone
or in a batch of 64, on any number of processes — what makes batch generation resumable and
shardable. Guidance acts on whatever the network predicts (noise ε or velocity v):
out = out(∅) + w · (out(fst, diagnosis) − out(∅)); w = 1 is the plain conditional model,
w = 0 ignores the labels.

`FSTDiffusionPipeline` is a diffusers `DiffusionPipeline`: ``save_pretrained`` writes
``model_index.json`` beside ``unet/``, ``scheduler/`` (and ``vae/``), and
``FSTDiffusionPipeline.from_pretrained(folder)`` loads such a folder, the shipped default
model included, with no fairskin code in between (`model_loading.load_model` adds the checks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL
from diffusers.pipelines.pipeline_utils import DiffusionPipeline
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from .conditioned_unet import UNCONDITIONED, FSTConditionedUNet
from .sampling_settings import DEFAULT_SCHEDULER, DEFAULT_STEPS, FST_GUIDANCE, MAX_STEPS
from .schedulers import make_scheduler


def vae_scale_factor(vae: AutoencoderKL | None) -> int:
    """Pixels per latent cell along a side (1 without a VAE: pixel space)."""
    return 2 ** (len(vae.config.block_out_channels) - 1) if vae is not None else 1


class FSTDiffusionPipeline(DiffusionPipeline):
    """An `FSTConditionedUNet`, the noise schedule it was trained on and, in latent space, its VAE.

    diffusers' tqdm bar over the denoising steps is off (it would interleave with the CLI's and
    the app's own progress); ``set_progress_bar_config(disable=False)`` turns it on.
    """

    _optional_components = ["vae"]

    def __init__(self, unet: FSTConditionedUNet, scheduler: SchedulerMixin, vae: AutoencoderKL | None = None):
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler, vae=vae)
        self.set_progress_bar_config(disable=True)

    @property
    def image_size(self) -> int:
        """The side of the generated images in pixels."""
        return self.unet.config.sample_size * vae_scale_factor(self.vae)

    def check_inputs(self, fst: Sequence[int], diagnosis: Sequence[str], seeds: Sequence[int], steps: int) -> None:
        """Refuse requests that cannot be sampled (labels are checked by `FSTConditionedUNet.label_indices`)."""
        if not len(fst) == len(diagnosis) == len(seeds):
            raise ValueError(f"one skin type, diagnosis and seed per image: got {len(fst)}, {len(diagnosis)} and {len(seeds)}")
        if not 1 <= steps <= MAX_STEPS:
            raise ValueError(f"steps must be between 1 and {MAX_STEPS}, not {steps}")

    def prepare_latents(self, generators: list[torch.Generator], device: torch.device, init_noise_sigma: float) -> torch.Tensor:
        """The starting noise, image by image from its own generator (on the CPU: the same on every device)."""
        config = self.unet.config
        shape = (config.in_channels, config.sample_size, config.sample_size)
        return torch.stack([torch.randn(shape, generator=g) for g in generators]).to(device) * init_noise_sigma

    def decode(self, sample: torch.Tensor) -> np.ndarray:
        """Final samples (latents, in latent space) → N × H × W × 3 uint8 images."""
        if self.vae is not None:
            sample = self.vae.decode(sample / self.vae.config.scaling_factor).sample
        images = ((sample.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return images.permute(0, 2, 3, 1).cpu().numpy()

    @torch.inference_mode()
    def __call__(
        self,
        fst: Sequence[int],
        diagnosis: Sequence[str],
        seeds: Sequence[int],
        *,
        steps: int = DEFAULT_STEPS,
        guidance: float = FST_GUIDANCE,
        scheduler: str = DEFAULT_SCHEDULER,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Images (N × H × W × 3, uint8) for the N (skin type, diagnosis, seed) triples.

        ``progress(done, steps)`` is called after each denoising step (the Generate tab's bar).
        """
        self.check_inputs(fst, diagnosis, seeds, steps)
        if len(fst) == 0:
            return np.zeros((0, self.image_size, self.image_size, 3), dtype=np.uint8)
        device = self.device
        fst_index, diagnosis_index = self.unet.label_indices(list(fst), list(diagnosis), device)
        no_label = torch.full_like(fst_index, UNCONDITIONED)
        sampler = make_scheduler(scheduler, self.scheduler)
        sampler.set_timesteps(steps, device=device)
        generators = [torch.Generator("cpu").manual_seed(int(seed)) for seed in seeds]
        sample = self.prepare_latents(generators, device, sampler.init_noise_sigma)

        for done, timestep in enumerate(self.progress_bar(sampler.timesteps)):
            model_input = sampler.scale_model_input(sample, timestep)
            if guidance == 1.0:
                model_output = self.unet(model_input, timestep, fst_index, diagnosis_index)
            else:
                both = self.unet(torch.cat([model_input, model_input]), timestep,
                                 torch.cat([fst_index, no_label]), torch.cat([diagnosis_index, no_label]))
                conditional, unconditional = both.chunk(2)
                model_output = unconditional + guidance * (conditional - unconditional)
            sample = sampler.step(model_output, timestep, sample, generator=generators).prev_sample
            if progress:
                progress(done + 1, steps)

        return self.decode(sample)
