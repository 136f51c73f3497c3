"""Plotly figures of the review study for the admin dashboard, drawn from `study_report`'s dictionary.

Synthetic is the positive class: sensitivity = synthetic images called synthetic, specificity =
real images called real. Every figure draws whatever the report holds, and says so when that is
nothing yet.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from fairskin_core.plots import fit_half_screen

from .answers import ABCD_ANSWERS
from .stats import ARMS, REALISM_LEVELS, TARGET_SYNTHETIC_JUDGED_REAL
from .stats.report import TYPE_KINDS

DETECTION_RATES = {
    "accuracy": "accuracy",
    "sensitivity": "sensitivity (synthetic called synthetic)",
    "specificity": "specificity (real called real)",
}
# Okabe–Ito colours: told apart with every common colour-vision deficiency (tests/test_review_stats.py checks
# each figure under simulated deuteranomaly, protanomaly and tritanomaly); the old green "yes" and red "no" were not.
ARM_COLOURS = {"real": "#0072B2", "synthetic": "#D55E00"}
ANSWER_COLOURS = {"yes": "#0072B2", "no": "#E69F00", "unsure": "#BBBBBB"}
DETECTION_COLOURS = {"accuracy": "#000000", "sensitivity": "#D55E00", "specificity": "#56B4E9"}
GROUP_TITLES = {"reviewer": "reviewer", "fst": "Fitzpatrick skin type", "fst_group": "Fitzpatrick skin type group",
                "diagnosis": "diagnosis"}
FOOLING_BINS = 10  # the fooling-rate histogram's bins: tenths of 0–1


def dashboard_figures(report: dict) -> dict[str, go.Figure]:
    """Every dashboard figure, by name, its title wrapped so that it is never cut off."""
    figures = {
        "detection_by_reviewer": detection_figure(report, "reviewer"),
        "detection_by_fst": detection_figure(report, "fst"),
        "realism_by_fst": realism_by_type_figure(report),
        "detection_by_fst_group": detection_figure(report, "fst_group"),
        "detection_by_diagnosis": detection_figure(report, "diagnosis"),
        "realism_by_arm": realism_figure(report),
        "realism_roc": roc_figure(report),
        "abcd_answers": abcd_figure(report),
        "fooling_rate": fooling_rate_figure(report),
        "time_per_image": time_figure(report),
    }
    return {name: fit_half_screen(figure) for name, figure in figures.items()}


def detection_figure(report: dict, by: str = "reviewer") -> go.Figure:
    """Accuracy, sensitivity and specificity per group, with Wilson 95% intervals and chance at 0.5."""
    groups = report[f"by_{by}"]
    names = [group["group"] for group in groups]
    figure = go.Figure()
    for rate, label in DETECTION_RATES.items():
        shares = [group["detection"][rate] for group in groups]
        figure.add_trace(
            go.Bar(
                x=names,
                y=[share["estimate"] for share in shares],
                name=label,
                marker_color=DETECTION_COLOURS[rate],
                error_y=_error_bars(shares),
                customdata=[[share["successes"], share["n"]] for share in shares],
                hovertemplate=f"{label}: %{{y:.2f}} (%{{customdata[0]}} of %{{customdata[1]}})<extra>%{{x}}</extra>",
            )
        )
    figure.add_hline(y=0.5, line_dash="dash", line_color="grey", annotation_text="chance")
    known = f"; {types_known(groups)}" if by in TYPE_KINDS else ""
    figure.update_layout(
        title=f"Detection by {GROUP_TITLES[by]} (synthetic = positive class; Wilson 95% CI{known})",
        barmode="group",
        yaxis={"title": "share", "range": [0, 1.05]},
        xaxis={"title": GROUP_TITLES[by], "type": "category"},
    )
    return _say_if_empty(figure, not any(group["n_ratings"] for group in groups))


def types_known(groups: list[dict]) -> str:
    """How the skin types of a figure's images are known, per arm: "types: real annotated, synthetic requested"."""
    sources = {arm: sorted({source for group in groups for source in group["type_sources"][arm]}) for arm in ARMS}
    return "types: " + ", ".join(f"{arm} {' / '.join(found)}" for arm, found in sources.items() if found) if any(sources.values()) else ""


def realism_by_type_figure(report: dict) -> go.Figure:
    """Mean realism of each arm per skin type, with bootstrap 95% intervals: are dark-skin synthetic images as convincing
    as light-skin ones (and are the real ones rated alike)?"""
    groups = report["by_fst"]
    figure = go.Figure()
    for arm in ARMS:
        means = [group["realism"]["arms"][arm]["mean"] for group in groups]
        figure.add_trace(go.Bar(
            x=[group["group"] for group in groups], y=[mean["estimate"] for mean in means], name=arm,
            marker_color=ARM_COLOURS[arm], error_y=_error_bars(means),
            customdata=[group["realism"]["arms"][arm]["n"] for group in groups],
            hovertemplate=f"{arm}: mean realism %{{y:.2f}} (%{{customdata}} ratings)<extra>%{{x}}</extra>",
        ))
    figure.update_layout(
        title=f"Realism (1–7) by Fitzpatrick skin type and arm (mean, bootstrap 95% CI; {types_known(groups)})",
        barmode="group", yaxis={"title": "mean realism", "range": [0, 7.5]}, xaxis={"title": "Fitzpatrick skin type", "type": "category"},
    )
    return _say_if_empty(figure, not any(group["realism"]["n_ratings"] for group in groups))


def realism_figure(report: dict) -> go.Figure:
    """Realism scores (1–7) of real and synthetic images as box plots (mean dashed)."""
    arms = report["overall"]["realism"]["arms"]
    figure = go.Figure()
    for arm in ARMS:
        counts = [arms[arm]["counts"][str(level)] for level in REALISM_LEVELS]
        figure.add_trace(
            go.Box(
                y=np.repeat(REALISM_LEVELS, counts),
                name=f"{arm} (n={arms[arm]['n']})",
                marker_color=ARM_COLOURS[arm],
                boxmean=True,
                boxpoints=False,
            )
        )
    figure.update_layout(
        title="Realism score (1–7) by arm",
        yaxis={"title": "realism", "range": [0.5, 7.5], "dtick": 1},
        showlegend=False,
    )
    return _say_if_empty(figure, report["overall"]["realism"]["n_ratings"] == 0)


def roc_figure(report: dict) -> go.Figure:
    """ROC of realism as a detector: an image is called synthetic when its realism is at most t."""
    realism = report["overall"]["realism"]
    points = realism["roc"]
    auc = realism["auc"]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "grey"}, name="chance (AUC 0.5)")
    )
    figure.add_trace(
        go.Scatter(
            x=[point["fpr"] for point in points],
            y=[point["tpr"] for point in points],
            mode="lines+markers",
            name="realism",
            text=[f"realism ≤ {point['threshold']}" for point in points],
            hovertemplate="%{text}: FPR %{x:.2f}, TPR %{y:.2f}<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"ROC of realism as a detector (synthetic = positive, called when realism ≤ t); AUC {_auc_text(auc)}",
        xaxis={"title": "false-positive rate (real images called synthetic)", "range": [0, 1], "constrain": "domain"},
        yaxis={"title": "true-positive rate (synthetic images called synthetic)", "range": [0, 1],
               "scaleanchor": "x", "constrain": "domain"},
    )
    return _say_if_empty(figure, not points)


def abcd_figure(report: dict) -> go.Figure:
    """Shares of yes / no / unsure per ABCD item, real vs synthetic, as stacked bars."""
    items = report["abcd"]
    figure = make_subplots(rows=1, cols=len(items), shared_yaxes=True, subplot_titles=[item["item"] for item in items])
    for column, item in enumerate(items, start=1):
        for answer in ABCD_ANSWERS:
            figure.add_trace(
                go.Bar(
                    x=[f"{arm} (n={item['arms'][arm]['n']})" for arm in ARMS],
                    y=[item["arms"][arm]["shares"][answer] for arm in ARMS],
                    name=answer,
                    legendgroup=answer,
                    showlegend=column == 1,
                    marker_color=ANSWER_COLOURS[answer],
                    hovertemplate=f"{answer}: %{{y:.0%}}<extra>{item['item']}</extra>",
                ),
                row=1,
                col=column,
            )
    figure.update_layout(title="ABCD checklist: is each feature realistic? (share of answers per arm)", barmode="stack")
    figure.update_yaxes(range=[0, 1], tickformat=".0%")
    return _say_if_empty(figure, not any(item["arms"][arm]["n"] for item in items for arm in ARMS))


def fooling_rate_figure(report: dict) -> go.Figure:
    """Per synthetic image: the share of its ratings that judged it real (its fooling rate), in tenths of 0–1."""
    centres = fooling_rate_bin_centres(report["images"])
    figure = go.Figure(
        go.Histogram(x=centres, xbins={"start": 0, "end": 1, "size": 1 / FOOLING_BINS}, marker_color=ARM_COLOURS["synthetic"])
    )
    figure.add_vline(
        x=TARGET_SYNTHETIC_JUDGED_REAL, line_dash="dash", line_color="grey",
        annotation_text=f"plan target for the pooled share ({TARGET_SYNTHETIC_JUDGED_REAL:.0%})",
    )
    figure.update_layout(
        title=f"Fooling rate per synthetic image (share of ratings judged real; {len(centres)} images)",
        xaxis={"title": "share of ratings that judged the image real", "range": [0, 1], "dtick": 1 / FOOLING_BINS},
        yaxis={"title": "synthetic images"},
    )
    return _say_if_empty(figure, not centres)


def fooling_rate_bin_centres(images: list[dict]) -> list[float]:
    """Each synthetic image as the centre of its bin [k/10, (k+1)/10), the last bin closed so that it holds 1.

    Binned here, from the whole-number counts (3 of 10 is exactly 0.3, in [0.3, 0.4)), because
    plotly's bins are open on the right: it put images fooled every time in a bin past the axis.
    A centre lies well inside its bin, so all plotly does is count.
    """
    bins = [
        min(FOOLING_BINS * image["n_judged_real"] // image["n_ratings"], FOOLING_BINS - 1)
        for image in images if image["source"] == "synthetic"
    ]
    return [(k + 0.5) / FOOLING_BINS for k in bins]


def time_figure(report: dict) -> go.Figure:
    """Seconds spent per image, per reviewer (box: quartiles, whiskers min–max, dashed mean)."""
    timed = [reviewer for reviewer in report["reviewers"] if reviewer["n_timed"]]
    figure = go.Figure()
    if timed:
        figure.add_trace(
            go.Box(
                x=[reviewer["reviewer"] for reviewer in timed],
                q1=[reviewer["seconds_q1"] for reviewer in timed],
                median=[reviewer["seconds_median"] for reviewer in timed],
                q3=[reviewer["seconds_q3"] for reviewer in timed],
                lowerfence=[reviewer["seconds_min"] for reviewer in timed],
                upperfence=[reviewer["seconds_max"] for reviewer in timed],
                mean=[reviewer["seconds_mean"] for reviewer in timed],
                boxmean=True,
                name="seconds per image",
            )
        )
    figure.update_layout(
        title="Time per image by reviewer (box: quartiles; whiskers: min to max; dashed: mean)",
        xaxis={"title": "reviewer", "type": "category"},
        yaxis={"title": "seconds"},
    )
    return _say_if_empty(figure, not timed)


def _error_bars(shares: list[dict]) -> dict:
    """Asymmetric error bars from each share's interval (none where the share is undefined)."""
    def gap(a, b):
        return None if a is None or b is None else a - b

    return {
        "type": "data",
        "array": [gap(share["ci_high"], share["estimate"]) for share in shares],
        "arrayminus": [gap(share["estimate"], share["ci_low"]) for share in shares],
    }


def _auc_text(auc: dict) -> str:
    if auc["estimate"] is None:
        return "undefined"
    return f"{auc['estimate']:.2f} (95% CI {auc['ci_low']:.2f}–{auc['ci_high']:.2f})"


def _say_if_empty(figure: go.Figure, empty: bool) -> go.Figure:
    """Write "no ratings yet" across a figure with nothing to draw, rather than show blank axes."""
    if empty:
        figure.add_annotation(text="no ratings yet", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    return figure
