"""The review study's reader-averaged AUC: how well reviewers' scores tell synthetic from real images.

The single-treatment Obuchowski–Rockette analysis of `mrmc.py`, applied to the study's ratings, on one of two scores
(`SCORES`): realism (every study), or the call with its certainty (studies that ask how sure each call is).
"""

from __future__ import annotations

import pandas as pd
from scipy import stats

from .jsonable import jsonable
from .mrmc import FIGURE_OF_MERIT, MIN_CASES_PER_CLASS, MIN_READERS, MRMC_METHOD, or_analysis
from .ratings import ARMS, POSITIVE, checked_ratings

_REALISM_FLIP = 8  # confidence that an image is synthetic = 8 - realism: realism 7 (indistinguishable) is least synthetic
SCORES = {  # score: (the ratings' column, the score from it, in words, what reviewers give to have one)
    "realism": ("realism", lambda values: _REALISM_FLIP - values, f"{_REALISM_FLIP} - realism: confidence that an image is {POSITIVE}",
                "realism"),
    "call_score": ("call_score", lambda values: values,
                   "the call with its certainty, 1 (real, very sure) to 6 (synthetic, very sure): how synthetic the image looked",
                   "certainty"),
}


def study_mrmc_auc(ratings: pd.DataFrame, *, confidence: float = 0.95, score: str = "realism") -> dict:
    """How well reviewers' realism scores tell synthetic from real images, averaged over reviewers, with an RRRC interval.

    Synthetic is the positive class and the score is 8 − realism, the confidence that an image is
    synthetic (realism 7, indistinguishable from real, is the least synthetic-looking). Each
    reviewer's empirical AUC is the probability that he or she scores a random synthetic image as
    less realistic than a random real one (ties half); the single-treatment Obuchowski–Rockette
    analysis with Hillis' df and jackknife covariance gives the mean over reviewers an interval for
    other dermatologists and other images. The interval is clipped to [0, 1].

    Only reviewers who scored the realism of every image (every image with a realism score from
    anyone) are used, because the method needs a fully crossed design; the others are listed with
    how many images they lack. "Not estimable", with the reason, when fewer than 2 reviewers are
    complete or there are fewer than 2 synthetic or 2 real images.

    ``score="call_score"``: the same analysis on the call with its certainty (`answers.call_score`, 1-6), for a study
    that asks how sure each call is.
    """
    return _study_mrmc_auc(checked_ratings(ratings), confidence=confidence, score=score)


def _study_mrmc_auc(table: pd.DataFrame, *, confidence: float, score: str = "realism") -> dict:
    """`study_mrmc_auc` of a checked table."""
    column, to_score, in_words, noun = SCORES[score]
    scored = table[table[column].notna()]
    images = scored.groupby("image")["source"].first()
    n_by_source = {arm: int((images == arm).sum()) for arm in ARMS}
    per_reviewer = scored.groupby("reviewer")["image"].nunique()
    reviewers = sorted(table["reviewer"].unique())
    left_out = [
        {"reviewer": reviewer, "n_missing": len(images) - int(per_reviewer.get(reviewer, 0)), "n_images": len(images)}
        for reviewer in reviewers if per_reviewer.get(reviewer, 0) < len(images)
    ]
    complete = [reviewer for reviewer in reviewers if len(images) and per_reviewer.get(reviewer, 0) == len(images)]
    result = {
        "statistic": "reader_averaged_auc",
        "method": MRMC_METHOD,
        "figure_of_merit": FIGURE_OF_MERIT,
        "score": in_words,
        "meaning": (
            "Averaged over reviewers: the probability that a reviewer scores a randomly chosen synthetic image as more "
            "synthetic-looking than a randomly chosen real one (ties count half). 0.5: the scores do not separate synthetic "
            "from real images; 1: every synthetic image is scored above every real one. The interval treats "
            "reviewers and images as random (RRRC), so it speaks for other dermatologists and other images like these."
        ),
        "estimate": None, "ci_low": None, "ci_high": None, "std_err": None, "df": None, "confidence": confidence,
        "p_value": None, "p_value_null": 0.5,
        "n_readers": len(complete), "n_cases": len(images), "n_synthetic": n_by_source[POSITIVE], "n_real": n_by_source["real"],
        "n_readers_left_out": len(left_out), "readers_left_out": left_out,
        "reader_aucs": [], "ms_r": None, "cov2": None, "var_error": None,
        "note": None,
    }
    reason = _not_estimable_reason(table, scored, n_by_source, complete, noun)
    notes = [f"not estimable: {reason}"] if reason else []
    if left_out:
        notes.append(
            f"{len(left_out)} reviewer(s) left out because they did not score the {noun} of all {len(images)} images "
            "(the method needs every reviewer to score every image): "
            + ", ".join(f"{row['reviewer']} ({row['n_missing']} missing)" for row in left_out)
        )
    unscored = table.loc[~table["image"].isin(images.index), "image"].nunique()
    if unscored:
        notes.append(f"{unscored} image(s) without any {noun} score are not counted")
    if reason:
        return jsonable({**result, "note": "; ".join(notes)})
    used = scored[scored["reviewer"].isin(complete)]
    readings = (
        used.assign(truth=(used["source"] == POSITIVE).astype(int), score=to_score(used[column]))
        .groupby(["reviewer", "image"], as_index=False)
        .agg(truth=("truth", "first"), score=("score", "mean"), n=("score", "size"))
    )
    if (readings["n"] > 1).any():
        notes.append(f"{int((readings['n'] > 1).sum())} reviewer-image pair(s) were scored more than once: their mean score is used")
    analysis = or_analysis(readings.rename(columns={"reviewer": "reader", "image": "case"}), confidence=confidence)
    single = analysis["rrrc"]["treatments"][0]
    result.update(
        estimate=single["estimate"], std_err=single["std_err"], df=single["df"], ms_r=single["ms_r"], cov2=single["cov2"],
        var_error=analysis["variance_components"]["var_error"],
        reader_aucs=[{"reviewer": row["reader"], "auc": row["auc"]} for row in analysis["reader_aucs"]],
    )
    if single["std_err"] is None:
        notes.append("every reviewer has the same AUC and leaving out any image does not change it: no interval")
    else:
        low, high = single["ci_low"], single["ci_high"]
        if low < 0 or high > 1:
            notes.append("the interval was clipped to [0, 1]")
        statistic = (single["estimate"] - 0.5) / single["std_err"]
        distribution = stats.norm if single["df"] is None else stats.t(single["df"])  # jsonable made an infinite df None
        result.update(ci_low=max(low, 0.0), ci_high=min(high, 1.0), p_value=2 * distribution.sf(abs(statistic)))
    return jsonable({**result, "note": "; ".join(notes) or None})


def _not_estimable_reason(table: pd.DataFrame, scored: pd.DataFrame, n_by_source: dict, complete: list, noun: str) -> str | None:
    """Why the study's MRMC AUC cannot be computed, or None when it can (``noun``: what was scored, realism or certainty)."""
    if len(table) == 0:
        return "no ratings"
    if len(scored) == 0:
        return f"no {noun} scores"
    missing = [arm for arm in ARMS if n_by_source[arm] == 0]
    if missing:
        return f"no {missing[0]} images with a {noun} score: the AUC needs both synthetic and real images"
    if min(n_by_source.values()) < MIN_CASES_PER_CLASS:
        return (f"{n_by_source[POSITIVE]} synthetic and {n_by_source['real']} real image(s) scored; the jackknife needs at "
                f"least {MIN_CASES_PER_CLASS} of each")
    if len(complete) < MIN_READERS:
        return (f"{len(complete)} reviewer(s) scored the {noun} of every image; at least {MIN_READERS} are needed to "
                "estimate the variation between reviewers")
    return None
