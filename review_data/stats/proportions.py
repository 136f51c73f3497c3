"""Proportions from independent ratings: Wilson intervals, the exact binomial equivalence test (TOST) and its power."""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import binom_tost, proportion_confint

from .jsonable import jsonable

POWER_TARGET = 0.80  # the power an equivalence claim should have


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (Wilson 1927); (nan, nan) when n = 0.

    Unlike p ± z·SE it stays inside [0, 1] and keeps its coverage near 0, near 1 and for small n,
    which is where a good detector or a tiny subgroup puts us.
    """
    if not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    if n == 0:
        return math.nan, math.nan
    low, high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    return max(0.0, low), min(1.0, high)  # statsmodels < 0.15 leaves rounding just outside [0, 1]


def tost_equivalence(correct: int, n: int, *, margin: float = 0.10, alpha: float = 0.05) -> dict:
    """Is accuracy within 0.5 ± margin, i.e. are reviewers practically at chance?

    Two one-sided exact binomial tests (Schuirmann 1987): H0a accuracy ≤ 0.5 − margin and
    H0b accuracy ≥ 0.5 + margin. Equivalence is shown when both are rejected (p = max of the two
    < alpha). Also gives the test's power at true accuracy 0.5 for this n and the number of
    ratings needed for 80% power, both assuming independent ratings.
    """
    _check_tost_settings(margin, alpha)
    lower, upper = 0.5 - margin, 0.5 + margin
    power = tost_power(n, margin=margin, alpha=alpha)
    needed = tost_ratings_needed(margin=margin, alpha=alpha)
    result = {
        "margin": margin, "alpha": alpha, "bounds": [lower, upper], "n": n,
        "p_lower": None, "p_upper": None, "p_value": None, "equivalent": None,
        "power": power, "power_target": POWER_TARGET, "ratings_needed": needed, "note": None,
    }
    if n == 0:
        return jsonable({**result, "note": "no ratings: nothing to test"})
    p_value, p_lower, p_upper = binom_tost(correct, n, lower, upper)
    result.update(p_lower=p_lower, p_upper=p_upper, p_value=p_value, equivalent=bool(p_value < alpha))
    if power < POWER_TARGET:
        result["note"] = (
            f"Too small to support an 'indistinguishable' claim: with {n} rating(s) this test has "
            f"{power:.0%} power to show accuracy within 0.5 ± {margin:g} even if reviewers truly "
            f"guess; about {needed} independent ratings are needed for {POWER_TARGET:.0%} power (more with "
            "clustered ratings: multiply by the design effect). Failing to show equivalence here "
            "is not evidence that reviewers can tell the images apart, and a non-significant "
            "binomial test is not evidence that they cannot."
        )
    return jsonable(result)


def tost_power(n: int, *, margin: float = 0.10, alpha: float = 0.05, accuracy: float = 0.5) -> float:
    """Probability that the exact TOST shows equivalence with n independent ratings."""
    _check_tost_settings(margin, alpha)
    return float(_tost_power_curve(np.array([n]), margin, alpha, accuracy)[0]) if n > 0 else 0.0


@functools.lru_cache(maxsize=32)
def tost_ratings_needed(*, margin: float = 0.10, alpha: float = 0.05, power: float = POWER_TARGET) -> int:
    """Fewest independent ratings from which the exact TOST keeps at least ``power`` at accuracy 0.5.

    Exact binomial power zig-zags with n, so this is the n from which it never again drops
    below the target (a few ratings more than the first n that reaches it).
    """
    _check_tost_settings(margin, alpha)
    z = stats.norm.ppf(1 - alpha) + stats.norm.ppf(1 - (1 - power) / 2)
    normal_approximation = 0.25 * z * z / margin**2
    ns = np.arange(1, int(3 * normal_approximation) + 200)
    short = np.flatnonzero(_tost_power_curve(ns, margin, alpha, 0.5) < power)
    return int(ns[short[-1] + 1]) if short.size else 1


def _tost_power_curve(ns: np.ndarray, margin: float, alpha: float, accuracy: float) -> np.ndarray:
    """Exact TOST power at each n: the binomial probability of a count that rejects both nulls.

    Not statsmodels' power_binom_tost: that one also rejects at p = alpha exactly and goes negative where no count rejects.
    """
    lower, upper = 0.5 - margin, 0.5 + margin
    # Smallest count whose test against `lower` has p < alpha: isf gives the first count with
    # an upper tail <= alpha; step one further where the tail equals alpha exactly.
    k_min = stats.binom.isf(alpha, ns, lower) + 1
    k_min += stats.binom.sf(k_min - 1, ns, lower) >= alpha
    # Largest count whose test against `upper` has p < alpha.
    k_max = stats.binom.ppf(alpha, ns, upper) - 1
    power = stats.binom.cdf(k_max, ns, accuracy) - stats.binom.cdf(k_min - 1, ns, accuracy)
    return np.where(k_min <= k_max, power, 0.0)


def _check_tost_settings(margin: float, alpha: float) -> None:
    if not 0 < margin < 0.5:
        raise ValueError(f"margin must lie strictly between 0 and 0.5, got {margin}")
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha must lie strictly between 0 and 0.5, got {alpha}")
