"""Study planning: how many readers and images give a chosen confidence-interval width, before a study is made.

Two figures of the reader study are planned:

- **Detection rate** (the share of calls that are right): each reading is right or wrong, readers
  and images differ in how often (crossed random effects), so the variance of the study's rate is
  σ²_R/R + σ²_I/I + σ²_E/(R·I) for R readers and I images (σ²_R between readers, σ²_I between
  images, σ²_E the rest, p(1 − p) − σ²_R − σ²_I). Estimated from a pilot by the method of moments
  of the two-way crossed ANOVA (readers × images, one reading each).
- **Reader-averaged AUC** of realism as a detector (`stats.reader_study`): the Obuchowski–Rockette
  model. A pilot's analysis gives MS_R, the error variance Var and the between-reader error
  covariance Cov2 at its n₀ images per arm; Var and Cov2 shrink as n₀/n with n images per arm, the
  reader variance σ²_R = MS_R − (Var − Cov2) does not. The single-test RRRC variance is then
  (σ²_R + Var_n − Cov2_n)/R + max(Cov2_n, 0) on Hillis' degrees of freedom: at the pilot's own
  design, exactly the pilot's own interval.

Without a pilot the components are assumed (`ASSUMED`, said in every result): replace them with a
pilot's — a first study of a few readers — as soon as there is one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .stats.ratings import POSITIVE, checked_ratings
from .stats.reader_study import study_mrmc_auc

CONFIDENCE = 0.95
READERS = (3, 5, 8, 12, 20)
IMAGES_PER_ARM = (25, 50, 100, 200, 400)


@dataclass(frozen=True)
class PlanningComponents:
    """The variance components a plan rests on, and where they come from."""

    accuracy: float  # the detection rate expected
    var_reader: float  # σ²_R of the detection rate between readers
    var_image: float  # σ²_I between images
    auc: float  # the reader-averaged AUC expected
    auc_var_reader: float  # σ²_R of the AUC between readers (OR: MS_R − (Var − Cov2))
    auc_var_error: float  # OR error variance Var of one reader's AUC at auc_images_per_arm
    auc_cov2: float  # OR covariance of two readers' AUC errors at auc_images_per_arm
    auc_images_per_arm: int
    source: str  # "assumed: ..." or "pilot: study ..."

    @property
    def var_residual(self) -> float:
        return max(self.accuracy * (1 - self.accuracy) - self.var_reader - self.var_image, 0.0)


def hanley_mcneil_variance(auc: float, n_positive: int, n_negative: int) -> float:
    """The variance of one reader's empirical AUC (Hanley & McNeil 1982)."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    return (auc * (1 - auc) + (n_positive - 1) * (q1 - auc**2) + (n_negative - 1) * (q2 - auc**2)) / (n_positive * n_negative)


def assumed_components(accuracy: float = 0.6, auc: float = 0.65, reader_sd: float = 0.07, image_sd: float = 0.15,
                       auc_reader_sd: float = 0.05, reader_error_correlation: float = 0.3) -> PlanningComponents:
    """Components from assumptions (no pilot): readers' detection rates spread by ``reader_sd``, images' by ``image_sd``;
    readers' AUCs by ``auc_reader_sd``, one reader's AUC error from Hanley–McNeil at 50 images per arm, and two readers'
    errors correlated ``reader_error_correlation`` (they read the same images)."""
    error = hanley_mcneil_variance(auc, 50, 50)
    return PlanningComponents(
        accuracy, reader_sd**2, image_sd**2, auc, auc_reader_sd**2, error, reader_error_correlation * error, 50,
        f"assumed: detection rate {accuracy:g} (readers' SD {reader_sd:g}, images' SD {image_sd:g}), AUC {auc:g} (readers' SD "
        f"{auc_reader_sd:g}, readers' errors correlated {reader_error_correlation:g}); replace with a pilot's",
    )


def crossed_components(right: np.ndarray) -> tuple[float, float, float]:
    """(σ²_readers, σ²_images, σ²_residual) of a readers × images 0/1 matrix, by the method of moments (clipped at 0)."""
    r, c = right.shape
    grand = right.mean()
    ms_r = c * ((right.mean(axis=1) - grand) ** 2).sum() / (r - 1)
    ms_c = r * ((right.mean(axis=0) - grand) ** 2).sum() / (c - 1)
    residual = right - right.mean(axis=1, keepdims=True) - right.mean(axis=0) + grand
    ms_e = (residual**2).sum() / ((r - 1) * (c - 1))
    return max((ms_r - ms_e) / c, 0.0), max((ms_c - ms_e) / r, 0.0), ms_e


def pilot_components(ratings: pd.DataFrame, name: str = "") -> PlanningComponents:
    """Components estimated from a pilot's ratings (`export.ratings_table`): the readers who rated every image."""
    table = checked_ratings(ratings)
    images = table["image"].unique()
    counts = table.groupby("reviewer")["image"].nunique()
    complete = counts[counts == len(images)].index
    if len(complete) < 2 or len(images) < 4:
        raise ValueError(f"a pilot needs at least 2 readers who rated every image and 4 images; {name or 'it'} has "
                         f"{len(complete)} such reader(s) and {len(images)} image(s)")
    used = table[table["reviewer"].isin(complete)]
    right = (used.assign(right=(used["call"] == used["source"]).astype(float))
             .pivot_table(index="reviewer", columns="image", values="right", aggfunc="mean").to_numpy())
    var_reader, var_image, _ = crossed_components(right)
    mrmc = study_mrmc_auc(ratings)
    if mrmc["estimate"] is None:
        raise ValueError(f"the pilot's reader-averaged AUC cannot be estimated: {mrmc['note']}")
    n_synthetic = int(used.loc[used["source"] == POSITIVE, "image"].nunique())
    per_arm = min(n_synthetic, len(images) - n_synthetic)
    return PlanningComponents(
        float(right.mean()), var_reader, var_image, mrmc["estimate"], mrmc["ms_r"] - (mrmc["var_error"] - mrmc["cov2"]),
        mrmc["var_error"], mrmc["cov2"], per_arm,
        f"pilot: study {name!r}, {len(complete)} readers × {len(images)} images" if name else
        f"pilot: {len(complete)} readers × {len(images)} images",
    )


def half_widths(components: PlanningComponents, readers: int, images_per_arm: int, confidence: float = CONFIDENCE) -> dict:
    """The expected half-widths of the detection rate's and the reader-averaged AUC's intervals, for a design."""
    images = 2 * images_per_arm
    detection = math.sqrt(components.var_reader / readers + components.var_image / images
                          + components.var_residual / (readers * images))
    shrink = components.auc_images_per_arm / images_per_arm
    var_n, cov2_n = components.auc_var_error * shrink, components.auc_cov2 * shrink
    ms_r = max(components.auc_var_reader, 0.0) + var_n - cov2_n  # the reader mean square this design expects
    auc_var = ms_r / readers + max(cov2_n, 0.0)
    df = (ms_r + readers * max(cov2_n, 0.0)) ** 2 / (ms_r**2 / (readers - 1)) if ms_r > 0 else math.inf  # Hillis
    z = stats.norm.ppf(0.5 + confidence / 2)
    return {"detection": z * detection, "auc": stats.t.ppf(0.5 + confidence / 2, df) * math.sqrt(auc_var), "auc_df": df,
            "auc_std_err": math.sqrt(auc_var)}


def plan_table(components: PlanningComponents, readers=READERS, images_per_arm=IMAGES_PER_ARM) -> pd.DataFrame:
    """Half-widths for each (readers, images per arm) design."""
    rows = [{"readers": r, "images_per_arm": n, **{k: v for k, v in half_widths(components, r, n).items() if k in ("detection", "auc")}}
            for r in readers for n in images_per_arm]
    return pd.DataFrame(rows).rename(columns={"detection": "detection_rate_half_width", "auc": "auc_half_width"})


def smallest_design(components: PlanningComponents, detection: float, auc: float, max_readers: int = 30,
                    max_images_per_arm: int = 2000) -> tuple[int, int] | None:
    """The design with the fewest readings (readers × images) whose both half-widths are at most the targets; None if
    none within the bounds (more readers are needed than images can replace: the reader variance dominates)."""
    best = None
    for r in range(2, max_readers + 1):
        for n in range(5, max_images_per_arm + 1, 5):
            widths = half_widths(components, r, n)
            if widths["detection"] <= detection and widths["auc"] <= auc:
                if best is None or r * n < best[0] * best[1]:
                    best = (r, n)
                break  # more images for this many readers only costs more
    return best


@dataclass(frozen=True)
class StudyPlan:
    """A plan: its components, the half-widths of the usual designs, and the smallest design meeting the targets."""

    components: PlanningComponents
    detection_target: float
    auc_target: float
    table: pd.DataFrame
    smallest: tuple[int, int] | None

    def summary(self) -> str:
        """The plan in one paragraph: what it rests on, and the design it recommends."""
        if self.smallest is None:
            design = ("no design of up to 30 readers reaches both targets: the readers' own spread dominates; widen the "
                      "targets or plan more readers")
        else:
            readers, per_arm = self.smallest
            widths = half_widths(self.components, readers, per_arm)
            design = (f"{readers} readers × {per_arm} images per arm ({2 * per_arm} images, {readers * 2 * per_arm} readings) give "
                      f"±{widths['detection']:.3f} on the detection rate and ±{widths['auc']:.3f} on the reader-averaged AUC")
        return (f"For 95% intervals of at most ±{self.detection_target:g} (detection rate) and ±{self.auc_target:g} (AUC): "
                f"{design}. Components: {self.components.source}.")


def plan_study(components: PlanningComponents, detection_half_width: float = 0.05, auc_half_width: float = 0.05) -> StudyPlan:
    """The plan for the targets (half-widths of 95% intervals) on ``components`` (`assumed_components` or `pilot_components`)."""
    for value, what in ((detection_half_width, "detection rate"), (auc_half_width, "AUC")):
        if not 0 < value < 0.5:
            raise ValueError(f"the {what} half-width must lie between 0 and 0.5, not {value:g}")
    return StudyPlan(components, detection_half_width, auc_half_width, plan_table(components),
                     smallest_design(components, detection_half_width, auc_half_width))
