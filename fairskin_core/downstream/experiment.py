"""The downstream experiment: every strategy × seed trained under one budget, each scored on the same test images.

Seeds change a classifier's start, its batches and its augmentation, never the data: the
validation draw and the test set are the same for every model, so models can be compared image
by image (paired). Each trained model's operating threshold is chosen on the validation set
(real images only) to give ``specificity``, so TPR and FPR on the test set never saw the test set.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .data import ExperimentData, load_experiment_data, malignant_share
from .settings import ExperimentSettings
from .train import malignancy_probability, predict_test, train_classifier


@dataclass
class ModelRun:
    strategy: str
    seed: int
    threshold: float
    best_step: int
    steps_run: int
    seconds: float
    weights_id: str


@dataclass
class ExperimentResult:
    settings: ExperimentSettings
    data: ExperimentData
    probabilities: dict[str, np.ndarray]  # strategy → seeds × test images, P(malignant)
    thresholds: dict[str, np.ndarray]  # strategy → per seed
    runs: list[ModelRun] = field(default_factory=list)
    seconds: float = 0.0


def operating_threshold(y: np.ndarray, probability: np.ndarray, specificity: float) -> float:
    """The threshold whose specificity on (y, probability) is at least ``specificity`` (0.5 without negatives)."""
    negatives = np.sort(probability[y == 0])
    if len(negatives) == 0:
        return 0.5
    k = min(int(np.ceil(specificity * len(negatives))), len(negatives) - 1)
    return float(negatives[k])


def run_experiment(settings: ExperimentSettings, progress: Callable[[str], None] | None = None,
                   allowed_roots: list[Path] | None = None) -> ExperimentResult:
    """Load and check the data, then train and score every strategy × seed (see the module docstring)."""
    settings = settings.checked()
    started = time.monotonic()
    data = load_experiment_data(settings.train, settings.test, settings.synthetic, task=settings.task, size=settings.size,
                                train_split=settings.train_split, val_split=settings.val_split, test_split=settings.test_split,
                                allowed_roots=allowed_roots, drop_overlapping_test_images=settings.drop_overlapping_test_images)
    share = malignant_share(data.train, len(data.classes)) if data.classes else None
    result = ExperimentResult(settings, data, {}, {})
    for strategy in settings.strategies:
        scores, thresholds = [], []
        for seed in range(settings.seeds):
            trained = train_classifier(data, strategy, settings.classifier, seed, settings.budget)
            threshold = operating_threshold(data.val.malignant.astype(int), malignancy_probability(trained.model, data.val, share),
                                            settings.specificity)
            scores.append(predict_test(data, trained))
            thresholds.append(threshold)
            result.runs.append(ModelRun(strategy, seed, threshold, trained.best_step, trained.steps_run, trained.seconds,
                                        trained.weights_id))
            if progress:
                progress(f"{strategy}, seed {seed}: {trained.seconds:.0f} s, kept step {trained.best_step} of {trained.steps_run}")
        result.probabilities[strategy], result.thresholds[strategy] = np.array(scores), np.array(thresholds)
    result.seconds = time.monotonic() - started
    return result

