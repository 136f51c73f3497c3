"""From ITA to Fitzpatrick skin type: published mappings, one calibrated on your data, and confidence.

A mapping is five thresholds in degrees: the lower bounds of types I to V (type VI is below
the last). Three are built in or made here:

- ``kinyanjui`` (Kinyanjui et al. 2020): I > 55°, II 41–55, III 28–41, IV 19–28, V 10–19, VI ≤ 10.
  The default, and the table the phantom renderer draws skin colour from.
- ``groh`` (Groh et al. 2021, fitted to Fitzpatrick17k's empirical ITA distribution):
  I > 40°, II 23–40, III 12–23, IV 0–12, V −25–0, VI ≤ −25.
- calibrated: thresholds fitted to a manifest with annotated skin types
  (`fairskin ita calibrate`), saved as JSON and loaded by path.

Confidence is the probability that the image's true ITA falls in the same type as the measured
one, with a Gaussian measurement error whose SD combines a floor (what remains on phantoms,
where the truth is known) with the spread of the skin's own ITA.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_file
from ..fst import FST_TYPES, KINYANJUI_ITA_RANGES

MEASUREMENT_SD = 1.5  # degrees: ITA error on phantoms with every artefact on
SPREAD_WEIGHT = 0.1  # how much of the skin's per-pixel ITA spread adds to that error


@dataclass(frozen=True)
class FstMapping:
    """Lower ITA bounds (degrees) of types I, II, III, IV and V; type VI lies below the last."""

    name: str
    thresholds: tuple[float, float, float, float, float]

    def __post_init__(self):
        if len(self.thresholds) != 5 or any(a <= b for a, b in zip(self.thresholds, self.thresholds[1:], strict=False)):
            raise ValueError(f"mapping {self.name!r}: need 5 strictly decreasing thresholds, got {self.thresholds}")

    def fst(self, ita: float) -> int:
        """The skin type an ITA value maps to."""
        # Six types, five bounds: type VI, with no lower bound, is what falls through.
        for fst, lower in zip(FST_TYPES, self.thresholds, strict=False):
            if ita > lower:
                return fst
        return 6

    def bounds(self, fst: int) -> tuple[float, float]:
        edges = (math.inf, *self.thresholds, -math.inf)
        return edges[fst], edges[fst - 1]

    def confidence(self, ita: float, spread: float = 0.0) -> float:
        """P(true ITA in the same type), with measurement SD from the floor and the skin's spread."""
        sigma = math.hypot(MEASUREMENT_SD, SPREAD_WEIGHT * spread)
        low, high = self.bounds(self.fst(ita))
        cdf = lambda x: 0.5 * (1 + math.erf((x - ita) / (sigma * math.sqrt(2))))  # noqa: E731
        return cdf(high) - cdf(low)

    def save(self, path: str | Path) -> Path:
        with atomic_file(path, "w") as handle:
            json.dump({"name": self.name, "thresholds": list(self.thresholds)}, handle, indent=2)
            handle.write("\n")
        return Path(path)


KINYANJUI = FstMapping("kinyanjui", tuple(KINYANJUI_ITA_RANGES[fst][0] for fst in range(1, 6)))
GROH = FstMapping("groh", (40.0, 23.0, 12.0, 0.0, -25.0))
BUILT_IN = {mapping.name: mapping for mapping in (KINYANJUI, GROH)}


def load_mapping(name_or_path: str | Path) -> FstMapping:
    """A built-in mapping by name, or a calibrated one from its JSON file."""
    if str(name_or_path) in BUILT_IN:
        return BUILT_IN[str(name_or_path)]
    path = Path(name_or_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{name_or_path}: neither a built-in mapping ({', '.join(BUILT_IN)}) nor a calibration file; "
            "make one with `fairskin ita calibrate MANIFEST --out FILE`"
        )
    try:
        data = json.loads(path.read_text())
        return FstMapping(str(data["name"]), tuple(float(t) for t in data["thresholds"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a valid ITA mapping file ({exc})") from None


def calibrate(itas: np.ndarray, fsts: np.ndarray, name: str = "calibrated", min_per_type: int = 5) -> FstMapping:
    """Thresholds that maximise exact agreement with annotated types (exactly, by dynamic programming).

    Images are sorted by ITA, lightest first; types I→VI must take consecutive runs of them, and
    the runs that get the most images right win. A threshold sits midway between the ITA values
    on either side of its cut. Types with fewer than ``min_per_type`` images keep Kinyanjui's
    thresholds (clipped to stay in order), so a sparse type does not move the cuts at random.
    """
    itas, fsts = np.asarray(itas, dtype=float), np.asarray(fsts, dtype=int)
    if itas.size != fsts.size or itas.size == 0:
        raise ValueError("calibration needs as many annotated types as ITA values, and at least one")
    order = np.argsort(-itas, kind="stable")
    itas, fsts = itas[order], fsts[order]
    n = len(itas)
    # correct[k][i]: images among the first i that are of type k+1 (prefix counts).
    correct = np.stack([np.concatenate([[0], np.cumsum(fsts == k)]) for k in FST_TYPES])
    best = np.full((6, n + 1), -1, dtype=np.int64)
    cut = np.zeros((6, n + 1), dtype=np.int64)
    best[0] = correct[0]
    for k in range(1, 6):
        # Type k+1 takes images j..i-1 and earlier types the first j: maximise
        # best[k-1, j] - correct[k, j] over j <= i, a running maximum.
        gain = best[k - 1] - correct[k]
        top, top_j = gain[0], 0
        for i in range(n + 1):
            if gain[i] > top:
                top, top_j = gain[i], i
            best[k, i], cut[k, i] = top + correct[k, i], top_j
    cuts, i = [], n
    for k in range(5, 0, -1):
        i = cut[k, i]
        cuts.append(i)
    cuts = cuts[::-1]  # cuts[k]: number of images of types I..k+1
    thresholds = []
    counts = np.bincount(fsts, minlength=7)
    for k, position in enumerate(cuts):
        default = KINYANJUI.thresholds[k]
        if counts[k + 1] < min_per_type or counts[k + 2] < min_per_type or position in (0, n):
            thresholds.append(default)
        else:
            thresholds.append((itas[position - 1] + itas[position]) / 2)
    for k in range(1, 5):  # keep strictly decreasing after falling back
        thresholds[k] = min(thresholds[k], thresholds[k - 1] - 0.1)
    return FstMapping(name, tuple(float(t) for t in thresholds))
