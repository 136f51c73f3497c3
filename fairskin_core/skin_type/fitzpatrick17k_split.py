"""The recorded split of the shared Fitzpatrick17k copy into train, calibration and test images.

Grouped and stratified (scikit-learn's StratifiedGroupKFold, ten folds, seeded): strata are the
Scale AI type × the benign / malignant / non-neoplastic partition; each near-duplicate pair
(``near_duplicates_dhash.csv``: the same photograph under two ids) is one group, so it never
straddles two splits. Folds 0–1 are the test split (20%), never trained or calibrated on; fold 2
calibrates the probabilities and the confidence threshold (10%); the rest trains (70%).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

LABELS_FILE = "fitzpatrick17k.csv"
DUPLICATES_FILE = "near_duplicates_dhash.csv"
SPLIT_SEED = 2026
PARTITIONS = {"benign": 0, "malignant": 1, "non-neoplastic": 2}


def read_labels(folder: str | Path) -> pd.DataFrame:
    """The labels of the images present in ``folder/images`` (md5hash, both annotators' types, partition, file)."""
    folder = Path(folder)
    if not (folder / LABELS_FILE).is_file():
        raise FileNotFoundError(f"{folder}: no {LABELS_FILE}; give the folder of the shared Fitzpatrick17k copy "
                                "(../shared/real_samples/fitzpatrick17k_256px)")
    labels = pd.read_csv(folder / LABELS_FILE, dtype={"md5hash": str})
    labels["file"] = [folder / "images" / f"{md5}.jpg" for md5 in labels["md5hash"]]
    labels = labels[np.array([file.is_file() for file in labels["file"]]) & labels["fitzpatrick_scale"].between(1, 6).to_numpy()]
    if labels.empty:
        raise ValueError(f"{folder}: no image of {LABELS_FILE} with a skin type 1-6 is in {folder / 'images'}")
    return labels.reset_index(drop=True)


def split_images(labels: pd.DataFrame, duplicates: pd.DataFrame | None = None, seed: int = SPLIT_SEED) -> pd.Series:
    """train / calibration / test for each row of ``labels`` (see the module docstring)."""
    group = pd.Series(np.arange(len(labels)), index=labels["md5hash"])
    if duplicates is not None:
        for number, pair in duplicates[duplicates["md5hash"].isin(group.index)].groupby("group"):
            group[pair["md5hash"].tolist()] = len(labels) + int(number)
    strata = labels["fitzpatrick_scale"].to_numpy() * 10 + labels["three_partition_label"].map(PARTITIONS).fillna(3).to_numpy()
    folds = np.zeros(len(labels), dtype=int)
    splitter = StratifiedGroupKFold(10, shuffle=True, random_state=seed)
    for fold, (_, rows) in enumerate(splitter.split(np.zeros(len(labels)), strata, group.to_numpy())):
        folds[rows] = fold
    return pd.Series(np.where(folds < 2, "test", np.where(folds == 2, "calibration", "train")), index=labels.index, name="split")


def fitzpatrick17k_split(folder: str | Path, seed: int = SPLIT_SEED) -> pd.DataFrame:
    """The labels of the shared copy with their ``split``."""
    folder = Path(folder)
    labels = read_labels(folder)
    duplicates = pd.read_csv(folder / DUPLICATES_FILE, dtype={"md5hash": str}) if (folder / DUPLICATES_FILE).is_file() else None
    return labels.assign(split=split_images(labels, duplicates, seed))
