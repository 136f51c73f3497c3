"""Training one classifier under one strategy, with the same budget for every strategy.

The strategies (the research plan's §6.1 mixing strategies, and its §10.2 non-diffusion baseline):

- ``real-only``: the real training images (the baseline);
- ``skin-type-reweighted``: the same, each skin-type group (I–II, III–IV, V–VI) weighing alike in the loss, no synthetic image;
- ``colour-augment``: the same, with colour and skin-tone augmentation, no synthetic image;
- ``mixed``: real and synthetic images drawn alike;
- ``reweighted``: mixed, with each real image's loss weighted ``real_weight`` times a synthetic one's;
- ``pretrain-finetune``: the first half of the steps on synthetic images only, the second on real ones;
- ``oracle``: real and the *oracle's* real images (of the under-represented types) drawn alike: how far real data would go.

Every strategy gets the same number of optimiser steps of the same batch size. Early stopping
watches the loss on the validation set, which holds real images only: the weights kept are those
of the best validation loss, and training stops after ``patience`` checks without a better one.
Flips and quarter turns augment every strategy (a dermoscopic image has no up). A frozen classifier
trains its head on features computed once per run (`features.FeatureCache`), shared by every strategy.
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

from ..errors import ParameterError
from .augmentation import augment
from .backbones import FrozenImageNetClassifier, build_classifier
from .data import DownstreamDataError, ExperimentData, ImageSet, malignant_share
from .features import FeatureCache
from .settings import NEEDS_ORACLE, NEEDS_SYNTHETIC, STRATEGIES, TrainingBudget


@dataclass
class TrainedClassifier:
    model: nn.Module
    weights_id: str
    best_step: int  # the step whose weights were kept
    steps_run: int
    seconds: float
    cache: FeatureCache | None = None  # a frozen classifier's features
    validation_losses: list[tuple[int, float]] = field(default_factory=list)

    def logits(self, images: ImageSet) -> torch.Tensor:
        return logits_of(self.model, images, self.cache)


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


def _inputs(sets: list[ImageSet], owners: torch.Tensor, rows: torch.Tensor, generator: torch.Generator, colour: bool,
            cache: FeatureCache | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(model inputs, labels) of one batch: augmented pixels, or the cached features of one augmented view per image."""
    labels = torch.tensor([int(sets[k].label[r]) for k, r in zip(owners.tolist(), rows.tolist(), strict=True)])
    if cache is None:
        pixels = torch.stack([sets[k].pixels[r] for k, r in zip(owners.tolist(), rows.tolist(), strict=True)])
        return augment(pixels, generator, colour), labels
    views = torch.randint(0, cache.views, (len(rows),), generator=generator)
    inputs = torch.empty(len(rows), cache.features.dim)
    for k, images in enumerate(sets):
        mine = owners == k
        if mine.any():
            inputs[mine] = cache.augmented(images, colour)[views[mine], rows[mine]]
    return inputs, labels


@torch.no_grad()
def logits_of(model: nn.Module, images: ImageSet, cache: FeatureCache | None = None, batch_size: int = 256) -> torch.Tensor:
    model.eval()
    if cache is not None:
        return model.head(cache.plain(images))
    return torch.cat([model(images.pixels[i:i + batch_size].float() / 255) for i in range(0, len(images), batch_size)])


def malignancy_probability(trained: TrainedClassifier, images: ImageSet, share: np.ndarray | None) -> np.ndarray:
    """P(malignant) per image: the sigmoid of the one logit, or for the diagnosis task Σ P(class) × the class's malignant share."""
    logits = trained.logits(images)
    if logits.shape[1] == 1:
        return torch.sigmoid(logits[:, 0]).numpy().astype(float)
    return (torch.softmax(logits, dim=1).numpy() @ share).astype(float)


def skin_type_weights(train: ImageSet) -> torch.Tensor:
    """Loss weights that make each skin-type group of the training set (I–II, III–IV, V–VI) weigh alike, mean 1 over
    the typed images; images of unknown type weigh 1. Refused where there is nothing to reweight."""
    groups = np.nan_to_num(np.ceil(train.fst / 2), nan=0).astype(int)
    if not (groups > 0).any():
        raise DownstreamDataError("skin-type-reweighted needs skin types, and no training image has one; annotate them "
                                  "(or estimate them: fairskin skin-type), or leave this strategy out")
    if not (groups == 3).any():
        raise DownstreamDataError("skin-type-reweighted: the training set has no FST V–VI image, so there is nothing to weigh up; "
                                  "leave this strategy out")
    present, counts = np.unique(groups[groups > 0], return_counts=True)
    per_group = dict(zip(present.tolist(), ((groups > 0).sum() / (len(present) * counts)).tolist(), strict=True))
    return torch.tensor([per_group.get(g, 1.0) for g in groups.tolist()], dtype=torch.float32)


def _validation_loss(trained: TrainedClassifier, val: ImageSet) -> float:
    return float(_loss(trained.logits(val), torch.tensor(val.label)))


def train_classifier(
    data: ExperimentData,
    strategy: str,
    classifier: str = "small-cnn",
    seed: int = 0,
    budget: TrainingBudget | None = None,
    progress: Callable[[int, int], None] | None = None,
    cache: FeatureCache | None = None,
    size: int | None = None,
) -> TrainedClassifier:
    """Train one classifier by ``strategy`` (module docstring) with ``seed`` deciding its start, batches and augmentation.
    A frozen classifier trains on ``cache``'s features (a new cache when none is given: pass one to share it)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    if strategy in NEEDS_SYNTHETIC and data.synthetic is None:
        raise ParameterError(f"strategy {strategy!r} needs synthetic images: give {{synthetic}}", "synthetic")
    if strategy in NEEDS_ORACLE and data.oracle is None:
        raise ParameterError(f"strategy {strategy!r} needs the real images it adds back: give {{oracle}}", "oracle")
    budget = budget or TrainingBudget()
    started = time.monotonic()
    torch.manual_seed(seed)
    n_outputs = len(data.classes) if data.classes else 1
    if cache is not None and classifier != "small-cnn":  # the network whose features the cache holds
        model, weights_id = FrozenImageNetClassifier(cache.features, n_outputs), cache.weights_id
    else:
        model, weights_id = build_classifier(classifier, n_outputs, size or data.train.pixels.shape[-1])
        cache = FeatureCache(model.features, weights_id) if isinstance(model, FrozenImageNetClassifier) else None
    type_weights = skin_type_weights(data.train) if strategy == "skin-type-reweighted" else None
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=budget.learning_rate, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)
    real_only = [data.train]
    phases = {  # (sets drawn from, steps, early stopping watched)
        "real-only": [(real_only, budget.steps, True)],
        "skin-type-reweighted": [(real_only, budget.steps, True)],
        "colour-augment": [(real_only, budget.steps, True)],
        "mixed": [([data.train, data.synthetic], budget.steps, True)],
        "reweighted": [([data.train, data.synthetic], budget.steps, True)],
        "pretrain-finetune": [([data.synthetic], budget.steps // 2, False), (real_only, budget.steps - budget.steps // 2, True)],
        "oracle": [([data.train, data.oracle], budget.steps, True)],
    }[strategy]
    result = TrainedClassifier(model, weights_id, 0, 0, 0.0, cache)
    learned = model.head if cache else model  # what changes, and is kept at its best
    best_loss, best_state, checks_without_gain, step = float("inf"), None, 0, 0
    for sets, steps, watched in phases:
        batches = _batches(tuple(len(s) for s in sets), min(budget.batch_size, sum(len(s) for s in sets)), generator)
        for _ in range(steps):
            owners, rows = next(batches)
            inputs, labels = _inputs(sets, owners, rows, generator, strategy == "colour-augment", cache)
            weights = (torch.where(owners == 0, budget.real_weight, 1.0) if strategy == "reweighted"
                       else type_weights[rows] if type_weights is not None else None)
            model.train()
            loss = _loss(model.head(inputs) if cache else model(inputs), labels, weights)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            step += 1
            if progress:
                progress(step, budget.steps)
            if watched and (step % budget.eval_every == 0 or step == budget.steps):
                val_loss = _validation_loss(result, data.val)
                result.validation_losses.append((step, val_loss))
                if val_loss < best_loss:
                    best_loss, best_state, result.best_step, checks_without_gain = val_loss, copy.deepcopy(learned.state_dict()), step, 0
                else:
                    checks_without_gain += 1
                    if checks_without_gain >= budget.patience:
                        break
    learned.load_state_dict(best_state)
    result.steps_run, result.seconds = step, time.monotonic() - started
    return result


def predict_test(data: ExperimentData, trained: TrainedClassifier) -> np.ndarray:
    """The trained classifier's P(malignant) for every test image."""
    share = malignant_share(data.train, len(data.classes)) if data.classes else None
    return malignancy_probability(trained, data.test, share)
