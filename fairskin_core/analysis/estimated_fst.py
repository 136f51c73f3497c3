"""Skin types estimated from the images (ITA) for the rows of a manifest that give none.

Real dermoscopy rarely records a Fitzpatrick type (HAM10000, ISIC). Where a skin type is
needed — stratifying a review study, training a skin-type conditioned model — the measured
ITA can stand in, recorded as such (``fst_source = ita``) so it is never taken for an
annotation. Images whose skin tone cannot be measured stay unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ..fst import fst_group
from ..manifest import Manifest, write_manifest
from .fst_mapping import KINYANJUI, FstMapping
from .pipeline import analyse_manifest


def untyped(table: pd.DataFrame) -> pd.Series:
    """Rows with neither a skin type nor a skin-type group."""
    return table["fst"].isna() & (table["fst_group"] == "")


def fill_estimated_fst(table: pd.DataFrame, estimates: pd.Series) -> pd.DataFrame:
    """``table`` with ``estimates`` (aligned with it; missing where unmeasured) in its untyped rows, as fst_source ita."""
    table = table.copy()
    estimates = pd.array(estimates, dtype="Int64")
    rows = table.index[untyped(table).to_numpy() & pd.notna(estimates)]
    values = estimates[table.index.get_indexer(rows)]
    table.loc[rows, "fst"] = values
    table.loc[rows, "fst_source"] = "ita"
    table.loc[rows, "fst_group"] = [fst_group(int(v)) for v in values]
    return table


def with_estimated_fst(
    manifest: Manifest,
    *,
    mapping: FstMapping = KINYANJUI,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The manifest's table with ITA-estimated types in its untyped rows, and the analysis of those rows."""
    table = manifest.table
    rows = untyped(table)
    if not rows.any():
        return table.copy(), pd.DataFrame()
    analysed = analyse_manifest(Manifest(table[rows], manifest.root, manifest.path), mapping=mapping, workers=workers, progress=progress)
    estimates = pd.Series(pd.NA, index=table.index, dtype="Int64")
    estimates[rows.to_numpy()] = pd.array(analysed["fst_estimate"], dtype="Int64")
    return fill_estimated_fst(table, estimates), analysed


def write_estimated_manifest(manifest: Manifest, estimates: pd.Series, path: str | Path) -> int:
    """Write ``manifest`` to ``path`` with ``estimates`` in its untyped rows (image roots still lead to the same files).

    Returns how many rows of the written manifest have an ITA-estimated type (fst_source ita)."""
    estimated = fill_estimated_fst(manifest.relocated_table(Path(path).parent), estimates)
    write_manifest(estimated, path)
    return int((estimated["fst_source"] == "ita").sum())
