"""What a downstream experiment is asked to do: the names of its choices and its settings, without torch (the CLI reads these)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

TASKS = ("malignant", "diagnosis")
CLASSIFIERS = ("small-cnn", "alexnet", "vgg16")
MIN_SIZE = {"small-cnn": 16, "alexnet": 64, "vgg16": 32}  # px: below it the convolutions leave nothing to pool
STRATEGIES = ("real-only", "colour-augment", "mixed", "reweighted", "pretrain-finetune")
NEEDS_SYNTHETIC = ("mixed", "reweighted", "pretrain-finetune")
BASELINE = "real-only"


@dataclass(frozen=True)
class TrainingBudget:
    """What every strategy gets alike."""

    steps: int = 600
    batch_size: int = 32
    learning_rate: float = 1e-3
    eval_every: int = 50  # steps between validation checks
    patience: int = 4  # checks without a better validation loss before stopping
    real_weight: float = 2.0  # reweighted: a real image's loss weight, a synthetic one's being 1


@dataclass(frozen=True)
class ExperimentSettings:
    train: str
    test: str
    synthetic: str | None = None
    strategies: tuple[str, ...] = STRATEGIES
    task: str = "malignant"
    classifier: str = "small-cnn"
    seeds: int = 5
    size: int = 64
    budget: TrainingBudget = TrainingBudget()
    train_split: str = "train"
    val_split: str = "val"
    test_split: str = "test"
    specificity: float = 0.8  # the operating point chosen on validation
    n_boot: int = 1000
    drop_overlapping_test_images: bool = False  # else a test image seen in training is an error

    def checked(self) -> ExperimentSettings:
        """The settings with the baseline first and each strategy once; refuses what cannot run."""
        unknown = [s for s in self.strategies if s not in STRATEGIES]
        if unknown:
            raise ValueError(f"unknown strategy {unknown[0]!r}; choose from {', '.join(STRATEGIES)}")
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        if self.classifier not in CLASSIFIERS:
            raise ValueError(f"unknown classifier {self.classifier!r}; choose one of {', '.join(CLASSIFIERS)}")
        if self.size < MIN_SIZE[self.classifier]:
            raise ValueError(f"the {self.classifier} classifier needs images of at least {MIN_SIZE[self.classifier]} px; "
                             f"--size is {self.size}")
        if self.synthetic is None and (needing := [s for s in self.strategies if s in NEEDS_SYNTHETIC]):
            raise ValueError(f"strategies {', '.join(needing)} need synthetic images: give --synthetic, or leave them out")
        if self.seeds < 1:
            raise ValueError(f"--seeds must be at least 1, not {self.seeds}")
        if not 0 < self.specificity < 1:
            raise ValueError(f"--specificity must lie between 0 and 1, not {self.specificity}")
        if self.budget.steps < 1 or self.budget.batch_size < 1 or self.budget.real_weight <= 0:
            raise ValueError(f"--steps and --batch-size must be at least 1 and --real-weight positive, not {self.budget}")
        ordered = (BASELINE, *dict.fromkeys(s for s in self.strategies if s != BASELINE))
        return dataclasses.replace(self, strategies=ordered)
