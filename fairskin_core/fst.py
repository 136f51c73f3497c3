"""Fitzpatrick skin types (FST I–VI), their groups, and the ITA ranges that define them.

The ITA → FST mapping here (Kinyanjui et al., MICCAI 2020) is the one place where skin
types meet colour: the phantom renderer draws skin colour from these ranges and the
skin-tone analysis maps measured ITA back with the same table.
"""

from __future__ import annotations

FST_TYPES = (1, 2, 3, 4, 5, 6)
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI"}

# The three groups used by DDI (12 / 34 / 56) and by every per-group report.
FST_GROUPS = ("I-II", "III-IV", "V-VI")
_GROUP_OF = {1: "I-II", 2: "I-II", 3: "III-IV", 4: "III-IV", 5: "V-VI", 6: "V-VI"}

# Where an FST value came from: an annotator; estimated from the image (the learned estimator, or ITA);
# an estimate a person corrected; the type a synthetic image was asked for; only the group known.
FST_SOURCES = ("annotated", "learned", "ita", "corrected", "requested", "grouped")
ESTIMATED_SOURCES = ("learned", "ita")

# Kinyanjui et al. 2020 ITA thresholds in degrees: I > 55, II 41–55, III 28–41,
# IV 19–28, V 10–19, VI <= 10. Lower bound inclusive except for VI (open below).
KINYANJUI_ITA_RANGES: dict[int, tuple[float, float]] = {
    1: (55.0, 90.0),
    2: (41.0, 55.0),
    3: (28.0, 41.0),
    4: (19.0, 28.0),
    5: (10.0, 19.0),
    6: (-90.0, 10.0),
}


def fst_group(fst: int) -> str:
    """The I-II / III-IV / V-VI group of a skin type."""
    return _GROUP_OF[fst]
