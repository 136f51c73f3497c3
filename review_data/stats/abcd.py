"""The ABCD checklist: how reviewers answered each item for real and for synthetic images."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..answers import ABCD_ANSWERS
from .jsonable import jsonable
from .ratings import ABCD_ITEMS, ARMS, checked_ratings


def abcd_answers(ratings: pd.DataFrame, *, seed: int = 0) -> list[dict]:
    """Per ABCD item: counts and shares of yes / no / unsure in each arm, and a test between arms."""
    return _abcd_answers(checked_ratings(ratings), seed=seed)


def _abcd_answers(table: pd.DataFrame, *, seed: int) -> list[dict]:
    """`abcd_answers` of a checked table."""
    return jsonable([_abcd_item(table, column, item, seed) for column, item in ABCD_ITEMS.items()])


def _abcd_item(table: pd.DataFrame, column: str, item: str, seed: int) -> dict:
    answered = table[table[column] != ""]
    counts = (
        answered.groupby(["source", column]).size().unstack(fill_value=0)
        .reindex(index=list(ARMS), columns=list(ABCD_ANSWERS), fill_value=0)
    )
    arms = {}
    for arm, row in counts.iterrows():
        n = int(row.sum())
        arms[arm] = {
            "n": n,
            "counts": {answer: int(row[answer]) for answer in ABCD_ANSWERS},
            "shares": {answer: row[answer] / n if n else None for answer in ABCD_ANSWERS},
        }
    return {
        "item": item,
        "n_unanswered": len(table) - len(answered),
        "arms": arms,
        "test": _arm_difference_test(counts.to_numpy(), seed),
    }


def _arm_difference_test(table: np.ndarray, seed: int) -> dict:
    """Do real and synthetic images get different answers? (arms × answers, ratings taken as independent)

    Pearson's chi-square when every expected count is at least 5 (Cochran's rule); otherwise
    Fisher's exact test, for 2×3 tables the Freeman–Halton extension with its p-value from 9,999
    Monte Carlo tables (seeded, so reproducible).
    """
    table = table[:, table.sum(axis=0) > 0]
    if (table.sum(axis=1) == 0).any():
        return {"method": None, "p_value": None, "note": "needs answers for both real and synthetic images"}
    if table.shape[1] < 2:
        return {"method": None, "p_value": None, "note": "every answer was the same: nothing to compare"}
    if stats.contingency.expected_freq(table).min() >= 5:
        result = stats.chi2_contingency(table, correction=False)
        return {"method": "Pearson chi-square test of independence", "p_value": result.pvalue, "note": None}
    if table.shape == (2, 2):
        return {"method": "Fisher's exact test", "p_value": stats.fisher_exact(table).pvalue, "note": None}
    monte_carlo = stats.MonteCarloMethod(n_resamples=9999, rng=np.random.default_rng(seed))
    return {
        "method": "Fisher-Freeman-Halton exact test (Monte Carlo p-value, 9,999 tables)",
        "p_value": stats.fisher_exact(table, method=monte_carlo).pvalue,
        "note": None,
    }
