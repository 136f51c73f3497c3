"""Fairness-aware resampling: every FST × diagnosis cell equally often, FST V–VI more often still.

Real datasets hold few images of dark skin; a model trained on them as they are learns dark
skin from a handful of examples. The sampler draws training images with replacement so that
each (skin type, diagnosis) cell present in the data has the same share of draws, times
``dark_skin_oversampling`` for cells of type V or VI (FairSkin's idea). Within a cell, images
are drawn uniformly. A cell with no image cannot be drawn: the target mix is over the cells
that exist, and `target_mix` says what it is.

Draws are a pure function of (seed, step, process): a run resumed from a checkpoint, or split
over several processes, sees exactly the images it would have seen.
"""

from __future__ import annotations

import numpy as np
import torch

DARK_SKIN = (5, 6)


def step_seed(*keys: int) -> int:
    """A 63-bit seed derived from (run seed, step, process, ...): independent streams per step."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(2, np.uint64)[0] >> np.uint64(1))


class BalancedCellSampler:
    """Indices into a dataset whose rows have skin types ``fst`` and diagnoses ``diagnosis``."""

    def __init__(self, fst: np.ndarray, diagnosis: np.ndarray, dark_skin_oversampling: float = 1.0, seed: int = 0):
        if len(fst) == 0:
            raise ValueError("no training images to sample from")
        self.fst, self.diagnosis = np.asarray(fst, dtype=int), np.asarray(diagnosis, dtype=object)
        self.seed = seed
        cells = list(zip(self.fst.tolist(), self.diagnosis.tolist(), strict=True))
        self.cells = sorted(set(cells))
        counts = {cell: 0 for cell in self.cells}
        for cell in cells:
            counts[cell] += 1
        self.counts = counts
        cell_weight = {cell: dark_skin_oversampling if cell[0] in DARK_SKIN else 1.0 for cell in self.cells}
        total = sum(cell_weight.values())
        self._target = {cell: w / total for cell, w in cell_weight.items()}
        weights = np.array([self._target[cell] / counts[cell] for cell in cells])
        self.weights = torch.as_tensor(weights / weights.sum(), dtype=torch.float64)

    def target_mix(self) -> dict[tuple[int, str], float]:
        """The share of draws each (skin type, diagnosis) cell is meant to get."""
        return dict(self._target)

    def draw(self, n: int, step: int, process: int = 0) -> torch.Tensor:
        """``n`` row indices for training step ``step`` on process ``process`` (reproducible)."""
        generator = torch.Generator().manual_seed(step_seed(self.seed, step, process))
        return torch.multinomial(self.weights, n, replacement=True, generator=generator)

    def cell_of(self, indices: torch.Tensor) -> list[tuple[int, str]]:
        return [(int(self.fst[i]), str(self.diagnosis[i])) for i in indices.tolist()]
