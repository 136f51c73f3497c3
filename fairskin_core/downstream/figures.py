"""The downstream report's figures, drawn from report.json alone (the HTML report and the Fairness tab share them)."""

from __future__ import annotations

import plotly.graph_objects as go

# Okabe–Ito: told apart with every common colour-vision deficiency; the baseline in black.
MODEL_COLOURS = {"real-only": "#000000", "skin-type-reweighted": "#0072B2", "colour-augment": "#E69F00", "mixed": "#56B4E9",
                 "reweighted": "#009E73", "pretrain-finetune": "#CC79A7", "oracle": "#D55E00"}
SHOWN_GROUPS = ("all", "I-II", "III-IV", "V-VI", "I", "II", "III", "IV", "V", "VI")


def auroc_by_group(report: dict) -> go.Figure:
    """Per-group AUROC (seed mean) with 95% CIs, one colour per model; groups without enough cases are left out and named."""
    figure = go.Figure()
    rows = [r for r in report["by_group"] if r["group"] in SHOWN_GROUPS]
    missing = sorted({r["group"] for r in rows if r["auroc"] is None}, key=SHOWN_GROUPS.index)
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model and r["auroc"] is not None]
        figure.add_trace(go.Scatter(
            x=[r["group"] for r in mine], y=[r["auroc"] for r in mine], mode="markers", name=model,
            marker={"color": MODEL_COLOURS.get(model), "size": 9},
            error_y={"type": "data", "symmetric": False, "array": [r["auroc_high"] - r["auroc"] for r in mine],
                     "arrayminus": [r["auroc"] - r["auroc_low"] for r in mine]},
            hovertemplate=f"{model} · FST %{{x}}: AUROC %{{y:.3f}}<extra></extra>",
        ))
    note = f"<br><sup>not computable: {', '.join(missing)}</sup>" if missing else ""
    figure.update_layout(
        title=f"Test AUROC by Fitzpatrick group (mean over seeds, 95% CI){note}",
        xaxis={"title": f"skin type ({report['skin_types']})", "categoryorder": "array", "categoryarray": list(SHOWN_GROUPS)},
        yaxis={"title": "AUROC", "range": [0.3, 1.0]}, scattermode="group", height=440, margin={"l": 60, "r": 20, "t": 60, "b": 60},
    )
    return figure


def equal_opportunity(report: dict) -> go.Figure:
    """TPR(V–VI) − TPR(I–II) per model (mean over seeds, bars: ±1 SD); 0 is equal opportunity."""
    models = [m for m, f in report["fairness"].items() if f["eod_signed"]["mean"] is not None]
    figure = go.Figure(go.Bar(
        x=models, y=[report["fairness"][m]["eod_signed"]["mean"] for m in models],
        error_y={"type": "data", "array": [report["fairness"][m]["eod_signed"]["sd"] or 0 for m in models]},
        marker_color=[MODEL_COLOURS.get(m) for m in models], hovertemplate="%{x}: %{y:+.3f}<extra></extra>",
    ))
    figure.add_hline(y=0, line_color="grey")
    figure.update_layout(title="Equal-opportunity difference TPR(V–VI) − TPR(I–II)"
                               "<br><sup>below 0: dark skin's malignancies missed more</sup>",
                         yaxis_title="TPR difference", height=380, margin={"l": 60, "r": 20, "t": 60, "b": 60})
    return figure


def calibration_curves(report: dict, group: str = "all") -> go.Figure:
    """Reliability curves per model: observed malignancy rate against mean predicted probability; the diagonal is calibrated."""
    figure = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, name="calibrated"))
    for model, curves in report["calibration"].items():
        points = curves[group]
        figure.add_trace(go.Scatter(
            x=[p["predicted"] for p in points], y=[p["observed"] for p in points], mode="lines+markers", name=model,
            line={"color": MODEL_COLOURS.get(model)}, customdata=[p["n"] for p in points],
            hovertemplate=f"{model}: predicted %{{x:.2f}}, observed %{{y:.2f}} (%{{customdata}} predictions)<extra></extra>",
        ))
    figure.update_layout(title=f"Calibration, FST {group} (all seeds pooled)" if group != "all" else "Calibration, all test images",
                         xaxis={"title": "mean predicted P(malignant)", "range": [0, 1]},
                         yaxis={"title": "observed malignant share", "range": [0, 1]}, height=420,
                         margin={"l": 60, "r": 20, "t": 60, "b": 60})
    return figure


def report_figures(report: dict) -> dict[str, go.Figure]:
    return {"auroc": auroc_by_group(report), "equal_opportunity": equal_opportunity(report),
            "calibration": calibration_curves(report), "calibration_dark": calibration_curves(report, "V-VI")}
