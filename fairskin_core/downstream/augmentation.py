"""The augmentation every strategy trains with: flips and quarter turns, and for colour-augment a skin-tone jitter."""

from __future__ import annotations

import torch


def augment(pixels: torch.Tensor, generator: torch.Generator, colour: bool) -> torch.Tensor:
    """uint8 N×3×S×S → float in [0, 1], randomly flipped and turned; with ``colour``, also colour-jittered and darkened
    or lightened as skin of another type would be (a per-image gamma on the whole image and a brown tint)."""
    images = pixels.float() / 255
    n = len(images)
    turns = torch.randint(0, 4, (n,), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5
    images = torch.stack([torch.rot90(img.flip(-1) if flip else img, int(k), dims=(1, 2))
                          for img, k, flip in zip(images, turns, flips, strict=True)])
    if not colour:
        return images

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return low + (high - low) * torch.rand((n, *shape, 1, 1), generator=generator)

    grey = images.mean(dim=1, keepdim=True)
    images = grey + (images - grey) * uniform(0.7, 1.3, 1)  # saturation
    images = images.clamp(0, 1) ** uniform(0.7, 2.2, 1)  # darker or lighter skin (gamma > 1 darkens)
    images = images * torch.cat([torch.ones(n, 1, 1, 1), uniform(0.8, 1.0, 1), uniform(0.65, 1.0, 1)], dim=1)  # brown tint
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    images = mean + (images - mean) * uniform(0.8, 1.2, 1) + uniform(-0.08, 0.08, 1)  # contrast, brightness
    return images.clamp(0, 1)
