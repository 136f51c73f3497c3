"""A split as biased as public dermatology data, for the critical test on images with annotated skin types.

Public training sets hold few dark-skin images (HAM10000 and ISIC: about 5% FST V–VI). From a
set with annotated types this makes:

- ``test``: part of the V–VI images and as many I–IV images (a matched sample, drawn at random);
- ``train`` and ``val``: every other I–IV image and just enough V–VI images to be ``dark_share``
  of them; ``val`` is ``val_share`` of this biased population, stratified by label and type group;
- ``oracle``: the V–VI images left (``oracle_share`` of those not in training): the real images an
  oracle adds back, never tested on; ``""``: an I–IV image whose near-duplicate is one of them (unused).

Near-duplicate images (the same photograph under two ids) move together, so no pair straddles two
parts. Everything is drawn from ``seed``: the same seed gives the same split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DARK_SHARE = 0.05
ORACLE_SHARE = 0.4
VAL_SHARE = 0.15
PARTS = ("train", "val", "test", "oracle")


class SplitError(ValueError):
    """A set that cannot be split by annotated skin type; says which rows and why."""


def _units(table: pd.DataFrame, duplicate_groups: dict[str, str] | None) -> pd.Series:
    """Per row, the unit it moves with: its near-duplicate group, else itself."""
    duplicate_groups = duplicate_groups or {}
    return pd.Series([f"dup:{duplicate_groups[i]}" if i in duplicate_groups else f"img:{i}" for i in table["image_id"]],
                     index=table.index)


def biased_split(table: pd.DataFrame, *, dark_share: float = DARK_SHARE, oracle_share: float = ORACLE_SHARE,
                 val_share: float = VAL_SHARE, seed: int = 0, duplicate_groups: dict[str, str] | None = None) -> pd.Series:
    """``train`` / ``val`` / ``test`` / ``oracle`` for each row of a manifest table (module docstring). ``duplicate_groups``:
    image id → its near-duplicate group. Rows need an annotated skin type: an estimated one is a measurement with an
    error, and the split is *about* skin type."""
    if not 0 < dark_share < 0.5 or not 0 <= oracle_share < 1 or not 0 < val_share < 0.5:
        raise SplitError(f"dark_share {dark_share}, oracle_share {oracle_share}, val_share {val_share}: each must lie in (0, 0.5), "
                         "[0, 1) and (0, 0.5)")
    fst = pd.to_numeric(table["fst"], errors="coerce")
    untyped = fst.isna() | (table["fst_source"] != "annotated")
    if untyped.any():
        first = untyped.idxmax()
        raise SplitError(f"{int(untyped.sum())} of {len(table)} rows have no annotated skin type (first: CSV line {first + 2}, image_id "
                         f"{table.loc[first, 'image_id']!r}, fst {table.loc[first, 'fst']!r}, fst_source "
                         f"{table.loc[first, 'fst_source']!r}); give a set whose types were annotated, or leave those rows out")
    unit = _units(table, duplicate_groups)
    dark_unit = (fst >= 5).groupby(unit).any()
    rng = np.random.default_rng([seed, 2026])
    dark_units = list(rng.permutation(dark_unit.index[dark_unit].to_numpy()))
    light_units = list(rng.permutation(dark_unit.index[~dark_unit].to_numpy()))
    if not dark_units:
        raise SplitError(f"none of the {len(table)} rows is of skin type V or VI: there is no dark skin to test on")
    size = unit.value_counts()
    n_light, n_dark = int(size[light_units].sum()), int(size[dark_units].sum())
    ratio = dark_share / (1 - dark_share)
    # test V–VI = (V–VI not in training) × (1 − oracle_share), and training V–VI = ratio × (I–IV not in test = n_light − test)
    n_test = (n_dark - ratio * n_light) * (1 - oracle_share) / (1 - ratio * (1 - oracle_share))
    if n_test < 1:
        raise SplitError(f"{n_dark} V–VI and {n_light} I–IV images: too few dark-skin images to leave {dark_share:.0%} of training "
                         "and still test on some; lower dark_share")
    part = {}

    def take(units: list, count: float, name: str) -> None:
        taken = 0
        while units and taken < round(count):
            chosen = units.pop()
            part[chosen] = name
            taken += int(size[chosen])

    take(dark_units, n_test, "test")
    take(light_units, n_test, "test")
    take(dark_units, ratio * (n_light - n_test), "train")
    for chosen in dark_units:
        part[chosen] = "oracle"
    for chosen in light_units:
        part[chosen] = "train"
    split = unit.map(part)
    split[(split == "oracle") & (fst < 5)] = ""  # an I–IV image paired with a V–VI one: the oracle adds V–VI images only
    training = split == "train"
    strata = table["malignant"].astype(str) + "/" + (fst >= 5).map({True: "dark", False: "light"})
    for _, members in unit[training].groupby(strata[training]):
        kept = rng.permutation(members.unique())
        held = kept[: int(round(len(kept) * val_share))]
        split[unit.isin(held) & training] = "val"
    return split.rename("split")
