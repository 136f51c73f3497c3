"""FST × diagnosis mixes and their exact image counts, shared by phantom sets and generated sets.

A mix gives each skin type and each diagnosis a share; `cell_counts` turns n images and a mix
into exact counts per (skin type, diagnosis) cell. Phantom presets (`phantoms/dataset.py`)
and `fairskin generate`'s plans (`generation/planned_set.py`) are both built on it. Mixes come from
text (``"1:1,5:2"``, `parse_mix`) or from the diagnoses of a manifest (`diagnosis_mix_of`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ParameterError
from .manifest import read_manifest


@dataclass(frozen=True)
class Preset:
    """A skin-type mix and a diagnosis mix (fractions; each sums to 1)."""

    description: str
    fst_mix: dict[int, float]
    diagnosis_mix: dict[str, float]


def normalised(weights: Mapping) -> dict:
    """Weights → fractions that sum to 1, leaving out keys of weight 0."""
    total = sum(weights.values())
    return {k: v / total for k, v in weights.items() if v > 0}


def _largest_remainder(total: int, shares: np.ndarray) -> np.ndarray:
    quotas = total * shares / shares.sum()
    counts = np.floor(quotas).astype(int)
    order = np.argsort(-(quotas - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def cell_counts(n: int, preset: Preset) -> dict[tuple[int, str], int]:
    """Exact image counts per (FST, diagnosis) cell.

    Both margins are the largest-remainder rounding of n × mix (so a balanced set of 600 has
    exactly 100 images per type), and each cell is within one image of n × p(FST) × p(dx):
    rows are floored, then each row's leftover goes to the diagnoses still furthest below
    their margin (Ryser's construction of a 0-1 matrix with given margins).
    """
    fsts, diagnoses = sorted(preset.fst_mix), list(preset.diagnosis_mix)
    p_dx = np.array([preset.diagnosis_mix[d] for d in diagnoses])
    rows = _largest_remainder(n, np.array([preset.fst_mix[f] for f in fsts]))
    columns = _largest_remainder(n, p_dx)
    quotas = rows[:, None] * p_dx[None, :] / p_dx.sum()
    table = np.floor(quotas).astype(int)
    leftovers = rows - table.sum(axis=1)
    for i in np.argsort(-leftovers, kind="stable"):
        deficit = columns - table.sum(axis=0)
        fraction = quotas[i] - table[i]
        order = np.lexsort((-fraction, -deficit))
        table[i, order[: leftovers[i]]] += 1
    if not (np.array_equal(table.sum(axis=0), columns) and np.array_equal(table.sum(axis=1), rows)):
        raise AssertionError(f"cell counts for n={n} do not meet the preset's margins")  # cannot happen
    return {(f, d): int(table[i, j]) for i, f in enumerate(fsts) for j, d in enumerate(diagnoses)}


def image_cells(n: int, preset: Preset) -> list[tuple[int, str]]:
    """The cell of each of ``n`` images, cell by cell (`cell_counts` of each); plans shuffle it with their seed."""
    return [cell for cell, count in cell_counts(n, preset).items() for _ in range(count)]


def parse_mix(text: str, allowed: tuple, parameter: str) -> dict:
    """``"1:1,2:1,5:2"`` → {1: 1.0, 2: 1.0, 5: 2.0}; refuses unknown keys and bad weights, naming ``parameter``."""
    mix = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, weight = part.partition(":")
        key = key.strip()
        value = int(key) if key.isdigit() else key
        if not sep or value not in allowed:
            raise ParameterError(f"{{{parameter}}} mix entry {part!r}: write KEY:WEIGHT with KEY one of {', '.join(map(str, allowed))}",
                                 parameter)
        try:
            mix[value] = float(weight)
        except ValueError:
            raise ParameterError(f"{{{parameter}}} mix entry {part!r}: the weight {weight!r} is not a number", parameter) from None
        if mix[value] < 0:
            raise ParameterError(f"{{{parameter}}} mix entry {part!r}: weights cannot be negative", parameter)
    if not mix or sum(mix.values()) <= 0:
        raise ParameterError(f"{{{parameter}}} mix {text!r} gives no weight to anything", parameter)
    return mix


def diagnosis_mix_of(manifest_path: str | Path, allowed: tuple) -> dict[str, float]:
    """The diagnosis mix of a manifest (e.g. a real training set), over the diagnoses a model knows.

    Skin types play no part, so a set without any (HAM10000, ISIC) works: generate its
    diagnoses on every skin type. Diagnoses the model cannot make are refused by name."""
    counts = read_manifest(manifest_path, check_files="none").table["diagnosis"].value_counts()
    unknown = sorted(set(counts.index) - set(allowed))
    if unknown:
        raise ParameterError(f"{manifest_path}: the model cannot generate {', '.join(f'{d} ({counts[d]} images)' for d in unknown)}; "
                             f"it knows {', '.join(allowed)} — give {{diagnosis_mix}} instead", "diagnosis_mix")
    return {d: float(counts[d]) for d in allowed if d in counts.index}
