"""The ratings table the statistics read: its columns, its vocabulary, and the check that refuses malformed ones.

Public functions check the ratings once, with `checked_ratings`; the helpers behind them take the checked table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fairskin_core.fst import FST_GROUPS, ROMAN

from ..answers import ABCD_ANSWERS, ABCD_QUESTIONS, CALLS, REALISM

POSITIVE = "synthetic"
ARMS = CALLS  # index 0 = real, 1 = synthetic wherever arrays are split by arm
ABCD_ITEMS = {column: column.removeprefix("abcd_") for column in ABCD_QUESTIONS}
REALISM_LEVELS = np.array(REALISM)
TARGET_SYNTHETIC_JUDGED_REAL = 0.60  # the study plan: over 60% of synthetic images judged real
UNKNOWN = "unknown"  # label of ratings whose FST group or diagnosis is not known
RATING_COLUMNS = (
    "reviewer", "image", "source", "call", "realism", *ABCD_ITEMS, "seconds", "fst_group", "diagnosis",
)
# Blank where a table lacks them: for the analysis per skin type, the image's type (1-6, or I-VI) and how it is known
# (the manifest's fst_source: annotated, learned, requested for a generator's image, ...); per reviewer group, the group;
# where the study asks how sure each call is, the call with its certainty as one score, 1-6 (answers.call_score).
OPTIONAL_COLUMNS = ("fst", "fst_source", "reviewer_group", "call_score")
_NUMBER_COLUMNS = ("realism", "seconds", "call_score")
CALL_SCORES = range(1, 7)
_ROMAN_OF = {**{str(t): label for t, label in ROMAN.items()}, **{label: label for label in ROMAN.values()}}


def checked_ratings(ratings: pd.DataFrame) -> pd.DataFrame:
    """The ratings reduced to `RATING_COLUMNS` in plain types; malformed values are refused.

    A table with no rows may lack columns (a study with no ratings yet), any table the `OPTIONAL_COLUMNS`.
    Missing realism, ABCD answers, times, skin types and diagnoses are allowed (NaN or ''); a source or
    call other than real / synthetic is not, nor is an image listed as both real and synthetic. Skin
    types become Roman numerals (I-VI).
    """
    if len(ratings) == 0:
        return pd.DataFrame(
            {c: pd.Series(dtype=float if c in _NUMBER_COLUMNS else str) for c in (*RATING_COLUMNS, *OPTIONAL_COLUMNS)}
        )
    missing = [c for c in RATING_COLUMNS if c not in ratings.columns]
    if missing:
        raise ValueError(f"the ratings table lacks column(s) {missing}")
    table = ratings.reindex(columns=[*RATING_COLUMNS, *OPTIONAL_COLUMNS]).reset_index(drop=True)
    for column in (*RATING_COLUMNS, *OPTIONAL_COLUMNS):
        if column in _NUMBER_COLUMNS:
            table[column] = _numbers(table[column], column)
        else:
            table[column] = table[column].astype("string").fillna("").astype(str).str.strip()
    table["fst"] = table["fst"].str.removesuffix(".0").map(lambda value: _ROMAN_OF.get(value, value) if value else "")
    _refuse_other_values(table, "fst", (*ROMAN.values(), ""))
    _refuse_other_values(table, "source", ARMS)
    _refuse_other_values(table, "call", ARMS)
    _refuse_other_values(table, "fst_group", (*FST_GROUPS, ""))
    for column in ABCD_ITEMS:
        _refuse_other_values(table, column, (*ABCD_ANSWERS, ""))
    if not table["realism"].dropna().isin(REALISM_LEVELS).all():
        raise ValueError("realism must be a whole number from 1 to 7 (or missing)")
    if not table["call_score"].dropna().isin(CALL_SCORES).all():
        raise ValueError("call_score must be a whole number from 1 to 6 (or missing)")
    if (table.groupby("image")["source"].nunique() > 1).any():
        raise ValueError("an image is listed as both real and synthetic")
    return table


def _numbers(values: pd.Series, column: str) -> pd.Series:
    """A column as floats; blanks become NaN but text that is not a number is refused."""
    numbers = pd.to_numeric(values.replace("", np.nan), errors="coerce")
    if (numbers.isna() & values.notna() & (values.astype(str).str.strip() != "")).any():
        raise ValueError(f"{column} holds values that are not numbers")
    return numbers.astype(float)


def _refuse_other_values(table: pd.DataFrame, column: str, allowed: tuple[str, ...]) -> None:
    unexpected = sorted(table.loc[~table[column].isin(allowed), column].unique())
    if unexpected:
        raise ValueError(f"{column} must be one of {allowed}; found {unexpected[:5]}")
