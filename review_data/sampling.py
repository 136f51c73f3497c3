"""Choosing a study's images: N real and N synthetic with the same skin-type × diagnosis mix.

If the two arms differed in skin types or diagnoses, the mix alone would give the source away
(“dark skin, so it must be synthetic”). So both arms get exactly the same count in every
stratum. Strata get images in proportion to how many both arms can supply (the smaller arm's
count), rounded by largest remainder; within a stratum, images are drawn at random with the
study's seed.

Strata are FST × diagnosis where both arms give skin types; FST group × diagnosis where one
only gives groups (DDI); diagnosis alone where one gives none (HAM10000, ISIC: most real
dermoscopy) — `choose_matching` picks the finest the arms allow and says why in words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fairskin_core.summary import UNKNOWN, fst_categories

# What strata are made of, finest first.
MATCH_ON = {"fst": "FST × diagnosis", "fst_group": "FST group × diagnosis", "diagnosis": "diagnosis alone"}


class SamplingError(ValueError):
    """The arms cannot be matched; the message says what is short."""


@dataclass(frozen=True)
class Matching:
    """How a study's arms were matched, and in words why no finer (empty when FST × diagnosis, every row typed)."""

    on: str  # a key of MATCH_ON
    note: str = ""

    @property
    def description(self) -> str:
        return f"matched on {MATCH_ON[self.on]}" + (f": {self.note}" if self.note else "")


def _unknown(table: pd.DataFrame, exact: bool) -> int:
    """Rows without an exact type (``exact``) or without even a group (every row of HAM10000)."""
    return int((table["fst"].isna() if exact else table["fst_group"] == "").sum())


def choose_matching(real: pd.DataFrame, synthetic: pd.DataFrame) -> Matching:
    """The finest stratification both arms support.

    An arm with no skin type on any row leaves diagnosis alone; an arm with groups only leaves
    groups. Rows without a type in an arm that has types elsewhere fit no stratum: they are
    left out of the draw, and the note counts them.
    """
    arms = {"real": real, "synthetic": synthetic}
    untyped = [arm for arm, table in arms.items() if _unknown(table, exact=False) == len(table)]
    if untyped:
        return Matching("diagnosis", f"the {' and '.join(untyped)} manifest{'s record' if len(untyped) > 1 else ' records'} no skin types")
    grouped_only = [arm for arm, table in arms.items() if _unknown(table, exact=True) == len(table)]
    on, exact = ("fst_group", False) if grouped_only else ("fst", True)
    notes = [f"the {arm} manifest gives skin-type groups only" for arm in grouped_only]
    notes += [f"{n} of {len(table)} {arm} images have no {'exact skin type' if exact else 'skin type'} and are left out"
              for arm, table in arms.items() if (n := _unknown(table, exact))]
    return Matching(on, "; ".join(notes))


def strata(table: pd.DataFrame, on: str = "fst") -> pd.Series:
    """Each row's stratum, e.g. "V · melanoma", "V-VI · melanoma" or "melanoma"; None where the row fits none."""
    if on == "diagnosis":
        return table["diagnosis"].astype(object)
    labels = table["fst_group"] if on == "fst_group" else fst_categories(table)
    labels = labels.where(~labels.isin(["", UNKNOWN]), None)
    return (labels + " · " + table["diagnosis"]).astype(object)


def _allocate(n: int, capacity: pd.Series) -> pd.Series:
    quotas = n * capacity / capacity.sum()
    counts = np.floor(quotas).astype(int)
    order = np.argsort(-(quotas - counts).to_numpy(), kind="stable")
    counts.iloc[order[: n - counts.sum()]] += 1
    return counts  # ceil(quota) never exceeds a stratum's capacity, since n <= capacity.sum()


def matched_sample(
    real: pd.DataFrame, synthetic: pd.DataFrame, n_per_arm: int, seed: int, on: str = "fst"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n_per_arm`` rows from each arm, with identical counts per stratum (see `strata`)."""
    if n_per_arm < 1:
        raise SamplingError(f"the number of images per arm must be at least 1, not {n_per_arm}")
    real_strata, synthetic_strata = strata(real, on), strata(synthetic, on)
    capacity = pd.concat([real_strata.value_counts(), synthetic_strata.value_counts()], axis=1).fillna(0).min(axis=1)
    capacity = capacity[capacity > 0].astype(int).sort_index()
    if capacity.sum() < n_per_arm:
        shared = ", ".join(f"{s} {c}" for s, c in capacity.items()) or "none"
        raise SamplingError(
            f"only {int(capacity.sum())} images per arm can be matched on {MATCH_ON[on]}, fewer than the "
            f"{n_per_arm} asked for (real: {len(real)} images, synthetic: {len(synthetic)}); "
            f"ask for fewer images per arm or add images of the strata both arms share: {shared}"
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
