"""CSV reports meant for spreadsheets: no cell that Excel, LibreOffice or Sheets would run as a formula.

A text cell beginning with ``= + - @``, a tab or a carriage return is a formula to a spreadsheet
(a reviewer's comment ``=HYPERLINK("http://…")`` becomes a live link, and worse). Such cells
are written with a leading apostrophe, OWASP's advice for CSV injection, which spreadsheets
show as text. Numbers are left alone, also when a column holds them as text ("-0.25"): they
are not formulas. Manifests are not reports: they are data fairskin reads back, and stay verbatim.
"""

from __future__ import annotations

import re
from typing import IO

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
NOTE = ("text cells beginning with = + - @, a tab or a carriage return are written with a leading apostrophe (') so that "
        "spreadsheets show them as text instead of running them as formulas")


def neutralised(value: object) -> object:
    """``value``, with a leading apostrophe if it is text a spreadsheet would take for a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_for_spreadsheets(table: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """A copy of ``table`` whose text cells are `neutralised`, and how many cells were changed."""
    safe, changed = table.copy(), 0
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            formula_like = safe[column].map(lambda value: neutralised(value) is not value)
            if formula_like.any():
                safe[column] = safe[column].map(neutralised)
                changed += int(formula_like.sum())
    return safe, changed


def write_report_csv(table: pd.DataFrame, handle: IO[str]) -> int:
    """Write ``table`` as CSV (no index) with its formula-like cells neutralised; return how many were."""
    safe, changed = safe_for_spreadsheets(table)
    safe.to_csv(handle, index=False)
    return changed
