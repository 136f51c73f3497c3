"""Plotly figures of a quality report (`report.build_report`'s dictionary), for the HTML report and the Quality tab."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..fst import ROMAN
from ..plots import count_heatmap, fit_half_screen
from .abcd_realism import DIAMETER_UNITS


def _cell_text(values: np.ndarray) -> list[list[str]]:
    """Heatmap labels with two decimals; empty cells stay blank instead of reading "NaN"."""
    return [["" if np.isnan(v) else f"{v:.2f}" for v in row] for row in values]


def _empty(title: str, why: str) -> go.Figure:
    figure = go.Figure()
    figure.add_annotation(text=why, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    figure.update_layout(title=title, xaxis_visible=False, yaxis_visible=False, height=320)
    return figure


def groups_figure(report: dict) -> go.Figure:
    """FID and KID (± std over subsets) per skin type and group, and the real-vs-real floor beside them."""
    groups = [g for g in report["groups"] if g["fid"] is not None]
    if not groups:
        return _empty("FID and KID per skin type", "no group has images on both sides")
    points = [(g["group"], g["fid"], g["kid"]) for g in groups]
    floor = report.get("real_floor") or {}
    if floor.get("real_vs_real"):
        m = floor["n_each"]
        points += [(f"synthetic vs real ({m}:{m})", floor["synthetic_vs_real"]["fid"], floor["synthetic_vs_real"]["kid"]),
                   (f"real floor ({m}:{m})", floor["real_vs_real"]["fid"], floor["real_vs_real"]["kid"])]
    names = [p[0] for p in points]
    figure = go.Figure()
    figure.add_bar(x=names, y=[p[1] for p in points], name="FID", yaxis="y",
                   marker_color=["#7f7f7f" if n.startswith("real floor") else "#1f77b4" for n in names])
    figure.add_scatter(
        x=names,
        y=[p[2]["mean"] * 1000 for p in points],
        error_y={"array": [None if p[2]["std"] is None else p[2]["std"] * 1000 for p in points]},  # None: no spread to show
        mode="markers",
        name="KID × 1000 (± std)",
        yaxis="y2",
    )
    missing = [g["group"] for g in report["groups"] if g["fid"] is None and g["note"].startswith("not computable")]
    title = "Real vs synthetic per skin type and group (lower is closer); grey: two halves of the real set"
    if missing:
        title += f"<br><sup>{', '.join(missing)}: {next(g['note'] for g in report['groups'] if g['group'] == missing[0])}</sup>"
    figure.update_layout(
        title=title,
        yaxis={"title": "FID"},
        yaxis2={"title": "KID × 1000", "overlaying": "y", "side": "right"},
        legend={"orientation": "h"},
        height=420,
    )
    return figure


def fid_infinity_figure(report: dict) -> go.Figure:
    """FID against 1/N with the fitted line: its value at 1/N = 0 is FID∞."""
    extrapolation = report.get("fid_infinity")
    if not extrapolation or not extrapolation.get("points"):
        return _empty("FID∞", (extrapolation or {}).get("note") or "not computed")
    points = extrapolation["points"]
    x = [1 / p["n"] for p in points]
    figure = go.Figure(go.Scatter(x=x, y=[p["fid"] for p in points], mode="markers", name="FID of N synthetic images"))
    line_x = np.linspace(0, max(x), 20)
    figure.add_scatter(x=line_x, y=extrapolation["intercept"] + extrapolation["slope"] * line_x, mode="lines", name="fit")
    figure.update_layout(
        title=f"FID∞ = {extrapolation['intercept']:.2f} (FID at N → ∞; Chong & Forsyth 2020)",
        xaxis_title="1 / N",
        yaxis_title="FID",
        height=380,
    )
    return figure


def fidelity_figure(report: dict) -> go.Figure:
    """Requested vs measured skin type of the synthetic images."""
    fidelity = report.get("fst_fidelity") or {}
    if not fidelity.get("n_estimated"):
        return _empty("FST fidelity", "no synthetic image has both a requested and a measured type")
    confusion = pd.DataFrame(fidelity["confusion"]).T
    title = f"Requested vs measured type: {fidelity['within_one']:.0%} within one (target > {fidelity['target_within_one']:.0%})"
    return count_heatmap(confusion, title, rows="requested", columns="measured (ITA)")


def _fst_label(fst) -> str:
    return ROMAN.get(int(fst), str(fst)) if str(fst).isdigit() else str(fst)


def diversity_figure(report: dict) -> go.Figure:
    """Pairwise LPIPS and MS-SSIM of synthetic images per skin type, the real images' as dotted lines."""
    diversity = report["diversity"]
    real = (report.get("real_floor") or {}).get("diversity", {}).get("real", {})
    metrics = [
        (m, t) for m, t in (("lpips", "LPIPS (high = diverse)"), ("ms_ssim", "MS-SSIM (low = diverse)")) if diversity["by_fst"].get(m)
    ]
    if not metrics:
        return _empty("Diversity", "no cell has two synthetic images")
    figure = make_subplots(rows=1, cols=len(metrics), subplot_titles=[t for _, t in metrics])
    for column, (metric, _) in enumerate(metrics, start=1):
        cells = [c for c in diversity["by_fst"][metric] if c["mean"] is not None]
        figure.add_bar(x=[_fst_label(c["fst"]) for c in cells], y=[c["mean"] for c in cells], showlegend=False,
                       error_y={"type": "data", "symmetric": False, "array": [c["ci_high"] - c["mean"] for c in cells],
                                "arrayminus": [c["mean"] - c["ci_low"] for c in cells]},
                       hovertext=[f"{c['n_pairs']} pairs" for c in cells], row=1, col=column)
        if (real.get(metric) or {}).get("mean") is not None:
            figure.add_hline(y=real[metric]["mean"], line_dash="dot", annotation_text="real images", row=1, col=column)
    figure.update_layout(title="Diversity of synthetic images per skin type "
                               f"({diversity['pairs_measured']} pairs within FST × diagnosis cells)",
                         height=380)
    return figure


def memorization_figure(report: dict) -> go.Figure:
    """Distance to the nearest real training image, one panel per distance: synthetic against held-out real."""
    checks = report["memorization"]["by"]
    figure = make_subplots(rows=1, cols=len(checks), subplot_titles=[f"{name} (left = closer)" for name in checks])
    for column, check in enumerate(checks.values(), start=1):
        figure.add_histogram(x=check["synthetic_distances"], name="synthetic → train", opacity=0.6, marker_color="#d62728",
                             showlegend=column == 1, row=1, col=column)
        if check["heldout_distances"]:
            figure.add_histogram(x=check["heldout_distances"], name="held-out real → train", opacity=0.6, marker_color="#1f77b4",
                                 showlegend=column == 1, row=1, col=column)
        if check["threshold"] is not None:
            figure.add_vline(x=check["threshold"], line_dash="dot", annotation_text="suspected copies below", row=1, col=column)
    figure.update_layout(barmode="overlay", title="Nearest real training image", yaxis_title="images", height=380)
    return figure


def abcd_figure(report: dict) -> go.Figure:
    """KS distance real vs synthetic per ABCD feature and diagnosis (0 = same distribution)."""
    rows = [r for r in report["abcd_realism"] if r["ks"] is not None]
    if not rows:
        return _empty("ABCD realism", "too few images per diagnosis on one side")
    frame = pd.DataFrame(rows)
    units = sorted(set(frame.loc[frame["feature"] == "diameter", "unit"]))
    diameter = "diameter (" + ("mm" if units == ["mm"] else "relative to the image" if units == [DIAMETER_UNITS["diameter_relative"]]
                               else "mm where known, else relative") + ")"
    table = frame.assign(feature=frame["feature"].replace("diameter", diameter)).pivot(index="feature", columns="diagnosis", values="ks")
    figure = go.Figure(go.Heatmap(z=table.values, x=list(table.columns), y=list(table.index), zmin=0, zmax=1,
                                  colorscale="Oranges", text=_cell_text(table.values), texttemplate="%{text}"))
    figure.update_layout(title="ABCD realism: Kolmogorov–Smirnov distance, real vs synthetic", height=380)
    return figure


def report_figures(report: dict) -> dict[str, go.Figure]:
    """Every figure of the report, each readable at half a laptop screen (`fit_half_screen`)."""
    return {name: fit_half_screen(figure) for name, figure in _figures(report).items()}


def _figures(report: dict) -> dict[str, go.Figure]:
    return {
        "groups": groups_figure(report),
        "fid_infinity": fid_infinity_figure(report),
        "fst_fidelity": fidelity_figure(report),
        "diversity": diversity_figure(report),
        "memorization": memorization_figure(report),
        "abcd_realism": abcd_figure(report),
    }
