"""Plotly figures shared by the app and the HTML reports."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go


def count_heatmap(counts: pd.DataFrame, title: str) -> go.Figure:
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
            hovertemplate="FST %{y} · %{x}: %{z} images<extra></extra>",
        )
    )
    figure.update_layout(
        title=title,
        yaxis={"autorange": "reversed", "title": "Fitzpatrick skin type"},
        xaxis={"title": "diagnosis"},
        margin={"l": 60, "r": 20, "t": 50, "b": 60},
        height=max(300, 60 + 40 * len(counts.index)),
    )
    return figure
