"""Skin types estimated from the images for the rows of a manifest that give none.

Real dermoscopy rarely records a Fitzpatrick type (HAM10000, ISIC). Where a skin type is
needed — stratifying a review study, training a skin-type conditioned model, grouping a test
set — an estimate can stand in, recorded as such: ``fst_source`` says the method (``learned``
by default, or ``ita``) and ``fst_confidence`` its calibrated probability, so it is never taken
for an annotation. Images the estimator refuses, or gives a type below its confidence
threshold, stay unknown. A type a person corrected (`fairskin_core.skin_type.corrections`) wins
over any estimate, as ``fst_source = corrected``; an annotated type is never replaced.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..fst import fst_group
from ..manifest import Manifest, write_manifest


def untyped(table: pd.DataFrame) -> pd.Series:
    """Rows with neither a skin type nor a skin-type group."""
    return table["fst"].isna() & (table["fst_group"] == "")


def fill_estimated_fst(table: pd.DataFrame, estimates: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the estimates (rows aligned with it: ``fst_estimate``, ``fst_confidence``, ``method``) in its untyped rows.

    Each filled row gets ``fst_source`` = its method (``learned``, ``ita`` or ``corrected``) and, for
    an estimate, ``fst_confidence``."""
    table = table.copy()
    if "fst_confidence" not in table.columns:
        table["fst_confidence"] = pd.array([pd.NA] * len(table), dtype="Float64")
    fill = untyped(table).to_numpy() & estimates["fst_estimate"].notna().to_numpy()
    rows = table.index[fill]
    values = estimates["fst_estimate"].to_numpy()[fill].astype(int)
    methods = estimates["method"].to_numpy()[fill]
    table.loc[rows, "fst"] = values
    table.loc[rows, "fst_source"] = methods
    table.loc[rows, "fst_group"] = [fst_group(int(v)) for v in values]
    confidence = estimates["fst_confidence"].astype("Float64").to_numpy()[fill]
    table.loc[rows, "fst_confidence"] = [pd.NA if m == "corrected" else c for m, c in zip(methods, confidence, strict=True)]
    return table


def write_estimated_manifest(manifest: Manifest, estimates: pd.DataFrame, path: str | Path) -> int:
    """Write ``manifest`` to ``path`` with ``estimates`` (aligned with its rows) in its untyped rows (image roots still lead to
    the same files). Returns how many rows of the written manifest have an estimated or corrected type."""
    estimated = fill_estimated_fst(manifest.relocated_table(Path(path).parent), estimates.set_axis(manifest.table.index))
    write_manifest(estimated, path)
    return int(estimated["fst_source"].isin(["learned", "ita", "corrected"]).sum())
