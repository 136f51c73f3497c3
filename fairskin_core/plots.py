"""Plotly figures shared by the app and the HTML reports."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from .fst import ROMAN


def count_heatmap(counts: pd.DataFrame, title: str, rows: str = "Fitzpatrick skin type", columns: str = "diagnosis") -> go.Figure:
    """A heatmap of counts (rows × columns) with each cell's number written on it."""
    figure = go.Figure(
        go.Heatmap(
            z=counts.values,
            x=[str(c).replace("_", " ") for c in counts.columns],
            y=list(counts.index),
            text=counts.values,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,  # counts start at zero: similar counts must look similar
            zmax=max(int(counts.values.max()) if counts.size else 0, 1),
            hovertemplate=f"{rows} %{{y}} · {columns} %{{x}}: %{{z}} images<extra></extra>",
        )
    )
    figure.update_layout(
        title=title,
        yaxis={"autorange": "reversed", "title": rows},
        xaxis={"title": columns},
        margin={"l": 60, "r": 20, "t": 50, "b": 60},
        height=max(300, 60 + 40 * len(counts.index)),
    )
    return figure


def ita_by_fst(table: pd.DataFrame, thresholds: tuple[float, ...], mapping: str) -> go.Figure:
    """Measured ITA per annotated skin type (box plots), with the mapping's thresholds as lines."""
    figure = go.Figure()
    measured = table[table["ita"].notna() & table["fst"].notna()]
    for fst, label in ROMAN.items():
        values = measured.loc[measured["fst"] == fst, "ita"]
        if len(values):
            figure.add_trace(go.Box(y=values, name=label, boxpoints="outliers", showlegend=False))
    for threshold in thresholds:
        figure.add_hline(y=threshold, line_dash="dot", line_color="grey")
    figure.update_layout(
        title=f"Measured ITA by annotated skin type (dotted: {mapping} thresholds)",
        xaxis_title="annotated Fitzpatrick type",
        yaxis_title="ITA (degrees)",
        height=420,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
    )
    return figure
