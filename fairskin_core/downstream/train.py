"""Training one classifier under one strategy, with the same budget for every strategy.

The strategies (the research plan's §6.1 mixing strategies, and its §10.2 non-diffusion baseline):

- ``real-only``: the real training images (the baseline);
- ``colour-augment``: the same, with colour and skin-tone augmentation, no synthetic image;
- ``mixed``: real and synthetic images drawn alike;
- ``reweighted``: mixed, with each real image's loss weighted ``real_weight`` times a synthetic one's;
- ``pretrain-finetune``: the first half of the steps on synthetic images only, the second on real ones.

Every strategy gets the same number of optimiser steps of the same batch size. Early stopping
watches the loss on the validation set, which holds real images only: the weights kept are those
of the best validation loss, and training stops after ``patience`` checks without a better one.
Flips and quarter turns augment every strategy (a dermoscopic image has no up).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .backbones import build_classifier
from .data import ExperimentData, ImageSet, malignant_share
from .settings import NEEDS_SYNTHETIC, STRATEGIES, TrainingBudget


@dataclass
class TrainedClassifier:
    model: nn.Module
    weights_id: str
    best_step: int  # the step whose weights were kept
    steps_run: int
    seconds: float
    validation_losses: list[tuple[int, float]] = field(default_factory=list)


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


def _loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Binary (one logit) or multi-class cross-entropy, optionally weighted per image."""
    each = (F.binary_cross_entropy_with_logits(logits[:, 0], labels.float(), reduction="none") if logits.shape[1] == 1
            else F.cross_entropy(logits, labels, reduction="none"))
    return each.mean() if weights is None else (each * weights).sum() / weights.sum()


def _batches(sizes: tuple[int, ...], batch_size: int, generator: torch.Generator):
    """Endless batches of (set index, row) drawn without replacement within an epoch over the sets' union."""
    owners = torch.cat([torch.full((n,), k) for k, n in enumerate(sizes)])
    rows = torch.cat([torch.arange(n) for n in sizes])
    while True:
        order = torch.randperm(len(rows), generator=generator)
        for start in range(0, len(order) - batch_size + 1, batch_size):
            chosen = order[start:start + batch_size]
            yield owners[chosen], rows[chosen]


def _batch(sets: list[ImageSet], owners: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pixels = torch.stack([sets[k].pixels[r] for k, r in zip(owners.tolist(), rows.tolist(), strict=True)])
    labels = torch.tensor([int(sets[k].label[r]) for k, r in zip(owners.tolist(), rows.tolist(), strict=True)])
    return pixels, labels


@torch.no_grad()
def logits_of(model: nn.Module, images: ImageSet, batch_size: int = 256) -> torch.Tensor:
    model.eval()
    return torch.cat([model(images.pixels[i:i + batch_size].float() / 255) for i in range(0, len(images), batch_size)])


def malignancy_probability(model: nn.Module, images: ImageSet, share: np.ndarray | None) -> np.ndarray:
    """P(malignant) per image: the sigmoid of the one logit, or for the diagnosis task Σ P(class) × the class's malignant share."""
    logits = logits_of(model, images)
    if logits.shape[1] == 1:
        return torch.sigmoid(logits[:, 0]).numpy().astype(float)
    return (torch.softmax(logits, dim=1).numpy() @ share).astype(float)


def _validation_loss(model: nn.Module, val: ImageSet) -> float:
    return float(_loss(logits_of(model, val), torch.tensor(val.label)))


def train_classifier(
    data: ExperimentData,
    strategy: str,
    classifier: str = "small-cnn",
    seed: int = 0,
    budget: TrainingBudget | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> TrainedClassifier:
    """Train one classifier by ``strategy`` (module docstring) with ``seed`` deciding its start, batches and augmentation."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    if strategy in NEEDS_SYNTHETIC and data.synthetic is None:
        raise ValueError(f"strategy {strategy!r} needs synthetic images: give --synthetic")
    budget = budget or TrainingBudget()
    started = time.monotonic()
    torch.manual_seed(seed)
    n_outputs = len(data.classes) if data.classes else 1
    model, weights_id = build_classifier(classifier, n_outputs)
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=budget.learning_rate, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)
    real_only = [data.train]
    phases = {  # (sets drawn from, steps, early stopping watched)
        "real-only": [(real_only, budget.steps, True)],
        "colour-augment": [(real_only, budget.steps, True)],
        "mixed": [([data.train, data.synthetic], budget.steps, True)],
        "reweighted": [([data.train, data.synthetic], budget.steps, True)],
        "pretrain-finetune": [([data.synthetic], budget.steps // 2, False), (real_only, budget.steps - budget.steps // 2, True)],
    }[strategy]
    result = TrainedClassifier(model, weights_id, 0, 0, 0.0)
    best_loss, best_state, checks_without_gain, step = float("inf"), None, 0, 0
    for sets, steps, watched in phases:
        batches = _batches(tuple(len(s) for s in sets), min(budget.batch_size, sum(len(s) for s in sets)), generator)
        for _ in range(steps):
            owners, rows = next(batches)
            pixels, labels = _batch(sets, owners, rows)
            weights = torch.where(owners == 0, budget.real_weight, 1.0) if strategy == "reweighted" else None
            model.train()
            loss = _loss(model(augment(pixels, generator, colour=strategy == "colour-augment")), labels, weights)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            step += 1
            if progress:
                progress(step, budget.steps)
            if watched and (step % budget.eval_every == 0 or step == budget.steps):
                val_loss = _validation_loss(model, data.val)
                result.validation_losses.append((step, val_loss))
                if val_loss < best_loss:
                    best_loss, best_state, result.best_step, checks_without_gain = val_loss, copy.deepcopy(model.state_dict()), step, 0
                else:
                    checks_without_gain += 1
                    if checks_without_gain >= budget.patience:
                        break
    model.load_state_dict(best_state)
    result.steps_run, result.seconds = step, time.monotonic() - started
    return result


def predict_test(data: ExperimentData, trained: TrainedClassifier) -> np.ndarray:
    """The trained classifier's P(malignant) for every test image."""
    share = malignant_share(data.train, len(data.classes)) if data.classes else None
    return malignancy_probability(trained.model, data.test, share)
