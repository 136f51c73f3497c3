"""Skin-tone transfer with Stable Diffusion: a real lesion image redrawn on another Fitzpatrick skin type.

Img2img with the Stable Diffusion backend's own modules (`StableDiffusionImg2ImgPipeline` over
`backend.pipeline.components`, so its LoRAs and learned tokens apply): the source image is
encoded, noised to ``strength`` of the way (0.6: the last 60 % of the schedule) and denoised
with the prompt of the target skin type and the source's diagnosis. Lower strength keeps more of
the source (the lesion's shape and dermoscopic structures), higher strength changes more (the
skin colour). The model works at its own size: each image is resized to about the model's
pixel count (keeping its aspect ratio, sides rounded to what the UNet can halve), and the
result back to the source's size.

`StableDiffusionToneTransfer` is this as a method of `tone_transfer.tone_transfer_set`. torch and
diffusers are imported where images are denoised: a request is checked (`check_strength`) without them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ..diffusion.sampling_settings import TONE_TRANSFER
from ..errors import ParameterError
from .tone_transfer import check_target_types

if TYPE_CHECKING:
    from .backends import StableDiffusionBackend

BATCH = 8  # images of one size denoised together


def check_strength(strength: float, steps: int = TONE_TRANSFER["steps"]) -> None:
    """Refuse a strength that cannot work, before anything is loaded or written."""
    if not (isinstance(strength, (int, float)) and 0 < strength <= 1):
        raise ParameterError(f"{{strength}} {strength}: give a number above 0 and at most 1 (0.6 keeps the lesion, 1 redraws everything)",
                             "strength")
    if int(steps * strength) < 1:
        raise ParameterError(f"{{strength}} {strength} of {steps} steps runs no denoising step: raise {{strength}} or {{steps}}",
                             "strength", "steps")


def working_size(height: int, width: int, backend: StableDiffusionBackend) -> tuple[int, int]:
    """The (height, width) the model denoises an image of this size at: its pixel count, the image's aspect ratio."""
    unet = backend.pipeline.unet
    multiple = backend.pipeline.vae_scale_factor * 2 ** (len(unet.config.block_out_channels) - 1)
    scale = backend.image_size / math.sqrt(height * width)
    return tuple(max(multiple, round(side * scale / multiple) * multiple) for side in (height, width))


def tone_transfer(backend: StableDiffusionBackend, images: np.ndarray, fst: list[int], diagnosis: list[str], seeds: list[int], *,
                  strength: float = TONE_TRANSFER["strength"], steps: int = TONE_TRANSFER["steps"],
                  guidance: float = TONE_TRANSFER["guidance"], scheduler: str = TONE_TRANSFER["scheduler"]) -> np.ndarray:
    """``images`` (N × H × W × 3 uint8) redrawn on skin types ``fst``, image i from seed i alone; N × H × W × 3 uint8."""
    import torch
    from diffusers import StableDiffusionImg2ImgPipeline

    from ..diffusion.schedulers import make_scheduler
    from .backends import to_uint8

    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be an N × H × W × 3 uint8 array, not {images.dtype} of shape {images.shape}")
    if not len(images) == len(fst) == len(diagnosis) == len(seeds):
        raise ValueError(f"{len(images)} images need as many skin types, diagnoses and seeds ({len(fst)}, {len(diagnosis)}, {len(seeds)})")
    check_target_types(fst)
    check_strength(strength, steps)
    height, width = images.shape[1:3]
    size = working_size(height, width, backend)
    pipeline = StableDiffusionImg2ImgPipeline(**{**backend.pipeline.components, "requires_safety_checker": False})
    pipeline.set_progress_bar_config(disable=True)
    pipeline.scheduler = make_scheduler(scheduler, backend.training_scheduler)
    result = pipeline([backend.prompt(f, d) for f, d in zip(fst, diagnosis, strict=True)],
                      image=[Image.fromarray(image).resize(size[::-1], Image.Resampling.LANCZOS) for image in images],
                      strength=strength, num_inference_steps=steps, guidance_scale=guidance, output_type="np",
                      generator=[torch.Generator("cpu").manual_seed(int(s)) for s in seeds]).images
    return np.stack([np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS)) for image in to_uint8(result)])


class StableDiffusionToneTransfer:
    """`tone_transfer` as a method of `tone_transfer.tone_transfer_set`: same-size images denoised together."""

    def __init__(self, backend: StableDiffusionBackend, *, strength: float = TONE_TRANSFER["strength"], steps: int = TONE_TRANSFER["steps"],
                 guidance: float = TONE_TRANSFER["guidance"], scheduler: str = TONE_TRANSFER["scheduler"]):
        check_strength(strength, steps)
        self.backend, self.strength, self.steps, self.guidance, self.scheduler = backend, strength, steps, float(guidance), scheduler
        self.model_id, self.model_hash = backend.model_id, backend.model_hash

    def row_settings(self, fst: int, diagnosis: str) -> dict:
        return {"prompt": self.backend.prompt(fst, diagnosis), "scheduler": self.scheduler, "steps": self.steps,
                "guidance": self.guidance}

    def transfer(self, images: list[np.ndarray], fst: list[int], diagnosis: list[str], seeds: list[int]) -> list[tuple[np.ndarray, dict]]:
        results: list = [None] * len(images)
        for batch in _same_size_batches(list(range(len(images))), [image.shape for image in images]):
            made = tone_transfer(self.backend, np.stack([images[k] for k in batch]), [fst[k] for k in batch],
                                 [diagnosis[k] for k in batch], [seeds[k] for k in batch], strength=self.strength,
                                 steps=self.steps, guidance=self.guidance, scheduler=self.scheduler)
            for k, image in zip(batch, made, strict=True):
                results[k] = (image, {"strength": f"{self.strength:g}"})
        return results


def _same_size_batches(order: list[int], shapes: list[tuple]) -> list[list[int]]:
    """``order`` cut into runs of up to `BATCH` consecutive images of one size (one img2img call each)."""
    batches: list[list[int]] = []
    for k in order:
        if batches and len(batches[-1]) < BATCH and shapes[batches[-1][0]] == shapes[k]:
            batches[-1].append(k)
        else:
            batches.append([k])
    return batches
