"""The counterfactual tone audit: would a classifier decide otherwise if the same lesion sat on skin of another type?

Test images with a skin type (up to ``per_type`` of each type, drawn with a fixed seed) are moved
to every other type by the physically based tone transfer (`fairskin_core.generation.melanin_transfer`),
which changes melanin only and keeps the lesion's structure; each model re-scores the copies at its
own operating threshold. Per source type the audit reports how often the decision flips and how
far P(malignant) moves, in each direction. A classifier whose decisions do not depend on skin tone
flips none; one that keys on tone flips many. The audit needs no dark-skin test image with a
diagnosis: it asks a question of the model, not of the data. Images in which no skin can be
measured are not moved, and counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..fst import FST_TYPES, ROMAN
from ..generation.melanin_transfer import NoSkinError, SkinOptics, default_optics, transfer_melanin
from .data import ImageSet


@dataclass
class ToneCopies:
    """The audited test images moved to each skin type."""

    rows: np.ndarray  # the audited test rows
    source_fst: np.ndarray  # their skin types (ints)
    copies: dict[int, ImageSet]  # target type → every audited image moved to it (an unmoved one: its original)
    moved: dict[int, np.ndarray]  # target type → which audited images were moved (not their own type, skin found)
    no_skin: int  # audited images in which no skin could be measured (never moved)


def tone_copies(test: ImageSet, per_type: int, seed: int = 0, optics: SkinOptics | None = None,
                progress: Callable[[str], None] | None = None) -> ToneCopies:
    """Up to ``per_type`` test images of each skin type, moved to every other type (module docstring)."""
    optics = optics or default_optics()
    rng = np.random.default_rng([seed, 17])
    typed = np.flatnonzero(np.isfinite(test.fst))
    rows = np.sort(np.concatenate([rng.permutation(typed[test.fst[typed] == t])[:per_type] for t in FST_TYPES]).astype(int))
    source = test.fst[rows].astype(int)
    originals = test.pixels[torch.as_tensor(rows)].permute(0, 2, 3, 1).numpy()
    copies, moved, no_skin = {}, {}, set()
    for target in FST_TYPES:
        pixels, done = originals.copy(), np.zeros(len(rows), dtype=bool)
        for k, rgb in enumerate(originals):
            if source[k] == target:
                continue
            try:
                pixels[k], _ = transfer_melanin(np.ascontiguousarray(rgb), target, seed=seed + int(rows[k]), optics=optics)
                done[k] = True
            except NoSkinError:
                no_skin.add(k)
        audited = test.subset(rows, f"tone-audit-{ROMAN[target]}")
        audited.pixels = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()
        audited.fst = np.where(done, float(target), audited.fst)
        copies[target], moved[target] = audited, done
        if progress:
            progress(f"tone audit: {int(done.sum())} of {len(rows)} test images moved to FST {ROMAN[target]}")
    return ToneCopies(rows, source, copies, moved, len(no_skin))


def audit(copies: ToneCopies, original: np.ndarray, copied: dict[int, np.ndarray], thresholds: np.ndarray) -> dict:
    """Per source type, how the decisions and probabilities of one model change when the skin is moved to each other type.

    ``original``: seeds × audited images, P(malignant) of the images as they are; ``copied``: target type → the same for
    the moved copies; ``thresholds``: each seed's operating threshold. Flip rates and changes are means over seeds."""
    decided = original >= thresholds[:, None]
    out = {}
    for source in FST_TYPES:
        mine = copies.source_fst == source
        if not mine.any():
            continue
        to, flips, changes = {}, [], []
        for target in FST_TYPES:
            moved = mine & copies.moved[target]
            if not moved.any():
                continue
            change = copied[target][:, moved] - original[:, moved]
            flipped = (copied[target][:, moved] >= thresholds[:, None]) != decided[:, moved]
            to[ROMAN[target]] = {"n": int(moved.sum()), "flip_rate": float(flipped.mean()), "mean_change": float(change.mean()),
                                 "mean_abs_change": float(np.abs(change).mean()),
                                 "benign_to_malignant": float((flipped & ~decided[:, moved]).mean())}
            flips.append(flipped.ravel())
            changes.append(np.abs(change).ravel())
        out[ROMAN[source]] = {"n": int(mine.sum()), "to": to,
                              "flip_rate": float(np.concatenate(flips).mean()) if flips else None,
                              "mean_abs_change": float(np.concatenate(changes).mean()) if changes else None}
    return out
