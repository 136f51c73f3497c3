"""An ordinal head: six ordered skin types as one score and five cut-points (a cumulative-logit model).

P(type > k) = σ((score − cut_k) / T), k = 1…5, with the cut-points kept increasing, so the six
probabilities are always a proper, rank-consistent distribution (McCullagh 1980; the CORAL
network of Cao et al. 2020 is the same idea). Types are not six unrelated classes: calling a V
a IV costs less than calling it a I, and the model knows it. T is the temperature, fitted after
training on held-out images so the probabilities are calibrated (Guo et al. 2017).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

N_TYPES = 6


class OrdinalHead(nn.Module):
    """Standardised features → one linear score → P(type > k) for k = 1…5."""

    def __init__(self, n_features: int):
        super().__init__()
        self.register_buffer("feature_mean", torch.zeros(n_features))
        self.register_buffer("feature_scale", torch.ones(n_features))
        self.register_buffer("temperature", torch.ones(()))
        self.linear = nn.Linear(n_features, 1)
        self.first_cut = nn.Parameter(torch.tensor(-2.0))
        self.cut_gaps = nn.Parameter(torch.ones(N_TYPES - 2))

    def cut_points(self) -> torch.Tensor:
        gaps = nn.functional.softplus(self.cut_gaps)
        return torch.cat([self.first_cut[None], self.first_cut + torch.cumsum(gaps, 0)])

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """N×5 logits of P(type > k), before the temperature."""
        score = self.linear((features - self.feature_mean) / self.feature_scale)
        return score - self.cut_points()

    def calibrated(self, logits: torch.Tensor) -> torch.Tensor:
        """N×6 calibrated probabilities of types I–VI from `logits`."""
        return type_probabilities(torch.sigmoid(logits / self.temperature))


def type_probabilities(above: torch.Tensor) -> torch.Tensor:
    """N×5 P(type > k) → N×6 P(type = k)."""
    ones, zeros = torch.ones_like(above[:, :1]), torch.zeros_like(above[:, :1])
    return (torch.cat([ones, above], 1) - torch.cat([above, zeros], 1)).clamp_min(0)


def cumulative_targets(labels: np.ndarray) -> np.ndarray:
    """N×K labels (1–6, 0 where an annotator gave none) → N×5 soft targets: the share of annotators saying > k."""
    labels = np.atleast_2d(labels.T).T
    given = labels > 0
    above = (labels[:, :, None] > np.arange(1, N_TYPES)[None, None, :]) & given[:, :, None]
    return above.sum(1) / np.maximum(given.sum(1, keepdims=True), 1)


def fit_temperature(head: OrdinalHead, logits: torch.Tensor, labels: np.ndarray) -> float:
    """Set the head's temperature to minimise the negative log-likelihood of ``labels`` (1–6) given held-out ``logits``."""
    rows = torch.arange(len(labels))
    labels = torch.as_tensor(labels, dtype=torch.long) - 1

    def nll(temperature: float) -> float:
        return float(-type_probabilities(torch.sigmoid(logits / temperature))[rows, labels].clamp_min(1e-6).log().mean())

    head.temperature.fill_(float(min(np.exp(np.linspace(np.log(0.25), np.log(4), 81)), key=nll)))
    return float(head.temperature)
