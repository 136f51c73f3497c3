"""Plotly figures shared by the app and the HTML reports."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from .fst import ROMAN

TITLE_WIDTH = 60  # characters per title line: a plot in the app is about half a screen wide


def wrapped(text: str, width: int = TITLE_WIDTH) -> list[str]:
    """``text`` in lines of at most ``width`` characters, broken between words."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def fit_half_screen(figure: go.Figure) -> go.Figure:
    """A figure readable at half a laptop screen: its title and subplot titles wrapped (never cut off, never over each
    other), the top margin made for them, and the legend laid out in a row under the plot instead of over half of it."""
    lines = wrapped((figure.layout.title.text or "").replace("<br>", " "))
    for note in figure.layout.annotations or ():  # subplot titles: side by side, each gets its share of the width
        if note.yanchor == "bottom" and note.text and len(note.text) > TITLE_WIDTH // 2:
            note.text = "<br>".join(wrapped(note.text, TITLE_WIDTH // 2))
    subtitle_lines = max((str(note.text).count("<br>") + 1 for note in figure.layout.annotations or () if note.yanchor == "bottom"),
                         default=0)
    figure.update_layout(title_text="<br>".join(lines), margin={"t": 30 + 22 * (len(lines) + subtitle_lines)},
                         legend={"orientation": "h", "yanchor": "top", "y": -0.18, "xanchor": "left", "x": 0})
    return figure


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


def ita_histogram(distribution: dict, thresholds: tuple[float, ...], mapping: str, title: str = "") -> go.Figure:
    """Histogram of measured ITA (from `tone_distribution`), the mapping's type thresholds as lines, types labelled."""
    figure = go.Figure()
    histogram = distribution["ita_histogram"]
    if histogram:
        edges, counts = histogram["edges"], histogram["counts"]
        figure.add_trace(go.Bar(
            x=[(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)], y=counts,
            width=[b - a for a, b in zip(edges[:-1], edges[1:], strict=True)],
            marker_color="#8c6d52", hovertemplate="ITA %{x:.1f}°: %{y} images<extra></extra>", showlegend=False,
        ))
    bounds = [90.0, *thresholds, -90.0]  # I above the first threshold, VI below the last
    for fst, (upper, lower) in zip(ROMAN.values(), zip(bounds[:-1], bounds[1:], strict=True), strict=True):
        figure.add_annotation(x=(max(lower, -30.0) + min(upper, 90.0)) / 2, y=1.02, yref="paper", text=fst, showarrow=False)
    for threshold in thresholds:
        figure.add_vline(x=threshold, line_dash="dot", line_color="grey")
    unmeasured = distribution["n_images"] - distribution["n_measured"]
    figure.update_layout(
        title=title or f"Measured ITA of {distribution['n_measured']} images ({unmeasured} not measurable); dotted: {mapping} thresholds",
        xaxis={"title": "ITA (degrees): darker ← → lighter", "range": [-30, 90]},
        yaxis_title="images",
        bargap=0.05,
        height=420,
        margin={"l": 60, "r": 20, "t": 70, "b": 50},
    )
    return figure
