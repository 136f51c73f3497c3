"""Choosing a study's images: N real and N synthetic with the same FST × diagnosis mix.

If the two arms differed in skin types or diagnoses, the mix alone would give the source away
(“dark skin, so it must be synthetic”). So both arms get exactly the same count in every
FST × diagnosis stratum. Strata get images in proportion to how many both arms can supply
(the smaller arm's count), rounded by largest remainder; within a stratum, images are drawn at
random with the study's seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fairskin_core.summary import fst_categories


class SamplingError(ValueError):
    """The arms cannot be matched; the message says what is short."""


def strata(table: pd.DataFrame) -> pd.Series:
    """Each row's stratum: skin-type category and diagnosis, e.g. "V · melanoma"."""
    return fst_categories(table) + " · " + table["diagnosis"]


def _allocate(n: int, capacity: pd.Series) -> pd.Series:
    quotas = n * capacity / capacity.sum()
    counts = np.floor(quotas).astype(int)
    order = np.argsort(-(quotas - counts).to_numpy(), kind="stable")
    counts.iloc[order[: n - counts.sum()]] += 1
    return counts  # ceil(quota) never exceeds a stratum's capacity, since n <= capacity.sum()


def matched_sample(real: pd.DataFrame, synthetic: pd.DataFrame, n_per_arm: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n_per_arm`` rows from each arm, with identical counts per FST × diagnosis stratum."""
    if n_per_arm < 1:
        raise SamplingError(f"--n-per-arm must be at least 1, not {n_per_arm}")
    real_strata, synthetic_strata = strata(real), strata(synthetic)
    capacity = pd.concat([real_strata.value_counts(), synthetic_strata.value_counts()], axis=1).fillna(0).min(axis=1)
    capacity = capacity[capacity > 0].astype(int).sort_index()
    if capacity.sum() < n_per_arm:
        raise SamplingError(
            f"only {int(capacity.sum())} images per arm can be matched on FST × diagnosis, fewer than the "
            f"{n_per_arm} asked for (real: {len(real)} images, synthetic: {len(synthetic)}); "
            "lower --n-per-arm or add images of the strata both arms share: "
            + ", ".join(f"{s} {c}" for s, c in capacity.items())
        )
    counts = _allocate(n_per_arm, capacity)
    rng = np.random.default_rng(seed)
    picked = {"real": [], "synthetic": []}
    for stratum, count in counts.items():
        for arm, table, arm_strata in (("real", real, real_strata), ("synthetic", synthetic, synthetic_strata)):
            candidates = table.index[arm_strata == stratum]
            candidates = candidates[np.argsort(table.loc[candidates, "image_id"].to_numpy(), kind="stable")]
            picked[arm].extend(rng.choice(candidates, size=count, replace=False).tolist())
    return real.loc[picked["real"]], synthetic.loc[picked["synthetic"]]
