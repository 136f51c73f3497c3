"""`fairskin skin-type train`: the learned estimator, trained on the shared Fitzpatrick17k copy.

What is learned from: both annotators. Fitzpatrick17k's two services (Scale AI, Centaur Labs)
agree on the exact type for only about half of the images, within one type for 91%: either
alone is a noisy label. Each image's target is the share of its annotators who put it above each
of the five cut-points (a soft ordinal target), so where they disagree the model is asked for the
disagreement, not for one of them. Evaluation is against the Scale AI type (the column Groh et
al. benchmark on), beside the Centaur type as a second reader.

Rare types count as much as common ones: each image is weighted by 1/(its type's frequency), so
type VI (5% of the images) is not drowned by II–IV. Steps: gather every image's evidence (skin, colour), run the
frozen part of the network once on each image and its mirror image, fine-tune the rest with
AdamW under a one-cycle schedule, fit the temperature on the calibration split, choose the
confidence threshold there, and save the folder.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import save
from torch import nn

from ..atomic import atomic_file
from .estimator import SETTINGS_FILE, SPLIT_FILE, WEIGHTS_FILE, EvidenceOfFiles
from .evidence import Evidence
from .fitzpatrick17k_split import SPLIT_SEED, fitzpatrick17k_split
from .network import SkinTypeNetwork
from .ordinal import cumulative_targets, fit_temperature

FIRST_TUNED = 11  # blocks 11-15 (the 192- and 320-channel stages) and the last convolution are fine-tuned
BALANCE_POWER = 1.0  # weight 1/frequency^power; with 0.5 (√) type VI was within one type for 66% of the test images, with 1.0 71%
OUT_OF_RANGE_PERCENTILE = 1  # a distribution flatter than this share (%) of held-out annotated images' is not trusted


@dataclass
class TrainingRun:
    folder: Path
    split: pd.DataFrame  # md5hash, labels, split, status of each image
    settings: dict
    seconds: float


def _gathered(files: list[Path], workers: int, progress: Callable[[str], None]) -> list[Evidence]:
    evidence: list[Evidence] = [None] * len(files)  # type: ignore[list-item]
    loader = torch.utils.data.DataLoader(EvidenceOfFiles(files), batch_size=32, num_workers=workers, collate_fn=list)
    for batch in loader:
        for i, item in batch:
            evidence[i] = item
        progress(f"evidence {sum(e is not None for e in evidence)}/{len(files)}")
    return evidence


def _stacked(evidence: list[Evidence]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    images = torch.as_tensor(np.stack([e.network_input for e in evidence])).permute(0, 3, 1, 2).float()
    return images, torch.as_tensor(np.stack([e.skin_weights for e in evidence])), torch.as_tensor(np.stack([e.colour for e in evidence]))


def _lower_features(network: SkinTypeNetwork, images: torch.Tensor, progress: Callable[[str], None]) -> dict[bool, torch.Tensor]:
    """The frozen part's output for every image and its mirror image (half precision: it is only an input)."""
    out = {}
    with torch.inference_mode():
        for mirrored in (False, True):
            parts = []
            for start in range(0, len(images), 64):
                batch = images[start : start + 64]
                parts.append(network.lower(batch.flip(3) if mirrored else batch).half())
                progress(f"frozen features{' (mirrored)' if mirrored else ''} {min(start + 64, len(images))}/{len(images)}")
            out[mirrored] = torch.cat(parts)
    return out


def _logits(
    network: SkinTypeNetwork, lower: dict[bool, torch.Tensor], weights: torch.Tensor, colour: torch.Tensor, rows: np.ndarray
) -> torch.Tensor:
    """Ordinal logits of ``rows``, the image and its mirror image averaged (as `SkinTypeEstimator` does)."""
    network.eval()
    with torch.no_grad():
        parts = [(network.upper(lower[False][chunk].float(), weights[chunk], colour[chunk])
                  + network.upper(lower[True][chunk].float(), weights[chunk].flip(2), colour[chunk])) / 2
                 for chunk in np.array_split(rows, max(1, math.ceil(len(rows) / 128)))]
    return torch.cat(parts)


def _median_type(probabilities: np.ndarray) -> np.ndarray:
    return (np.cumsum(probabilities, 1) < 0.5).sum(1) + 1


def choose_min_confidence(probabilities: np.ndarray) -> float:
    """The confidence below which a type is withheld: the `OUT_OF_RANGE_PERCENTILE`-th percentile of the held-out images'.

    On held-out annotated photographs a higher confidence does not make an estimate more often within one type
    (docs/skin_tone.md, the threshold table): withholding more would lose images and gain nothing. What the threshold
    catches is an image the model has no clear view of — a distribution flatter than nearly every image it was checked on,
    as out-of-domain images give."""
    estimate = _median_type(probabilities)
    confidence = probabilities[np.arange(len(estimate)), estimate - 1]
    return round(float(np.floor(np.percentile(confidence.astype(float), OUT_OF_RANGE_PERCENTILE) * 100)) / 100, 2)


def train_skin_type_estimator(
    fitzpatrick17k: str | Path,
    out: str | Path,
    *,
    epochs: int = 6,
    batch_size: int = 32,
    learning_rate: float = 3e-4,
    seed: int = 0,
    workers: int = 2,
    progress: Callable[[str], None] | None = None,
) -> TrainingRun:
    """Train the estimator on the Fitzpatrick17k folder ``fitzpatrick17k`` and save the model folder ``out``."""
    progress = progress or (lambda message: None)
    started = time.monotonic()
    torch.manual_seed(seed)
    generator = np.random.default_rng(seed)
    labels = fitzpatrick17k_split(fitzpatrick17k)
    evidence = _gathered(list(labels["file"]), workers, progress)
    labels["status"] = [e.status for e in evidence]
    usable = np.flatnonzero(labels["status"] == "ok")
    network = SkinTypeNetwork(FIRST_TUNED)
    images, weights, colour = _stacked([evidence[i] for i in usable])
    del evidence
    lower = _lower_features(network, images, progress)
    del images
    table = labels.iloc[usable].reset_index(drop=True)
    scale = table["fitzpatrick_scale"].to_numpy(int)
    targets = torch.as_tensor(cumulative_targets(np.stack([scale, table["fitzpatrick_centaur"].clip(lower=0).to_numpy(int)], 1)),
                              dtype=torch.float32)
    train = np.flatnonzero(table["split"] == "train")
    calibration = np.flatnonzero(table["split"] == "calibration")
    counts = np.bincount(scale[train], minlength=7)[1:]
    sample_weights = torch.as_tensor((1 / counts[scale - 1]) ** BALANCE_POWER, dtype=torch.float32)
    sample_weights /= sample_weights[train].mean()

    head = network.head
    head.feature_mean[-colour.shape[1]:] = colour[train].mean(0)  # the pooled features stay as they are; the colour is standardised
    head.feature_scale[-colour.shape[1]:] = colour[train].std(0)
    tuned = [p for name, p in network.named_parameters() if p.requires_grad and not name.startswith("head.")]
    optimiser = torch.optim.AdamW([{"params": tuned, "lr": learning_rate}, {"params": head.parameters(), "lr": 10 * learning_rate}],
                                  weight_decay=0.05)
    steps = len(train) // batch_size
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=[learning_rate, 10 * learning_rate], total_steps=epochs * steps,
                                                   pct_start=0.15)
    for epoch in range(epochs):
        network.train()
        order = generator.permutation(train)
        for step in range(steps):
            rows = order[step * batch_size : (step + 1) * batch_size]
            mirrored = bool(generator.random() < 0.5)
            logits = network.upper(lower[mirrored][rows].float(), weights[rows].flip(2) if mirrored else weights[rows], colour[rows])
            loss = nn.functional.binary_cross_entropy_with_logits(logits, targets[rows], weight=sample_weights[rows, None])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            progress(f"epoch {epoch + 1}/{epochs} step {step + 1}/{steps} loss {loss.item():.4f}")

    calibration_logits = _logits(network, lower, weights, colour, calibration)
    temperature = fit_temperature(head, calibration_logits, scale[calibration])
    with torch.no_grad():
        probabilities = head.calibrated(calibration_logits).numpy()
    settings = {
        "first_tuned": FIRST_TUNED,
        "temperature": temperature,
        "min_confidence": choose_min_confidence(probabilities),
        "trained_on": "Fitzpatrick17k (Groh et al. 2021), the shared 256 px copy: both annotators' types as soft ordinal targets",
        "split_seed": SPLIT_SEED,
        "images": {split: int((table["split"] == split).sum()) for split in ("train", "calibration", "test")},
        "refused": labels.loc[labels["status"] != "ok", "status"].value_counts().to_dict(),
        "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate, "balance_power": BALANCE_POWER, "seed": seed,
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = {name: (value.half() if not name.startswith("head.") else value).contiguous() for name, value in network.tuned_state().items()}
    with atomic_file(out / WEIGHTS_FILE, "wb") as handle:
        handle.write(save(state))
    with atomic_file(out / SETTINGS_FILE, "w", encoding="utf-8") as handle:
        json.dump(settings, handle, indent=2)
    with atomic_file(out / SPLIT_FILE, "w", newline="", encoding="utf-8") as handle:
        columns = ["md5hash", "fitzpatrick_scale", "fitzpatrick_centaur", "three_partition_label", "split", "status"]
        labels[columns].to_csv(handle, index=False)
    return TrainingRun(out, labels, settings, time.monotonic() - started)

