"""What a downstream experiment is asked to do: the names of its choices and its settings, without torch (the CLI reads these)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import ParameterError

TASKS = ("malignant", "diagnosis")
CLASSIFIERS = ("efficientnet-lite0", "small-cnn", "alexnet", "vgg16")
DEFAULT_CLASSIFIER = "efficientnet-lite0"  # the best on the Fitzpatrick17k critical test's validation split (docs/experiments.md)
MIN_SIZE = {"efficientnet-lite0": 32, "small-cnn": 16, "alexnet": 64, "vgg16": 32}  # px: below it nothing is left to pool
SIZE_STEP = {"efficientnet-lite0": 32}  # its padding is fixed for one input size, a multiple of 32
STRATEGIES = ("real-only", "skin-type-reweighted", "colour-augment", "mixed", "reweighted", "pretrain-finetune", "oracle")
NEEDS_SYNTHETIC = ("mixed", "reweighted", "pretrain-finetune")
NEEDS_ORACLE = ("oracle",)
BASELINE = "real-only"
ORACLE = "oracle"


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
    oracle: str | None = None  # real images (of the under-represented types) added back: the upper bound for synthetic ones
    strategies: tuple[str, ...] | None = None  # None: every strategy the given data allows
    task: str = "malignant"
    classifier: str = DEFAULT_CLASSIFIER
    seeds: int = 5
    size: int = 160
    budget: TrainingBudget = TrainingBudget()
    train_split: str = "train"
    val_split: str = "val"
    test_split: str = "test"
    specificity: float = 0.8  # the operating point chosen on validation
    n_boot: int = 1000
    drop_overlapping_test_images: bool = False  # else a test image seen in training is an error
    tone_audit: int = 0  # test images per annotated skin type re-scored after tone transfer to every other type (0: no audit)

    def checked(self) -> ExperimentSettings:
        """The settings with the baseline first and each strategy once; refuses what cannot run."""
        if self.strategies is None:
            runnable = [s for s in STRATEGIES if (s not in NEEDS_SYNTHETIC or self.synthetic) and (s not in NEEDS_ORACLE or self.oracle)]
            return dataclasses.replace(self, strategies=tuple(runnable)).checked()
        unknown = [s for s in self.strategies if s not in STRATEGIES]
        if unknown:
            raise ValueError(f"unknown strategy {unknown[0]!r}; choose from {', '.join(STRATEGIES)}")
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        if self.classifier not in CLASSIFIERS:
            raise ValueError(f"unknown classifier {self.classifier!r}; choose one of {', '.join(CLASSIFIERS)}")
        if self.size < MIN_SIZE[self.classifier]:
            raise ParameterError(f"the {self.classifier} classifier needs images of at least {MIN_SIZE[self.classifier]} px; "
                                 f"{{size}} is {self.size}", "size")
        if self.size % SIZE_STEP.get(self.classifier, 1):
            raise ParameterError(f"the {self.classifier} classifier needs a size that is a multiple of {SIZE_STEP[self.classifier]} px; "
                                 f"{{size}} is {self.size}", "size")
        if self.synthetic is None and (needing := [s for s in self.strategies if s in NEEDS_SYNTHETIC]):
            raise ParameterError(f"strategies {', '.join(needing)} need synthetic images: give {{synthetic}}, or leave them out",
                                 "synthetic")
        if self.oracle is None and ORACLE in self.strategies:
            raise ParameterError("the oracle strategy needs the real images it adds back: give {oracle}, or leave it out", "oracle")
        if self.tone_audit < 0:
            raise ParameterError(f"{{tone_audit}} must be 0 (no audit) or a number of test images per skin type, not {self.tone_audit}",
                                 "tone_audit")
        if self.seeds < 1:
            raise ParameterError(f"{{seeds}} must be at least 1, not {self.seeds}", "seeds")
        if not 0 < self.specificity < 1:
            raise ParameterError(f"{{specificity}} must lie between 0 and 1, not {self.specificity}", "specificity")
        if self.budget.steps < 1 or self.budget.batch_size < 1 or self.budget.real_weight <= 0:
            raise ParameterError(f"{{steps}} and {{batch_size}} must be at least 1 and {{real_weight}} positive, not {self.budget}",
                                 "steps", "batch_size", "real_weight")
        ordered = (BASELINE, *dict.fromkeys(s for s in self.strategies if s != BASELINE))
        return dataclasses.replace(self, strategies=ordered)
