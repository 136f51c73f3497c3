"""Training images from a manifest, decoded once into memory at the training size.

Diffusion training revisits each image hundreds of times; decoding a 1024 px JPEG each time
would cost more than the training step on a small model. So the rows are decoded, centre-
cropped and resized once (N × 3 × S × S uint8: 600 MB for 50,000 images at 64 px) and steps
index into that array. Only rows with an exact Fitzpatrick type can train a skin-type
conditioned model; the others are refused by row, not skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import ParameterError
from ..hashing import file_sha256
from ..images import ImageFileError, read_rgb, square
from ..manifest import read_manifest


@dataclass
class TrainingImages:
    pixels: torch.Tensor  # N × 3 × S × S uint8
    fst: np.ndarray  # N, 1–6
    diagnosis: np.ndarray  # N, names
    manifest_sha256: str

    def __len__(self) -> int:
        return len(self.fst)


def load_training_images(manifest_path: str | Path, size: int, split: str = "train",
                         progress: Callable[[int, int], None] | None = None) -> TrainingImages:
    """The manifest's rows of ``split`` ("" = all) as an in-memory tensor at ``size`` px."""
    manifest = read_manifest(manifest_path)
    table = manifest.table
    if split:
        if split not in set(table["split"]):
            present = sorted(set(table["split"]) - {""}) or "none"
            raise ParameterError(f"{manifest.path}: no row has split {split!r} (splits present: {present}); "
                                 "pass {split} '' to train on every row", "split")
        table = table[table["split"] == split]
    unknown = table["fst"].isna()
    if unknown.any():
        first = table.index[unknown][0]
        raise ValueError(f"{manifest.path}: {int(unknown.sum())} row(s) of split {split!r} have no exact Fitzpatrick type "
                         f"(first: CSV line {first + 2}, image_id {table.loc[first, 'image_id']}); "
                         "a skin-type conditioned model needs one per image — estimate them with `fairskin ita`, or leave those rows out")
    pixels = np.empty((len(table), size, size, 3), dtype=np.uint8)
    for position, (row, image_path, image_root) in enumerate(zip(table.index, table["image_path"], table["image_root"], strict=True)):
        try:
            pixels[position] = square(read_rgb(manifest.image_file(image_path, image_root)), size)
        except ImageFileError as exc:
            raise ValueError(f"{manifest.path}: CSV line {row + 2}, field 'image_path': {exc}") from None
        if progress:
            progress(position + 1, len(table))
    return TrainingImages(
        pixels=torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous(),
        fst=table["fst"].astype(int).to_numpy(),
        diagnosis=table["diagnosis"].astype(str).to_numpy(dtype=object),
        manifest_sha256=file_sha256(manifest.path),
    )

