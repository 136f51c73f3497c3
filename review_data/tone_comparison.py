"""Do a study's two arms look alike in skin tone? Measured, shown side by side, and confirmed where not.

When the arms cannot be matched on annotated skin types (a real set without them, or with
estimated ones), a reviewer might tell real from synthetic by tone alone — light real skin next
to brown synthetic skin — and the study would measure that instead of realism. So the drawn
images of both arms are measured the same way, by the learned skin-type estimator, whatever
their manifests say, and the two distributions are compared: their total variation distance
(half the summed absolute differences of the shares, 0 = identical, 1 = disjoint). At
`STRONG_DIFFERENCE` or more the admin must confirm before the study is created. The estimator
(torch) is imported when images are measured, so a study matched on annotated types never loads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fairskin_core.fst import FST_TYPES, ROMAN
from fairskin_core.measurement_cache import MeasurementCache

STRONG_DIFFERENCE = 0.3


@dataclass(frozen=True)
class ToneComparison:
    counts: dict[str, dict[str, int]]  # arm → type (I..VI, "unknown") → drawn images
    distance: float  # total variation distance between the arms' shares of the types (unknown left out)

    @property
    def strongly_different(self) -> bool:
        return self.distance >= STRONG_DIFFERENCE

    def table(self) -> str:
        """The two distributions side by side, one line per arm (share of the images given a type)."""
        lines = []
        for arm, counts in self.counts.items():
            typed = sum(n for t, n in counts.items() if t != "unknown") or 1
            shares = ", ".join(f"{t} {counts[t] / typed:.0%}" for t in ROMAN.values())
            lines.append(f"{arm}: {shares} (unknown {counts['unknown']})")
        return "; ".join(lines)

    def markdown_table(self) -> str:
        """The two distributions side by side, one column per arm (counts, share of the typed images), for the app."""
        arms = list(self.counts)
        typed = {arm: sum(n for t, n in self.counts[arm].items() if t != "unknown") or 1 for arm in arms}
        rows = [f"| measured type | {' | '.join(arms)} |", f"| --- | {' | '.join('---' for _ in arms)} |"]
        for t in ROMAN.values():
            rows.append(f"| {t} | " + " | ".join(f"{self.counts[arm][t]} ({self.counts[arm][t] / typed[arm]:.0%})" for arm in arms) + " |")
        rows.append("| unknown | " + " | ".join(str(self.counts[arm]["unknown"]) for arm in arms) + " |")
        return "\n".join(rows)

    def sentence(self) -> str:
        verdict = ("they differ strongly: reviewers may tell the arms apart by skin tone alone"
                   if self.strongly_different else "reviewers may still tell the arms apart by skin tone where they differ")
        return (f"the arms are not matched on annotated skin types; measured by the learned estimator, {self.table()} — "
                f"distance {self.distance:.2f} (0 = same, 1 = disjoint; {STRONG_DIFFERENCE:g} or more is strong): {verdict}")


def compare_arm_tones(drawn: dict[str, list[tuple[str, Path]]], cache: MeasurementCache | None = None) -> ToneComparison:
    """The learned estimator's types of each arm's drawn images (arm → [(image_id, file)]), compared (``cache``: see
    `estimate_files`)."""
    from fairskin_core.skin_type.estimator import estimate_files

    counts, shares = {}, []
    for arm, images in drawn.items():
        records = estimate_files([file for _, file in images], cache=cache)
        types = [r["fst_estimate"] for r in records if r["fst_estimate"] is not None]
        counts[arm] = {**{ROMAN[t]: types.count(t) for t in FST_TYPES}, "unknown": len(records) - len(types)}
        shares.append(np.array([types.count(t) for t in FST_TYPES], dtype=float) / max(len(types), 1))
    distance = float(0.5 * np.abs(shares[0] - shares[1]).sum()) if len(shares) == 2 else 0.0
    return ToneComparison(counts, distance)
