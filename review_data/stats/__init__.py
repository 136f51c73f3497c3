"""Statistics of the blinded visual Turing test: can dermatologists tell synthetic lesions from real?

Synthetic is the positive class throughout. A reviewer's "synthetic" call is a positive call:
TP = synthetic image called synthetic, FN = synthetic called real, FP = real called synthetic,
TN = real called real. Sensitivity is the share of synthetic images caught, specificity the share
of real images passed as real, and 1 − sensitivity the share of synthetic images judged real.

Every public function takes the ratings table (one row per rating, columns `RATING_COLUMNS`; extra
columns are ignored), checks it once (`checked_ratings`) and returns plain numbers. Where the data
cannot support a value (no ratings, one arm missing, every answer the same) the value is None and a
note says why. docs/review_statistics.md gives each formula, its reference and what it cannot show.

By concern: `ratings` (columns, vocabulary, the check), `proportions` (Wilson, TOST, power),
`bootstrap` (the cluster bootstrap over images), `detection`, `realism`, `agreement`, `abcd`, `mrmc`
(the Obuchowski–Rockette multi-reader multi-case AUC), and `report` (groups, the whole study, per
image and per reviewer). review_data.export flattens the report into the CSV files.
"""

from __future__ import annotations

from .abcd import abcd_answers
from .agreement import MIN_AGREEMENT_IMAGES, call_agreement, fleiss_kappa, krippendorff_alpha_ordinal, realism_agreement
from .detection import CLUSTERING_NOTE, confusion_counts, detection_stats
from .mrmc import MRMC_METHOD, NotFullyCrossedError, or_analysis, read_lrc
from .proportions import POWER_TARGET, tost_equivalence, tost_power, tost_ratings_needed, wilson_interval
from .ratings import (
    ABCD_ITEMS,
    ARMS,
    POSITIVE,
    RATING_COLUMNS,
    REALISM_LEVELS,
    TARGET_SYNTHETIC_JUDGED_REAL,
    UNKNOWN,
    checked_ratings,
)
from .reader_study import study_mrmc_auc
from .realism import realism_stats
from .report import GROUP_KINDS, POSITIVE_CLASS_NOTE, REVIEWER_COLUMNS, group_stats, image_summary, reviewer_summary, study_report

__all__ = [
    "ABCD_ITEMS", "ARMS", "CLUSTERING_NOTE", "GROUP_KINDS", "MIN_AGREEMENT_IMAGES", "MRMC_METHOD", "POSITIVE", "POSITIVE_CLASS_NOTE",
    "POWER_TARGET", "RATING_COLUMNS", "REALISM_LEVELS", "REVIEWER_COLUMNS", "TARGET_SYNTHETIC_JUDGED_REAL", "UNKNOWN",
    "NotFullyCrossedError", "abcd_answers", "call_agreement", "checked_ratings", "confusion_counts", "detection_stats", "fleiss_kappa",
    "group_stats", "image_summary", "krippendorff_alpha_ordinal", "or_analysis", "read_lrc", "realism_agreement", "realism_stats",
    "reviewer_summary", "study_mrmc_auc", "study_report", "tost_equivalence", "tost_power", "tost_ratings_needed", "wilson_interval",
]
