"""Counting and filtering a manifest by skin type and diagnosis: what every dashboard starts from."""

from __future__ import annotations

import pandas as pd

from .diagnoses import DIAGNOSES
from .fst import FST_GROUPS, ROMAN

UNKNOWN = "unknown"
# Exact types first, then images whose dataset only gives the group (DDI), then unknown.
FST_CATEGORIES = tuple(ROMAN.values()) + tuple(f"{g} (grouped)" for g in FST_GROUPS) + (UNKNOWN,)


def fst_category(fst, group: str) -> str:
    """One row's skin-type category: "I"…"VI", "V-VI (grouped)" or "unknown"."""
    if pd.notna(fst):
        return ROMAN[int(fst)]
    return f"{group} (grouped)" if group else UNKNOWN


def fst_categories(table: pd.DataFrame) -> pd.Series:
    """Each row's skin-type category (most real dermoscopy: all "unknown")."""
    categories = [fst_category(fst, group) for fst, group in zip(table["fst"], table["fst_group"], strict=True)]
    return pd.Series(categories, index=table.index, dtype=object, name="fst").astype(str)


def fst_diagnosis_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Image counts with skin-type categories as rows and diagnoses as columns (present ones only)."""
    categories = fst_categories(table)
    counts = pd.crosstab(categories, table["diagnosis"])
    rows = [c for c in FST_CATEGORIES if c in counts.index]
    columns = [d for d in DIAGNOSES if d in counts.columns]
    return counts.reindex(index=rows, columns=columns, fill_value=0)


def filter_rows(table: pd.DataFrame, categories: list[str], diagnoses: list[str]) -> pd.DataFrame:
    """The rows whose skin-type category and diagnosis are among those chosen."""
    keep = fst_categories(table).isin(categories) & table["diagnosis"].isin(diagnoses)
    return table[keep]
