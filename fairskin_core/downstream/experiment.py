"""The downstream experiment: every strategy × seed trained under one budget, each scored on the same test images.

Seeds change a classifier's start, its batches and its augmentation, never the data: the
validation draw and the test set are the same for every model, so models can be compared image
by image (paired). Each trained model's operating threshold is chosen on the validation set
(real images only) to give ``specificity``, so TPR and FPR on the test set never saw the test set.
A frozen classifier's features are computed once and shared by every model (`features.FeatureCache`);
with ``tone_audit``, every model also re-scores test images moved to every other skin type (`tone_audit`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .backbones import frozen_features
from .data import ExperimentData, load_experiment_data, malignant_share
from .features import FeatureCache
from .metrics import auroc
from .settings import NEEDS_ORACLE, NEEDS_SYNTHETIC, ExperimentSettings
from .tone_audit import ToneCopies, audit, tone_copies
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
    validation_auroc: float | None  # what picks a classifier: never the test set


@dataclass
class ExperimentResult:
    settings: ExperimentSettings
    data: ExperimentData
    probabilities: dict[str, np.ndarray]  # strategy → seeds × test images, P(malignant)
    thresholds: dict[str, np.ndarray]  # strategy → per seed
    runs: list[ModelRun] = field(default_factory=list)
    seconds: float = 0.0
    feature_seconds: float = 0.0  # of ``seconds``: computing a frozen classifier's features
    tone_audit: dict[str, dict] = field(default_factory=dict)  # strategy → `tone_audit.audit`
    tone_audited: ToneCopies | None = None


def operating_threshold(y: np.ndarray, probability: np.ndarray, specificity: float) -> float:
    """The threshold whose specificity on (y, probability) is at least ``specificity`` (0.5 without negatives)."""
    negatives = np.sort(probability[y == 0])
    if len(negatives) == 0:
        return 0.5
    k = min(int(np.ceil(specificity * len(negatives))), len(negatives) - 1)
    return float(negatives[k])


def _auroc_or_none(malignant: np.ndarray, probability: np.ndarray) -> float | None:
    return float(auroc(malignant.astype(int), probability)) if len(set(malignant.tolist())) == 2 else None


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def run_experiment(settings: ExperimentSettings, progress: Callable[[str], None] | None = None,
                   allowed_roots: list[Path] | None = None, allow_download: bool = True) -> ExperimentResult:
    """Load and check the data, then train and score every strategy × seed (see the module docstring).

    ``allow_download``: a frozen classifier's ImageNet weights may be fetched where no local copy exists."""
    settings = settings.checked()
    started = time.monotonic()
    say = progress or (lambda line: None)
    say(f"reading the images at {settings.size} px")
    data = load_experiment_data(settings.train, settings.test, settings.synthetic, oracle_manifest=settings.oracle, task=settings.task,
                                size=settings.size, train_split=settings.train_split, val_split=settings.val_split,
                                test_split=settings.test_split, allowed_roots=allowed_roots,
                                drop_overlapping_test_images=settings.drop_overlapping_test_images)
    share = malignant_share(data.train, len(data.classes)) if data.classes else None
    cache = None if settings.classifier == "small-cnn" else FeatureCache(
        *frozen_features(settings.classifier, settings.size, allow_download), progress=progress)
    result = ExperimentResult(settings, data, {}, {})
    copies = tone_copies(data.test, settings.tone_audit, progress=progress) if settings.tone_audit else None
    result.tone_audited = copies
    if cache is not None:  # every feature first: then the models' time left is known
        augmented = [(data.train, False), *([(data.train, True)] if "colour-augment" in settings.strategies else []),
                     *([(data.synthetic, False)] if set(settings.strategies) & set(NEEDS_SYNTHETIC) else []),
                     *([(data.oracle, False)] if set(settings.strategies) & set(NEEDS_ORACLE) else [])]
        plain = [data.val, data.test, *(copies.copies.values() if copies else [])]
        cache.compute([(images, True, colour) for images, colour in augmented] + [(images, False, False) for images in plain])
    training_started = time.monotonic()
    total, done = len(settings.strategies) * settings.seeds, 0
    for strategy in settings.strategies:
        scores, thresholds, audited = [], [], {}
        for seed in range(settings.seeds):
            trained = train_classifier(data, strategy, settings.classifier, seed, settings.budget, cache=cache, size=settings.size)
            validation = malignancy_probability(trained, data.val, share)
            threshold = operating_threshold(data.val.malignant.astype(int), validation, settings.specificity)
            scores.append(predict_test(data, trained))
            thresholds.append(threshold)
            if copies is not None:
                for target, images in copies.copies.items():
                    audited.setdefault(target, []).append(malignancy_probability(trained, images, share))
            result.runs.append(ModelRun(strategy, seed, threshold, trained.best_step, trained.steps_run, trained.seconds,
                                        trained.weights_id, _auroc_or_none(data.val.malignant, validation)))
            done += 1
            left = (time.monotonic() - training_started) / done * (total - done)
            say(f"model {done} of {total}: {strategy}, seed {seed}, {trained.seconds:.0f} s, kept step {trained.best_step} of "
                f"{trained.steps_run}; {_minutes(time.monotonic() - started)} so far, about {_minutes(left)} left")
        result.probabilities[strategy], result.thresholds[strategy] = np.array(scores), np.array(thresholds)
        if copies is not None:
            original = result.probabilities[strategy][:, copies.rows]
            result.tone_audit[strategy] = audit(copies, original, {t: np.array(p) for t, p in audited.items()}, result.thresholds[strategy])
    result.seconds = time.monotonic() - started
    result.feature_seconds = cache.seconds if cache else 0.0
    return result
