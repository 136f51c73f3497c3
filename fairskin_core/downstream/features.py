"""Frozen features computed once per run: a frozen classifier's training is a linear head on cached vectors.

A frozen ImageNet network's features do not change while its head trains, so recomputing them
at every step (what training on pixels does) spends nearly all the time on work already done.
Each image set is passed through the network once per *view*: evaluation uses the image as it
is; training draws, per image and step, one of ``views`` augmented copies (random flips and
quarter turns, colour-jittered for ``colour-augment``) made with a fixed seed. Seeds of the
classifier still change its start and its batches and which view each step sees; the views
themselves are the run's, shared by every strategy and seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from .augmentation import augment
from .backbones import FrozenFeatures
from .data import ImageSet

TRAIN_VIEWS = 4  # augmented copies of each training image whose features are kept
BATCH = 64


class FeatureCache:
    """Pooled features of image sets under one frozen network, each (set, views, colour) computed once."""

    def __init__(self, features: FrozenFeatures, weights_id: str, views: int = TRAIN_VIEWS, seed: int = 0,
                 progress: Callable[[str], None] | None = None):
        self.features, self.weights_id, self.views, self.seed, self.progress = features, weights_id, views, seed, progress
        self._kept: dict[tuple, tuple[ImageSet, torch.Tensor]] = {}
        self.seconds = 0.0

    def compute(self, wanted: list[tuple[ImageSet, bool, bool]]) -> None:
        """The features of every (set, augmented, colour) in ``wanted``, up front, saying how much is left."""
        sizes = [len(images) * (self.views if augmented else 1) for images, augmented, _ in wanted]
        started, done = time.monotonic(), 0
        for (images, augmented, colour), size in zip(wanted, sizes, strict=True):
            self._computed(images, augmented, colour)
            done += size
            if self.progress and done < sum(sizes):
                rate = done / max(time.monotonic() - started, 1e-9)
                self.progress(f"features: {done} of {sum(sizes)} image views, about {(sum(sizes) - done) / rate:.0f} s left")

    def plain(self, images: ImageSet) -> torch.Tensor:
        """N × D features of the images as they are."""
        return self._computed(images, augmented=False, colour=False)[0]

    def augmented(self, images: ImageSet, colour: bool) -> torch.Tensor:
        """views × N × D features of the augmented copies."""
        return self._computed(images, augmented=True, colour=colour)

    def _computed(self, images: ImageSet, augmented: bool, colour: bool) -> torch.Tensor:
        key = (id(images), augmented, colour)
        if key not in self._kept:
            started = time.monotonic()
            copies = self.views if augmented else 1
            kind = f"{copies} {'colour-jittered' if colour else 'flipped and turned'} views" if augmented else "as they are"
            generator = torch.Generator().manual_seed(self.seed)
            out = torch.empty(copies, len(images), self.features.dim)
            for view in range(copies):
                for start in range(0, len(images), BATCH):
                    pixels = images.pixels[start:start + BATCH]
                    batch = augment(pixels, generator, colour) if augmented else pixels.float() / 255
                    out[view, start:start + len(pixels)] = self.features(batch)
                if self.progress and view + 1 < copies:
                    spent = time.monotonic() - started
                    self.progress(f"{self.features.name} features of the {len(images)} {images.name} images, {kind}: view "
                                  f"{view + 1} done in {spent:.0f} s, about {spent / (view + 1) * (copies - view - 1):.0f} s left")
            self._kept[key] = (images, out)  # the set is kept so that its id is not reused
            self.seconds += time.monotonic() - started
            if self.progress:
                self.progress(f"{self.features.name} features of the {len(images)} {images.name} images, {kind}: "
                              f"{time.monotonic() - started:.0f} s")
        return self._kept[key][1]
